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
    let mut out = String::new();
    hash_value_into(salt, value, &mut out).then_some(out)
}

/// [`hash_value`] appending the hex digest to `out`; `false` (and `out`
/// untouched) for absent and empty values.
pub fn hash_value_into(salt: &str, value: WireValue<'_>, out: &mut String) -> bool {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    match value {
        WireValue::Absent | WireValue::Empty => return false,
        WireValue::Str(s) => h.update(s.as_bytes()),
        WireValue::Int(i) | WireValue::StrIndex(i) => h.update(i.to_string().as_bytes()),
        WireValue::Double(d) => h.update(d.to_string().as_bytes()),
        WireValue::Bool(b) => h.update(if b { b"true".as_slice() } else { b"false" }),
        WireValue::Bytes(b) | WireValue::Complex(b) => h.update(b),
    }
    push_hex(out, &h.finalize());
    true
}

/// Appends `digest` as lowercase hex from a table. Measured on
/// `peer/wasm_redact` (`cargo bench -p weir-wasm --bench redact`):
/// `hex::encode` (a `String` collected char by char) was 6% of weir's CPU
/// on the peer harness's redaction row, and `hex::encode_to_slice` is
/// still 3.6% slower per batch than this loop.
fn push_hex(out: &mut String, digest: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = [0u8; 64];
    for (pair, &b) in hex.chunks_exact_mut(2).zip(digest) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
    }
    // Always ASCII.
    out.push_str(std::str::from_utf8(&hex[..digest.len().min(32) * 2]).unwrap_or_default());
}

/// `redact` on one string value: `None` when `re` does not match.
pub fn redact_value(re: &Regex, replacement: &str, value: &str) -> Option<String> {
    let mut out = String::new();
    redact_value_into(re, replacement, value, &mut out).then_some(out)
}

/// [`redact_value`] appending the result to `out`; `false` (and `out`
/// untouched) when `re` does not match. One search per match (the
/// earlier `is_match` + `replace_all` searched every value twice).
pub fn redact_value_into(re: &Regex, replacement: &str, value: &str, out: &mut String) -> bool {
    if replacement.contains('$') {
        // A template with group references: the regex crate expands it.
        return match re.replace_all(value, replacement) {
            std::borrow::Cow::Borrowed(_) => false,
            std::borrow::Cow::Owned(s) => {
                out.push_str(&s);
                true
            }
        };
    }
    // A literal replacement (what `replace_all` does for a template
    // without `$`), written straight into `out`.
    let mut last = 0;
    let mut matched = false;
    for m in re.find_iter(value) {
        matched = true;
        out.push_str(value.get(last..m.start()).unwrap_or_default());
        out.push_str(replacement);
        last = m.end();
    }
    if !matched {
        return false;
    }
    out.push_str(value.get(last..).unwrap_or_default());
    true
}

/// `delete-attributes` as a wire editor.
pub struct DeleteKeys<'a>(pub &'a [String]);

impl AttributeEditor for DeleteKeys<'_> {
    fn selects(&mut self, key: &[u8]) -> bool {
        selects_bytes(self.0, key, false)
    }
    fn edit(&mut self, _: &str, _: WireValue<'_>, _: &mut String) -> Edit {
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
    fn edit(&mut self, _: &str, value: WireValue<'_>, out: &mut String) -> Edit {
        match value {
            WireValue::Str(s) if redact_value_into(self.re, self.replacement, s, out) => {
                Edit::SetString
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
    fn edit(&mut self, _: &str, value: WireValue<'_>, out: &mut String) -> Edit {
        if hash_value_into(self.salt, value, out) {
            Edit::SetString
        } else {
            Edit::Keep
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    /// The literal fast path gives exactly what `Regex::replace_all` gives,
    /// empty matches and group templates included, and "no match" exactly
    /// when `replace_all` borrows.
    #[test]
    fn redact_matches_replace_all() {
        let patterns = [
            "session=[0-9a-f]+",
            "x*",
            "^",
            "$",
            "a|",
            "(?<k>\\w+)=\\d+",
            "[^&]*",
        ];
        let replacements = ["***", "", "$k=***", "${k}", "$$"];
        let values = [
            "",
            "a",
            "session=00ff&x=1",
            "abc=12&def=34",
            "xxaxx",
            "ümlaut=1",
        ];
        for p in patterns {
            let re = Regex::new(p).unwrap();
            for r in replacements {
                for v in values {
                    let expected = match re.replace_all(v, r) {
                        std::borrow::Cow::Borrowed(_) => None,
                        std::borrow::Cow::Owned(s) => Some(s),
                    };
                    let mut out = "prefix:".to_string();
                    let changed = redact_value_into(&re, r, v, &mut out);
                    let got = changed.then(|| out["prefix:".len()..].to_string());
                    assert_eq!(
                        got, expected,
                        "pattern {p:?}, replacement {r:?}, value {v:?}"
                    );
                    if !changed {
                        assert_eq!(out, "prefix:");
                    }
                }
            }
        }
    }

    #[test]
    fn hex_digest_is_lowercase_sha256() {
        let h = hash_value("salt", WireValue::Str("value")).unwrap();
        let mut d = Sha256::new();
        d.update(b"saltvalue");
        assert_eq!(h, hex::encode(d.finalize()));
        assert_eq!(hash_value("s", WireValue::Empty), None);
    }
}
