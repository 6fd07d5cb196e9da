//! OTLP/JSON to protobuf: a streaming serde walk that writes protobuf
//! directly, guided by the message tables.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::base64;
use crate::otlp::scan::proto::{self, Card, Field, Kind, Message, wire};
use crate::{PdataError, Signal};

pub(super) fn json_to_protobuf(signal: Signal, json: &[u8]) -> Result<Vec<u8>, PdataError> {
    let mut out = Vec::with_capacity(json.len() / 2);
    let mut de = serde_json::Deserializer::from_slice(json);
    MessageSeed {
        msg: proto::request(signal)?,
        out: &mut out,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(out)
}

// ---- protobuf writing ----

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, number: u32, wt: u8) {
    put_varint(out, u64::from(number) << 3 | u64::from(wt));
}

/// Starts a length-delimited value: writes a one-byte length placeholder and
/// returns where the value starts.
fn begin(out: &mut Vec<u8>) -> usize {
    out.push(0);
    out.len()
}

/// Ends a length-delimited value started at `start`, writing its length
/// (moving the value when the length needs more than one byte).
fn finish(out: &mut Vec<u8>, start: usize) {
    let len = out.len() - start;
    if len < 0x80 {
        out[start - 1] = len as u8;
    } else {
        let mut prefix = Vec::with_capacity(10);
        put_varint(&mut prefix, len as u64);
        let _ = out.splice(start - 1..start, prefix);
    }
}

// ---- messages ----

/// Reads a JSON object as message `msg`, appending its fields to `out`.
struct MessageSeed<'a> {
    msg: &'static Message,
    out: &'a mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for MessageSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MessageSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a JSON object ({})", self.msg.name)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(field) = map.next_key_seed(KeySeed(self.msg))? {
            match field {
                Some(field) => map.next_value_seed(FieldSeed {
                    msg: self.msg,
                    field,
                    out: &mut *self.out,
                })?,
                None => {
                    let _ = map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Reads an object key and looks the field up (`None`: unknown, ignored).
struct KeySeed(&'static Message);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Option<&'static Field>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Option<&'static Field>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a field name of {}", self.0.name)
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
        Ok(self.0.field_named(name))
    }
}

/// Reads the value of one field (`null` means absent).
struct FieldSeed<'a> {
    msg: &'static Message,
    field: &'static Field,
    out: &'a mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a value for {}.{}", self.msg.name, self.field.json)
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        let FieldSeed { msg, field, out } = self;
        match (field.card, field.kind) {
            (Card::Repeated, _) => deserializer.deserialize_seq(RepeatedSeed { msg, field, out }),
            (_, Kind::Message(inner)) => {
                put_key(out, field.number, wire::LEN);
                let start = begin(out);
                MessageSeed {
                    msg: inner,
                    out: &mut *out,
                }
                .deserialize(deserializer)?;
                finish(out, start);
                Ok(())
            }
            _ => ScalarSeed {
                msg,
                field,
                out,
                packed: false,
            }
            .deserialize(deserializer),
        }
    }
}

/// Reads the JSON array of a repeated field.
struct RepeatedSeed<'a> {
    msg: &'static Message,
    field: &'static Field,
    out: &'a mut Vec<u8>,
}

impl<'de> Visitor<'de> for RepeatedSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a JSON array for {}.{}", self.msg.name, self.field.json)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let RepeatedSeed { msg, field, out } = self;
        match field.kind {
            Kind::Message(inner) => {
                while let Some(()) = seq.next_element_seed(ElementSeed {
                    msg: inner,
                    out: &mut *out,
                    number: field.number,
                })? {}
            }
            kind if kind.packable() => {
                let before = out.len();
                put_key(out, field.number, wire::LEN);
                let start = begin(out);
                while let Some(()) = seq.next_element_seed(ScalarSeed {
                    msg,
                    field,
                    out: &mut *out,
                    packed: true,
                })? {}
                if out.len() == start {
                    out.truncate(before);
                } else {
                    finish(out, start);
                }
            }
            _ => {
                while let Some(()) = seq.next_element_seed(ScalarSeed {
                    msg,
                    field,
                    out: &mut *out,
                    packed: false,
                })? {}
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for RepeatedSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

/// Reads one message element of a repeated field, key and length included.
struct ElementSeed<'a> {
    msg: &'static Message,
    out: &'a mut Vec<u8>,
    number: u32,
}

impl<'de> DeserializeSeed<'de> for ElementSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        put_key(self.out, self.number, wire::LEN);
        let start = begin(self.out);
        MessageSeed {
            msg: self.msg,
            out: &mut *self.out,
        }
        .deserialize(deserializer)?;
        finish(self.out, start);
        Ok(())
    }
}

// ---- scalars ----

/// Reads one scalar value and writes it (with its key unless `packed`;
/// not at all if it is a proto3 default of a field without presence).
struct ScalarSeed<'a> {
    msg: &'static Message,
    field: &'static Field,
    out: &'a mut Vec<u8>,
    packed: bool,
}

impl<'de> DeserializeSeed<'de> for ScalarSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.field.kind {
            Kind::Bool => deserializer.deserialize_bool(self),
            Kind::String | Kind::Bytes | Kind::Id { .. } => deserializer.deserialize_str(self),
            _ => deserializer.deserialize_any(self),
        }
    }
}

/// A scalar ready to be written.
enum Wire<'v> {
    Varint(u64),
    I64(u64),
    I32(u32),
    Len(&'v [u8]),
}

impl ScalarSeed<'_> {
    fn name(&self) -> String {
        format!("{}.{}", self.msg.name, self.field.json)
    }

    fn error<E: de::Error>(&self, problem: impl fmt::Display) -> E {
        E::custom(format_args!("{}: {problem}", self.name()))
    }

    fn write<E: de::Error>(self, value: Wire<'_>) -> Result<(), E> {
        let default = match value {
            Wire::Varint(v) | Wire::I64(v) => v == 0,
            Wire::I32(v) => v == 0,
            Wire::Len(bytes) => bytes.is_empty(),
        };
        if default && self.field.card == Card::Singular && !self.packed {
            return Ok(());
        }
        let out = self.out;
        if !self.packed {
            put_key(out, self.field.number, self.field.wire);
        }
        match value {
            Wire::Varint(v) => put_varint(out, v),
            Wire::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
            Wire::I32(v) => out.extend_from_slice(&v.to_le_bytes()),
            Wire::Len(bytes) => {
                put_varint(out, bytes.len() as u64);
                out.extend_from_slice(bytes);
            }
        }
        Ok(())
    }

    /// Writes an integer-valued JSON number or string.
    fn integer<E: de::Error>(self, v: i128) -> Result<(), E> {
        let range = |lo: i128, hi: i128| -> Result<i128, E> {
            if (lo..=hi).contains(&v) {
                Ok(v)
            } else {
                Err(self.error(format_args!("{v} is out of range")))
            }
        };
        let value = match self.field.kind {
            Kind::Int32 | Kind::Enum(_) => {
                Wire::Varint(range(i32::MIN.into(), i32::MAX.into())? as i64 as u64)
            }
            Kind::SInt32 => {
                let n = range(i32::MIN.into(), i32::MAX.into())? as i32;
                Wire::Varint(u64::from(((n << 1) ^ (n >> 31)) as u32))
            }
            Kind::UInt32 => Wire::Varint(range(0, u32::MAX.into())? as u64),
            Kind::Int64 => Wire::Varint(range(i64::MIN.into(), i64::MAX.into())? as i64 as u64),
            Kind::UInt64 => Wire::Varint(range(0, u64::MAX.into())? as u64),
            Kind::Fixed64 => Wire::I64(range(0, u64::MAX.into())? as u64),
            Kind::SFixed64 => Wire::I64(range(i64::MIN.into(), i64::MAX.into())? as i64 as u64),
            Kind::Fixed32 => Wire::I32(range(0, u32::MAX.into())? as u32),
            Kind::Double => Wire::I64((v as f64).to_bits()),
            _ => return Err(self.error("expected a string, found a number")),
        };
        self.write(value)
    }

    fn double<E: de::Error>(self, v: f64) -> Result<(), E> {
        match self.field.kind {
            Kind::Double => self.write(Wire::I64(v.to_bits())),
            _ if v.fract() == 0.0 && v.abs() < 2f64.powi(64) => self.integer(v as i128),
            _ => Err(self.error(format_args!("{v} is not an integer"))),
        }
    }
}

impl<'de> Visitor<'de> for ScalarSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.field.kind {
            Kind::Bool => "true or false",
            Kind::String => "a string",
            Kind::Bytes => "a base64 string",
            Kind::Id { .. } => "a hex string",
            Kind::Double => "a number or \"NaN\", \"Infinity\", \"-Infinity\"",
            Kind::Enum(_) => "an integer or an enum value name",
            Kind::Int64 | Kind::UInt64 | Kind::Fixed64 | Kind::SFixed64 => {
                "a decimal string or an integer"
            }
            _ => "an integer",
        };
        write!(f, "{what} for {}.{}", self.msg.name, self.field.json)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        match self.field.kind {
            Kind::Bool => self.write(Wire::Varint(u64::from(v))),
            _ => Err(de::Error::invalid_type(de::Unexpected::Bool(v), &self)),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.integer(v.into())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.integer(v.into())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.double(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        match self.field.kind {
            Kind::String => self.write(Wire::Len(v.as_bytes())),
            Kind::Bytes => {
                let bytes = base64::decode(v).map_err(|e| self.error::<E>(e))?;
                self.write(Wire::Len(&bytes))
            }
            Kind::Id { len, .. } => {
                let bytes = base64::decode_hex(v).map_err(|e| self.error::<E>(e))?;
                if !bytes.is_empty() && bytes.len() != len {
                    return Err(self.error(format_args!(
                        "{} bytes, expected {len} ({} hex digits) or none",
                        bytes.len(),
                        2 * len
                    )));
                }
                self.write(Wire::Len(&bytes))
            }
            Kind::Double => match v {
                "NaN" => self.double(f64::NAN),
                "Infinity" => self.double(f64::INFINITY),
                "-Infinity" => self.double(f64::NEG_INFINITY),
                _ => match v.parse::<f64>() {
                    Ok(d) if d.is_finite() => self.double(d),
                    _ => Err(self.error(format_args!("{v:?} is not a number"))),
                },
            },
            Kind::Enum(names) => match names.iter().position(|n| *n == v) {
                Some(i) => self.integer(i as i128),
                None => match v.parse::<i128>() {
                    Ok(i) => self.integer(i),
                    Err(_) => Err(self.error(format_args!("unknown enum value {v:?}"))),
                },
            },
            Kind::Bool => Err(de::Error::invalid_type(de::Unexpected::Str(v), &self)),
            _ => match v.parse::<i128>() {
                Ok(i) => self.integer(i),
                Err(_) => match v.parse::<f64>() {
                    Ok(d) if d.is_finite() => self.double(d),
                    _ => Err(self.error(format_args!("{v:?} is not an integer"))),
                },
            },
        }
    }
}
