//! Integration tests, one binary: the real server on ephemeral loopback ports (HTTP and HTTPS,
//! from `tessera-testkit`), driven over real HTTP with requests signed the way the official
//! clients sign them.

// Test code: expectations are stated with unwrap and panic.
#![allow(clippy::unwrap_used, clippy::panic)]

use reqwest::{Client, Method, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tessera_protocol::encoding::Canonicalization;
use tessera_protocol::{timestamp, v1, v3, TIMESTAMP_WINDOW_SECS};
use tessera_server::clock::{Clock, SystemClock};
use tessera_server::nonce::Capacity;
use tessera_server::{Limits, Server, ServerConfig, TlsSource};
use tessera_testkit::{code, nonce, Creds, Place, TestServer};

/// The default test server (HTTPS and plain HTTP, a manual clock) with other limits.
async fn start_with(limits: Limits) -> TestServer {
    TestServer::builder().limits(limits).start().await
}

#[tokio::test]
async fn caller_identity_every_way_a_client_sends_it() {
    let h = TestServer::start().await;
    let root = h.root.clone();
    for https in [false, true] {
        for (method, place) in [
            (Method::GET, Place::Query),
            (Method::POST, Place::Query),
            (Method::POST, Place::Form),
            (Method::POST, Place::Split),
        ] {
            let p = h.v1_params(
                &root,
                "2015-04-01",
                "GetCallerIdentity",
                &[("RegionId", "cn-hangzhou"), ("SignatureType", "")],
            );
            let (s, v) = h
                .send_v1(
                    https,
                    method.clone(),
                    place,
                    &root,
                    p,
                    Canonicalization::Rfc3986,
                )
                .await;
            assert_eq!(s, 200, "{method} https={https} {v}");
            assert_eq!(v["IdentityType"], "Account");
            assert_eq!(v["AccountId"], h.account.as_str());
            assert_eq!(v["Arn"], format!("acs:ram::{}:root", h.account));
            assert_eq!(v["PrincipalId"], h.account.as_str());
            assert_eq!(v["RequestId"].as_str().unwrap().len(), 36);
        }
    }
    let (s, v) = h
        .send_v3(
            &root,
            "2015-04-01",
            "GetCallerIdentity",
            &[],
            b"",
            &[],
            |_, _| {},
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["Arn"], format!("acs:ram::{}:root", h.account));

    let user = h.user_with_key("idu").await;
    let (s, v) = h.sts(&user, "GetCallerIdentity").await;
    assert_eq!(s, 200);
    assert_eq!(v["IdentityType"], "RAMUser");
    assert_eq!(v["Arn"], format!("acs:ram::{}:user/idu", h.account));
    assert_eq!(v["PrincipalId"], v["UserId"]);
    let (s, v) = h
        .send_v3(
            &user,
            "2015-04-01",
            "GetCallerIdentity",
            &[],
            b"",
            &[],
            |_, _| {},
        )
        .await;
    assert_eq!(
        (s, v["IdentityType"].as_str()),
        (StatusCode::OK, Some("RAMUser"))
    );
}

#[tokio::test]
async fn xml_when_asked_and_milliseconds_accepted() {
    let h = TestServer::start().await;
    let p = h.v1_params(
        &h.root,
        "2015-04-01",
        "GetCallerIdentity",
        &[("Format", "XML")],
    );
    let (s, v) = h
        .send_v1(
            false,
            Method::GET,
            Place::Query,
            &h.root,
            p,
            Canonicalization::Rfc3986,
        )
        .await;
    assert_eq!(s, 200);
    let text = v.as_str().unwrap();
    assert!(
        text.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><GetCallerIdentityResponse><RequestId>"
        ),
        "{text}"
    );
    assert!(text.contains("<IdentityType>Account</IdentityType>"));

    let p = h.v1_params(&h.root, "2015-04-01", "NoSuchAction", &[("Format", "xml")]);
    let (s, v) = h
        .send_v1(
            false,
            Method::GET,
            Place::Query,
            &h.root,
            p,
            Canonicalization::Rfc3986,
        )
        .await;
    assert_eq!(s, 404);
    assert!(v
        .as_str()
        .unwrap()
        .contains("<Code>InvalidAction.NotFound</Code>"));

    let ms = format!(
        "{}.749Z",
        timestamp::format(SystemClock.now()).trim_end_matches('Z')
    );
    let p = h.v1_params(
        &h.root,
        "2015-04-01",
        "GetCallerIdentity",
        &[("Timestamp", &ms), ("Format", "json")],
    );
    let (s, _) = h
        .send_v1(
            false,
            Method::POST,
            Place::Query,
            &h.root,
            p,
            Canonicalization::Rfc3986,
        )
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn off_spec_canonicalisations_are_fallbacks() {
    let h = TestServer::start().await;
    let policy = r#"{"Version": "1", "Statement": [{"Action": "*"}]}"#;
    for style in [Canonicalization::QuotePlus, Canonicalization::UriComponent] {
        let p = h.v1_params(
            &h.root,
            "2015-04-01",
            "GetCallerIdentity",
            &[("Policy", policy)],
        );
        let (s, v) = h
            .send_v1(false, Method::GET, Place::Query, &h.root, p, style)
            .await;
        assert_eq!(s, 200, "{style:?} {v}");
    }
}

#[tokio::test]
async fn authentication_failures_in_order() {
    let owned = TestServer::start().await;
    let h = &owned;
    let root = h.root.clone();
    let sts =
        |params: &[(&str, &str)]| h.v1_params(&root, "2015-04-01", "GetCallerIdentity", params);
    let send = |p: Vec<(String, String)>, c: Creds| async move {
        h.send_v1(
            false,
            Method::GET,
            Place::Query,
            &c,
            p,
            Canonicalization::Rfc3986,
        )
        .await
    };

    // Wrong secret: 400 and the server's string to sign after the first ':'.
    let mut p = sts(&[]);
    let expected_sts = v1::string_to_sign(
        "GET",
        p.iter().map(|(a, b)| (a.as_str(), b.as_str())),
        Canonicalization::Rfc3986,
    );
    p.push((
        "Signature".into(),
        v1::sign("not-the-secret", &expected_sts),
    ));
    let (s, v) = send(p, root.clone()).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "SignatureDoesNotMatch")
    );
    assert_eq!(
        v["Message"].as_str().unwrap().split_once(':').unwrap().1,
        expected_sts
    );
    assert_eq!(v["HostId"], h.http().trim_start_matches("http://"));
    assert!(v["Recommend"]
        .as_str()
        .unwrap()
        .contains("SignatureDoesNotMatch"));

    let unknown = Creds::new("LTAInotakeyatall0000000", "x");
    let (s, v) = send(
        h.v1_params(&unknown, "2015-04-01", "GetCallerIdentity", &[]),
        unknown.clone(),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "InvalidAccessKeyId.NotFound")
    );

    // Missing parameters, each by name.
    for name in [
        "AccessKeyId",
        "SignatureNonce",
        "Timestamp",
        "Action",
        "Version",
    ] {
        let mut p = sts(&[]);
        p.retain(|(n, _)| n != name);
        let (s, v) = send(p, root.clone()).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, format!("Missing{name}").as_str()),
            "{name}"
        );
    }

    let (s, v) = send(sts(&[("SignatureMethod", "HMAC-SHA256")]), root.clone()).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidSignatureMethod")
    );
    let (s, v) = send(sts(&[("Format", "yaml")]), root.clone()).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidParameter.Format")
    );
    let (s, v) = send(sts(&[("Timestamp", "2015/08/18 03:15:45")]), root.clone()).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidTimeStamp.Format")
    );
    let stale = timestamp::format(SystemClock.now() - 16 * 60);
    let (s, v) = send(sts(&[("Timestamp", &stale)]), root.clone()).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidTimeStamp.Expired")
    );

    // Replay: the identical signed request twice.
    let p = sts(&[]);
    let (s, _) = send(p.clone(), root.clone()).await;
    assert_eq!(s, 200);
    let (s, v) = send(p.clone(), root.clone()).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "SignatureNonceUsed")
    );

    // Version and Action are checked after the signature.
    let (s, v) = send(
        h.v1_params(&root, "2014-01-01", "GetCallerIdentity", &[]),
        root.clone(),
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "InvalidVersion"));
    let (s, v) = send(
        h.v1_params(&root, "2015-04-01", "NoSuchAction", &[]),
        root.clone(),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "InvalidAction.NotFound")
    );
    assert_eq!(
        v["Message"],
        "Specified api is not found, please check your url and method."
    );
}

#[tokio::test]
async fn the_server_clock_decides_the_window() {
    let h = TestServer::start().await;
    h.clock().advance(20 * 60);
    let (s, v) = h.sts(&h.root.clone(), "GetCallerIdentity").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidTimeStamp.Expired")
    );
    h.clock().advance(-20 * 60 + 14 * 60);
    let (s, _) = h.sts(&h.root.clone(), "GetCallerIdentity").await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn v3_checks() {
    let h = TestServer::start().await;
    let root = h.root.clone();
    let (s, v) = h
        .send_v3(
            &root,
            "2015-05-01",
            "CreateUser",
            &[("UserName", "v3user"), ("Comments", "a b*c")],
            b"",
            &[],
            |_, _| {},
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["User"]["Comments"], "a b*c");

    // A body is hashed and its form parameters are read.
    let body = b"UserName=v3form";
    let (s, v) = h
        .send_v3(
            &root,
            "2015-05-01",
            "CreateUser",
            &[],
            body,
            &[("content-type", "application/x-www-form-urlencoded")],
            |_, _| {},
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["User"]["UserName"], "v3form");
    // The same body whose Content-Type is not signed: its parameters could be dropped or added
    // by changing that header in transit, so the request is refused.
    let (s, v) = h
        .send_v3(
            &root,
            "2015-05-01",
            "CreateUser",
            &[],
            b"UserName=v3unsigned",
            &[],
            |headers, _| {
                headers.push((
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ))
            },
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "IncompleteSignature")
    );
    // A signed header sent twice is ambiguous.
    let (s, v) = h
        .send_v3(
            &root,
            "2015-04-01",
            "GetCallerIdentity",
            &[],
            b"",
            &[],
            |headers, _| headers.push(("x-acs-action".into(), "CreateUser".into())),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "IncompleteSignature")
    );

    let bad = Creds::new(root.id.clone(), "wrong");
    let (s, v) = h
        .send_v3(
            &bad,
            "2015-04-01",
            "GetCallerIdentity",
            &[],
            b"",
            &[],
            |_, _| {},
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "SignatureDoesNotMatch")
    );
    assert!(v["Message"]
        .as_str()
        .unwrap()
        .contains("server string to sign is:ACS3-HMAC-SHA256\n"));

    // An unsigned x-acs-action header would let a man in the middle change the action.
    let (s, v) = h
        .send_v3(
            &root,
            "2015-04-01",
            "GetCallerIdentity",
            &[],
            b"",
            &[],
            |_, signed| signed.retain(|n| n != "x-acs-action"),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "IncompleteSignature")
    );

    // Without the V3 headers the request is incomplete.
    let tampered = h
        .http_client
        .post(format!("{}/?UserName=x2", h.http()))
        .header(
            "authorization",
            "ACS3-HMAC-SHA256 Credential=LTAInope,SignedHeaders=host,Signature=00",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 400);
    let v: Value = tampered.json().await.unwrap();
    assert_eq!(code(&v), "MissingParameter");

    let (s, v) = h
        .send_v3(&root, "2015-04-01", "Nope", &[], b"", &[], |_, _| {})
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "InvalidAction.NotFound")
    );
}

#[tokio::test]
async fn v3_content_hash_is_enforced() {
    let h = TestServer::start().await;
    let root = h.root.clone();
    // Sign over the hash of an empty body, then send a body.
    let host = h.http().trim_start_matches("http://").to_string();
    let date = timestamp::format(SystemClock.now());
    let n = nonce();
    let headers = [
        ("host", host.as_str()),
        ("x-acs-action", "GetCallerIdentity"),
        ("x-acs-content-sha256", v3::EMPTY_SHA256),
        ("x-acs-date", date.as_str()),
        ("x-acs-signature-nonce", n.as_str()),
        ("x-acs-version", "2015-04-01"),
    ];
    let signed: Vec<String> = headers.iter().map(|(n, _)| n.to_string()).collect();
    let cr = v3::canonical_request(
        "POST",
        "/",
        "",
        &signed,
        |name| {
            headers
                .iter()
                .filter(|(h, _)| *h == name)
                .map(|(_, v)| *v)
                .collect::<Vec<_>>()
        },
        v3::EMPTY_SHA256,
    );
    let sig = v3::sign(&root.secret, &v3::string_to_sign(&cr));
    let mut rb = h.http_client.post(format!("{}/", h.http())).header(
        "authorization",
        format!(
            "ACS3-HMAC-SHA256 Credential={},SignedHeaders={},Signature={sig}",
            root.id,
            signed.join(";")
        ),
    );
    for (k, v) in &headers[1..] {
        rb = rb.header(*k, *v);
    }
    let resp = rb
        .header("content-type", "application/octet-stream")
        .body("smuggled")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(code(&v), "ContentSHA256NotMatched");
}

#[tokio::test]
async fn users_lifecycle_and_errors() {
    let h = TestServer::start().await;
    let root = h.root.clone();
    let (s, v) = h
        .ram(
            &root,
            "CreateUser",
            &[
                ("UserName", "alice"),
                ("DisplayName", "Alice A"),
                ("MobilePhone", "86-18600008888"),
                ("Email", "alice@example.com"),
                ("Comments", "engineer"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let u = &v["User"];
    assert_eq!(
        (
            u["UserName"].as_str(),
            u["DisplayName"].as_str(),
            u["Email"].as_str()
        ),
        (Some("alice"), Some("Alice A"), Some("alice@example.com"))
    );
    assert_eq!(u["UserId"].as_str().unwrap().len(), 16);
    assert!(timestamp::parse(u["CreateDate"].as_str().unwrap()).is_ok());

    let (s, v) = h.ram(&root, "CreateUser", &[("UserName", "alice")]).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "EntityAlreadyExists.User")
    );
    for (params, expected) in [
        (
            vec![("UserName", "bad name")],
            "InvalidParameter.UserName.InvalidChars",
        ),
        (
            vec![("UserName", &*"x".repeat(65))],
            "InvalidParameter.UserName.Length",
        ),
        (
            vec![("UserName", "ok1"), ("Email", "nope")],
            "InvalidParameter.Email.Format",
        ),
        (
            vec![("UserName", "ok2"), ("MobilePhone", "123")],
            "InvalidParameter.MobilePhone.Format",
        ),
        (
            vec![("UserName", "ok3"), ("Comments", &*"c".repeat(129))],
            "InvalidParameter.Comments.Length",
        ),
        (vec![], "MissingUserName"),
    ] {
        let (s, v) = h.ram(&root, "CreateUser", &params).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, expected),
            "{params:?}"
        );
    }

    let (s, v) = h.ram(&root, "GetUser", &[("UserName", "alice")]).await;
    assert_eq!(s, 200);
    assert_eq!(v["User"]["Comments"], "engineer");
    let (s, v) = h.ram(&root, "GetUser", &[("UserName", "nobody")]).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "EntityNotExist.User")
    );
    assert_eq!(v["Message"], "The user does not exist.");

    h.ram(&root, "CreateUser", &[("UserName", "bob")]).await;
    let (s, v) = h
        .ram(
            &root,
            "UpdateUser",
            &[("UserName", "alice"), ("NewUserName", "bob")],
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "EntityAlreadyExists.User")
    );
    let (s, v) = h
        .ram(
            &root,
            "UpdateUser",
            &[
                ("UserName", "alice"),
                ("NewUserName", "alice2"),
                ("NewComments", "lead"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (
            v["User"]["UserName"].as_str(),
            v["User"]["Comments"].as_str()
        ),
        (Some("alice2"), Some("lead"))
    );

    for n in ["c1", "c2", "c3"] {
        h.ram(&root, "CreateUser", &[("UserName", n)]).await;
    }
    let mut names = vec![];
    let mut marker = String::new();
    loop {
        let mut p = vec![("MaxItems", "2")];
        if !marker.is_empty() {
            p.push(("Marker", &marker));
        }
        let (s, v) = h.ram(&root, "ListUsers", &p).await;
        assert_eq!(s, 200, "{v}");
        let page = v["Users"]["User"].as_array().unwrap();
        assert!(page.len() <= 2);
        names.extend(
            page.iter()
                .map(|u| u["UserName"].as_str().unwrap().to_string()),
        );
        if !v["IsTruncated"].as_bool().unwrap() {
            assert!(v.get("Marker").is_none());
            break;
        }
        marker = v["Marker"].as_str().unwrap().into();
    }
    assert_eq!(names, ["alice2", "bob", "c1", "c2", "c3"]);
    for bad in ["0", "1001", "x"] {
        let (s, v) = h.ram(&root, "ListUsers", &[("MaxItems", bad)]).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "InvalidParameter.MaxItems")
        );
    }
    let (s, v) = h.ram(&root, "ListUsers", &[("Marker", "!!")]).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidParameter.Marker")
    );

    let (s, _) = h.ram(&root, "DeleteUser", &[("UserName", "c3")]).await;
    assert_eq!(s, 200);
    let (s, v) = h.ram(&root, "DeleteUser", &[("UserName", "c3")]).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "EntityNotExist.User")
    );
}

#[tokio::test]
async fn access_keys_lifecycle_takes_effect_on_the_next_request() {
    let h = TestServer::start().await;
    let root = h.root.clone();
    let k1 = h.user_with_key("kate").await;
    assert!(k1.id.starts_with("LTAI") && k1.id.len() == 24);
    assert_eq!(k1.secret.len(), 30);
    let (s, _) = h
        .ram(&root, "CreateAccessKey", &[("UserName", "kate")])
        .await;
    assert_eq!(s, 200);
    let (s, v) = h
        .ram(&root, "CreateAccessKey", &[("UserName", "kate")])
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "LimitExceeded.User.AccessKey")
    );
    let (s, v) = h
        .ram(&root, "CreateAccessKey", &[("UserName", "ghost")])
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "EntityNotExist.User")
    );

    let (s, v) = h
        .ram(&root, "ListAccessKeys", &[("UserName", "kate")])
        .await;
    assert_eq!(s, 200);
    let keys = v["AccessKeys"]["AccessKey"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys
        .iter()
        .all(|k| k.get("AccessKeySecret").is_none() && k["Status"] == "Active"));
    // The root's own keys when no UserName is given.
    let (_, v) = h.ram(&root, "ListAccessKeys", &[]).await;
    assert_eq!(
        v["AccessKeys"]["AccessKey"][0]["AccessKeyId"],
        root.id.as_str()
    );

    // A RAM user without policies may not manage RAM.
    let (s, v) = h.ram(&k1, "ListUsers", &[]).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "NoPermission"));
    assert_eq!(v["Message"], "You are not authorized to do this action.");

    let (s, v) = h
        .ram(
            &root,
            "UpdateAccessKey",
            &[
                ("UserName", "kate"),
                ("UserAccessKeyId", &k1.id),
                ("Status", "Disabled"),
            ],
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidParameter.Status")
    );
    let (s, _) = h
        .ram(
            &root,
            "UpdateAccessKey",
            &[
                ("UserName", "kate"),
                ("UserAccessKeyId", &k1.id),
                ("Status", "Inactive"),
            ],
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = h.sts(&k1, "GetCallerIdentity").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidAccessKeyId.Inactive")
    );
    h.ram(
        &root,
        "UpdateAccessKey",
        &[
            ("UserName", "kate"),
            ("UserAccessKeyId", &k1.id),
            ("Status", "Active"),
        ],
    )
    .await;
    let (s, _) = h.sts(&k1, "GetCallerIdentity").await;
    assert_eq!(s, 200);

    let (s, v) = h.ram(&root, "DeleteUser", &[("UserName", "kate")]).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "DeleteConflict.User.AccessKey")
    );
    // Another user's key cannot be reached through this user.
    h.ram(&root, "CreateUser", &[("UserName", "other")]).await;
    let (s, v) = h
        .ram(
            &root,
            "DeleteAccessKey",
            &[("UserName", "other"), ("UserAccessKeyId", &k1.id)],
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "EntityNotExist.User.AccessKey")
    );

    let (_, v) = h
        .ram(&root, "ListAccessKeys", &[("UserName", "kate")])
        .await;
    for k in v["AccessKeys"]["AccessKey"].as_array().unwrap() {
        let (s, _) = h
            .ram(
                &root,
                "DeleteAccessKey",
                &[
                    ("UserName", "kate"),
                    ("UserAccessKeyId", k["AccessKeyId"].as_str().unwrap()),
                ],
            )
            .await;
        assert_eq!(s, 200);
    }
    let (s, v) = h.sts(&k1, "GetCallerIdentity").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "InvalidAccessKeyId.NotFound")
    );
    let (s, _) = h.ram(&root, "DeleteUser", &[("UserName", "kate")]).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn the_root_cannot_lock_itself_out() {
    let h = TestServer::start().await;
    let root = h.root.clone();
    let kate = h.user_with_key("kate").await;
    let refused = |(s, v): (StatusCode, Value)| {
        assert_eq!(
            (s, code(&v)),
            (StatusCode::CONFLICT, "Conflict.LastActiveRootAccessKey"),
            "{v}"
        );
        assert!(
            v["Message"]
                .as_str()
                .unwrap()
                .contains("last active access key of the account CAN NOT be deleted or disabled"),
            "{v}"
        );
    };
    // Calls as the root with no UserName, signed with `by`.
    let update = |by: &Creds, id: &str, status: &'static str| {
        let (by, id, h) = (by.clone(), id.to_string(), &h);
        async move {
            h.ram(
                &by,
                "UpdateAccessKey",
                &[("UserAccessKeyId", &id), ("Status", status)],
            )
            .await
        }
    };
    let delete = |by: &Creds, id: &str| {
        let (by, id, h) = (by.clone(), id.to_string(), &h);
        async move {
            h.ram(&by, "DeleteAccessKey", &[("UserAccessKeyId", &id)])
                .await
        }
    };

    // The only root key.
    refused(delete(&root, &root.id).await);
    refused(update(&root, &root.id, "Inactive").await);
    let (s, v) = h.sts(&root, "GetCallerIdentity").await;
    assert_eq!(s, 200, "the key still works: {v}");

    // With a second key the first may be disabled, and then the second is the last.
    let (s, v) = h.ram(&root, "CreateAccessKey", &[]).await;
    assert_eq!(s, 200, "{v}");
    let second = Creds::from_json(&v["AccessKey"]);
    let (s, v) = update(&second, &root.id, "Inactive").await;
    assert_eq!(s, 200, "{v}");
    refused(delete(&second, &second.id).await);
    refused(update(&second, &second.id, "Inactive").await);
    let (s, v) = delete(&second, &root.id).await;
    assert_eq!(s, 200, "an inactive key may be deleted: {v}");
    let (s, v) = h.sts(&second, "GetCallerIdentity").await;
    assert_eq!(s, 200, "{v}");

    // A missing key is still reported as missing.
    let (s, v) = delete(&second, &root.id).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "EntityNotExist.User.AccessKey")
    );
    // A RAM user's last key may go.
    let (s, v) = h
        .ram(
            &second,
            "DeleteAccessKey",
            &[("UserName", "kate"), ("UserAccessKeyId", &kate.id)],
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn renamed_users_authenticate_under_their_new_name() {
    let h = TestServer::start().await;
    let k = h.user_with_key("before").await;
    h.ram(
        &h.root.clone(),
        "UpdateUser",
        &[("UserName", "before"), ("NewUserName", "after")],
    )
    .await;
    let (_, v) = h.sts(&k, "GetCallerIdentity").await;
    assert_eq!(v["Arn"], format!("acs:ram::{}:user/after", h.account));
}

#[tokio::test]
async fn malformed_and_oversized_requests_get_clean_4xx() {
    let h = start_with(Limits {
        max_body_bytes: 4096,
        max_uri_bytes: 2048,
        ..Limits::default()
    })
    .await;
    let resp = h
        .http_client
        .request(Method::PUT, format!("{}/", h.http()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        code(&resp.json::<Value>().await.unwrap()),
        "UnsupportedHTTPMethod"
    );

    let resp = h
        .http_client
        .post(format!("{}/", h.http()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("A=".to_string() + &"x".repeat(5000))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(
        code(&resp.json::<Value>().await.unwrap()),
        "RequestTooLarge"
    );

    let resp = h
        .http_client
        .get(format!("{}/?A={}", h.http(), "x".repeat(3000)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);

    for q in [
        "%",
        "%zz=%",
        "Action=%FF%FE",
        "&&&=&",
        "Signature=%2B%2B%2B",
    ] {
        let resp = h
            .http_client
            .get(format!("{}/?{q}", h.http()))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_client_error(), "{q}: {}", resp.status());
        let v: Value = resp.json().await.unwrap();
        assert!(v["Code"].is_string() && v["Message"].is_string());
    }
    let resp = h
        .http_client
        .post(format!("{}/", h.http()))
        .header("authorization", "ACS3-HMAC-SHA256 garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(&resp.json::<Value>().await.unwrap()),
        "IncompleteSignature"
    );
}

#[tokio::test]
async fn graceful_shutdown_closes_the_store() {
    let mut h = TestServer::start().await;
    let (s, _) = h.sts(&h.root.clone(), "GetCallerIdentity").await;
    assert_eq!(s, 200);
    h.shutdown().await;
    assert!(
        h.http_client
            .get(format!("{}/", h.http()))
            .send()
            .await
            .is_err(),
        "no longer listening"
    );
    // The WAL was checkpointed into the database.
    let wal = h.dir().join("tessera.db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0);
}

mod authorization;
mod connections;
mod metrics;
mod policies;
mod ram_entities;

#[tokio::test]
async fn a_replay_in_the_last_second_of_the_window_is_refused() {
    let h = TestServer::start().await;
    let root = h.root.clone();
    let ts = timestamp::format(h.now());
    let p = h.v1_params(
        &root,
        "2015-04-01",
        "GetCallerIdentity",
        &[("Timestamp", &ts)],
    );
    let (s, _) = h
        .send_v1(
            false,
            Method::GET,
            Place::Query,
            &root,
            p.clone(),
            Canonicalization::Rfc3986,
        )
        .await;
    assert_eq!(s, 200);
    h.clock().advance(900);
    let (s, v) = h
        .send_v1(
            false,
            Method::GET,
            Place::Query,
            &root,
            p.clone(),
            Canonicalization::Rfc3986,
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "SignatureNonceUsed"),
        "at exactly +900 s the timestamp is still valid"
    );
    h.clock().advance(1);
    let (s, v) = h
        .send_v1(
            false,
            Method::GET,
            Place::Query,
            &root,
            p,
            Canonicalization::Rfc3986,
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidTimeStamp.Expired")
    );
}

#[tokio::test]
async fn a_v3_replay_in_the_last_second_of_the_window_is_refused() {
    let h = TestServer::start().await;
    let root = h.root.clone();
    // One signed V3 request, sent again unchanged.
    let host = h.http().trim_start_matches("http://").to_string();
    let date = timestamp::format(h.now());
    let n = nonce();
    let headers = [
        ("host", host.as_str()),
        ("x-acs-action", "GetCallerIdentity"),
        ("x-acs-content-sha256", v3::EMPTY_SHA256),
        ("x-acs-date", date.as_str()),
        ("x-acs-signature-nonce", n.as_str()),
        ("x-acs-version", "2015-04-01"),
    ];
    let signed: Vec<String> = headers.iter().map(|(n, _)| n.to_string()).collect();
    let cr = v3::canonical_request(
        "POST",
        "/",
        "",
        &signed,
        |name| {
            headers
                .iter()
                .filter(|(h, _)| *h == name)
                .map(|(_, v)| *v)
                .collect::<Vec<_>>()
        },
        v3::EMPTY_SHA256,
    );
    let sig = v3::sign(&root.secret, &v3::string_to_sign(&cr));
    let send = || async {
        let mut rb = h.http_client.post(format!("{}/", h.http())).header(
            "authorization",
            format!(
                "ACS3-HMAC-SHA256 Credential={},SignedHeaders={},Signature={sig}",
                root.id,
                signed.join(";")
            ),
        );
        for (k, v) in &headers[1..] {
            rb = rb.header(*k, *v);
        }
        let resp = rb
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json::<Value>().await.unwrap())
    };
    let (s, v) = send().await;
    assert_eq!(s, StatusCode::OK, "{v}");
    h.clock().advance(900);
    let (s, v) = send().await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "SignatureNonceUsed"),
        "at exactly +900 s the timestamp is still valid"
    );
    h.clock().advance(1);
    let (s, v) = send().await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidTimeStamp.Expired")
    );
}

#[tokio::test]
async fn an_access_key_holding_its_share_of_the_replay_window_is_throttled_alone() {
    // The smallest budget whose per-key share is 100 nonces (the share is kept per shard, so a
    // key is stopped a little below it).
    let mut budget = 0;
    while Capacity::of(budget, TIMESTAMP_WINDOW_SECS).per_key_nonces < 100 {
        budget += 256;
    }
    let h = start_with(Limits {
        replay_memory: budget,
        ..Limits::default()
    })
    .await;
    let root = h.root.clone();
    let hog = h.user_with_key("hog").await;
    let other = h.user_with_key("other").await;
    let (mut accepted, mut throttled) = (0, 0);
    for _ in 0..500 {
        let (s, v) = h.sts(&hog, "GetCallerIdentity").await;
        if s == StatusCode::OK {
            accepted += 1;
            continue;
        }
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(code(&v), "Throttling.User", "{v}");
        assert_eq!(v["Message"], "Request was denied due to user flow control.");
        throttled += 1;
    }
    assert!((80..=100).contains(&accepted), "{accepted} accepted");
    assert_eq!(accepted + throttled, 500);
    // V3 requests count against the same share.
    let (s, v) = h
        .send_v3(
            &hog,
            "2015-04-01",
            "GetCallerIdentity",
            &[],
            b"",
            &[],
            |_, _| {},
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "Throttling.User"));
    // Every other key is served (a few requests each: they have shares of 100 too).
    for k in [&root, &other] {
        for _ in 0..5 {
            let (s, v) = h.sts(k, "GetCallerIdentity").await;
            assert_eq!(s, StatusCode::OK, "{v}");
        }
    }
}

#[tokio::test]
async fn one_data_directory_serves_one_process() {
    let h = TestServer::start().await;
    let config = ServerConfig {
        shutdown_grace: Duration::from_secs(1),
        ..tessera_testkit::config(h.dir())
    };
    let err = Server::start(config, Arc::new(SystemClock))
        .await
        .err()
        .expect("a second server on the same directory must not start");
    assert!(format!("{err:#}").contains("in use"), "{err:#}");
}

#[tokio::test]
async fn repeated_excess_and_stalled_input_is_refused() {
    let h = start_with(Limits {
        body_timeout: Duration::from_millis(500),
        ..Limits::default()
    })
    .await;
    let root = h.root.clone();
    // The same name twice, once in the query and once in the body, both signed.
    let mut p = h.v1_params(&root, "2015-05-01", "CreateUser", &[("UserName", "first")]);
    p.push(("UserName".into(), "second".into()));
    let (s, v) = h
        .send_v1(
            false,
            Method::POST,
            Place::Split,
            &root,
            p,
            Canonicalization::Rfc3986,
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "InvalidParameter"));
    assert!(v["Message"].as_str().unwrap().contains("UserName"));

    let many: Vec<String> = (0..300).map(|i| format!("P{i}=x")).collect();
    let resp = h
        .http_client
        .get(format!("{}/?{}", h.http(), many.join("&")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // Headers promise a body that never comes.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = h.http().trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    conn.write_all(format!("POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nA=").as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
        .await
        .expect("the server answers a stalled body")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("RequestTimeout"));
}

/// Fills the server's password-hashing bound with jobs that run until the returned senders
/// release them (or are dropped).
async fn fill_password_bound(
    state: &Arc<tessera_server::state::AppState>,
) -> Vec<std::sync::mpsc::Sender<()>> {
    let work = || state.passwords.work();
    let mut releases = Vec::new();
    for _ in 0..work().capacity() {
        let (release, held) = std::sync::mpsc::channel::<()>();
        releases.push(release);
        let state = Arc::clone(state);
        tokio::spawn(async move {
            let _ = state.passwords.work().run(move || held.recv()).await;
        });
    }
    tokio::time::timeout(Duration::from_secs(5), async {
        while work().in_use() < work().capacity() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the bound fills up");
    releases
}

/// Releases the jobs of [`fill_password_bound`] and waits until they have ended.
async fn release_password_bound(
    state: &tessera_server::state::AppState,
    releases: Vec<std::sync::mpsc::Sender<()>>,
) {
    drop(releases);
    tokio::time::timeout(Duration::from_secs(5), async {
        while state.passwords.work().in_use() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the bound empties");
}

#[tokio::test]
async fn password_hashing_beyond_its_bound_is_throttled() {
    let h = start_with(Limits {
        password_hash_workers: 1,
        password_hash_queue: 1,
        ..Limits::default()
    })
    .await;
    let root = h.root.clone();
    let (s, _) = h.ram(&root, "CreateUser", &[("UserName", "u")]).await;
    assert_eq!(s, 200);
    let state = Arc::clone(&h.server().state);
    assert_eq!(
        state.passwords.work().capacity(),
        2,
        "one running, one waiting"
    );
    let throttled = |(s, v): (StatusCode, Value)| {
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "Throttling"),
            "{v}"
        );
        assert_eq!(
            v["Message"],
            "Request was denied due to request throttling."
        );
    };

    let create = [("UserName", "u"), ("Password", "Secret-Pass-1")];
    let release = fill_password_bound(&state).await;
    throttled(h.ram(&root, "CreateLoginProfile", &create).await);
    release_password_bound(&state, release).await;
    let (s, v) = h.ram(&root, "CreateLoginProfile", &create).await;
    assert_eq!(s, 200, "served once the bound has room: {v}");

    let update = [("UserName", "u"), ("Password", "Secret-Pass-2")];
    let release = fill_password_bound(&state).await;
    throttled(h.ram(&root, "UpdateLoginProfile", &update).await);
    release_password_bound(&state, release).await;
    let (s, v) = h.ram(&root, "UpdateLoginProfile", &update).await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn health_needs_no_signature() {
    let h = TestServer::start().await;
    let resp = h
        .http_client
        .get(format!("{}/health", h.http()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["Status"], "OK");
}

#[tokio::test]
async fn ready_reports_the_store_and_the_feed() {
    let h = TestServer::start().await;
    h.user_with_key("dev").await;
    let resp = h
        .http_client
        .get(format!("{}/ready", h.http()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["Status"], "Ready", "{v}");
    assert_eq!(v["Store"]["Backend"], "sqlite");
    assert_eq!(v["Store"]["Reachable"], true);
    assert!(v["Store"]["LatencyMs"].as_f64().is_some(), "{v}");
    // The writes were applied before they were answered.
    assert!(v["Feed"]["Revision"].as_u64().unwrap() >= 3, "{v}");
    assert_eq!(v["Feed"]["Applied"], v["Feed"]["Revision"]);
    assert_eq!(v["Feed"]["Lag"], 0);
    assert!(
        v["Feed"].get("Listening").is_none(),
        "SQLite has no follower"
    );
}
mod sts;

#[tokio::test]
async fn https_from_the_operators_own_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
    let config = ServerConfig {
        tls: Some(TlsSource::Files {
            cert: cert_file,
            key: key_file.clone(),
        }),
        shutdown_grace: Duration::from_secs(1),
        ..tessera_testkit::config(dir.path().join("data"))
    };
    // A key others may read is refused, and left as it is.
    use std::os::unix::fs::PermissionsExt;
    let set_mode =
        |mode| std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(mode)).unwrap();
    set_mode(0o644);
    let e = Server::start(config.clone(), Arc::new(SystemClock))
        .await
        .err()
        .expect("a 0644 private key is refused");
    let e = format!("{e:#}");
    assert!(
        e.contains("key.pem is accessible by other users (mode 644)") && e.contains("chmod 600"),
        "{e}"
    );
    assert_eq!(
        std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
        0o644
    );
    set_mode(0o600);
    let server = Server::start(config, Arc::new(SystemClock)).await.unwrap();
    let url = server.endpoints[0].url();
    assert!(url.starts_with("https://"));
    let client = Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let resp = client.get(format!("{url}/health")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    server.shutdown().await.unwrap();

    // A key that does not belong to the certificate is refused at start.
    let other = rcgen::generate_simple_self_signed(vec!["x".to_string()]).unwrap();
    std::fs::write(&key_file, other.key_pair.serialize_pem()).unwrap();
    let bad = ServerConfig {
        tls: Some(TlsSource::Files {
            cert: dir.path().join("cert.pem"),
            key: key_file,
        }),
        shutdown_grace: Duration::from_secs(1),
        ..tessera_testkit::config(dir.path().join("data"))
    };
    assert!(Server::start(bad, Arc::new(SystemClock)).await.is_err());
}
