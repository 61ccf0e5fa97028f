//! The one error type of the crate: a policy document that cannot be accepted.

/// A policy document that is not valid JSON, not a valid policy, or not valid for the
/// [`PolicyKind`](crate::PolicyKind) it was parsed as.
///
/// The message names the place first and the problem second, e.g.
/// `Statement[1].Condition.StringEqualz: unknown condition operator`, so that it can be returned
/// as is in a `MalformedPolicyDocument` (RAM) or `InvalidParameter.PolicyGrammar` (STS) error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    /// What is wrong and where, for humans.
    pub message: String,
}

impl PolicyError {
    /// An error at `path` (empty for the document itself).
    pub(crate) fn at(path: &Path<'_>, problem: impl std::fmt::Display) -> Self {
        let location = path.to_string();
        let message = if location.is_empty() {
            problem.to_string()
        } else {
            format!("{location}: {problem}")
        };
        PolicyError { message }
    }
}

/// Where in a document the parser is, as a linked list on the stack, so that building the
/// location costs nothing until an error needs it.
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    /// The document.
    Root,
    /// A member of an object.
    Key(&'a Path<'a>, &'a str),
    /// An element of an array.
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    /// The path of member `key` below this one.
    pub(crate) fn key(&'a self, key: &'a str) -> Path<'a> {
        Path::Key(self, key)
    }

    /// The path of element `index` below this one.
    pub(crate) fn index(&'a self, index: usize) -> Path<'a> {
        Path::Index(self, index)
    }
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(parent, key) => {
                if matches!(parent, Path::Root) {
                    write!(f, "{key}")
                } else {
                    write!(f, "{parent}.{key}")
                }
            }
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_read_like_accessors() {
        let root = Path::Root;
        let st = root.key("Statement");
        let one = st.index(1);
        let cond = one.key("Condition");
        let op = cond.key("StringEqualz");
        assert_eq!(
            PolicyError::at(&op, "unknown condition operator").message,
            "Statement[1].Condition.StringEqualz: unknown condition operator"
        );
        assert_eq!(PolicyError::at(&root, "not JSON").message, "not JSON");
    }
}
