//! AssumeRole, role sessions and their tokens.

use super::*;

const TRUST_ACCOUNT: &str = r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"RAM":["acs:ram::ACCOUNT:root"]}}],"Version":"1"}"#;

struct Session {
    creds: Creds,
    token: String,
}

/// The roles and sessions these tests set up, on the test server.
trait Roles {
    /// As root: role `name` trusting `trust` (with `ACCOUNT` replaced by the account's id).
    async fn role(&self, name: &str, trust: &str, extra: &[(&str, &str)]);
    /// As root: `action` (`AttachPolicyTo*`) of system policy `policy` to `target`.
    async fn attach(&self, action: &str, target: (&str, &str), policy: &str);
    /// A request signed with session credentials, timestamped by the server's clock.
    async fn session_call(
        &self,
        s: &Session,
        version: &str,
        action: &str,
        params: &[(&str, &str)],
    ) -> (StatusCode, Value);
    /// `caller` assumes `role` of the account (session name `sess` unless `params` name one).
    async fn assume(
        &self,
        caller: &Creds,
        role: &str,
        params: &[(&str, &str)],
    ) -> (StatusCode, Value);
    /// [`Roles::assume`], which must succeed: the session it returns.
    async fn session(&self, caller: &Creds, role: &str, params: &[(&str, &str)]) -> Session;
}

impl Roles for TestServer {
    async fn role(&self, name: &str, trust: &str, extra: &[(&str, &str)]) {
        let trust = trust.replace("ACCOUNT", &self.account);
        let mut p = vec![
            ("RoleName", name),
            ("AssumeRolePolicyDocument", trust.as_str()),
        ];
        p.extend_from_slice(extra);
        let (s, v) = self.ram(&self.root.clone(), "CreateRole", &p).await;
        assert_eq!(s, 200, "{v}");
    }

    async fn attach(&self, action: &str, target: (&str, &str), policy: &str) {
        let (s, v) = self
            .ram(
                &self.root.clone(),
                action,
                &[("PolicyType", "System"), ("PolicyName", policy), target],
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }

    async fn session_call(
        &self,
        s: &Session,
        version: &str,
        action: &str,
        params: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let ts = timestamp::format(self.now());
        let mut all: Vec<(&str, &str)> = vec![
            ("SecurityToken", s.token.as_str()),
            ("Timestamp", ts.as_str()),
        ];
        all.extend_from_slice(params);
        let p = self.v1_params(&s.creds, version, action, &all);
        self.send_v1(
            false,
            Method::POST,
            Place::Query,
            &s.creds,
            p,
            Canonicalization::Rfc3986,
        )
        .await
    }

    async fn assume(
        &self,
        caller: &Creds,
        role: &str,
        params: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let arn = format!("acs:ram::{}:role/{role}", self.account);
        let mut p = vec![("RoleArn", arn.as_str()), ("RoleSessionName", "sess")];
        p.retain(|(n, _)| !params.iter().any(|(m, _)| m == n));
        p.extend_from_slice(params);
        self.call(caller, "2015-04-01", "AssumeRole", &p).await
    }

    async fn session(&self, caller: &Creds, role: &str, params: &[(&str, &str)]) -> Session {
        let (s, v) = self.assume(caller, role, params).await;
        assert_eq!(s, 200, "{v}");
        let c = &v["Credentials"];
        Session {
            creds: Creds::new(
                c["AccessKeyId"].as_str().unwrap(),
                c["AccessKeySecret"].as_str().unwrap(),
            ),
            token: c["SecurityToken"].as_str().unwrap().into(),
        }
    }
}

/// A user allowed to assume roles, and a role trusting the account with RAM read-only access.
async fn setup() -> (TestServer, Creds) {
    setup_on(TestServer::start().await).await
}

/// [`setup`] on a server already started.
async fn setup_on(h: TestServer) -> (TestServer, Creds) {
    let dev = h.user_with_key("dev").await;
    h.attach(
        "AttachPolicyToUser",
        ("UserName", "dev"),
        "AliyunSTSAssumeRoleAccess",
    )
    .await;
    h.role("Reader", TRUST_ACCOUNT, &[]).await;
    h.attach(
        "AttachPolicyToRole",
        ("RoleName", "Reader"),
        "AliyunRAMReadOnlyAccess",
    )
    .await;
    (h, dev)
}

#[tokio::test]
async fn assume_role_and_use_the_session() {
    let (h, dev) = setup().await;
    let (s, v) = h
        .assume(&dev, "Reader", &[("DurationSeconds", "900")])
        .await;
    assert_eq!(s, 200, "{v}");
    let c = &v["Credentials"];
    let id = c["AccessKeyId"].as_str().unwrap();
    assert!(id.starts_with("STS.") && id.len() == 29, "{id}");
    assert_eq!(c["AccessKeySecret"].as_str().unwrap().len(), 44);
    assert_eq!(
        timestamp::parse(c["Expiration"].as_str().unwrap()),
        Ok(h.now() + 900)
    );
    assert!(
        c["Expiration"].as_str().unwrap().ends_with('Z')
            && c["Expiration"].as_str().unwrap().len() == 20
    );
    assert_eq!(
        v["AssumedRoleUser"]["Arn"],
        format!("acs:ram::{}:role/reader/sess", h.account)
    );
    let role_id = v["AssumedRoleUser"]["AssumedRoleId"]
        .as_str()
        .unwrap()
        .strip_suffix(":sess")
        .unwrap()
        .to_string();

    let s = h
        .session(&dev, "Reader", &[("RoleSessionName", "alice@example.com")])
        .await;
    let (st, v) = h
        .session_call(&s, "2015-04-01", "GetCallerIdentity", &[])
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["IdentityType"], "AssumedRoleUser");
    assert_eq!(
        v["Arn"],
        format!(
            "acs:ram::{}:assumed-role/reader/alice@example.com",
            h.account
        )
    );
    assert_eq!(v["RoleId"], role_id.as_str());
    assert_eq!(v["PrincipalId"], format!("{role_id}:alice@example.com"));
    assert_eq!(v["AccountId"], h.account.as_str());

    // Authorized live by the role's current policies.
    let (st, _) = h.session_call(&s, "2015-05-01", "ListUsers", &[]).await;
    assert_eq!(st, 200);
    let (st, v) = h
        .session_call(&s, "2015-05-01", "CreateUser", &[("UserName", "nope")])
        .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "NoPermission"));
    assert_eq!(
        v["AccessDeniedDetail"]["AuthPrincipalType"],
        "AssumedRoleUser"
    );
    assert_eq!(
        v["AccessDeniedDetail"]["AuthPrincipalDisplayName"],
        "Reader:alice@example.com"
    );
    h.ram(
        &h.root.clone(),
        "DetachPolicyFromRole",
        &[
            ("PolicyType", "System"),
            ("PolicyName", "AliyunRAMReadOnlyAccess"),
            ("RoleName", "Reader"),
        ],
    )
    .await;
    let (st, _) = h.session_call(&s, "2015-05-01", "ListUsers", &[]).await;
    assert_eq!(
        st, 403,
        "a detached policy stops granting on the next request"
    );

    // V3 with the token in x-acs-security-token.
    let (st, v) = h
        .send_v3(
            &s.creds,
            "2015-04-01",
            "GetCallerIdentity",
            &[],
            b"",
            &[("x-acs-security-token", &s.token)],
            |_, _| {},
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["IdentityType"], "AssumedRoleUser");
}

/// The kit's helpers sign with a session's token when its `Creds` carry one: `SecurityToken`
/// in RPC v1 (query, form, split), `x-acs-security-token` in V3.
#[tokio::test]
async fn session_creds_carry_their_token_in_every_signature() {
    let (h, dev) = setup().await;
    let (s, v) = h
        .assume(&dev, "Reader", &[("RoleSessionName", "kit")])
        .await;
    assert_eq!(s, 200, "{v}");
    let session = Creds::from_json(&v["Credentials"]);
    assert!(session.token.is_some());
    let arn = format!("acs:ram::{}:assumed-role/reader/kit", h.account);
    let (st, v) = h.sts(&session, "GetCallerIdentity").await;
    assert_eq!(
        (st, v["Arn"].as_str()),
        (StatusCode::OK, Some(arn.as_str()))
    );
    for place in [Place::Form, Place::Split] {
        let p = h.v1_params(&session, "2015-04-01", "GetCallerIdentity", &[]);
        let (st, v) = h
            .send_v1(
                true,
                Method::POST,
                place,
                &session,
                p,
                Canonicalization::Rfc3986,
            )
            .await;
        assert_eq!(st, 200, "{place:?} {v}");
        assert_eq!(v["Arn"], arn.as_str());
    }
    let (st, v) = h
        .send_v3(
            &session,
            "2015-04-01",
            "GetCallerIdentity",
            &[],
            b"",
            &[],
            |_, _| {},
        )
        .await;
    assert_eq!(
        (st, v["Arn"].as_str()),
        (StatusCode::OK, Some(arn.as_str()))
    );
    // Without it, the same key is refused.
    let bare = Creds::new(session.id.clone(), session.secret.clone());
    let (st, v) = h.sts(&bare, "GetCallerIdentity").await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "MissingSecurityToken")
    );
}

#[tokio::test]
async fn session_policy_only_narrows() {
    let (h, dev) = setup().await;
    let only_get = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["ram:GetUser","ram:CreateUser"],"Resource":"*"}]}"#;
    let s = h.session(&dev, "Reader", &[("Policy", only_get)]).await;
    let (st, _) = h
        .session_call(&s, "2015-05-01", "GetUser", &[("UserName", "dev")])
        .await;
    assert_eq!(st, 200);
    let (st, _) = h.session_call(&s, "2015-05-01", "ListUsers", &[]).await;
    assert_eq!(st, 403, "the role allows it, the session policy does not");
    let (st, _) = h
        .session_call(&s, "2015-05-01", "CreateUser", &[("UserName", "x")])
        .await;
    assert_eq!(st, 403, "the session policy allows it, the role does not");
}

#[tokio::test]
async fn who_may_assume_and_what_is_checked() {
    let (h, dev) = setup().await;
    let root = h.root.clone();
    let (s, v) = h.assume(&root, "Reader", &[]).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "NoPermission"));
    assert_eq!(v["Message"], "Roles may not be assumed by root accounts.");

    let nobody = h.user_with_key("nobody").await;
    let (s, v) = h.assume(&nobody, "Reader", &[]).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "NoPermission"),
        "no sts:AssumeRole permission"
    );
    assert_eq!(v["AccessDeniedDetail"]["AuthAction"], "sts:AssumeRole");

    h.role("OnlyBob", r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"RAM":["acs:ram::ACCOUNT:user/bob"]}}],"Version":"1"}"#, &[]).await;
    let (s, v) = h.assume(&dev, "OnlyBob", &[]).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "NoPermission"));
    assert!(v["Message"]
        .as_str()
        .unwrap()
        .starts_with("No permission perform sts:AssumeRole on this Role."));

    let (s, v) = h.assume(&dev, "Missing", &[]).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "EntityNotExist.Role")
    );

    h.role(
        "External",
        r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"RAM":["acs:ram::ACCOUNT:root"]},"Condition":{"StringEquals":{"sts:ExternalId":"abcd1234"}}}],"Version":"1"}"#,
        &[("MaxSessionDuration", "7200")],
    )
    .await;
    let (s, _) = h.assume(&dev, "External", &[]).await;
    assert_eq!(s, 403, "no ExternalId");
    let (s, _) = h
        .assume(&dev, "External", &[("ExternalId", "wrong-id")])
        .await;
    assert_eq!(s, 403, "wrong ExternalId");
    let (s, v) = h
        .assume(
            &dev,
            "External",
            &[("ExternalId", "abcd1234"), ("DurationSeconds", "7200")],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = h
        .assume(
            &dev,
            "External",
            &[("ExternalId", "abcd1234"), ("DurationSeconds", "7201")],
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidParameter.DurationSeconds")
    );

    for (params, expected) in [
        (
            vec![("DurationSeconds", "899")],
            "InvalidParameter.DurationSeconds",
        ),
        (
            vec![("DurationSeconds", "3601")],
            "InvalidParameter.DurationSeconds",
        ),
        (
            vec![("DurationSeconds", "an hour")],
            "InvalidParameter.DurationSeconds",
        ),
        (
            vec![("RoleSessionName", "a")],
            "InvalidParameter.RoleSessionName",
        ),
        (
            vec![("RoleSessionName", "has space")],
            "InvalidParameter.RoleSessionName",
        ),
        (
            vec![("RoleArn", "acs:ram::123:role/x")],
            "InvalidParameter.RoleArn",
        ),
        (
            vec![("Policy", "{not json")],
            "InvalidParameter.PolicyGrammar",
        ),
        (vec![("ExternalId", "x")], "InvalidParameter.ExternalId"),
    ] {
        let (s, v) = h.assume(&dev, "Reader", &params).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, expected),
            "{params:?}"
        );
    }
    let big = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"*","Resource":"{}"}}]}}"#,
        "x".repeat(2100)
    );
    let (s, v) = h.assume(&dev, "Reader", &[("Policy", &big)]).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidParameter.PolicySize")
    );
    let (s, v) = h
        .call(
            &dev,
            "2015-04-01",
            "AssumeRole",
            &[("RoleSessionName", "s")],
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "MissingRoleArn"));
}

#[tokio::test]
async fn tokens_expire_and_refuse_tampering() {
    let (h, dev) = setup().await;
    let s = h
        .session(&dev, "Reader", &[("DurationSeconds", "900")])
        .await;
    let (st, _) = h
        .session_call(&s, "2015-04-01", "GetCallerIdentity", &[])
        .await;
    assert_eq!(st, 200);

    let mut tampered = s.token.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let bad = Session {
        creds: s.creds.clone(),
        token: String::from_utf8(tampered).unwrap(),
    };
    let (st, v) = h
        .session_call(&bad, "2015-04-01", "GetCallerIdentity", &[])
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidSecurityToken.Malformed")
    );

    let other = h.session(&dev, "Reader", &[]).await;
    let swapped = Session {
        creds: other.creds.clone(),
        token: s.token.clone(),
    };
    let (st, v) = h
        .session_call(&swapped, "2015-04-01", "GetCallerIdentity", &[])
        .await;
    assert_eq!(
        (st, code(&v)),
        (
            StatusCode::BAD_REQUEST,
            "InvalidSecurityToken.MismatchWithAccessKey"
        )
    );

    let p = h.v1_params(&s.creds, "2015-04-01", "GetCallerIdentity", &[]);
    let (st, v) = h
        .send_v1(
            false,
            Method::GET,
            Place::Query,
            &s.creds,
            p,
            Canonicalization::Rfc3986,
        )
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "MissingSecurityToken")
    );

    h.clock().advance(900);
    let (st, v) = h
        .session_call(&s, "2015-04-01", "GetCallerIdentity", &[])
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidSecurityToken.Expired")
    );
}

#[tokio::test]
async fn deleting_the_role_ends_its_sessions() {
    let (h, dev) = setup().await;
    let s = h.session(&dev, "Reader", &[]).await;
    let root = h.root.clone();
    h.ram(
        &root,
        "DetachPolicyFromRole",
        &[
            ("PolicyType", "System"),
            ("PolicyName", "AliyunRAMReadOnlyAccess"),
            ("RoleName", "Reader"),
        ],
    )
    .await;
    let (st, v) = h.ram(&root, "DeleteRole", &[("RoleName", "Reader")]).await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = h
        .session_call(&s, "2015-04-01", "GetCallerIdentity", &[])
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidSecurityToken.Expired")
    );
    // A new role of the same name is another role: the old token does not come back.
    h.role("Reader", TRUST_ACCOUNT, &[]).await;
    let (st, _) = h
        .session_call(&s, "2015-04-01", "GetCallerIdentity", &[])
        .await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn role_chaining_is_capped_and_keeps_the_source_identity() {
    let (h, dev) = setup().await;
    h.attach(
        "AttachPolicyToRole",
        ("RoleName", "Reader"),
        "AliyunSTSAssumeRoleAccess",
    )
    .await;
    h.role(
        "Second",
        r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"RAM":["acs:ram::ACCOUNT:role/reader"]}}],"Version":"1"}"#,
        &[("MaxSessionDuration", "43200")],
    )
    .await;
    let first = h
        .session(&dev, "Reader", &[("SourceIdentity", "alice")])
        .await;
    let arn = format!("acs:ram::{}:role/Second", h.account);
    let (st, v) = h
        .session_call(
            &first,
            "2015-04-01",
            "AssumeRole",
            &[
                ("RoleArn", &arn),
                ("RoleSessionName", "hop"),
                ("DurationSeconds", "3601"),
            ],
        )
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidParameter.DurationSeconds"),
        "a chained session lasts at most an hour"
    );
    let (st, v) = h
        .session_call(
            &first,
            "2015-04-01",
            "AssumeRole",
            &[
                ("RoleArn", &arn),
                ("RoleSessionName", "hop"),
                ("SourceIdentity", "mallory"),
            ],
        )
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidParameter.SourceIdentity")
    );
    let (st, v) = h
        .session_call(
            &first,
            "2015-04-01",
            "AssumeRole",
            &[("RoleArn", &arn), ("RoleSessionName", "hop")],
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["SourceIdentity"], "alice", "kept through the chain");
    // The user itself is not trusted by the second role.
    let (st, _) = h.assume(&dev, "Second", &[]).await;
    assert_eq!(st, 403);
}

#[tokio::test]
async fn revocation_refuses_sessions_issued_before_it() {
    let (h, dev) = setup().await;
    let root = h.root.clone();
    let before = h.session(&dev, "Reader", &[]).await;
    let (st, v) = h
        .ram(&root, "RevokeRoleSessions", &[("RoleName", "reader")])
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = h
        .session_call(&before, "2015-04-01", "GetCallerIdentity", &[])
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidSecurityToken.Expired")
    );
    h.clock().advance(1);
    let after = h.session(&dev, "Reader", &[]).await;
    let (st, _) = h
        .session_call(&after, "2015-04-01", "GetCallerIdentity", &[])
        .await;
    assert_eq!(st, 200, "sessions issued after the revocation work");

    // Revoking a user ends the sessions it started, not the role's other sessions.
    let other = h.user_with_key("other").await;
    h.attach(
        "AttachPolicyToUser",
        ("UserName", "other"),
        "AliyunSTSAssumeRoleAccess",
    )
    .await;
    let others = h.session(&other, "Reader", &[]).await;
    let (st, _) = h
        .ram(&root, "RevokeUserSessions", &[("UserName", "dev")])
        .await;
    assert_eq!(st, 200);
    let (st, _) = h
        .session_call(&after, "2015-04-01", "GetCallerIdentity", &[])
        .await;
    assert_eq!(st, 400);
    let (st, _) = h
        .session_call(&others, "2015-04-01", "GetCallerIdentity", &[])
        .await;
    assert_eq!(st, 200);

    // A RAM user needs the permission, like any RAM action.
    let (st, v) = h
        .ram(&other, "RevokeRoleSessions", &[("RoleName", "Reader")])
        .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "NoPermission"));
    let (st, v) = h
        .ram(&root, "RevokeRoleSessions", &[("RoleName", "Nope")])
        .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::NOT_FOUND, "EntityNotExist.Role")
    );
}

#[tokio::test]
async fn accounts_cross_account_roles_and_key_rotation() {
    let (h, dev) = setup().await;
    let root = h.root.clone();
    let (st, v) = h.call(&root, "2026-11-01", "CreateAccount", &[]).await;
    assert_eq!(st, 200, "{v}");
    let b = v["AccountId"].as_str().unwrap().to_string();
    assert_ne!(b, h.account);
    let b_root = Creds::new(
        v["AccessKeyId"].as_str().unwrap(),
        v["AccessKeySecret"].as_str().unwrap(),
    );
    let (st, v) = h.sts(&b_root, "GetCallerIdentity").await;
    assert_eq!(
        (st, v["Arn"].as_str()),
        (StatusCode::OK, Some(format!("acs:ram::{b}:root").as_str()))
    );

    // Only the operator's root administers the deployment.
    for who in [&dev, &b_root] {
        let (st, v) = h.call(who, "2026-11-01", "CreateAccount", &[]).await;
        assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "NoPermission"));
    }

    // Account B trusts account A: A's user with the permission may assume B's role.
    let trust = TRUST_ACCOUNT.replace("ACCOUNT", &h.account);
    let (st, v) = h
        .ram(
            &b_root,
            "CreateRole",
            &[("RoleName", "Shared"), ("AssumeRolePolicyDocument", &trust)],
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let arn = format!("acs:ram::{b}:role/Shared");
    let (st, v) = h
        .call(
            &dev,
            "2015-04-01",
            "AssumeRole",
            &[("RoleArn", &arn), ("RoleSessionName", "visit")],
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let visit = Session {
        creds: Creds::new(
            v["Credentials"]["AccessKeyId"].as_str().unwrap(),
            v["Credentials"]["AccessKeySecret"].as_str().unwrap(),
        ),
        token: v["Credentials"]["SecurityToken"].as_str().unwrap().into(),
    };
    let (st, v) = h
        .session_call(&visit, "2015-04-01", "GetCallerIdentity", &[])
        .await;
    assert_eq!(st, 200);
    assert_eq!(v["AccountId"], b.as_str());
    assert_eq!(v["Arn"], format!("acs:ram::{b}:assumed-role/shared/visit"));
    // B's own users are not trusted by that role, even with the permission.
    let (st, _) = h.ram(&b_root, "CreateUser", &[("UserName", "bob")]).await;
    assert_eq!(st, 200);
    let (_, v) = h
        .ram(&b_root, "CreateAccessKey", &[("UserName", "bob")])
        .await;
    let bob = Creds::new(
        v["AccessKey"]["AccessKeyId"].as_str().unwrap(),
        v["AccessKey"]["AccessKeySecret"].as_str().unwrap(),
    );
    h.ram(
        &b_root,
        "AttachPolicyToUser",
        &[
            ("PolicyType", "System"),
            ("PolicyName", "AliyunSTSAssumeRoleAccess"),
            ("UserName", "bob"),
        ],
    )
    .await;
    let (st, v) = h
        .call(
            &bob,
            "2015-04-01",
            "AssumeRole",
            &[("RoleArn", &arn), ("RoleSessionName", "bob-session")],
        )
        .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "NoPermission"));
    // Accounts are separate: A's root sees none of B's users.
    let (_, v) = h.ram(&root, "GetUser", &[("UserName", "bob")]).await;
    assert_eq!(code(&v), "EntityNotExist.User");

    // Rotation: tokens sealed before stay valid, new ones are sealed under the new key.
    let (st, v) = h.call(&root, "2026-11-01", "RotateTokenKeys", &[]).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["KeyId"], 2);
    let (st, _) = h
        .session_call(&visit, "2015-04-01", "GetCallerIdentity", &[])
        .await;
    assert_eq!(st, 200, "a token sealed under the retired key still opens");
    let fresh = h.session(&dev, "Reader", &[]).await;
    let (st, _) = h
        .session_call(&fresh, "2015-04-01", "GetCallerIdentity", &[])
        .await;
    assert_eq!(st, 200);
    assert_ne!(
        fresh.token[..8],
        visit.token[..8],
        "different key id in the header"
    );
}

/// `from` assumes `role` of the test account, as session `name`.
async fn hop(
    h: &TestServer,
    from: &Session,
    role: &str,
    name: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let arn = format!("acs:ram::{}:role/{role}", h.account);
    let mut p = vec![("RoleArn", arn.as_str()), ("RoleSessionName", name)];
    p.extend_from_slice(extra);
    h.session_call(from, "2015-04-01", "AssumeRole", &p).await
}

/// [`hop`], which must succeed: the session and its expiry.
async fn hop_ok(
    h: &TestServer,
    from: &Session,
    role: &str,
    extra: &[(&str, &str)],
) -> (Session, i64) {
    let (st, v) = hop(h, from, role, "hop", extra).await;
    assert_eq!(st, 200, "{v}");
    let c = &v["Credentials"];
    let expires = timestamp::parse(c["Expiration"].as_str().unwrap()).unwrap();
    let s = Session {
        creds: Creds::new(
            c["AccessKeyId"].as_str().unwrap(),
            c["AccessKeySecret"].as_str().unwrap(),
        ),
        token: c["SecurityToken"].as_str().unwrap().into(),
    };
    (s, expires)
}

/// Whether `s` is still accepted: 200, or refused as expired.
async fn alive(h: &TestServer, s: &Session) -> bool {
    let (st, v) = h
        .session_call(s, "2015-04-01", "GetCallerIdentity", &[])
        .await;
    match st {
        StatusCode::OK => true,
        _ => {
            assert_eq!(
                (st, code(&v)),
                (StatusCode::BAD_REQUEST, "InvalidSecurityToken.Expired")
            );
            false
        }
    }
}

/// Reader (which may assume roles) → Middle → Last, each trusting the role before it.
async fn chain_setup() -> (TestServer, Creds) {
    let (h, dev) = setup().await;
    h.attach(
        "AttachPolicyToRole",
        ("RoleName", "Reader"),
        "AliyunSTSAssumeRoleAccess",
    )
    .await;
    for (name, trusted) in [("Middle", "reader"), ("Last", "middle")] {
        h.role(
            name,
            &format!(r#"{{"Statement":[{{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{{"RAM":["acs:ram::ACCOUNT:role/{trusted}"]}}}}],"Version":"1"}}"#),
            &[("MaxSessionDuration", "43200")],
        )
        .await;
    }
    h.attach(
        "AttachPolicyToRole",
        ("RoleName", "Middle"),
        "AliyunSTSAssumeRoleAccess",
    )
    .await;
    (h, dev)
}

#[tokio::test]
async fn a_chained_session_never_outlives_its_parent() {
    let (h, dev) = chain_setup().await;
    let start = h.now();
    let first = h
        .session(&dev, "Reader", &[("DurationSeconds", "900")])
        .await;
    h.clock().advance(100);
    // An hour asked for, and allowed for a chained session, but the parent has 800 s left.
    let (middle, expires) = hop_ok(&h, &first, "Middle", &[("DurationSeconds", "3600")]).await;
    assert_eq!(expires, start + 900, "capped at the parent's expiry");
    h.clock().advance(100);
    let (last, expires) = hop_ok(&h, &middle, "Last", &[]).await;
    assert_eq!(expires, start + 900, "and so on down the chain");
    assert!(alive(&h, &last).await);
    // A child asking for less than its parent has left keeps what it asked for.
    let long = h.session(&dev, "Reader", &[]).await;
    let (_, expires) = hop_ok(&h, &long, "Middle", &[("DurationSeconds", "900")]).await;
    assert_eq!(expires, h.now() + 900);
    h.clock().advance(700);
    assert!(!alive(&h, &first).await);
    assert!(!alive(&h, &middle).await, "the child ends with its parent");
    assert!(!alive(&h, &last).await, "so does the grandchild");
}

#[tokio::test]
async fn revoking_a_role_ends_the_sessions_chained_from_its_sessions() {
    let (h, dev) = chain_setup().await;
    let root = h.root.clone();
    let first = h.session(&dev, "Reader", &[]).await;
    let (middle, _) = hop_ok(&h, &first, "Middle", &[]).await;
    let (last, _) = hop_ok(&h, &middle, "Last", &[]).await;

    // Revoking the middle role ends its sessions and the grandchild, not the first session.
    let (st, v) = h
        .ram(&root, "RevokeRoleSessions", &[("RoleName", "Middle")])
        .await;
    assert_eq!(st, 200, "{v}");
    assert!(!alive(&h, &middle).await);
    assert!(!alive(&h, &last).await, "revocation follows the chain");
    assert!(alive(&h, &first).await, "but not up it");

    // A fresh chain from the surviving session; revoking the first role ends all of it,
    // however far down. (The grandchild's own role, Last, was never revoked.)
    h.clock().advance(1);
    let (middle, _) = hop_ok(&h, &first, "Middle", &[]).await;
    let (last, _) = hop_ok(&h, &middle, "Last", &[]).await;
    assert!(alive(&h, &last).await);
    let (st, v) = h
        .ram(&root, "RevokeRoleSessions", &[("RoleName", "Reader")])
        .await;
    assert_eq!(st, 200, "{v}");
    assert!(!alive(&h, &first).await);
    assert!(!alive(&h, &middle).await);
    assert!(
        !alive(&h, &last).await,
        "the grandchild's calls are refused"
    );
    let (st, v) = hop(&h, &middle, "Last", "again", &[]).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidSecurityToken.Expired"),
        "nor can a revoked chain grow"
    );

    // Sessions started after the revocation chain as before.
    h.clock().advance(1);
    let first = h.session(&dev, "Reader", &[]).await;
    let (middle, _) = hop_ok(&h, &first, "Middle", &[]).await;
    let (last, _) = hop_ok(&h, &middle, "Last", &[]).await;
    assert!(alive(&h, &last).await);
}

#[tokio::test]
async fn deleting_a_role_in_the_chain_ends_the_sessions_below_it() {
    let (h, dev) = chain_setup().await;
    let root = h.root.clone();
    let first = h.session(&dev, "Reader", &[]).await;
    let (middle, _) = hop_ok(&h, &first, "Middle", &[]).await;
    let (last, _) = hop_ok(&h, &middle, "Last", &[]).await;
    let (st, v) = h
        .ram(
            &root,
            "DetachPolicyFromRole",
            &[
                ("PolicyType", "System"),
                ("PolicyName", "AliyunSTSAssumeRoleAccess"),
                ("RoleName", "Middle"),
            ],
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = h.ram(&root, "DeleteRole", &[("RoleName", "Middle")]).await;
    assert_eq!(st, 200, "{v}");
    assert!(!alive(&h, &last).await, "its parent's role is gone");
    assert!(alive(&h, &first).await);
}

#[tokio::test]
async fn role_chains_are_bounded() {
    let (h, dev) = setup().await;
    // Reader trusts the account, so a Reader session may assume Reader again: a chain as long
    // as the caller likes, but for the bound.
    h.attach(
        "AttachPolicyToRole",
        ("RoleName", "Reader"),
        "AliyunSTSAssumeRoleAccess",
    )
    .await;
    let mut s = h.session(&dev, "Reader", &[]).await;
    for _ in 2..=5 {
        s = hop_ok(&h, &s, "Reader", &[]).await.0;
    }
    assert!(alive(&h, &s).await, "a chain of five sessions is allowed");
    let (st, v) = hop(&h, &s, "Reader", "sixth", &[]).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::FORBIDDEN, "NoPermission"),
        "{v}"
    );
    assert_eq!(
        v["Message"],
        "Role chaining is limited to 5 sessions; this role session may not assume another role."
    );
    assert!(alive(&h, &s).await, "the refusal ends nothing");
}

/// The id of the token key that sealed a SecurityToken (bytes 1–4 of its header).
fn sealing_key(token: &str) -> u32 {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .unwrap();
    u32::from_be_bytes(raw[1..5].try_into().unwrap())
}

/// Waits (up to 10 s) until the server's keyring seals under key `id`.
async fn until_current_key(h: &TestServer, id: u32) {
    for _ in 0..1000 {
        if h.server().state.identities.keyring().current() == Some(id) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the token key was not rotated to {id}");
}

#[tokio::test]
async fn token_keys_rotate_by_themselves_by_count_and_by_age() {
    use tessera_server::tokens::RotationPolicy;
    let limits = Limits {
        token_key_rotation: RotationPolicy {
            max_age: Duration::from_secs(1800),
            max_seals: 3,
            check_interval: Duration::from_millis(20),
        },
        ..Limits::default()
    };
    let (h, dev) = setup_on(TestServer::builder().limits(limits).start().await).await;
    let mut first = Vec::new();
    for _ in 0..3 {
        let s = h.session(&dev, "Reader", &[]).await;
        assert_eq!(sealing_key(&s.token), 1);
        first.push(s);
    }
    // The third seal was the key's share: it is replaced without a request asking.
    until_current_key(&h, 2).await;
    let second = h.session(&dev, "Reader", &[]).await;
    assert_eq!(sealing_key(&second.token), 2);
    for s in &first {
        assert!(alive(&h, s).await, "tokens of the replaced key still open");
    }
    let retired: Option<i64> = h
        .db()
        .query_row("SELECT retired FROM token_keys WHERE id = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        retired,
        Some(h.now()),
        "the old key is retired, not dropped"
    );

    // Key 2 has sealed once; half an hour later it is replaced for its age. (The user's own
    // requests carry the system's time, so the session signs the AssumeRole from here on.)
    h.attach(
        "AttachPolicyToRole",
        ("RoleName", "Reader"),
        "AliyunSTSAssumeRoleAccess",
    )
    .await;
    h.clock().advance(1799);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        h.server().state.identities.keyring().current(),
        Some(2),
        "not before its time"
    );
    h.clock().advance(1);
    until_current_key(&h, 3).await;
    let (third, _) = hop_ok(&h, &second, "Reader", &[]).await;
    assert_eq!(sealing_key(&third.token), 3);
    assert!(alive(&h, &third).await);
    assert!(alive(&h, &second).await);
    assert!(alive(&h, &first[0]).await, "two keys back still opens");
}
