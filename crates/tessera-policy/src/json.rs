//! A small JSON tree for policy documents.
//!
//! `serde_json::Value` would do, except that it keeps only the last of two members with the same
//! name, and `{"Effect": "Deny", "Effect": "Allow"}` must be refused, not read as whichever
//! duplicate a parser happens to keep. It also nests as deep as serde_json allows (128), while no
//! valid policy nests deeper than 6, so this tree stops at [`MAX_DEPTH`] and a pathological
//! document costs little.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// The deepest nesting of arrays and objects accepted. A valid document needs 6:
/// document → `Statement` → statement → `Condition` → operator → value list.
pub(crate) const MAX_DEPTH: usize = 8;

/// A parsed JSON value; objects keep their members in order, duplicates included.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    /// A number, as serde_json prints it back (policies use numbers only as condition values,
    /// where they mean the same as the string of their digits).
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The JSON type name, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// Parses `text` as one JSON value, refusing nesting deeper than [`MAX_DEPTH`].
pub(crate) fn parse(text: &str) -> Result<Json, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Seed { depth: 0 }
        .deserialize(&mut de)
        .map_err(|e| format!("invalid JSON: {e}"))?;
    de.end().map_err(|e| format!("invalid JSON: {e}"))?;
    Ok(value)
}

/// Deserializes one value at a known depth.
struct Seed {
    depth: usize,
}

impl Seed {
    fn enter<E: de::Error>(&self) -> Result<Seed, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(format_args!(
                "nesting deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(Seed {
            depth: self.depth + 1,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Json;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let inner = self.enter()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Seed { depth: inner.depth })? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let inner = self.enter()?;
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Seed { depth: inner.depth })?;
            members.push((key, value));
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_duplicates_and_order() {
        let v = parse(r#"{"b": 1, "a": [true, null, "x"], "b": 2.5}"#).unwrap();
        assert_eq!(
            v,
            Json::Object(vec![
                ("b".into(), Json::Number("1".into())),
                (
                    "a".into(),
                    Json::Array(vec![Json::Bool(true), Json::Null, Json::String("x".into())])
                ),
                ("b".into(), Json::Number("2.5".into())),
            ])
        );
    }

    #[test]
    fn depth_is_bounded() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let err = parse(&deep).unwrap_err();
        assert!(err.contains("nesting deeper than 8 levels"), "{err}");
        // Far past serde_json's own limit: still a clean error, never a stack overflow.
        let abyss = "[".repeat(100_000);
        assert!(parse(&abyss).is_err());
    }

    #[test]
    fn syntax_errors_say_where() {
        let err = parse("{\"Version\": \"1\",\n \"Statement\": [}").unwrap_err();
        assert!(err.starts_with("invalid JSON: "), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(parse("{} trailing").is_err());
        assert!(parse("").is_err());
    }
}
