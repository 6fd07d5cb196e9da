//! Attribute edits on OTLP protobuf bytes, without decoding the request.
//!
//! A processor that only deletes, masks or hashes attribute values (the
//! redaction plugin's kernels) does not need the batch's Arrow tables: the
//! edit walks the request down to the attribute lists it targets, skipping
//! every other field by its length, and asks an [`AttributeEditor`] about
//! each `KeyValue`. Only messages on the path to a changed attribute are
//! rewritten (with their new lengths); every other byte is copied as it
//! came, in runs. When nothing changes nothing is copied at all.
//!
//! Cost: one walk over the envelope and attribute keys (values are parsed
//! only for keys the editor selects), plus one copy of the request per
//! nesting level above a changed attribute when something changes.
//!
//! The walk is bounds-checked and never panics. It gives up ([`Err`]) on
//! anything unusual that the Arrow path handles with prost's exact
//! semantics (a `KeyValue` with two `key` or `value` fields, an `AnyValue`
//! with several fields set) and on malformed bytes; callers then decode
//! the batch and edit the tables instead, which reports real errors.

use super::read::{Cursor, Fault, wire};
use crate::{PdataError, Signal};

/// Which attribute sets an edit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributeSet {
    /// Each record's: spans, log records, metric data points.
    Record,
    /// Each resource's.
    Resource,
    /// Each instrumentation scope's.
    Scope,
}

/// An attribute value as found on the wire.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WireValue<'a> {
    /// The `KeyValue` has no value.
    Absent,
    /// An `AnyValue` with no field set.
    Empty,
    /// `string_value`.
    Str(&'a str),
    /// `bool_value`.
    Bool(bool),
    /// `int_value`.
    Int(i64),
    /// `double_value`.
    Double(f64),
    /// `bytes_value`.
    Bytes(&'a [u8]),
    /// An array or key-value list: the protobuf of the whole `AnyValue`
    /// (what the Arrow model stores in `bytes` for these).
    Complex(&'a [u8]),
    /// `string_value_strindex` (profiles' string table).
    StrIndex(i64),
}

/// What to do with one attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Leave it as it is.
    Keep,
    /// Remove the `KeyValue`.
    Delete,
    /// Keep the key, make the value this string.
    SetString(String),
}

/// Decides, attribute by attribute, what an edit does.
pub trait AttributeEditor {
    /// Whether the attribute whose key has these bytes may change
    /// ([`Self::edit`] is asked only for those, so unselected keys are never
    /// checked for UTF-8 and their values never parsed).
    fn selects(&mut self, key: &[u8]) -> bool;
    /// What to do with a selected attribute.
    fn edit(&mut self, key: &str, value: WireValue<'_>) -> Edit;
}

/// Why a walk gave up.
#[derive(Debug)]
enum Bail {
    /// Malformed bytes.
    Fault(Fault),
    /// Valid but unusual protobuf the walk leaves to the Arrow path.
    Unusual(&'static str),
}

impl From<Fault> for Bail {
    fn from(f: Fault) -> Self {
        Bail::Fault(f)
    }
}

impl From<Bail> for PdataError {
    fn from(b: Bail) -> Self {
        match b {
            Bail::Fault(f) => f.into(),
            Bail::Unusual(what) => PdataError::Unsupported(what),
        }
    }
}

/// A message on the path from the request to the attribute lists: which of
/// its fields lead further down, and which holds the attributes.
struct Level {
    children: &'static [(u32, &'static Level)],
    attributes: Option<u32>,
}

impl Level {
    fn child(&self, number: u32) -> Option<&'static Level> {
        self.children
            .iter()
            .find(|(n, _)| *n == number)
            .map(|(_, l)| *l)
    }
}

const fn attrs(number: u32) -> Level {
    Level {
        children: &[],
        attributes: Some(number),
    }
}

// The envelope is the same for every signal: request (1) -> Resource* (1
// resource, 2 scope list) -> Scope* (1 scope, 2 records).
static RESOURCE: Level = attrs(1);
static SCOPE: Level = attrs(3);
static RESOURCE_PATH: Level = Level {
    children: &[(
        1,
        &Level {
            children: &[(1, &RESOURCE)],
            attributes: None,
        },
    )],
    attributes: None,
};
static SCOPE_PATH: Level = Level {
    children: &[(
        1,
        &Level {
            children: &[(
                2,
                &Level {
                    children: &[(1, &SCOPE)],
                    attributes: None,
                },
            )],
            attributes: None,
        },
    )],
    attributes: None,
};

static SPAN: Level = attrs(9);
static LOG_RECORD: Level = attrs(6);
static NUMBER_POINT: Level = attrs(7);
static HISTOGRAM_POINT: Level = attrs(9);
static EXP_HISTOGRAM_POINT: Level = attrs(1);
static SUMMARY_POINT: Level = attrs(7);
static METRIC: Level = Level {
    children: &[
        (
            5,
            &Level {
                children: &[(1, &NUMBER_POINT)],
                attributes: None,
            },
        ),
        (
            7,
            &Level {
                children: &[(1, &NUMBER_POINT)],
                attributes: None,
            },
        ),
        (
            9,
            &Level {
                children: &[(1, &HISTOGRAM_POINT)],
                attributes: None,
            },
        ),
        (
            10,
            &Level {
                children: &[(1, &EXP_HISTOGRAM_POINT)],
                attributes: None,
            },
        ),
        (
            11,
            &Level {
                children: &[(1, &SUMMARY_POINT)],
                attributes: None,
            },
        ),
    ],
    attributes: None,
};

/// request (1) -> resource list (2) -> scope list (2) -> records.
macro_rules! records_of {
    ($name:ident, $record:expr) => {
        static $name: Level = Level {
            children: &[(
                1,
                &Level {
                    children: &[(
                        2,
                        &Level {
                            children: &[(2, $record)],
                            attributes: None,
                        },
                    )],
                    attributes: None,
                },
            )],
            attributes: None,
        };
    };
}

records_of!(SPANS_PATH, &SPAN);
records_of!(LOGS_PATH, &LOG_RECORD);
records_of!(METRICS_PATH, &METRIC);

/// The path to the attribute lists of `set`; `None` for a signal without
/// an OTLP request (profiles).
fn path(signal: Signal, set: AttributeSet) -> Option<&'static Level> {
    if !signal.has_otlp() {
        return None;
    }
    Some(match set {
        AttributeSet::Resource => &RESOURCE_PATH,
        AttributeSet::Scope => &SCOPE_PATH,
        AttributeSet::Record => match signal {
            Signal::Traces => &SPANS_PATH,
            Signal::Logs => &LOGS_PATH,
            Signal::Metrics => &METRICS_PATH,
            Signal::Profiles => return None,
        },
    })
}

/// The result of [`edit_attributes`].
#[derive(Debug, Default)]
pub struct Edited {
    /// The new request, or `None` when nothing changed (the original bytes
    /// stand).
    pub bytes: Option<Vec<u8>>,
    /// Attributes deleted.
    pub deleted: u32,
    /// Attributes whose value was replaced.
    pub replaced: u32,
    /// Bytes of the replacement values.
    pub written: u64,
}

/// Applies `editor` to every attribute of `set` in the `Export*ServiceRequest`
/// `bytes` of `signal`.
///
/// # Errors
/// [`PdataError`] when the bytes are malformed or unusual (see the module
/// documentation): decode the batch and edit its tables instead.
pub fn edit_attributes(
    signal: Signal,
    bytes: &[u8],
    set: AttributeSet,
    editor: &mut dyn AttributeEditor,
) -> Result<Edited, PdataError> {
    let mut walker = Walker {
        buf: bytes,
        editor,
        scratch: vec![Vec::new(); 8],
        kv: Vec::new(),
        result: Edited::default(),
    };
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 8);
    let level = path(signal, set).ok_or(PdataError::Unsupported("a signal without OTLP bytes"))?;
    let changed = walker.message(Cursor::new(bytes), level, 0, &mut out)?;
    let mut result = walker.result;
    result.bytes = changed.then_some(out);
    Ok(result)
}

/// Collects the distinct attribute keys of `set`, sorted.
///
/// # Errors
/// As [`edit_attributes`].
pub fn attribute_keys(
    signal: Signal,
    bytes: &[u8],
    set: AttributeSet,
) -> Result<Vec<String>, PdataError> {
    struct Keys(std::collections::BTreeSet<String>, bool);
    impl AttributeEditor for Keys {
        fn selects(&mut self, key: &[u8]) -> bool {
            match std::str::from_utf8(key) {
                Ok(k) if !self.0.contains(k) => {
                    let _ = self.0.insert(k.to_owned());
                }
                Ok(_) => {}
                Err(_) => self.1 = true,
            }
            false
        }
        fn edit(&mut self, _: &str, _: WireValue<'_>) -> Edit {
            Edit::Keep
        }
    }
    let mut keys = Keys(Default::default(), false);
    let _ = edit_attributes(signal, bytes, set, &mut keys)?;
    if keys.1 {
        return Err(PdataError::Unsupported(
            "an attribute key that is not UTF-8",
        ));
    }
    Ok(keys.0.into_iter().collect())
}

struct Walker<'a, 'e> {
    buf: &'a [u8],
    editor: &'e mut dyn AttributeEditor,
    /// One output buffer per nesting level, reused across messages.
    scratch: Vec<Vec<u8>>,
    /// The replacement `KeyValue` being written.
    kv: Vec<u8>,
    result: Edited,
}

enum KeyValueOutcome {
    Keep,
    Delete,
    /// The new `KeyValue` is in `Walker::kv`.
    Replace,
}

impl<'a> Walker<'a, '_> {
    /// Walks one message of `level`. Returns whether it changed; if so its
    /// new content (without tag and length) was appended to `out`.
    fn message(
        &mut self,
        mut c: Cursor<'a>,
        level: &'static Level,
        depth: usize,
        out: &mut Vec<u8>,
    ) -> Result<bool, Bail> {
        let mut pending = c.pos();
        let mut changed = false;
        loop {
            let field_start = c.pos();
            let Some((number, wt)) = c.key()? else { break };
            if wt != wire::LEN {
                c.skip(number, wt)?;
                continue;
            }
            if level.attributes == Some(number) {
                let kv = c.message(wt)?;
                match self.key_value(kv)? {
                    KeyValueOutcome::Keep => {}
                    KeyValueOutcome::Delete => {
                        out.extend_from_slice(self.slice(pending, field_start));
                        pending = c.pos();
                        changed = true;
                    }
                    KeyValueOutcome::Replace => {
                        out.extend_from_slice(self.slice(pending, field_start));
                        put_key(out, number, wire::LEN);
                        put_varint(out, self.kv.len() as u64);
                        out.extend_from_slice(&self.kv);
                        pending = c.pos();
                        changed = true;
                    }
                }
            } else if let Some(child) = level.child(number) {
                let sub = c.message(wt)?;
                if depth + 1 >= self.scratch.len() {
                    return Err(Bail::Unusual("nesting this deep"));
                }
                let mut scratch = std::mem::take(&mut self.scratch[depth]);
                scratch.clear();
                let sub_changed = self.message(sub, child, depth + 1, &mut scratch);
                if matches!(sub_changed, Ok(true)) {
                    out.extend_from_slice(self.slice(pending, field_start));
                    put_key(out, number, wire::LEN);
                    put_varint(out, scratch.len() as u64);
                    out.extend_from_slice(&scratch);
                    pending = c.pos();
                    changed = true;
                }
                self.scratch[depth] = scratch;
                let _ = sub_changed?;
            } else {
                c.skip(number, wt)?;
            }
        }
        if changed {
            out.extend_from_slice(self.slice(pending, c.end()));
        }
        Ok(changed)
    }

    fn slice(&self, from: usize, to: usize) -> &'a [u8] {
        self.buf.get(from..to).unwrap_or_default()
    }

    fn key_value(&mut self, mut c: Cursor<'a>) -> Result<KeyValueOutcome, Bail> {
        let mut key: Option<&'a [u8]> = None;
        let mut value: Option<Cursor<'a>> = None;
        while let Some((number, wt)) = c.key()? {
            match number {
                1 => {
                    if key.replace(c.bytes(wt)?).is_some() {
                        return Err(Bail::Unusual("a KeyValue with two keys"));
                    }
                }
                2 => {
                    if value.replace(c.message(wt)?).is_some() {
                        return Err(Bail::Unusual("a KeyValue with two values"));
                    }
                }
                _ => c.skip(number, wt)?,
            }
        }
        let key = key.unwrap_or_default();
        if !self.editor.selects(key) {
            return Ok(KeyValueOutcome::Keep);
        }
        let key = std::str::from_utf8(key)
            .map_err(|_| Bail::Unusual("an attribute key that is not UTF-8"))?;
        let value = match value {
            None => WireValue::Absent,
            Some(v) => any_value(v)?,
        };
        match self.editor.edit(key, value) {
            Edit::Keep => Ok(KeyValueOutcome::Keep),
            Edit::Delete => {
                self.result.deleted += 1;
                Ok(KeyValueOutcome::Delete)
            }
            Edit::SetString(s) => {
                self.result.replaced += 1;
                self.result.written += s.len() as u64;
                self.kv.clear();
                if !key.is_empty() {
                    put_key(&mut self.kv, 1, wire::LEN);
                    put_varint(&mut self.kv, key.len() as u64);
                    self.kv.extend_from_slice(key.as_bytes());
                }
                // AnyValue { string_value = 1 }; an empty string is still
                // written so that the value stays a string, not empty.
                let inner = 1 + varint_len(s.len() as u64) + s.len();
                put_key(&mut self.kv, 2, wire::LEN);
                put_varint(&mut self.kv, inner as u64);
                put_key(&mut self.kv, 1, wire::LEN);
                put_varint(&mut self.kv, s.len() as u64);
                self.kv.extend_from_slice(s.as_bytes());
                Ok(KeyValueOutcome::Replace)
            }
        }
    }
}

/// Reads an `AnyValue`.
fn any_value(mut c: Cursor<'_>) -> Result<WireValue<'_>, Bail> {
    let whole = c.rest();
    let mut value = WireValue::Empty;
    let mut fields = 0;
    while let Some((number, wt)) = c.key()? {
        fields += 1;
        if fields > 1 {
            return Err(Bail::Unusual("an AnyValue with several fields"));
        }
        value = match number {
            1 => WireValue::Str(c.str(wt)?),
            2 => WireValue::Bool(c.uint64(wt)? != 0),
            3 => WireValue::Int(c.uint64(wt)? as i64),
            4 => WireValue::Double(f64::from_bits(c.fixed64(wt)?)),
            5 | 6 => {
                let _ = c.message(wt)?;
                WireValue::Complex(whole)
            }
            7 => WireValue::Bytes(c.bytes(wt)?),
            8 => WireValue::StrIndex(i64::from(c.int32(wt)?)),
            _ => {
                c.skip(number, wt)?;
                return Err(Bail::Unusual("an AnyValue with an unknown field"));
            }
        };
    }
    Ok(value)
}

fn put_key(out: &mut Vec<u8>, number: u32, wt: u8) {
    put_varint(out, (u64::from(number) << 3) | u64::from(wt));
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_lengths() {
        for v in [
            0u64,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
        }
    }
}
