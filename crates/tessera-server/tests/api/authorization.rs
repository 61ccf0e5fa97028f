//! RAM users are authorized by their policies (own and groups'), evaluated live with the
//! request's context.

use super::*;

async fn attach_system(h: &TestServer, user: &str, policy: &str) {
    let (s, v) = h
        .ram(
            &h.root.clone(),
            "AttachPolicyToUser",
            &[
                ("PolicyType", "System"),
                ("PolicyName", policy),
                ("UserName", user),
            ],
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

async fn custom(h: &TestServer, name: &str, doc: &str) {
    let (s, v) = h
        .ram(
            &h.root.clone(),
            "CreatePolicy",
            &[("PolicyName", name), ("PolicyDocument", doc)],
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

async fn attach_custom(h: &TestServer, user: &str, policy: &str) {
    let (s, v) = h
        .ram(
            &h.root.clone(),
            "AttachPolicyToUser",
            &[
                ("PolicyType", "Custom"),
                ("PolicyName", policy),
                ("UserName", user),
            ],
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn read_only_access_reads_and_nothing_more() {
    let h = TestServer::start().await;
    let reader = h.user_with_key("reader").await;
    let (s, v) = h.ram(&reader, "ListUsers", &[]).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "NoPermission"));
    let detail = &v["AccessDeniedDetail"];
    assert_eq!(detail["AuthAction"], "ram:ListUsers");
    assert_eq!(detail["NoPermissionType"], "ImplicitDeny");
    assert_eq!(detail["AuthPrincipalOwnerId"], h.account.as_str());
    assert_eq!(detail["AuthPrincipalType"], "SubUser");

    attach_system(&h, "reader", "AliyunRAMReadOnlyAccess").await;
    // The change is seen on the very next request.
    let (s, v) = h.ram(&reader, "ListUsers", &[]).await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = h.ram(&reader, "GetUser", &[("UserName", "reader")]).await;
    assert_eq!(s, 200);
    let (s, _) = h.ram(&reader, "ListPolicies", &[]).await;
    assert_eq!(s, 200);
    let (s, v) = h
        .ram(&reader, "CreateUser", &[("UserName", "intruder")])
        .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "NoPermission"));
    assert_eq!(v["AccessDeniedDetail"]["AuthAction"], "ram:CreateUser");
    let (s, _) = h
        .ram(
            &reader,
            "DeleteAccessKey",
            &[("UserAccessKeyId", &reader.id)],
        )
        .await;
    assert_eq!(s, 403);

    h.ram(
        &h.root.clone(),
        "DetachPolicyFromUser",
        &[
            ("PolicyType", "System"),
            ("PolicyName", "AliyunRAMReadOnlyAccess"),
            ("UserName", "reader"),
        ],
    )
    .await;
    let (s, _) = h.ram(&reader, "ListUsers", &[]).await;
    assert_eq!(
        s, 403,
        "a detached policy stops granting on the next request"
    );
}

#[tokio::test]
async fn explicit_deny_beats_allow_and_resources_are_matched() {
    let h = TestServer::start().await;
    let admin = h.user_with_key("admin").await;
    attach_system(&h, "admin", "AliyunRAMFullAccess").await;
    custom(&h, "NoTouchingBob", r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"ram:*","Resource":"acs:ram:*:*:user/bob"}]}"#).await;
    attach_custom(&h, "admin", "NoTouchingBob").await;
    let (s, v) = h.ram(&admin, "CreateUser", &[("UserName", "alice")]).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = h.ram(&admin, "CreateUser", &[("UserName", "bob")]).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "NoPermission"));
    assert_eq!(v["AccessDeniedDetail"]["NoPermissionType"], "ExplicitDeny");

    // A resource-scoped allow: only users whose names start with "svc-".
    let scoped = h.user_with_key("scoped").await;
    custom(&h, "SvcOnly", r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["ram:CreateUser","ram:GetUser"],"Resource":"acs:ram:*:*:user/svc-*"}]}"#).await;
    attach_custom(&h, "scoped", "SvcOnly").await;
    let (s, _) = h.ram(&scoped, "CreateUser", &[("UserName", "svc-a")]).await;
    assert_eq!(s, 200);
    let (s, _) = h.ram(&scoped, "CreateUser", &[("UserName", "human")]).await;
    assert_eq!(s, 403);
    // Actions match case-insensitively, resources by the account too.
    custom(&h, "OtherAccount", r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"RAM:listusers","Resource":"acs:ram:*:9999999999999999:user/*"}]}"#).await;
    attach_custom(&h, "scoped", "OtherAccount").await;
    let (s, _) = h.ram(&scoped, "ListUsers", &[]).await;
    assert_eq!(
        s, 403,
        "a policy about another account's users grants nothing here"
    );
}

#[tokio::test]
async fn an_overlong_name_is_refused_before_any_policy_is_matched_against_it() {
    let h = TestServer::start().await;
    let user = h.user_with_key("patterned").await;
    // A pattern that is slow on a long input (pattern × input steps), and a long input.
    let pattern = format!("acs:ram:*:*:user/*{}b*", "a".repeat(1500));
    custom(
        &h,
        "Slow",
        &format!(r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"ram:GetUser","Resource":"{pattern}"}}]}}"#),
    )
    .await;
    attach_custom(&h, "patterned", "Slow").await;
    let long = "a".repeat(20_000);
    let (s, v) = h.ram(&user, "GetUser", &[("UserName", &long)]).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidParameter.UserName.Length")
    );
    // At the limit the name is authorized as usual.
    let (s, v) = h
        .ram(&user, "GetUser", &[("UserName", &"a".repeat(64))])
        .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "NoPermission"));
}

#[tokio::test]
async fn conditions_see_the_real_request() {
    let h = TestServer::start().await;
    let cond = h.user_with_key("cond").await;
    // Only over HTTPS.
    custom(&h, "TlsOnly", r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:ListUsers","Resource":"*","Condition":{"Bool":{"acs:SecureTransport":"true"}}}]}"#).await;
    attach_custom(&h, "cond", "TlsOnly").await;
    let p = h.v1_params(&cond, "2015-05-01", "ListUsers", &[]);
    let (s, v) = h
        .send_v1(
            true,
            Method::POST,
            Place::Query,
            &cond,
            p,
            Canonicalization::Rfc3986,
        )
        .await;
    assert_eq!(s, 200, "over https: {v}");
    let (s, _) = h.ram(&cond, "ListUsers", &[]).await;
    assert_eq!(s, 403, "over plain http");

    // Only from 127.0.0.0/8; a policy for 10.0.0.0/8 grants nothing to a loopback client.
    custom(&h, "Loopback", r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:GetUser","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":["127.0.0.0/8"]}}}]}"#).await;
    custom(&h, "Office", r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:ListPolicies","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}]}"#).await;
    attach_custom(&h, "cond", "Loopback").await;
    attach_custom(&h, "cond", "Office").await;
    let (s, _) = h.ram(&cond, "GetUser", &[("UserName", "cond")]).await;
    assert_eq!(s, 200);
    let (s, _) = h.ram(&cond, "ListPolicies", &[]).await;
    assert_eq!(s, 403);

    // Time-bound, by the server's clock: allowed until a moment, refused after it.
    let until = tessera_protocol::timestamp::format(h.now() + 600);
    let doc = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"ram:ListAccessKeys","Resource":"*","Condition":{{"DateLessThan":{{"acs:CurrentTime":"{until}"}}}}}}]}}"#
    );
    custom(&h, "UntilSoon", &doc).await;
    attach_custom(&h, "cond", "UntilSoon").await;
    let (s, _) = h.ram(&cond, "ListAccessKeys", &[]).await;
    assert_eq!(s, 200);
    h.clock().advance(601);
    // The client's timestamp is 10 minutes behind the server now, still inside the window.
    let (s, _) = h.ram(&cond, "ListAccessKeys", &[]).await;
    assert_eq!(s, 403);
}
