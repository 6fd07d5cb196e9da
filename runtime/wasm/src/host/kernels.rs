//! What the attribute kernels do to one value, shared by the two places
//! they run: on Arrow maps (`attributes::MapView`) and on OTLP request
//! bytes (`weir_pdata::otlp::edit`, while a batch is not decoded). One
//! definition, so the two can never disagree.

use regex::Regex;
use sha2::{Digest, Sha256};
use weir_pdata::otlp::edit::{AttributeEditor, Edit, WireValue};

/// Whether `key` is one of `keys`; an empty list selects every key when
/// `all_if_empty`.
pub fn selects(keys: &[String], key: &str, all_if_empty: bool) -> bool {
    selects_bytes(keys, key.as_bytes(), all_if_empty)
}

/// [`selects`] on the key's bytes (as the wire edit has them).
pub fn selects_bytes(keys: &[String], key: &[u8], all_if_empty: bool) -> bool {
    if keys.is_empty() {
        return all_if_empty;
    }
    keys.iter().any(|k| k.as_bytes() == key)
}

/// `hash-attributes` on one value: the hex SHA-256 of `salt` + the value
/// (its text for numbers and booleans, its bytes for bytes, arrays and
/// key-value lists); `None` for absent and empty values, which stay.
pub fn hash_value(salt: &str, value: WireValue<'_>) -> Option<String> {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    match value {
        WireValue::Absent | WireValue::Empty => return None,
        WireValue::Str(s) => h.update(s.as_bytes()),
        WireValue::Int(i) | WireValue::StrIndex(i) => h.update(i.to_string().as_bytes()),
        WireValue::Double(d) => h.update(d.to_string().as_bytes()),
        WireValue::Bool(b) => h.update(if b { b"true".as_slice() } else { b"false" }),
        WireValue::Bytes(b) | WireValue::Complex(b) => h.update(b),
    }
    Some(hex::encode(h.finalize()))
}

/// `redact` on one string value: `None` when `re` does not match.
pub fn redact_value(re: &Regex, replacement: &str, value: &str) -> Option<String> {
    re.is_match(value)
        .then(|| re.replace_all(value, replacement).into_owned())
}

/// `delete-attributes` as a wire editor.
pub struct DeleteKeys<'a>(pub &'a [String]);

impl AttributeEditor for DeleteKeys<'_> {
    fn selects(&mut self, key: &[u8]) -> bool {
        selects_bytes(self.0, key, false)
    }
    fn edit(&mut self, _: &str, _: WireValue<'_>) -> Edit {
        Edit::Delete
    }
}

/// `redact` as a wire editor.
pub struct RedactKeys<'a> {
    /// Keys whose string values are redacted (all when empty).
    pub keys: &'a [String],
    /// The pattern.
    pub re: &'a Regex,
    /// What replaces each match.
    pub replacement: &'a str,
}

impl AttributeEditor for RedactKeys<'_> {
    fn selects(&mut self, key: &[u8]) -> bool {
        selects_bytes(self.keys, key, true)
    }
    fn edit(&mut self, _: &str, value: WireValue<'_>) -> Edit {
        match value {
            WireValue::Str(s) => {
                redact_value(self.re, self.replacement, s).map_or(Edit::Keep, Edit::SetString)
            }
            _ => Edit::Keep,
        }
    }
}

/// `hash-attributes` as a wire editor.
pub struct HashKeys<'a> {
    /// Keys whose values are hashed (none when empty).
    pub keys: &'a [String],
    /// Prepended to each value.
    pub salt: &'a str,
}

impl AttributeEditor for HashKeys<'_> {
    fn selects(&mut self, key: &[u8]) -> bool {
        selects_bytes(self.keys, key, false)
    }
    fn edit(&mut self, _: &str, value: WireValue<'_>) -> Edit {
        hash_value(self.salt, value).map_or(Edit::Keep, Edit::SetString)
    }
}
