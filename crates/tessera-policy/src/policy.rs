//! Policy documents: the grammar check and the compilation to matchers.

use crate::condition::{self, Condition};
use crate::error::{Path, PolicyError};
use crate::glob::{Fold, Glob};
use crate::json::{self, Json};
use crate::principal::{self, for_each_string, Caller, Principal};
use crate::Request;

/// Documents longer than this are refused before parsing: a backstop far above every RAM and
/// STS size limit (6,144 characters at most), which the caller checks precisely.
pub const MAX_DOCUMENT_BYTES: usize = 128 * 1024;

/// What a document is for; it decides which elements a statement must and may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// A permission policy attached to a user, group or role: statements need `Resource` or
    /// `NotResource` and may not have `Principal`.
    Identity,
    /// The `Policy` parameter of `AssumeRole`: the same grammar as [`PolicyKind::Identity`].
    Session,
    /// A role's `AssumeRolePolicyDocument`: statements need `Principal`; `Resource` is optional
    /// (when present it must match the role's ARN).
    Trust,
}

/// A compiled policy document, ready to evaluate any number of requests.
#[derive(Debug, Clone)]
pub struct Policy {
    kind: PolicyKind,
    statements: Box<[Statement]>,
    /// Statement indices, the `Deny` statements first (in document order), then the `Allow`
    /// ones, so evaluation can stop at the first `Deny` and skip the `Allow`s once one matched.
    order: Box<[usize]>,
    denies: usize,
}

impl Policy {
    /// Whether any statement has a `Condition`: a policy without one never reads the request's
    /// context, so a caller may skip building it.
    pub fn has_conditions(&self) -> bool {
        self.statements.iter().any(|s| !s.conditions.is_empty())
    }

    /// How many statements the document has.
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// What the document was parsed as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The `Deny` statements, as (index, statement), in document order.
    pub(crate) fn denies(&self) -> impl Iterator<Item = (usize, &Statement)> {
        self.order[..self.denies]
            .iter()
            .map(|&i| (i, &self.statements[i]))
    }

    /// The `Allow` statements, as (index, statement), in document order.
    pub(crate) fn allows(&self) -> impl Iterator<Item = (usize, &Statement)> {
        self.order[self.denies..]
            .iter()
            .map(|&i| (i, &self.statements[i]))
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

/// One compiled statement.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    effect: Effect,
    actions: Patterns,
    /// `None` in a trust policy without `Resource`: any resource.
    resources: Option<Patterns>,
    /// `Some` exactly in trust policies.
    principals: Option<Box<[Principal]>>,
    conditions: Box<[Condition]>,
}

/// `Action`/`NotAction` or `Resource`/`NotResource`.
#[derive(Debug, Clone)]
struct Patterns {
    /// `NotAction`/`NotResource`: the element matches what none of the patterns match.
    not: bool,
    globs: Box<[Glob]>,
}

impl Patterns {
    fn matches(&self, input: &str, fold: Fold) -> bool {
        self.globs.iter().any(|g| g.matches(input, fold)) != self.not
    }
}

impl Statement {
    fn effect(&self) -> Effect {
        self.effect
    }

    /// Does this statement apply to `request` (action, resource and conditions)?
    /// `resource_fold` is the role-name segment of the request's resource.
    #[inline]
    pub(crate) fn matches(&self, request: &Request<'_>, resource_fold: Fold) -> bool {
        self.actions.matches(request.action, crate::glob::FOLD_ALL)
            && self
                .resources
                .as_ref()
                .is_none_or(|r| r.matches(request.resource, resource_fold))
            && self.conditions.iter().all(|c| c.holds(request.context))
    }

    /// Does this statement's `Principal` admit `caller`? False when it has none.
    pub(crate) fn admits(&self, caller: &Caller<'_>) -> bool {
        self.principals
            .as_ref()
            .is_some_and(|ps| ps.iter().any(|p| p.admits(caller)))
    }

    /// True when the statement names a principal (only trust policy statements do).
    pub(crate) fn has_principal(&self) -> bool {
        self.principals.is_some()
    }

    pub(crate) fn is_deny(&self) -> bool {
        self.effect() == Effect::Deny
    }
}

/// Parses and compiles `document` as a policy of `kind`.
///
/// # Errors
/// A [`PolicyError`] saying what is wrong and where when the document is not JSON, breaks the
/// grammar, or has elements `kind` does not allow.
pub fn parse(document: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
    let root = Path::Root;
    if document.len() > MAX_DOCUMENT_BYTES {
        return Err(PolicyError::at(
            &root,
            format_args!("document is longer than {MAX_DOCUMENT_BYTES} bytes"),
        ));
    }
    let json = json::parse(document).map_err(|m| PolicyError::at(&root, m))?;
    let Json::Object(members) = &json else {
        return Err(PolicyError::at(
            &root,
            format_args!("a policy must be a JSON object, not {}", json.kind()),
        ));
    };
    let mut version = None;
    let mut statement = None;
    for (i, (name, value)) in members.iter().enumerate() {
        let path = root.key(name);
        check_unique(members, i, &path)?;
        match name.as_str() {
            "Version" => version = Some((value, path)),
            "Statement" => statement = Some(value),
            _ => return Err(unknown_element(&path, name, &["Version", "Statement"])),
        }
    }
    match version {
        None => {
            return Err(PolicyError::at(
                &root.key("Version"),
                "missing (must be \"1\")",
            ))
        }
        Some((Json::String(v), _)) if v == "1" => {}
        Some((_, path)) => return Err(PolicyError::at(&path, "must be \"1\"")),
    }
    let statement_path = root.key("Statement");
    let statements = match statement {
        None => return Err(PolicyError::at(&statement_path, "missing")),
        Some(Json::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, s)| compile_statement(s, &statement_path.index(i), kind))
            .collect::<Result<Box<[_]>, _>>()?,
        // A single statement object, as AWS also accepts.
        Some(single @ Json::Object(_)) => {
            Box::new([compile_statement(single, &statement_path, kind)?])
        }
        Some(other) => {
            return Err(PolicyError::at(
                &statement_path,
                format_args!("must be an array of statements, not {}", other.kind()),
            ))
        }
    };
    let order: Box<[usize]> = (0..statements.len())
        .filter(|&i| statements[i].is_deny())
        .chain((0..statements.len()).filter(|&i| !statements[i].is_deny()))
        .collect();
    let denies = statements.iter().filter(|s| s.is_deny()).count();
    Ok(Policy {
        kind,
        statements,
        order,
        denies,
    })
}

/// The elements a statement may have.
const STATEMENT_ELEMENTS: &[&str] = &[
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "Condition",
];

fn compile_statement(
    json: &Json,
    path: &Path<'_>,
    kind: PolicyKind,
) -> Result<Statement, PolicyError> {
    let Json::Object(members) = json else {
        return Err(PolicyError::at(
            path,
            format_args!("a statement must be an object, not {}", json.kind()),
        ));
    };
    let mut effect = None;
    let mut actions = None;
    let mut resources = None;
    let mut principals = None;
    let mut conditions = Vec::new();
    for (i, (name, value)) in members.iter().enumerate() {
        let p = path.key(name);
        check_unique(members, i, &p)?;
        match name.as_str() {
            "Sid" => {
                if !matches!(value, Json::String(_)) {
                    return Err(PolicyError::at(
                        &p,
                        format_args!("must be a string, not {}", value.kind()),
                    ));
                }
            }
            "Effect" => {
                effect = Some(match value {
                    Json::String(s) if s == "Allow" => Effect::Allow,
                    Json::String(s) if s == "Deny" => Effect::Deny,
                    _ => return Err(PolicyError::at(&p, "must be \"Allow\" or \"Deny\"")),
                })
            }
            "Action" | "NotAction" => {
                if actions.is_some() {
                    return Err(PolicyError::at(path, "has both Action and NotAction"));
                }
                actions = Some(compile_patterns(
                    value,
                    &p,
                    name == "NotAction",
                    check_action,
                )?);
            }
            "Resource" | "NotResource" => {
                if resources.is_some() {
                    return Err(PolicyError::at(path, "has both Resource and NotResource"));
                }
                resources = Some(compile_patterns(
                    value,
                    &p,
                    name == "NotResource",
                    check_resource,
                )?);
            }
            "Principal" => {
                if kind != PolicyKind::Trust {
                    return Err(PolicyError::at(
                        &p,
                        "only trust policies (AssumeRolePolicyDocument) have a Principal",
                    ));
                }
                principals = Some(principal::compile(value, &p)?.into_boxed_slice());
            }
            "Condition" => conditions = condition::compile(value, &p)?,
            "NotPrincipal" => {
                return Err(PolicyError::at(&p, "NotPrincipal is not supported"));
            }
            _ => return Err(unknown_element(&p, name, STATEMENT_ELEMENTS)),
        }
    }
    let Some(effect) = effect else {
        return Err(PolicyError::at(&path.key("Effect"), "missing"));
    };
    let Some(actions) = actions else {
        return Err(PolicyError::at(path, "needs Action or NotAction"));
    };
    match kind {
        PolicyKind::Identity | PolicyKind::Session if resources.is_none() => {
            return Err(PolicyError::at(path, "needs Resource or NotResource"));
        }
        PolicyKind::Trust if principals.is_none() => {
            return Err(PolicyError::at(
                path,
                "a trust policy statement needs Principal",
            ));
        }
        _ => {}
    }
    Ok(Statement {
        effect,
        actions,
        resources,
        principals,
        conditions: conditions.into_boxed_slice(),
    })
}

/// Refuses a second member named like `members[i]`.
fn check_unique(members: &[(String, Json)], i: usize, path: &Path<'_>) -> Result<(), PolicyError> {
    let name = &members[i].0;
    if members[..i].iter().any(|(n, _)| n == name) {
        return Err(PolicyError::at(path, "element appears twice"));
    }
    Ok(())
}

/// The error for an element name that is not one, hinting at a case mistake.
fn unknown_element(path: &Path<'_>, name: &str, known: &[&str]) -> PolicyError {
    match known.iter().find(|k| k.eq_ignore_ascii_case(name)) {
        Some(k) => PolicyError::at(
            path,
            format_args!("unknown element (element names are case-sensitive: {k})"),
        ),
        None => PolicyError::at(path, "unknown element"),
    }
}

fn compile_patterns(
    json: &Json,
    path: &Path<'_>,
    not: bool,
    check: fn(&str) -> Result<(), String>,
) -> Result<Patterns, PolicyError> {
    let mut globs = Vec::new();
    for_each_string(json, path, |text, p| {
        check(text).map_err(|m| PolicyError::at(p, m))?;
        globs.push(Glob::new(text));
        Ok(())
    })?;
    // `*` anywhere makes the others irrelevant: keep just it, so matching is one comparison.
    if let Some(all) = globs.iter().find(|g| g.matches_everything()) {
        globs = vec![all.clone()];
    }
    Ok(Patterns {
        not,
        globs: globs.into_boxed_slice(),
    })
}

/// An action is `*` or `<service>:<name>` (wildcards allowed in both parts).
fn check_action(text: &str) -> Result<(), String> {
    match text.split_once(':') {
        _ if text == "*" => Ok(()),
        Some((service, name)) if !service.is_empty() && !name.is_empty() => Ok(()),
        _ => Err(format!(
            "{text:?} is not an action (<service>:<ActionName>, such as ram:GetUser, or *)"
        )),
    }
}

/// A resource is `*` or an `acs:` ARN pattern.
fn check_resource(text: &str) -> Result<(), String> {
    if text == "*" || text.starts_with("acs:") {
        Ok(())
    } else {
        Err(format!(
            "{text:?} is not a resource (acs:<service>:<region>:<account>:<relative-id>, or *)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(doc: &str, kind: PolicyKind) -> String {
        parse(doc, kind).expect_err(doc).message
    }

    #[test]
    fn statement_order_puts_denies_first() {
        let p = parse(
            r#"{"Version":"1","Statement":[
                {"Effect":"Allow","Action":"*","Resource":"*"},
                {"Effect":"Deny","Action":"ram:Delete*","Resource":"*"},
                {"Effect":"Allow","Action":"ecs:*","Resource":"*"},
                {"Effect":"Deny","Action":"oss:*","Resource":"*"}]}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        assert_eq!(p.statement_count(), 4);
        assert_eq!(p.denies().map(|(i, _)| i).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(p.allows().map(|(i, _)| i).collect::<Vec<_>>(), [0, 2]);
    }

    #[test]
    fn accepted_shapes() {
        let ok = |doc: &str, kind| {
            parse(doc, kind).unwrap_or_else(|e| panic!("{doc}: {e}"));
        };
        ok(r#"{"Version":"1","Statement":[]}"#, PolicyKind::Identity);
        ok(
            r#"{"Statement":{"Sid":"One","Effect":"Allow","Action":"ecs:*","Resource":"acs:ecs:*:*:instance/*"},"Version":"1"}"#,
            PolicyKind::Session,
        );
        ok(
            r#"{"Version":"1","Statement":[{"Effect":"Deny","NotAction":["ram:Get*"],"NotResource":"acs:ram:*:*:user/me"}]}"#,
            PolicyKind::Identity,
        );
        ok(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::1:root"},"Resource":"acs:ram::1:role/r"}]}"#,
            PolicyKind::Trust,
        );
    }

    #[test]
    fn grammar_errors_name_the_place() {
        use PolicyKind::{Identity, Session, Trust};
        let st = |body: &str| {
            format!(
                r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*"}},{body}]}}"#
            )
        };
        let rows: Vec<(String, PolicyKind, &str)> = vec![
            ("[]".into(), Identity, "a policy must be a JSON object, not an array"),
            ("{".into(), Identity, "invalid JSON: EOF while parsing an object at line 1 column 1"),
            (r#"{"Statement":[]}"#.into(), Identity, "Version: missing (must be \"1\")"),
            (r#"{"Version":"2","Statement":[]}"#.into(), Identity, "Version: must be \"1\""),
            (r#"{"Version":1,"Statement":[]}"#.into(), Identity, "Version: must be \"1\""),
            (r#"{"Version":"1"}"#.into(), Identity, "Statement: missing"),
            (r#"{"Version":"1","Statement":"x"}"#.into(), Identity, "Statement: must be an array of statements, not a string"),
            (r#"{"Version":"1","Statement":[],"Id":"x"}"#.into(), Identity, "Id: unknown element"),
            (r#"{"version":"1","Statement":[]}"#.into(), Identity, "version: unknown element (element names are case-sensitive: Version)"),
            (r#"{"Version":"1","Version":"1","Statement":[]}"#.into(), Identity, "Version: element appears twice"),
            (st("7"), Identity, "Statement[1]: a statement must be an object, not a number"),
            (st(r#"{"Action":"*","Resource":"*"}"#), Identity, "Statement[1].Effect: missing"),
            (st(r#"{"Effect":"allow","Action":"*","Resource":"*"}"#), Identity, "Statement[1].Effect: must be \"Allow\" or \"Deny\""),
            (st(r#"{"Effect":"Allow","Resource":"*"}"#), Identity, "Statement[1]: needs Action or NotAction"),
            (st(r#"{"Effect":"Allow","Action":"*","NotAction":"*","Resource":"*"}"#), Identity, "Statement[1]: has both Action and NotAction"),
            (st(r#"{"Effect":"Allow","Action":"*"}"#), Identity, "Statement[1]: needs Resource or NotResource"),
            (st(r#"{"Effect":"Allow","Action":"*"}"#), Session, "Statement[1]: needs Resource or NotResource"),
            (st(r#"{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}"#), Identity, "Statement[1]: has both Resource and NotResource"),
            (st(r#"{"Effect":"Allow","Action":"*","Resource":"*","Effect":"Deny"}"#), Identity, "Statement[1].Effect: element appears twice"),
            (st(r#"{"Effect":"Allow","Action":"ecsDescribe","Resource":"*"}"#), Identity, "Statement[1].Action: \"ecsDescribe\" is not an action (<service>:<ActionName>, such as ram:GetUser, or *)"),
            (st(r#"{"Effect":"Allow","Action":["ecs:A",""],"Resource":"*"}"#), Identity, "Statement[1].Action[1]: \"\" is not an action (<service>:<ActionName>, such as ram:GetUser, or *)"),
            (st(r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#), Identity, "Statement[1].Action: must not be an empty array"),
            (st(r#"{"Effect":"Allow","Action":"*","Resource":["*", "bucket/x"]}"#), Identity, "Statement[1].Resource[1]: \"bucket/x\" is not a resource (acs:<service>:<region>:<account>:<relative-id>, or *)"),
            (st(r#"{"Effect":"Allow","Action":"*","Resource":{"a":1}}"#), Identity, "Statement[1].Resource: must be a string or an array of strings, not an object"),
            (st(r#"{"Effect":"Allow","Action":"*","Resource":"*","Principal":{"RAM":"1"}}"#), Identity, "Statement[1].Principal: only trust policies (AssumeRolePolicyDocument) have a Principal"),
            (st(r#"{"Effect":"Allow","Action":"*","Resource":"*","NotPrincipal":{"RAM":"1"}}"#), Identity, "Statement[1].NotPrincipal: NotPrincipal is not supported"),
            (st(r#"{"Effect":"Allow","Action":"*","Resource":"*","Sid":5}"#), Identity, "Statement[1].Sid: must be a string, not a number"),
            (st(r#"{"Effect":"Allow","Action":"*","Resource":"*","Conditions":{}}"#), Identity, "Statement[1].Conditions: unknown element"),
            (st(r#"{"Effect":"Allow","Action":"*","resource":"*"}"#), Identity, "Statement[1].resource: unknown element (element names are case-sensitive: Resource)"),
            (st(r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualz":{"k":"v"}}}"#), Identity, "Statement[1].Condition.StringEqualz: unknown condition operator"),
            (st(r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":["10.0.0.0/8","x"]}}}"#), Identity, "Statement[1].Condition.IpAddress.acs:SourceIp[1]: \"x\" is not an IP address or CIDR block"),
            (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}"#.into(), Trust, "Statement[0]: a trust policy statement needs Principal"),
            (r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::1:group/x"}}]}"#.into(), Trust, "Statement[0].Principal.RAM: \"acs:ram::1:group/x\" is not a RAM principal (acs:ram::<account>:root, acs:ram::<account>:user/<name> or acs:ram::<account>:role/<name>)"),
        ];
        for (doc, kind, want) in &rows {
            assert_eq!(err(doc, *kind), *want, "{doc}");
        }
    }

    #[test]
    fn pathological_documents_are_refused_cheaply() {
        let long = format!(
            r#"{{"Version":"1","Statement":[],"x":"{}"}}"#,
            "a".repeat(MAX_DOCUMENT_BYTES)
        );
        assert_eq!(
            err(&long, PolicyKind::Identity),
            "document is longer than 131072 bytes"
        );
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(err(&deep, PolicyKind::Identity)
            .starts_with("invalid JSON: nesting deeper than 8 levels"));
        let deep_condition = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"k":[[[["x"]]]]}}}]}"#;
        assert!(
            err(deep_condition, PolicyKind::Identity).starts_with("invalid JSON: nesting deeper")
        );
    }
}
