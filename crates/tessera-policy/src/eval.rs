//! Evaluation: explicit Deny beats Allow beats implicit deny, with the deciding statement.

use crate::glob::role_name_fold;
use crate::policy::Policy;
use crate::principal::Caller;
use crate::Request;

/// The outcome of evaluating a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// At least one `Allow` statement matched and no `Deny` statement did.
    Allow,
    /// A `Deny` statement matched.
    ExplicitDeny,
    /// No statement matched.
    ImplicitDeny,
}

/// A decision and the statement that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Explanation {
    /// The decision.
    pub decision: Decision,
    /// Which policy decided: its position in the sequence given to [`evaluate`]
    /// (always 0 for [`evaluate_trust`]); `None` when no statement matched.
    pub policy: Option<usize>,
    /// Which statement of that policy decided, in document order: the first `Deny` that
    /// matched, else the first `Allow`; `None` when no statement matched.
    pub statement: Option<usize>,
}

impl Explanation {
    /// Is the request allowed?
    pub fn is_allowed(&self) -> bool {
        self.decision == Decision::Allow
    }

    const NO_MATCH: Explanation = Explanation {
        decision: Decision::ImplicitDeny,
        policy: None,
        statement: None,
    };

    fn by(decision: Decision, policy: usize, statement: usize) -> Explanation {
        Explanation {
            decision,
            policy: Some(policy),
            statement: Some(statement),
        }
    }
}

/// Evaluates `request` against a set of identity (or session) policies, in one pass.
///
/// The first matching `Deny` statement (in policy order, then document order) decides at once;
/// otherwise the first matching `Allow` does; otherwise the request is implicitly denied.
/// Statements with a `Principal` (trust policies) never match here: use [`evaluate_trust`].
/// Allocates nothing.
pub fn evaluate<'p, I: IntoIterator<Item = &'p Policy>>(
    policies: I,
    request: &Request<'_>,
) -> Explanation {
    // Computed once: where the role name is in the resource, if it is a role's ARN.
    let fold = role_name_fold(request.resource);
    let mut allow = None;
    for (p, policy) in policies.into_iter().enumerate() {
        for (s, statement) in policy.denies() {
            if !statement.has_principal() && statement.matches(request, fold) {
                return Explanation::by(Decision::ExplicitDeny, p, s);
            }
        }
        if allow.is_none() {
            allow = policy
                .allows()
                .find(|(_, st)| !st.has_principal() && st.matches(request, fold))
                .map(|(s, _)| (p, s));
        }
    }
    match allow {
        Some((p, s)) => Explanation::by(Decision::Allow, p, s),
        None => Explanation::NO_MATCH,
    }
}

/// Evaluates a trust policy: may `caller` perform `request` (usually `sts:AssumeRole` on the
/// role's ARN)? A statement matches when its `Principal` admits the caller and its action,
/// resource (if it has one) and conditions match. Same precedence as [`evaluate`].
pub fn evaluate_trust(policy: &Policy, caller: &Caller<'_>, request: &Request<'_>) -> Explanation {
    let fold = role_name_fold(request.resource);
    let matches = |st: &crate::policy::Statement| st.admits(caller) && st.matches(request, fold);
    if let Some((s, _)) = policy.denies().find(|(_, st)| matches(st)) {
        return Explanation::by(Decision::ExplicitDeny, 0, s);
    }
    match policy.allows().find(|(_, st)| matches(st)) {
        Some((s, _)) => Explanation::by(Decision::Allow, 0, s),
        None => Explanation::NO_MATCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse, Context, PolicyKind};

    fn identity(statements: &str) -> Policy {
        let doc = format!(r#"{{"Version":"1","Statement":[{statements}]}}"#);
        parse(&doc, PolicyKind::Identity).unwrap_or_else(|e| panic!("{doc}: {e}"))
    }

    fn ask(policies: &[&Policy], action: &str, resource: &str) -> Explanation {
        let context = Context::new();
        evaluate(
            policies.iter().copied(),
            &Request {
                action,
                resource,
                context: &context,
            },
        )
    }

    fn explained(decision: Decision, policy: usize, statement: usize) -> Explanation {
        Explanation::by(decision, policy, statement)
    }

    #[test]
    fn deny_beats_allow_beats_implicit_deny() {
        let allow_all = identity(r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#);
        let deny_delete = identity(
            r#"{"Effect":"Allow","Action":"ecs:*","Resource":"*"},
               {"Effect":"Deny","Action":"ram:Delete*","Resource":"*"}"#,
        );
        let ecs = identity(r#"{"Effect":"Allow","Action":"ecs:Describe*","Resource":"*"}"#);

        // A Deny anywhere wins, and names its own policy and statement.
        assert_eq!(
            ask(&[&allow_all, &deny_delete], "ram:DeleteUser", "*"),
            explained(Decision::ExplicitDeny, 1, 1)
        );
        assert_eq!(
            ask(&[&deny_delete, &allow_all], "ram:DeleteUser", "*"),
            explained(Decision::ExplicitDeny, 0, 1)
        );
        // The first matching Allow decides.
        assert_eq!(
            ask(&[&ecs, &allow_all], "ecs:DescribeInstances", "*"),
            explained(Decision::Allow, 0, 0)
        );
        assert_eq!(
            ask(&[&ecs, &deny_delete, &allow_all], "ram:GetUser", "*"),
            explained(Decision::Allow, 2, 0)
        );
        // Nothing matched.
        assert_eq!(
            ask(&[&ecs, &deny_delete], "ram:GetUser", "*"),
            Explanation::NO_MATCH
        );
        assert_eq!(ask(&[], "ram:GetUser", "*"), Explanation::NO_MATCH);
        assert!(!Explanation::NO_MATCH.is_allowed());
    }

    #[test]
    fn the_first_matching_deny_decides_even_after_an_allow() {
        let p = identity(
            r#"{"Effect":"Allow","Action":"*","Resource":"*"},
               {"Effect":"Deny","Action":"oss:*","Resource":"*"},
               {"Effect":"Deny","Action":"oss:Put*","Resource":"*"}"#,
        );
        assert_eq!(
            ask(&[&p], "oss:PutObject", "*"),
            explained(Decision::ExplicitDeny, 0, 1)
        );
        assert_eq!(
            ask(&[&p], "oss:GetObject", "*"),
            explained(Decision::ExplicitDeny, 0, 1)
        );
        assert_eq!(
            ask(&[&p], "ecs:Start", "*"),
            explained(Decision::Allow, 0, 0)
        );
    }

    #[test]
    fn actions_fold_case_resources_do_not_except_role_names() {
        let p = identity(
            r#"{"Effect":"Allow","Action":"RAM:getuser","Resource":"acs:ram:*:123:user/Bob"},
               {"Effect":"Allow","Action":"sts:AssumeRole","Resource":"acs:ram:*:123:role/Admin"}"#,
        );
        let allowed = |a, r| ask(&[&p], a, r).is_allowed();
        assert!(allowed("ram:GetUser", "acs:ram::123:user/Bob"));
        assert!(allowed("Ram:GETUSER", "acs:ram::123:user/Bob"));
        assert!(!allowed("ram:GetUser", "acs:ram::123:user/bob"));
        assert!(!allowed("ram:GetUser", "acs:ram::124:user/Bob"));
        assert!(allowed("sts:AssumeRole", "acs:ram::123:role/admin"));
        assert!(allowed("sts:AssumeRole", "acs:ram::123:role/ADMIN"));
        assert!(!allowed("sts:AssumeRole", "acs:ram::123:role/admins"));
        // `*` matches the empty region slot, and a filled one.
        assert!(allowed(
            "sts:AssumeRole",
            "acs:ram:cn-hangzhou:123:role/Admin"
        ));
    }

    #[test]
    fn not_action_and_not_resource() {
        let p = identity(
            r#"{"Effect":"Allow","NotAction":["ram:*","ims:*"],"Resource":"*"},
               {"Effect":"Deny","Action":"oss:*","NotResource":["acs:oss:*:*:public/*"]}"#,
        );
        assert_eq!(
            ask(&[&p], "ecs:RunInstances", "*"),
            explained(Decision::Allow, 0, 0)
        );
        assert_eq!(ask(&[&p], "ram:CreateUser", "*"), Explanation::NO_MATCH);
        assert_eq!(ask(&[&p], "IMS:x", "*"), Explanation::NO_MATCH);
        assert_eq!(
            ask(&[&p], "oss:GetObject", "acs:oss:*:1:secret/a"),
            explained(Decision::ExplicitDeny, 0, 1)
        );
        assert_eq!(
            ask(&[&p], "oss:GetObject", "acs:oss:*:1:public/a"),
            explained(Decision::Allow, 0, 0)
        );
    }

    #[test]
    fn conditions_gate_statements() {
        let p = identity(
            r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"acs:SecureTransport":"false"}}},
               {"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}"#,
        );
        let run = |ctx: &Context| {
            evaluate(
                [&p],
                &Request {
                    action: "ram:GetUser",
                    resource: "*",
                    context: ctx,
                },
            )
        };
        let inside = "10.1.2.3".parse().unwrap();
        assert_eq!(
            run(&Context::new()
                .with_secure_transport(true)
                .with_source_ip(inside)),
            explained(Decision::Allow, 0, 1)
        );
        assert_eq!(
            run(&Context::new()
                .with_secure_transport(false)
                .with_source_ip(inside)),
            explained(Decision::ExplicitDeny, 0, 0)
        );
        assert_eq!(
            run(&Context::new()
                .with_secure_transport(true)
                .with_source_ip("192.0.2.1".parse().unwrap())),
            Explanation::NO_MATCH
        );
        // Missing keys: the Deny's Bool fails, the Allow's IpAddress fails.
        assert_eq!(run(&Context::new()), Explanation::NO_MATCH);
    }

    #[test]
    fn identity_and_trust_evaluation_do_not_mix() {
        let trust = parse(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::1:root"}}]}"#,
            PolicyKind::Trust,
        )
        .unwrap();
        assert_eq!(ask(&[&trust], "sts:AssumeRole", "*"), Explanation::NO_MATCH);
        let identity = identity(r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#);
        let context = Context::new();
        let request = Request {
            action: "sts:AssumeRole",
            resource: "acs:ram::1:role/r",
            context: &context,
        };
        let caller = Caller::RamUser {
            account: "1",
            user_name: "u",
        };
        assert_eq!(
            evaluate_trust(&identity, &caller, &request),
            Explanation::NO_MATCH
        );
        assert_eq!(
            evaluate_trust(&trust, &caller, &request),
            explained(Decision::Allow, 0, 0)
        );
    }
}
