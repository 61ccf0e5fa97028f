//! Byte fields (sealed secrets and keys) as base64 text in serialized records: the feed stores
//! rows as JSON, where an array of numbers would be four times as long.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&STANDARD.encode(bytes))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = <&str>::deserialize(d)?;
    STANDARD.decode(text).map_err(serde::de::Error::custom)
}
