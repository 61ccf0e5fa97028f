//! The response model every action builds and both renderings ([`crate::render`]) and the
//! error catalogue's extra fields ([`crate::error::WireError`]) share.

/// A response value.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A string.
    Str(String),
    /// An integer, a JSON number.
    Int(i64),
    /// A boolean, a JSON boolean.
    Bool(bool),
    /// An object with ordered members.
    Obj(Vec<(&'static str, Node)>),
    /// A list whose items are named `item` in XML and wrapped as `{"<item>":[...]}` in JSON.
    List {
        /// The singular element name, e.g. `User` inside `Users`.
        item: &'static str,
        /// The items.
        items: Vec<Node>,
    },
}

impl From<&str> for Node {
    fn from(s: &str) -> Self {
        Node::Str(s.to_string())
    }
}
impl From<String> for Node {
    fn from(s: String) -> Self {
        Node::Str(s)
    }
}
impl From<i64> for Node {
    fn from(v: i64) -> Self {
        Node::Int(v)
    }
}
impl From<bool> for Node {
    fn from(v: bool) -> Self {
        Node::Bool(v)
    }
}
