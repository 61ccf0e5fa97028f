//! End-to-end behaviour through the public API: the system policies of the spec (§12), trust
//! policies for every principal form, and parser robustness.

// Test code: expectations are stated with unwrap and panic.
#![allow(clippy::unwrap_used, clippy::panic)]

use proptest::prelude::*;
use tessera_policy::{
    evaluate, evaluate_trust, parse, Caller, Context, Decision, Explanation, Policy, PolicyKind,
    Request,
};

const ACCOUNT: &str = "1730760139076263";

fn identity(doc: &str) -> Policy {
    parse(doc, PolicyKind::Identity).unwrap_or_else(|e| panic!("{doc}: {e}"))
}

fn trust(doc: &str) -> Policy {
    parse(doc, PolicyKind::Trust).unwrap_or_else(|e| panic!("{doc}: {e}"))
}

fn decide(policies: &[&Policy], action: &str, resource: &str) -> Decision {
    let context = Context::new();
    evaluate(
        policies.iter().copied(),
        &Request {
            action,
            resource,
            context: &context,
        },
    )
    .decision
}

mod system_policies {
    use super::*;

    const ADMINISTRATOR_ACCESS: &str =
        r#"{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}],"Version":"1"}"#;
    const STS_ASSUME_ROLE_ACCESS: &str = r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Resource":"*"}],"Version":"1"}"#;
    const RAM_READ_ONLY_ACCESS: &str = r#"{"Version":"1","Statement":[
        {"Action":["ram:Get*","ram:List*","ram:GenerateCredentialReport"],"Resource":"*","Effect":"Allow"},
        {"Effect":"Allow","Action":["accessanalyzer:Get*","accessanalyzer:List*"],"Resource":"*"}]}"#;
    const RAM_FULL_ACCESS: &str =
        r#"{"Statement":[{"Action":"ram:*","Effect":"Allow","Resource":"*"}],"Version":"1"}"#;

    #[test]
    fn all_parse_as_identity_and_session_policies() {
        for doc in [
            ADMINISTRATOR_ACCESS,
            STS_ASSUME_ROLE_ACCESS,
            RAM_READ_ONLY_ACCESS,
            RAM_FULL_ACCESS,
        ] {
            for kind in [PolicyKind::Identity, PolicyKind::Session] {
                parse(doc, kind).unwrap_or_else(|e| panic!("{doc}: {e}"));
            }
            // Not a trust policy: no Principal.
            let err = parse(doc, PolicyKind::Trust).unwrap_err();
            assert_eq!(
                err.message,
                "Statement[0]: a trust policy statement needs Principal"
            );
        }
        assert_eq!(identity(RAM_READ_ONLY_ACCESS).statement_count(), 2);
    }

    #[test]
    fn administrator_access_allows_everything() {
        let p = identity(ADMINISTRATOR_ACCESS);
        for (action, resource) in [
            ("ram:CreateUser", "acs:ram:*:1:user/x"),
            ("sts:AssumeRole", "acs:ram::1:role/anything"),
            ("ecs:RunInstances", "*"),
            ("oss:PutObject", "acs:oss:cn-hangzhou:1:bucket/key"),
        ] {
            assert_eq!(decide(&[&p], action, resource), Decision::Allow);
        }
    }

    #[test]
    fn sts_assume_role_access_allows_only_assume_role() {
        let p = identity(STS_ASSUME_ROLE_ACCESS);
        let role = format!("acs:ram::{ACCOUNT}:role/admin");
        assert_eq!(decide(&[&p], "sts:AssumeRole", &role), Decision::Allow);
        assert_eq!(decide(&[&p], "STS:assumerole", &role), Decision::Allow);
        assert_eq!(
            decide(&[&p], "sts:AssumeRoleWithSAML", &role),
            Decision::ImplicitDeny
        );
        assert_eq!(
            decide(&[&p], "sts:GetCallerIdentity", "*"),
            Decision::ImplicitDeny
        );
        assert_eq!(decide(&[&p], "ram:CreateUser", "*"), Decision::ImplicitDeny);
    }

    #[test]
    fn ram_read_only_access_allows_reads_only() {
        let p = identity(RAM_READ_ONLY_ACCESS);
        let user = format!("acs:ram::{ACCOUNT}:user/alice");
        for action in [
            "ram:GetUser",
            "ram:ListUsers",
            "ram:GetPolicyVersion",
            "ram:GenerateCredentialReport",
            "accessanalyzer:ListAnalyzers",
        ] {
            assert_eq!(decide(&[&p], action, &user), Decision::Allow, "{action}");
        }
        let context = Context::new();
        let e = evaluate(
            [&p],
            &Request {
                action: "accessanalyzer:GetFinding",
                resource: "*",
                context: &context,
            },
        );
        assert_eq!((e.policy, e.statement), (Some(0), Some(1)));
        for action in [
            "ram:CreateUser",
            "ram:DeleteUser",
            "ram:AttachPolicyToRole",
            "ram:UpdateUser",
            "ram:GenerateCredentialReports",
            "sts:AssumeRole",
        ] {
            assert_eq!(
                decide(&[&p], action, &user),
                Decision::ImplicitDeny,
                "{action}"
            );
        }
    }

    #[test]
    fn ram_full_access_allows_ram_only() {
        let p = identity(RAM_FULL_ACCESS);
        assert_eq!(decide(&[&p], "ram:CreateUser", "*"), Decision::Allow);
        assert_eq!(decide(&[&p], "ram:DeletePolicy", "*"), Decision::Allow);
        assert_eq!(decide(&[&p], "sts:AssumeRole", "*"), Decision::ImplicitDeny);
        assert_eq!(decide(&[&p], "ramx:Get", "*"), Decision::ImplicitDeny);
    }

    #[test]
    fn a_custom_deny_overrides_a_system_allow() {
        let admin = identity(ADMINISTRATOR_ACCESS);
        let guard = identity(
            r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"ram:Delete*","Resource":"acs:ram:*:*:role/*"}]}"#,
        );
        let context = Context::new();
        let request = Request {
            action: "ram:DeleteRole",
            resource: "acs:ram::1:role/Prod",
            context: &context,
        };
        assert_eq!(
            evaluate([&admin, &guard], &request),
            Explanation {
                decision: Decision::ExplicitDeny,
                policy: Some(1),
                statement: Some(0)
            }
        );
        assert_eq!(
            decide(&[&admin, &guard], "ram:DeleteUser", "acs:ram::1:user/x"),
            Decision::Allow
        );
    }
}

mod trust_policies {
    use super::*;

    fn assume(policy: &Policy, caller: Caller<'_>, context: &Context) -> Explanation {
        evaluate_trust(
            policy,
            &caller,
            &Request {
                action: "sts:AssumeRole",
                resource: &format!("acs:ram::{ACCOUNT}:role/target"),
                context,
            },
        )
    }

    fn user(account: &str, name: &str) -> Caller<'static> {
        Caller::RamUser {
            account: Box::leak(account.into()),
            user_name: Box::leak(name.into()),
        }
    }

    fn role(account: &str, name: &str) -> Caller<'static> {
        Caller::AssumedRole {
            account: Box::leak(account.into()),
            role_name: Box::leak(name.into()),
        }
    }

    fn allowed(policy: &Policy, caller: Caller<'_>) -> bool {
        assume(policy, caller, &Context::new()).is_allowed()
    }

    #[test]
    fn the_console_default_admits_the_account_users_and_role_sessions() {
        let p = trust(&format!(
            r#"{{
  "Statement": [
    {{
      "Action": "sts:AssumeRole",
      "Effect": "Allow",
      "Principal": {{ "RAM": [ "acs:ram::{ACCOUNT}:root" ] }}
    }}
  ],
  "Version": "1"
}}"#
        ));
        assert!(allowed(&p, user(ACCOUNT, "alice")));
        assert!(allowed(&p, role(ACCOUNT, "ops")));
        assert!(!allowed(&p, user("1111111111111111", "alice")));
        assert!(!allowed(&p, role("1111111111111111", "ops")));
        assert!(!allowed(&p, Caller::Service("ecs.aliyuncs.com")));
        assert!(!allowed(
            &p,
            Caller::Federated("acs:ram::1730760139076263:saml-provider/idp")
        ));
        // Only sts:AssumeRole is granted.
        let e = evaluate_trust(
            &p,
            &user(ACCOUNT, "alice"),
            &Request {
                action: "sts:AssumeRoleWithSAML",
                resource: "*",
                context: &Context::new(),
            },
        );
        assert_eq!(e.decision, Decision::ImplicitDeny);
    }

    #[test]
    fn a_string_principal_and_a_cross_account_root() {
        let p = trust(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",
                "Principal":{"RAM":"acs:ram::2222222222222222:root"}}]}"#,
        );
        assert!(allowed(&p, user("2222222222222222", "bob")));
        assert!(!allowed(&p, user(ACCOUNT, "bob")));
    }

    #[test]
    fn one_user() {
        let p = trust(&format!(
            r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole",
                "Principal":{{"RAM":["acs:ram::{ACCOUNT}:user/alice"]}}}}]}}"#
        ));
        assert!(allowed(&p, user(ACCOUNT, "alice")));
        assert!(!allowed(&p, user(ACCOUNT, "bob")));
        assert!(!allowed(&p, user(ACCOUNT, "Alice")));
        assert!(!allowed(&p, role(ACCOUNT, "alice")));
        assert!(!allowed(&p, user("2222222222222222", "alice")));
    }

    #[test]
    fn sessions_of_one_role_with_a_case_insensitive_name() {
        let p = trust(&format!(
            r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole",
                "Principal":{{"RAM":["acs:ram::{ACCOUNT}:role/Deployer"]}}}}]}}"#
        ));
        assert!(allowed(&p, role(ACCOUNT, "Deployer")));
        assert!(allowed(&p, role(ACCOUNT, "deployer")));
        assert!(!allowed(&p, role(ACCOUNT, "other")));
        assert!(!allowed(&p, user(ACCOUNT, "Deployer")));
        assert!(!allowed(&p, role("2222222222222222", "Deployer")));
    }

    #[test]
    fn services() {
        let p = trust(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",
                "Principal":{"Service":["ecs.aliyuncs.com","fc.aliyuncs.com"]}}]}"#,
        );
        assert!(allowed(&p, Caller::Service("ecs.aliyuncs.com")));
        assert!(allowed(&p, Caller::Service("fc.aliyuncs.com")));
        assert!(!allowed(&p, Caller::Service("oss.aliyuncs.com")));
        assert!(!allowed(&p, user(ACCOUNT, "ecs.aliyuncs.com")));
        let single = trust(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",
                "Principal":{"Service":"ecs.aliyuncs.com"}}]}"#,
        );
        assert!(allowed(&single, Caller::Service("ecs.aliyuncs.com")));
    }

    #[test]
    fn federated_saml_and_oidc_with_claim_conditions() {
        let saml = format!("acs:ram::{ACCOUNT}:saml-provider/corp");
        let oidc = format!("acs:ram::{ACCOUNT}:oidc-provider/github");
        let p = trust(&format!(
            r#"{{"Version":"1","Statement":[
                {{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{{"Federated":["{saml}"]}},
                  "Condition":{{"StringEquals":{{"saml:recipient":"https://signin.aliyun.com/saml-role/sso"}}}}}},
                {{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{{"Federated":"{oidc}"}},
                  "Condition":{{"StringEquals":{{"oidc:aud":"sts.aliyuncs.com","oidc:iss":"https://token.actions.githubusercontent.com"}},
                                "StringLike":{{"oidc:sub":"repo:tessera/*"}}}}}}]}}"#
        ));
        let recipient =
            Context::new().with_string("saml:recipient", "https://signin.aliyun.com/saml-role/sso");
        assert_eq!(
            assume(&p, Caller::Federated(&saml), &recipient),
            Explanation {
                decision: Decision::Allow,
                policy: Some(0),
                statement: Some(0)
            }
        );
        assert!(!assume(&p, Caller::Federated(&saml), &Context::new()).is_allowed());
        let claims = |sub| {
            Context::new()
                .with_string("oidc:aud", "sts.aliyuncs.com")
                .with_string("oidc:iss", "https://token.actions.githubusercontent.com")
                .with_string("oidc:sub", sub)
        };
        let e = assume(&p, Caller::Federated(&oidc), &claims("repo:tessera/main"));
        assert_eq!((e.decision, e.statement), (Decision::Allow, Some(1)));
        assert!(!assume(&p, Caller::Federated(&oidc), &claims("repo:other/main")).is_allowed());
        // The SAML provider's statement does not admit the OIDC provider, whatever the claims.
        assert!(!assume(&p, Caller::Federated(&oidc), &recipient).is_allowed());
    }

    #[test]
    fn external_id() {
        let p = trust(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",
                "Principal":{"RAM":"acs:ram::2222222222222222:root"},
                "Condition":{"StringEquals":{"sts:ExternalId":"abcd1234"}}}]}"#,
        );
        let partner = user("2222222222222222", "integration");
        let with = |id: &str| Context::new().with_string("sts:ExternalId", id);
        assert!(assume(&p, partner, &with("abcd1234")).is_allowed());
        // Key names are case-insensitive; values are not.
        assert!(assume(
            &p,
            partner,
            &Context::new().with_string("STS:EXTERNALID", "abcd1234")
        )
        .is_allowed());
        assert!(!assume(&p, partner, &with("ABCD1234")).is_allowed());
        assert!(!assume(&p, partner, &with("wrong")).is_allowed());
        assert!(!assume(&p, partner, &Context::new()).is_allowed());
        assert!(!assume(&p, user(ACCOUNT, "integration"), &with("abcd1234")).is_allowed());
    }

    #[test]
    fn deny_statements_and_source_identity() {
        let p = trust(&format!(
            r#"{{"Version":"1","Statement":[
                {{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{{"RAM":"acs:ram::{ACCOUNT}:root"}}}},
                {{"Effect":"Deny","Action":"sts:AssumeRole","Principal":{{"RAM":"acs:ram::{ACCOUNT}:user/intern"}}}},
                {{"Effect":"Deny","Action":"sts:AssumeRole","Principal":{{"RAM":"acs:ram::{ACCOUNT}:root"}},
                  "Condition":{{"StringNotLike":{{"sts:SourceIdentity":"*@example.com"}}}}}}]}}"#
        ));
        let ok = Context::new().with_string("sts:SourceIdentity", "dev@example.com");
        assert_eq!(
            assume(&p, user(ACCOUNT, "alice"), &ok),
            Explanation {
                decision: Decision::Allow,
                policy: Some(0),
                statement: Some(0)
            }
        );
        assert_eq!(
            assume(&p, user(ACCOUNT, "intern"), &ok),
            Explanation {
                decision: Decision::ExplicitDeny,
                policy: Some(0),
                statement: Some(1)
            }
        );
        // A missing SourceIdentity makes StringNotLike hold: denied.
        assert_eq!(
            assume(&p, user(ACCOUNT, "alice"), &Context::new()).statement,
            Some(2)
        );
    }

    #[test]
    fn a_resource_in_a_trust_policy_must_match_the_role() {
        let p = trust(&format!(
            r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole",
                "Principal":{{"RAM":"acs:ram::{ACCOUNT}:root"}},"Resource":"acs:ram:*:{ACCOUNT}:role/TARGET"}}]}}"#
        ));
        assert!(allowed(&p, user(ACCOUNT, "alice")));
        let elsewhere = evaluate_trust(
            &p,
            &user(ACCOUNT, "alice"),
            &Request {
                action: "sts:AssumeRole",
                resource: &format!("acs:ram::{ACCOUNT}:role/other"),
                context: &Context::new(),
            },
        );
        assert!(!elsewhere.is_allowed());
    }
}

mod robustness {
    use super::*;

    /// Fragments that build documents that are almost, but not always, policies.
    fn fragment() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just(r#""1""#.to_string()),
            Just(r#""*""#.to_string()),
            Just(r#""Allow""#.to_string()),
            Just(r#""Deny""#.to_string()),
            Just(r#""ram:Get*""#.to_string()),
            Just(r#""acs:ram:*:1:role/x""#.to_string()),
            Just(r#""10.0.0.0/8""#.to_string()),
            Just(r#""2012-11-11T23:59:59Z""#.to_string()),
            Just("true".to_string()),
            Just("null".to_string()),
            Just("-1.5e400".to_string()),
            "\"\\PC{0,8}\"".prop_map(|s| serde_json::to_string(&s).unwrap()),
        ];
        let names = prop_oneof![
            Just("Version"),
            Just("Statement"),
            Just("Effect"),
            Just("Action"),
            Just("NotAction"),
            Just("Resource"),
            Just("NotResource"),
            Just("Principal"),
            Just("RAM"),
            Just("Service"),
            Just("Federated"),
            Just("Condition"),
            Just("StringEquals"),
            Just("ForAllValues:StringLikeIfExists"),
            Just("NumericLessThan"),
            Just("DateGreaterThan"),
            Just("IpAddress"),
            Just("Bool"),
            Just("Null"),
            Just("acs:SourceIp"),
            Just("Sid"),
        ];
        leaf.prop_recursive(6, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|items| format!("[{}]", items.join(","))),
                prop::collection::vec((names.clone(), inner), 0..4).prop_map(|members| {
                    let body: Vec<String> = members
                        .iter()
                        .map(|(k, v)| format!("\"{k}\":{v}"))
                        .collect();
                    format!("{{{}}}", body.join(","))
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn parsing_never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
            for kind in [PolicyKind::Identity, PolicyKind::Session, PolicyKind::Trust] {
                let _ = parse(&text, kind);
            }
        }

        #[test]
        fn parsing_never_panics_on_policy_shaped_json(doc in fragment()) {
            for kind in [PolicyKind::Identity, PolicyKind::Session, PolicyKind::Trust] {
                match parse(&doc, kind) {
                    Ok(policy) => {
                        // Whatever compiled also evaluates without panicking.
                        let context = Context::new().with_string("acs:SourceIp", "10.1.1.1");
                        let request = Request { action: "ram:GetUser", resource: "acs:ram::1:role/x", context: &context };
                        let _ = evaluate([&policy], &request);
                        let _ = evaluate_trust(&policy, &Caller::RamUser { account: "1", user_name: "u" }, &request);
                    }
                    Err(e) => prop_assert!(!e.message.is_empty()),
                }
            }
        }

        #[test]
        fn a_policy_allowing_one_action_allows_exactly_that_action(
            action in "[a-z]{1,6}:[A-Za-z]{1,10}",
            other in "[a-z]{1,6}:[A-Za-z]{1,10}",
        ) {
            let p = identity(&format!(
                r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#
            ));
            prop_assert_eq!(decide(&[&p], &action, "*"), Decision::Allow);
            prop_assert_eq!(decide(&[&p], &action.to_uppercase(), "*"), Decision::Allow);
            let expected = if other.eq_ignore_ascii_case(&action) { Decision::Allow } else { Decision::ImplicitDeny };
            prop_assert_eq!(decide(&[&p], &other, "*"), expected);
        }
    }
}

// A counting allocator implements the unsafe `GlobalAlloc` trait; it only forwards to the
// system allocator.
#[allow(unsafe_code)]
mod allocation {
    //! Evaluation must not allocate: a counting allocator, switched on for one thread at a time.
    use super::*;
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting;

    static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

    thread_local! {
        // `const` init: no lazy initialization, so the allocator may read it.
        static COUNTING: Cell<bool> = const { Cell::new(false) };
    }

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if COUNTING.with(Cell::get) {
                ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            }
            // SAFETY: forwarded unchanged to the system allocator.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` came from `System.alloc` with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    /// How many allocations `f` makes on this thread.
    fn allocations(f: impl FnOnce()) -> usize {
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        COUNTING.with(|c| c.set(true));
        f();
        COUNTING.with(|c| c.set(false));
        ALLOCATIONS.load(Ordering::Relaxed) - before
    }

    #[test]
    fn evaluation_allocates_nothing() {
        let identity_policy = identity(
            r#"{"Version":"1","Statement":[
            {"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"acs:SourceIp":"10.0.0.0/8"}}},
            {"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateGreaterThan":{"acs:CurrentTime":"2031-01-01T00:00:00+08:00"}}},
            {"Effect":"Allow","Action":["ram:Get*","ram:List*"],"Resource":"acs:ram:*:1:role/*",
             "Condition":{"Bool":{"acs:SecureTransport":"true"},"StringEqualsIgnoreCase":{"x:Team":"ÉQUIPE"},
                          "ForAllValues:StringLike":{"x:tags":["a*","b*"]},"NumericLessThan":{"x:n":"10"},
                          "DateLessThan":{"x:when":"2030-01-01"}}}]}"#,
        );
        let trust_policy = trust(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",
            "Principal":{"RAM":["acs:ram::1:role/Ops","acs:ram::1:root"]},
            "Condition":{"StringEquals":{"sts:ExternalId":"e"}}}]}"#,
        );
        let context = Context::new()
            .with_current_time(1_790_000_000)
            .with_source_ip("10.1.2.3".parse().unwrap())
            .with_secure_transport(true)
            .with_string("x:team", "équipe")
            .with_string("x:tags", "alpha")
            .with_string("x:tags", "beta")
            .with_string("x:n", "9")
            .with_string("x:when", "2029-06-01T12:00:00+02:00")
            .with_string("sts:ExternalId", "e");
        let request = Request {
            action: "RAM:GetRole",
            resource: "acs:ram::1:role/Admin",
            context: &context,
        };
        let assume = Request {
            action: "sts:AssumeRole",
            resource: "acs:ram::1:role/Target",
            context: &context,
        };
        let caller = Caller::AssumedRole {
            account: "1",
            role_name: "ops",
        };
        let mut decisions = (Decision::ImplicitDeny, Decision::ImplicitDeny);
        let n = allocations(|| {
            decisions = (
                evaluate([&identity_policy], &request).decision,
                evaluate_trust(&trust_policy, &caller, &assume).decision,
            );
        });
        assert_eq!(decisions, (Decision::Allow, Decision::Allow));
        assert_eq!(n, 0, "evaluation allocated");
        // The counter works.
        assert!(allocations(|| drop(std::hint::black_box(vec![1u8]))) > 0);
    }
}
