//! The `Condition` element: operators, their compilation, and their evaluation.
//!
//! A block is `{ "<Operator>": { "<key>": value | [value, ...], ... }, ... }` and holds when
//! every operator holds (AND); an operator holds when each of its keys holds (AND); a key holds
//! when the request's value matches any of the listed values (OR).
//!
//! Operators may carry the AWS qualifiers: a `ForAnyValue:` or `ForAllValues:` prefix for keys
//! with several values, and an `IfExists` suffix for keys that may be missing. The exact rules are
//! in [`Condition::holds`] and, for users, in the crate's README.

use crate::context::{normalize_key, Context, Value};
use crate::error::{Path, PolicyError};
use crate::glob::{Glob, FOLD_NONE};
use crate::json::Json;
use crate::scalar::{self, Cidr, Instant, Number};
use std::cmp::Ordering;

/// One compiled `"<Operator>": {"<key>": [values]}` pair: a single key under a single operator.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    /// Lower-cased key name.
    key: Box<str>,
    set: SetQualifier,
    if_exists: bool,
    /// For `StringNotEquals`, `NotIpAddress`, ...: the result of the positive test, inverted.
    negated: bool,
    test: Test,
}

/// How a key with several values is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQualifier {
    /// No qualifier.
    None,
    /// `ForAnyValue:`: at least one of the request's values satisfies the operator.
    AnyValue,
    /// `ForAllValues:`: every one of the request's values satisfies the operator.
    AllValues,
}

/// The positive test against the policy's values, compiled.
#[derive(Debug, Clone)]
enum Test {
    StringEquals(Box<[Box<str>]>),
    /// Values already lower-cased by [`fold_case`].
    StringEqualsIgnoreCase(Box<[Box<str>]>),
    StringLike(Box<[Glob]>),
    Numeric(Cmp, Box<[Number]>),
    Date(Cmp, Box<[Instant]>),
    Bool(Box<[bool]>),
    IpAddress(Box<[Cidr]>),
    /// `Null`: `true` tests that the key is missing, `false` that it is present.
    Null(Box<[bool]>),
}

/// The comparison of the numeric and date operators; `...NotEquals` is `Eq`, negated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds(self, request_vs_policy: Option<Ordering>) -> bool {
        let Some(o) = request_vs_policy else {
            return false;
        };
        match self {
            Cmp::Eq => o == Ordering::Equal,
            Cmp::Lt => o == Ordering::Less,
            Cmp::Le => o != Ordering::Greater,
            Cmp::Gt => o == Ordering::Greater,
            Cmp::Ge => o != Ordering::Less,
        }
    }
}

/// What an operator name means, before its values are compiled.
#[derive(Debug, Clone, Copy)]
enum Family {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    IpAddress,
    Null,
}

/// Every base operator name, with its family and whether it is the negated form.
const OPERATORS: &[(&str, Family, bool)] = &[
    ("StringEquals", Family::StringEquals, false),
    ("StringNotEquals", Family::StringEquals, true),
    (
        "StringEqualsIgnoreCase",
        Family::StringEqualsIgnoreCase,
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Family::StringEqualsIgnoreCase,
        true,
    ),
    ("StringLike", Family::StringLike, false),
    ("StringNotLike", Family::StringLike, true),
    ("NumericEquals", Family::Numeric(Cmp::Eq), false),
    ("NumericNotEquals", Family::Numeric(Cmp::Eq), true),
    ("NumericLessThan", Family::Numeric(Cmp::Lt), false),
    ("NumericLessThanEquals", Family::Numeric(Cmp::Le), false),
    ("NumericGreaterThan", Family::Numeric(Cmp::Gt), false),
    ("NumericGreaterThanEquals", Family::Numeric(Cmp::Ge), false),
    ("DateEquals", Family::Date(Cmp::Eq), false),
    ("DateNotEquals", Family::Date(Cmp::Eq), true),
    ("DateLessThan", Family::Date(Cmp::Lt), false),
    ("DateLessThanEquals", Family::Date(Cmp::Le), false),
    ("DateGreaterThan", Family::Date(Cmp::Gt), false),
    ("DateGreaterThanEquals", Family::Date(Cmp::Ge), false),
    ("Bool", Family::Bool, false),
    ("IpAddress", Family::IpAddress, false),
    ("NotIpAddress", Family::IpAddress, true),
    ("Null", Family::Null, false),
];

const FOR_ANY_VALUE: &str = "ForAnyValue:";
const FOR_ALL_VALUES: &str = "ForAllValues:";
const IF_EXISTS: &str = "IfExists";

/// The operator named `name`, split into qualifier, base operator and `IfExists`.
fn parse_operator(name: &str) -> Result<(SetQualifier, Family, bool, bool), String> {
    let (set, rest) = if let Some(rest) = name.strip_prefix(FOR_ANY_VALUE) {
        (SetQualifier::AnyValue, rest)
    } else if let Some(rest) = name.strip_prefix(FOR_ALL_VALUES) {
        (SetQualifier::AllValues, rest)
    } else {
        (SetQualifier::None, name)
    };
    let (base, if_exists) = match rest.strip_suffix(IF_EXISTS) {
        Some(base) => (base, true),
        None => (rest, false),
    };
    let Some(&(_, family, negated)) = OPERATORS.iter().find(|(n, _, _)| *n == base) else {
        return Err(unknown_operator(name));
    };
    if matches!(family, Family::Null) && (if_exists || set != SetQualifier::None) {
        return Err("Null takes neither IfExists nor ForAnyValue:/ForAllValues:".into());
    }
    Ok((set, family, negated, if_exists))
}

/// The message for an operator name that is not one, with a hint for the likely mistakes.
fn unknown_operator(name: &str) -> String {
    let (qualifier, base) = match name.rsplit_once(':') {
        Some((q, b)) => (Some(q), b),
        None => (None, name),
    };
    let hint = if qualifier.is_some_and(|q| q != "ForAnyValue" && q != "ForAllValues") {
        " (the only qualifiers are ForAnyValue: and ForAllValues:)"
    } else if OPERATORS.iter().any(|(n, _, _)| {
        base.eq_ignore_ascii_case(n)
            || (base.len() == n.len() + IF_EXISTS.len()
                && base.is_char_boundary(n.len())
                && base[..n.len()].eq_ignore_ascii_case(n)
                && base[n.len()..].eq_ignore_ascii_case(IF_EXISTS))
    }) {
        " (operator names are case-sensitive)"
    } else {
        ""
    };
    format!("unknown condition operator{hint}")
}

/// Compiles a `Condition` element.
pub(crate) fn compile(json: &Json, path: &Path<'_>) -> Result<Vec<Condition>, PolicyError> {
    let Json::Object(operators) = json else {
        return Err(PolicyError::at(
            path,
            format_args!("must be an object, not {}", json.kind()),
        ));
    };
    let mut out = Vec::new();
    for (i, (op_name, block)) in operators.iter().enumerate() {
        let op_path = path.key(op_name);
        if operators[..i].iter().any(|(n, _)| n == op_name) {
            return Err(PolicyError::at(&op_path, "operator appears twice"));
        }
        let (set, family, negated, if_exists) =
            parse_operator(op_name).map_err(|m| PolicyError::at(&op_path, m))?;
        let Json::Object(keys) = block else {
            return Err(PolicyError::at(
                &op_path,
                format_args!("must be an object of condition keys, not {}", block.kind()),
            ));
        };
        if keys.is_empty() {
            return Err(PolicyError::at(&op_path, "names no condition key"));
        }
        for (j, (key, values)) in keys.iter().enumerate() {
            let key_path = op_path.key(key);
            if key.is_empty() {
                return Err(PolicyError::at(&key_path, "empty condition key"));
            }
            if keys[..j].iter().any(|(k, _)| k == key) {
                return Err(PolicyError::at(&key_path, "condition key appears twice"));
            }
            let texts = value_texts(values, &key_path)?;
            let test = compile_test(family, &texts, &key_path)?;
            out.push(Condition {
                key: normalize_key(key),
                set,
                if_exists,
                negated,
                test,
            });
        }
    }
    Ok(out)
}

/// The values of one key, as text: a string, number or boolean, or a non-empty array of them.
fn value_texts<'j>(json: &'j Json, path: &Path<'_>) -> Result<Vec<&'j str>, PolicyError> {
    fn one<'j>(json: &'j Json, path: &Path<'_>) -> Result<&'j str, PolicyError> {
        match json {
            Json::String(s) | Json::Number(s) => Ok(s),
            Json::Bool(true) => Ok("true"),
            Json::Bool(false) => Ok("false"),
            other => Err(PolicyError::at(
                path,
                format_args!(
                    "a condition value must be a string, number or boolean, not {}",
                    other.kind()
                ),
            )),
        }
    }
    match json {
        Json::Array(items) if items.is_empty() => {
            Err(PolicyError::at(path, "needs at least one value"))
        }
        Json::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| one(item, &path.index(i)))
            .collect(),
        single => Ok(vec![one(single, path)?]),
    }
}

/// Compiles the values of one key for `family`, refusing values of the wrong type.
fn compile_test(family: Family, texts: &[&str], path: &Path<'_>) -> Result<Test, PolicyError> {
    // Each value is checked on its own so that the error can point at it.
    fn each<T>(
        texts: &[&str],
        path: &Path<'_>,
        what: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Box<[T]>, PolicyError> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                parse(t).ok_or_else(|| {
                    let p = if texts.len() > 1 {
                        path.index(i)
                    } else {
                        *path
                    };
                    PolicyError::at(&p, format_args!("{t:?} is not {what}"))
                })
            })
            .collect()
    }
    Ok(match family {
        Family::StringEquals => Test::StringEquals(texts.iter().map(|t| (*t).into()).collect()),
        Family::StringEqualsIgnoreCase => {
            Test::StringEqualsIgnoreCase(texts.iter().map(|t| fold_case(t).into()).collect())
        }
        Family::StringLike => Test::StringLike(texts.iter().map(|t| Glob::new(t)).collect()),
        Family::Numeric(cmp) => Test::Numeric(
            cmp,
            each(texts, path, "a number", Number::parse)?,
        ),
        Family::Date(cmp) => Test::Date(
            cmp,
            each(
                texts,
                path,
                "a date (ISO 8601 such as 2012-11-11T23:59:59Z or 2012-11-12T07:59:59+08:00, or epoch seconds)",
                scalar::parse_date,
            )?,
        ),
        Family::Bool => Test::Bool(each(texts, path, "a boolean (true or false)", scalar::parse_bool)?),
        Family::IpAddress => Test::IpAddress(each(
            texts,
            path,
            "an IP address or CIDR block",
            Cidr::parse,
        )?),
        Family::Null => Test::Null(each(texts, path, "a boolean (true or false)", scalar::parse_bool)?),
    })
}

/// Folds one character's case: upper-case it, then lower-case the result. Unlike plain
/// lower-casing this also equates the letters that have one capital and two small forms
/// (`σ`/`ς`, `θ`/`ϑ`) and expands `ß` to `ss`, close to Unicode full case folding with std only.
fn fold_char(c: char) -> impl Iterator<Item = char> + Clone {
    c.to_uppercase().flat_map(char::to_lowercase)
}

/// Folds `s`, as [`eq_fold`] does on the fly.
fn fold_case(s: &str) -> String {
    s.chars().flat_map(fold_char).collect()
}

/// Does `text`, case-folded, equal the already-folded `folded`?
fn eq_fold(folded: &str, text: &str) -> bool {
    if text.is_ascii() {
        // Folding an ASCII letter is ASCII lower-casing: the common case, byte by byte.
        folded.len() == text.len()
            && folded
                .bytes()
                .zip(text.bytes())
                .all(|(f, t)| f == t.to_ascii_lowercase())
    } else {
        folded.chars().eq(text.chars().flat_map(fold_char))
    }
}

impl Condition {
    /// Does this condition hold for `context`?
    ///
    /// With `P(v)` meaning "request value `v` matches at least one of the policy's values":
    /// - a missing key (no values) holds for `IfExists`, for a negated operator, and for
    ///   `ForAllValues:`; it fails otherwise (positive operators, `ForAnyValue:`);
    /// - no qualifier: some value satisfies `P` (negated: none does);
    /// - `ForAnyValue:`: some value satisfies `P` (negated: some value fails `P`);
    /// - `ForAllValues:`: every value satisfies `P` (negated: every value fails `P`);
    /// - a request value of the wrong type (text that is not a number, say) fails `P`.
    pub(crate) fn holds(&self, context: &Context) -> bool {
        let values = context.get(&self.key);
        if let Test::Null(expect) = &self.test {
            let missing = values.is_empty();
            return expect.contains(&missing);
        }
        if values.is_empty() {
            return self.if_exists
                || match self.set {
                    SetQualifier::None => self.negated,
                    SetQualifier::AnyValue => false,
                    SetQualifier::AllValues => true,
                };
        }
        let satisfied = |v: &Value| self.test.matches(v) != self.negated;
        match (self.set, self.negated) {
            (SetQualifier::None, false) | (SetQualifier::AnyValue, _) => {
                values.iter().any(satisfied)
            }
            (SetQualifier::None, true) | (SetQualifier::AllValues, _) => {
                values.iter().all(satisfied)
            }
        }
    }
}

impl Test {
    /// `P(v)`: does the request value match at least one of the policy's values?
    fn matches(&self, v: &Value) -> bool {
        match self {
            Test::StringEquals(ps) => ps.iter().any(|p| **p == *v.text()),
            Test::StringEqualsIgnoreCase(ps) => ps.iter().any(|p| eq_fold(p, v.text())),
            Test::StringLike(ps) => ps.iter().any(|p| p.matches(v.text(), FOLD_NONE)),
            Test::Numeric(cmp, ps) => v
                .number()
                .is_some_and(|n| ps.iter().any(|p| cmp.holds(n.compare(*p)))),
            Test::Date(cmp, ps) => v
                .date()
                .is_some_and(|d| ps.iter().any(|p| cmp.holds(Some(d.cmp(p))))),
            Test::Bool(ps) => v.boolean().is_some_and(|b| ps.contains(&b)),
            Test::IpAddress(ps) => v.ip().is_some_and(|ip| ps.iter().any(|c| c.contains(ip))),
            // Handled before any value is looked at.
            Test::Null(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile_str(text: &str) -> Result<Vec<Condition>, PolicyError> {
        let json = crate::json::parse(text).expect("test JSON");
        compile(&json, &Path::Root.key("Condition"))
    }

    /// Does the condition block `block` hold for `ctx`?
    fn holds(block: &str, ctx: &Context) -> bool {
        compile_str(block)
            .unwrap_or_else(|e| panic!("{block}: {e}"))
            .iter()
            .all(|c| c.holds(ctx))
    }

    fn ctx(pairs: &[(&str, &str)]) -> Context {
        pairs
            .iter()
            .fold(Context::new(), |c, (k, v)| c.with_string(k, v))
    }

    /// A row of a table: condition block, request key/value pairs, expected result.
    type Row<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);

    /// Runs a table of rows.
    fn table(rows: &[Row<'_>]) {
        for (block, pairs, want) in rows {
            assert_eq!(holds(block, &ctx(pairs)), *want, "{block} with {pairs:?}");
        }
    }

    #[test]
    fn string_operators() {
        table(&[
            (r#"{"StringEquals": {"k": "a"}}"#, &[("k", "a")], true),
            (r#"{"StringEquals": {"k": "a"}}"#, &[("k", "A")], false),
            (
                r#"{"StringEquals": {"k": ["x", "a"]}}"#,
                &[("k", "a")],
                true,
            ),
            (r#"{"StringEquals": {"k": "a"}}"#, &[], false),
            (r#"{"StringEquals": {"K": "a"}}"#, &[("k", "a")], true),
            (r#"{"StringEquals": {"k": "a"}}"#, &[("K", "a")], true),
            (r#"{"StringNotEquals": {"k": "a"}}"#, &[("k", "b")], true),
            (r#"{"StringNotEquals": {"k": "a"}}"#, &[("k", "a")], false),
            (
                r#"{"StringNotEquals": {"k": ["a", "b"]}}"#,
                &[("k", "b")],
                false,
            ),
            (r#"{"StringNotEquals": {"k": "a"}}"#, &[], true),
            (
                r#"{"StringEqualsIgnoreCase": {"k": "MiXeD"}}"#,
                &[("k", "mixed")],
                true,
            ),
            (
                r#"{"StringEqualsIgnoreCase": {"k": "ÉTÉ"}}"#,
                &[("k", "été")],
                true,
            ),
            (
                r#"{"StringEqualsIgnoreCase": {"k": "ΟΔΟΣ"}}"#,
                &[("k", "οδος")],
                true,
            ),
            (
                r#"{"StringEqualsIgnoreCase": {"k": "straße"}}"#,
                &[("k", "STRASSE")],
                true,
            ),
            (
                r#"{"StringEqualsIgnoreCase": {"k": "\u212a"}}"#,
                &[("k", "k")],
                true,
            ),
            (
                r#"{"StringEqualsIgnoreCase": {"k": "abc"}}"#,
                &[("k", "abcd")],
                false,
            ),
            (r#"{"StringEqualsIgnoreCase": {"k": "a"}}"#, &[], false),
            (
                r#"{"StringNotEqualsIgnoreCase": {"k": "A"}}"#,
                &[("k", "a")],
                false,
            ),
            (
                r#"{"StringNotEqualsIgnoreCase": {"k": "A"}}"#,
                &[("k", "b")],
                true,
            ),
            (r#"{"StringNotEqualsIgnoreCase": {"k": "A"}}"#, &[], true),
            (r#"{"StringLike": {"k": "ab*"}}"#, &[("k", "abc")], true),
            (r#"{"StringLike": {"k": "a?c"}}"#, &[("k", "abc")], true),
            (r#"{"StringLike": {"k": "ab*"}}"#, &[("k", "ABC")], false),
            (
                r#"{"StringLike": {"k": ["x*", "*c"]}}"#,
                &[("k", "abc")],
                true,
            ),
            (r#"{"StringLike": {"k": "*"}}"#, &[], false),
            (r#"{"StringNotLike": {"k": "ab*"}}"#, &[("k", "abc")], false),
            (r#"{"StringNotLike": {"k": "ab*"}}"#, &[("k", "xbc")], true),
            (r#"{"StringNotLike": {"k": "ab*"}}"#, &[], true),
        ]);
    }

    #[test]
    fn numeric_operators() {
        table(&[
            (r#"{"NumericEquals": {"n": "10"}}"#, &[("n", "10")], true),
            (r#"{"NumericEquals": {"n": 10}}"#, &[("n", "10.0")], true),
            (r#"{"NumericEquals": {"n": "10"}}"#, &[("n", "11")], false),
            (r#"{"NumericEquals": {"n": "10"}}"#, &[("n", "ten")], false),
            (r#"{"NumericEquals": {"n": "10"}}"#, &[], false),
            (r#"{"NumericNotEquals": {"n": "10"}}"#, &[("n", "11")], true),
            (
                r#"{"NumericNotEquals": {"n": "10"}}"#,
                &[("n", "10")],
                false,
            ),
            (r#"{"NumericNotEquals": {"n": "10"}}"#, &[], true),
            (r#"{"NumericLessThan": {"n": "10"}}"#, &[("n", "9.5")], true),
            (r#"{"NumericLessThan": {"n": "10"}}"#, &[("n", "10")], false),
            (
                r#"{"NumericLessThanEquals": {"n": "10"}}"#,
                &[("n", "10")],
                true,
            ),
            (
                r#"{"NumericLessThanEquals": {"n": "10"}}"#,
                &[("n", "11")],
                false,
            ),
            (
                r#"{"NumericGreaterThan": {"n": "10"}}"#,
                &[("n", "11")],
                true,
            ),
            (
                r#"{"NumericGreaterThan": {"n": "10"}}"#,
                &[("n", "10")],
                false,
            ),
            (
                r#"{"NumericGreaterThanEquals": {"n": "-1"}}"#,
                &[("n", "-1")],
                true,
            ),
            (
                r#"{"NumericGreaterThanEquals": {"n": "-1"}}"#,
                &[("n", "-2")],
                false,
            ),
            (r#"{"NumericGreaterThan": {"n": "10"}}"#, &[], false),
        ]);
    }

    #[test]
    fn date_operators() {
        let at = |secs| Context::new().with_current_time(secs);
        let t = 1_352_678_399; // 2012-11-11T23:59:59Z
        let rows: &[(&str, i64, bool)] = &[
            (
                r#"{"DateEquals": {"acs:CurrentTime": "2012-11-11T23:59:59Z"}}"#,
                t,
                true,
            ),
            (
                r#"{"DateEquals": {"acs:CurrentTime": "2012-11-12T07:59:59+08:00"}}"#,
                t,
                true,
            ),
            (
                r#"{"DateEquals": {"acs:CurrentTime": "1352678399"}}"#,
                t,
                true,
            ),
            (
                r#"{"DateEquals": {"acs:CurrentTime": 1352678399}}"#,
                t,
                true,
            ),
            (
                r#"{"DateEquals": {"acs:CurrentTime": "2012-11-11T23:59:59.5Z"}}"#,
                t,
                false,
            ),
            (
                r#"{"DateNotEquals": {"acs:CurrentTime": "2012-11-11T23:59:59Z"}}"#,
                t,
                false,
            ),
            (
                r#"{"DateNotEquals": {"acs:CurrentTime": "2012-11-11T23:59:59Z"}}"#,
                t + 1,
                true,
            ),
            (
                r#"{"DateLessThan": {"acs:CurrentTime": "2012-11-11T23:59:59Z"}}"#,
                t,
                false,
            ),
            (
                r#"{"DateLessThan": {"acs:CurrentTime": "2012-11-11T23:59:59.5Z"}}"#,
                t,
                true,
            ),
            (
                r#"{"DateLessThan": {"acs:CurrentTime": "2012-11-11T23:59:59Z"}}"#,
                t - 1,
                true,
            ),
            (
                r#"{"DateLessThanEquals": {"acs:CurrentTime": "2012-11-11T23:59:59Z"}}"#,
                t,
                true,
            ),
            (
                r#"{"DateLessThanEquals": {"acs:CurrentTime": "2012-11-11T23:59:59Z"}}"#,
                t + 1,
                false,
            ),
            (
                r#"{"DateGreaterThan": {"acs:CurrentTime": "2012-11-11T23:59:59Z"}}"#,
                t + 1,
                true,
            ),
            (
                r#"{"DateGreaterThan": {"acs:CurrentTime": "2012-11-11T23:59:59Z"}}"#,
                t,
                false,
            ),
            (
                r#"{"DateGreaterThanEquals": {"acs:CurrentTime": "2012-11-11"}}"#,
                t,
                true,
            ),
            (
                r#"{"DateGreaterThanEquals": {"acs:CurrentTime": "2012-11-12"}}"#,
                t,
                false,
            ),
        ];
        for (block, secs, want) in rows {
            assert_eq!(holds(block, &at(*secs)), *want, "{block} at {secs}");
        }
        // Missing key, and a text value that is (or is not) a date.
        table(&[
            (
                r#"{"DateLessThan": {"acs:CurrentTime": "2030-01-01"}}"#,
                &[],
                false,
            ),
            (
                r#"{"DateNotEquals": {"acs:CurrentTime": "2030-01-01"}}"#,
                &[],
                true,
            ),
            (
                r#"{"DateLessThan": {"x:When": "2030-01-01"}}"#,
                &[("x:when", "2029-12-31T23:00:00-01:00")],
                false,
            ),
            (
                r#"{"DateLessThan": {"x:When": "2030-01-01"}}"#,
                &[("x:when", "2029-12-31T22:59:59-01:00")],
                true,
            ),
            (
                r#"{"DateLessThan": {"x:When": "2030-01-01"}}"#,
                &[("x:when", "soon")],
                false,
            ),
        ]);
    }

    #[test]
    fn bool_operator() {
        let rows: &[(&str, Context, bool)] = &[
            (
                r#"{"Bool": {"acs:SecureTransport": "true"}}"#,
                Context::new().with_secure_transport(true),
                true,
            ),
            (
                r#"{"Bool": {"acs:SecureTransport": true}}"#,
                Context::new().with_secure_transport(true),
                true,
            ),
            (
                r#"{"Bool": {"acs:SecureTransport": "true"}}"#,
                Context::new().with_secure_transport(false),
                false,
            ),
            (
                r#"{"Bool": {"acs:SecureTransport": "false"}}"#,
                Context::new().with_secure_transport(false),
                true,
            ),
            (
                r#"{"Bool": {"acs:SecureTransport": "TRUE"}}"#,
                Context::new().with_secure_transport(true),
                true,
            ),
            (
                r#"{"Bool": {"acs:MFAPresent": "true"}}"#,
                Context::new().with_mfa_present(true),
                true,
            ),
            (
                r#"{"Bool": {"acs:MFAPresent": "true"}}"#,
                Context::new(),
                false,
            ),
            (
                r#"{"Bool": {"acs:MFAPresent": "false"}}"#,
                Context::new(),
                false,
            ),
            (
                r#"{"Bool": {"x:flag": "true"}}"#,
                Context::new().with_string("x:flag", "True"),
                true,
            ),
            (
                r#"{"Bool": {"x:flag": "true"}}"#,
                Context::new().with_string("x:flag", "1"),
                false,
            ),
        ];
        for (block, c, want) in rows {
            assert_eq!(holds(block, c), *want, "{block} with {c:?}");
        }
    }

    #[test]
    fn ip_operators() {
        let from = |ip: &str| Context::new().with_source_ip(ip.parse().unwrap());
        let rows: &[(&str, Context, bool)] = &[
            (
                r#"{"IpAddress": {"acs:SourceIp": "192.168.0.0/16"}}"#,
                from("192.168.3.4"),
                true,
            ),
            (
                r#"{"IpAddress": {"acs:SourceIp": "192.168.0.0/16"}}"#,
                from("10.0.0.1"),
                false,
            ),
            (
                r#"{"IpAddress": {"acs:SourceIp": ["10.0.0.0/8", "203.0.113.9"]}}"#,
                from("203.0.113.9"),
                true,
            ),
            (
                r#"{"IpAddress": {"acs:SourceIp": "203.0.113.9"}}"#,
                from("203.0.113.10"),
                false,
            ),
            (
                r#"{"IpAddress": {"acs:SourceIp": "2001:db8::/32"}}"#,
                from("2001:db8::7"),
                true,
            ),
            (
                r#"{"IpAddress": {"acs:SourceIp": "2001:db8::/32"}}"#,
                from("192.168.3.4"),
                false,
            ),
            (
                r#"{"IpAddress": {"acs:SourceIp": "192.168.0.0/16"}}"#,
                from("::ffff:192.168.3.4"),
                true,
            ),
            (
                r#"{"IpAddress": {"acs:SourceIp": "192.168.0.0/16"}}"#,
                Context::new(),
                false,
            ),
            (
                r#"{"NotIpAddress": {"acs:SourceIp": "192.168.0.0/16"}}"#,
                from("10.0.0.1"),
                true,
            ),
            (
                r#"{"NotIpAddress": {"acs:SourceIp": "192.168.0.0/16"}}"#,
                from("192.168.0.1"),
                false,
            ),
            (
                r#"{"NotIpAddress": {"acs:SourceIp": "192.168.0.0/16"}}"#,
                Context::new(),
                true,
            ),
            (
                r#"{"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}"#,
                Context::new().with_string("acs:SourceIp", "10.1.1.1"),
                true,
            ),
            (
                r#"{"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}"#,
                Context::new().with_string("acs:SourceIp", "garbage"),
                false,
            ),
        ];
        for (block, c, want) in rows {
            assert_eq!(holds(block, c), *want, "{block} with {c:?}");
        }
    }

    #[test]
    fn if_exists() {
        table(&[
            (r#"{"StringEqualsIfExists": {"k": "a"}}"#, &[], true),
            (
                r#"{"StringEqualsIfExists": {"k": "a"}}"#,
                &[("k", "a")],
                true,
            ),
            (
                r#"{"StringEqualsIfExists": {"k": "a"}}"#,
                &[("k", "b")],
                false,
            ),
            (
                r#"{"StringNotEqualsIfExists": {"k": "a"}}"#,
                &[("k", "a")],
                false,
            ),
            (r#"{"StringNotEqualsIfExists": {"k": "a"}}"#, &[], true),
            (r#"{"NumericLessThanIfExists": {"n": 5}}"#, &[], true),
            (
                r#"{"NumericLessThanIfExists": {"n": 5}}"#,
                &[("n", "6")],
                false,
            ),
            (
                r#"{"IpAddressIfExists": {"acs:SourceIp": "10.0.0.0/8"}}"#,
                &[],
                true,
            ),
            (
                r#"{"DateGreaterThanIfExists": {"d": "2020-01-01"}}"#,
                &[("d", "2019-01-01")],
                false,
            ),
            (r#"{"BoolIfExists": {"b": "true"}}"#, &[], true),
            (
                r#"{"ForAnyValue:StringEqualsIfExists": {"k": "a"}}"#,
                &[],
                true,
            ),
        ]);
    }

    #[test]
    fn null() {
        table(&[
            (r#"{"Null": {"k": "true"}}"#, &[], true),
            (r#"{"Null": {"k": "true"}}"#, &[("k", "")], false),
            (r#"{"Null": {"k": "false"}}"#, &[("k", "x")], true),
            (r#"{"Null": {"k": "false"}}"#, &[], false),
            (r#"{"Null": {"k": false}}"#, &[], false),
            (r#"{"Null": {"k": ["true", "false"]}}"#, &[], true),
        ]);
    }

    #[test]
    fn set_qualifiers_on_multi_valued_keys() {
        let two: &[(&str, &str)] = &[("tags", "a"), ("tags", "b")];
        table(&[
            // No qualifier: some value matches (negated: none does).
            (r#"{"StringEquals": {"tags": "a"}}"#, two, true),
            (r#"{"StringEquals": {"tags": "c"}}"#, two, false),
            (r#"{"StringNotEquals": {"tags": "a"}}"#, two, false),
            (r#"{"StringNotEquals": {"tags": "c"}}"#, two, true),
            // ForAnyValue.
            (r#"{"ForAnyValue:StringEquals": {"tags": "a"}}"#, two, true),
            (
                r#"{"ForAnyValue:StringEquals": {"tags": ["c", "d"]}}"#,
                two,
                false,
            ),
            (r#"{"ForAnyValue:StringEquals": {"tags": "a"}}"#, &[], false),
            (
                r#"{"ForAnyValue:StringNotEquals": {"tags": "a"}}"#,
                two,
                true,
            ),
            (
                r#"{"ForAnyValue:StringNotEquals": {"tags": ["a", "b"]}}"#,
                two,
                false,
            ),
            (
                r#"{"ForAnyValue:StringNotEquals": {"tags": "a"}}"#,
                &[],
                false,
            ),
            (r#"{"ForAnyValue:StringLike": {"tags": "b*"}}"#, two, true),
            // ForAllValues.
            (
                r#"{"ForAllValues:StringEquals": {"tags": ["a", "b", "c"]}}"#,
                two,
                true,
            ),
            (
                r#"{"ForAllValues:StringEquals": {"tags": "a"}}"#,
                two,
                false,
            ),
            (r#"{"ForAllValues:StringEquals": {"tags": "a"}}"#, &[], true),
            (
                r#"{"ForAllValues:StringNotEquals": {"tags": ["c"]}}"#,
                two,
                true,
            ),
            (
                r#"{"ForAllValues:StringNotEquals": {"tags": ["a"]}}"#,
                two,
                false,
            ),
            (
                r#"{"ForAllValues:StringNotEquals": {"tags": ["a"]}}"#,
                &[],
                true,
            ),
            (
                r#"{"ForAllValues:NumericLessThan": {"n": 10}}"#,
                &[("n", "1"), ("n", "9")],
                true,
            ),
            (
                r#"{"ForAllValues:NumericLessThan": {"n": 10}}"#,
                &[("n", "1"), ("n", "10")],
                false,
            ),
            (
                r#"{"ForAnyValue:NumericLessThan": {"n": 10}}"#,
                &[("n", "1"), ("n", "10")],
                true,
            ),
            (
                r#"{"ForAllValues:IpAddress": {"ip": "10.0.0.0/8"}}"#,
                &[("ip", "10.0.0.1"), ("ip", "11.0.0.1")],
                false,
            ),
            (
                r#"{"ForAnyValue:IpAddress": {"ip": "10.0.0.0/8"}}"#,
                &[("ip", "10.0.0.1"), ("ip", "11.0.0.1")],
                true,
            ),
        ]);
    }

    #[test]
    fn and_or_combination() {
        let block = r#"{
            "StringEquals": {"a": ["1", "2"], "b": "x"},
            "StringLike": {"c": "p*"}
        }"#;
        table(&[
            (block, &[("a", "2"), ("b", "x"), ("c", "pq")], true),
            (block, &[("a", "3"), ("b", "x"), ("c", "pq")], false),
            (block, &[("a", "1"), ("b", "y"), ("c", "pq")], false),
            (block, &[("a", "1"), ("b", "x"), ("c", "qq")], false),
            (block, &[("a", "1"), ("b", "x")], false),
            (r#"{}"#, &[], true),
        ]);
    }

    #[test]
    fn grammar_errors_name_the_place() {
        let rows: &[(&str, &str)] = &[
            (r#"{"StringEqualz": {"k": "a"}}"#, "Condition.StringEqualz: unknown condition operator"),
            (r#"{"stringequals": {"k": "a"}}"#, "Condition.stringequals: unknown condition operator (operator names are case-sensitive)"),
            (r#"{"ForSomeValues:StringEquals": {"k": "a"}}"#, "Condition.ForSomeValues:StringEquals: unknown condition operator (the only qualifiers are ForAnyValue: and ForAllValues:)"),
            (r#"{"NullIfExists": {"k": "true"}}"#, "Condition.NullIfExists: Null takes neither IfExists nor ForAnyValue:/ForAllValues:"),
            (r#"{"ForAnyValue:Null": {"k": "true"}}"#, "Condition.ForAnyValue:Null: Null takes neither IfExists nor ForAnyValue:/ForAllValues:"),
            (r#"{"IfExists": {"k": "a"}}"#, "Condition.IfExists: unknown condition operator"),
            (r#"["StringEquals"]"#, "Condition: must be an object, not an array"),
            (r#"{"StringEquals": "k"}"#, "Condition.StringEquals: must be an object of condition keys, not a string"),
            (r#"{"StringEquals": {}}"#, "Condition.StringEquals: names no condition key"),
            (r#"{"StringEquals": {"": "a"}}"#, "Condition.StringEquals.: empty condition key"),
            (r#"{"StringEquals": {"k": []}}"#, "Condition.StringEquals.k: needs at least one value"),
            (r#"{"StringEquals": {"k": null}}"#, "Condition.StringEquals.k: a condition value must be a string, number or boolean, not null"),
            (r#"{"StringEquals": {"k": ["a", {"b": 1}]}}"#, "Condition.StringEquals.k[1]: a condition value must be a string, number or boolean, not an object"),
            (r#"{"StringEquals": {"k": "a", "k": "b"}}"#, "Condition.StringEquals.k: condition key appears twice"),
            (r#"{"StringEquals": {"k": "a"}, "StringEquals": {"j": "b"}}"#, "Condition.StringEquals: operator appears twice"),
            (r#"{"NumericEquals": {"n": "ten"}}"#, "Condition.NumericEquals.n: \"ten\" is not a number"),
            (r#"{"NumericEquals": {"n": ["1", "1e3"]}}"#, "Condition.NumericEquals.n[1]: \"1e3\" is not a number"),
            (r#"{"DateLessThan": {"acs:CurrentTime": "2012-11-11T23:59:59"}}"#, "Condition.DateLessThan.acs:CurrentTime: \"2012-11-11T23:59:59\" is not a date (ISO 8601 such as 2012-11-11T23:59:59Z or 2012-11-12T07:59:59+08:00, or epoch seconds)"),
            (r#"{"Bool": {"acs:SecureTransport": "yes"}}"#, "Condition.Bool.acs:SecureTransport: \"yes\" is not a boolean (true or false)"),
            (r#"{"IpAddress": {"acs:SourceIp": "10.0.0.0/33"}}"#, "Condition.IpAddress.acs:SourceIp: \"10.0.0.0/33\" is not an IP address or CIDR block"),
            (r#"{"Null": {"k": "maybe"}}"#, "Condition.Null.k: \"maybe\" is not a boolean (true or false)"),
        ];
        for (block, want) in rows {
            let err = compile_str(block).expect_err(block);
            assert_eq!(err.message, *want, "{block}");
        }
    }
}
