//! Protobuf to OTLP/JSON: the bytes are checked by the scan, then walked
//! once more, message by message, writing JSON.

use std::fmt::Write as _;

use super::base64;
use crate::otlp::scan::proto::{self, Card, Field, Kind, Message, wire};
use crate::otlp::scan::{self, Scanner};
use crate::{PdataError, Signal};

pub(super) fn protobuf_to_json(signal: Signal, bytes: &[u8]) -> Result<String, PdataError> {
    scan::scan(signal, bytes)?;
    let mut out = String::with_capacity(bytes.len() * 2);
    let writer = JsonWriter {
        buf: bytes,
        scanner: Scanner::new(bytes),
    };
    writer.message(proto::request(signal)?, &[(0, bytes.len())], 0, &mut out)?;
    Ok(out)
}

/// One occurrence of a known field in a message's bytes.
#[derive(Debug, Clone, Copy)]
struct Occurrence {
    /// Position of the field in the message's table.
    position: usize,
    /// Order of appearance on the wire.
    order: usize,
    /// Wire type as found (a packed repeated field has `LEN`).
    wt: u8,
    /// The value's bytes: the payload of a length-delimited value, the
    /// bytes of a varint or fixed-width value.
    start: usize,
    end: usize,
}

struct JsonWriter<'a> {
    buf: &'a [u8],
    scanner: Scanner<'a>,
}

impl JsonWriter<'_> {
    /// Collects the known fields of a message given as one or more byte
    /// ranges (several when a singular message field occurs several times:
    /// protobuf merges them as if concatenated).
    fn occurrences(
        &self,
        msg: &'static Message,
        segments: &[(usize, usize)],
        depth: u32,
    ) -> Result<Vec<Occurrence>, PdataError> {
        let mut found = Vec::new();
        for &(mut pos, end) in segments {
            while pos < end {
                let at = pos;
                let (number, wt) = self.scanner.key(&mut pos, end).map_err(PdataError::from)?;
                let Some(position) = msg.position(number) else {
                    self.scanner
                        .skip(number, wt, at, &mut pos, end, depth)
                        .map_err(PdataError::from)?;
                    continue;
                };
                let start = pos;
                let stop = match wt {
                    wire::VARINT => {
                        self.scanner
                            .varint(&mut pos, end)
                            .map_err(PdataError::from)?;
                        pos
                    }
                    wire::I64 => pos + 8,
                    wire::I32 => pos + 4,
                    _ => {
                        let len = self
                            .scanner
                            .varint(&mut pos, end)
                            .map_err(PdataError::from)?;
                        let start = pos;
                        let stop = usize::try_from(len)
                            .map_or(usize::MAX, |len| start.saturating_add(len));
                        if stop > end {
                            return Err(unexpected(at));
                        }
                        found.push(Occurrence {
                            position,
                            order: found.len(),
                            wt,
                            start,
                            end: stop,
                        });
                        pos = stop;
                        continue;
                    }
                };
                if stop > end {
                    return Err(unexpected(at));
                }
                found.push(Occurrence {
                    position,
                    order: found.len(),
                    wt,
                    start,
                    end: stop,
                });
                pos = stop;
            }
        }
        found.sort_by_key(|o| o.position);
        Ok(found)
    }

    fn message(
        &self,
        msg: &'static Message,
        segments: &[(usize, usize)],
        depth: u32,
        out: &mut String,
    ) -> Result<(), PdataError> {
        let found = self.occurrences(msg, segments, depth)?;
        // The oneof member that wins is the last on the wire; a message member
        // merges only its occurrences after any other member's.
        let last_oneof = found
            .iter()
            .filter(|o| msg.fields[o.position].card == Card::Oneof)
            .max_by_key(|o| o.order)
            .copied();
        let oneof_since = last_oneof.map_or(0, |winner| {
            found
                .iter()
                .filter(|o| {
                    msg.fields[o.position].card == Card::Oneof && o.position != winner.position
                })
                .map(|o| o.order + 1)
                .max()
                .unwrap_or(0)
        });

        out.push('{');
        let mut first = true;
        for group in found.chunk_by(|a, b| a.position == b.position) {
            let field = &msg.fields[group[0].position];
            let group: Vec<Occurrence> = match (field.card, last_oneof) {
                (Card::Oneof, Some(winner)) if winner.position != group[0].position => continue,
                (Card::Oneof, _) => group
                    .iter()
                    .filter(|o| o.order >= oneof_since)
                    .copied()
                    .collect(),
                _ => group.to_vec(),
            };
            let Some(last) = group.last() else { continue };
            // Proto3 JSON leaves out singular fields holding their default,
            // so that JSON -> protobuf -> JSON is stable.
            if field.card == Card::Singular && self.is_default(field, last)? {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            out.push('"');
            out.push_str(field.json);
            out.push_str("\":");
            match (field.card, field.kind) {
                (Card::Repeated, _) => {
                    out.push('[');
                    let mut first_element = true;
                    for o in &group {
                        self.elements(field, *o, depth, out, &mut first_element)?;
                    }
                    out.push(']');
                }
                (_, Kind::Message(inner)) => {
                    let segments: Vec<(usize, usize)> =
                        group.iter().map(|o| (o.start, o.end)).collect();
                    self.message(inner, &segments, depth + 1, out)?;
                }
                _ => self.scalar(field, last.start, last.end, out)?,
            }
        }
        out.push('}');
        Ok(())
    }

    /// Whether a singular scalar occurrence holds its type's default (0,
    /// false, empty; `-0.0` is not a default).
    fn is_default(&self, field: &Field, o: &Occurrence) -> Result<bool, PdataError> {
        Ok(match field.kind {
            Kind::Message(_) => false,
            _ if field.wire == wire::VARINT => {
                let mut pos = o.start;
                self.scanner
                    .varint(&mut pos, o.end)
                    .map_err(PdataError::from)?
                    == 0
            }
            _ if field.wire == wire::LEN => o.start == o.end,
            _ => self
                .buf
                .get(o.start..o.end)
                .is_some_and(|bytes| bytes.iter().all(|b| *b == 0)),
        })
    }

    /// Writes the elements one occurrence of a repeated field holds (one, or
    /// many if packed).
    fn elements(
        &self,
        field: &'static Field,
        o: Occurrence,
        depth: u32,
        out: &mut String,
        first: &mut bool,
    ) -> Result<(), PdataError> {
        let mut separate = |out: &mut String| {
            if !*first {
                out.push(',');
            }
            *first = false;
        };
        if let Kind::Message(inner) = field.kind {
            separate(out);
            return self.message(inner, &[(o.start, o.end)], depth + 1, out);
        }
        if o.wt != wire::LEN || !field.kind.packable() {
            separate(out);
            return self.scalar(field, o.start, o.end, out);
        }
        let mut pos = o.start;
        while pos < o.end {
            let start = pos;
            match field.wire {
                wire::I64 => pos += 8,
                wire::I32 => pos += 4,
                _ => {
                    self.scanner
                        .varint(&mut pos, o.end)
                        .map_err(PdataError::from)?;
                }
            }
            if pos > o.end {
                return Err(unexpected(start));
            }
            separate(out);
            self.scalar(field, start, pos, out)?;
        }
        Ok(())
    }

    /// Writes the JSON form of one scalar value held in `start..end`.
    fn scalar(
        &self,
        field: &Field,
        start: usize,
        end: usize,
        out: &mut String,
    ) -> Result<(), PdataError> {
        let bytes = self.buf.get(start..end).ok_or_else(|| unexpected(start))?;
        let fixed64 = || -> Result<u64, PdataError> {
            Ok(u64::from_le_bytes(
                bytes.try_into().map_err(|_| unexpected(start))?,
            ))
        };
        let varint = || -> Result<u64, PdataError> {
            let mut pos = start;
            self.scanner.varint(&mut pos, end).map_err(PdataError::from)
        };
        match field.kind {
            Kind::Int32 | Kind::Enum(_) => write!(out, "{}", varint()? as i32),
            Kind::SInt32 => {
                let n = varint()? as u32;
                write!(out, "{}", (n >> 1) as i32 ^ -((n & 1) as i32))
            }
            Kind::UInt32 => write!(out, "{}", varint()? as u32),
            Kind::Int64 => write!(out, "\"{}\"", varint()? as i64),
            Kind::UInt64 => write!(out, "\"{}\"", varint()?),
            Kind::Bool => write!(out, "{}", varint()? != 0),
            Kind::Fixed64 => write!(out, "\"{}\"", fixed64()?),
            Kind::SFixed64 => write!(out, "\"{}\"", fixed64()? as i64),
            Kind::Double => {
                let v = f64::from_bits(fixed64()?);
                if v.is_nan() {
                    write!(out, "\"NaN\"")
                } else if v.is_infinite() {
                    write!(out, "\"{}Infinity\"", if v < 0.0 { "-" } else { "" })
                } else {
                    write!(out, "{v:?}")
                }
            }
            Kind::Fixed32 => {
                let v = u32::from_le_bytes(bytes.try_into().map_err(|_| unexpected(start))?);
                write!(out, "{v}")
            }
            Kind::String => {
                let text = std::str::from_utf8(bytes).map_err(|_| unexpected(start))?;
                write_string(text, out);
                Ok(())
            }
            Kind::Bytes => {
                out.push('"');
                base64::encode(bytes, out);
                out.push('"');
                Ok(())
            }
            Kind::Id { .. } => {
                out.push('"');
                base64::encode_hex(bytes, out);
                out.push('"');
                Ok(())
            }
            Kind::Message(_) => return Err(unexpected(start)),
        }
        .map_err(|_| unexpected(start))
    }
}

/// An inconsistency the scan should have caught.
#[cold]
fn unexpected(offset: usize) -> PdataError {
    PdataError::Protobuf {
        offset,
        reason: "inconsistent value after a successful scan".to_owned(),
    }
}

/// Writes `text` as a JSON string literal.
fn write_string(text: &str, out: &mut String) {
    out.push('"');
    let mut rest = text;
    while let Some(i) = rest.find(|c: char| c == '"' || c == '\\' || c < ' ') {
        out.push_str(&rest[..i]);
        let c = rest[i..].chars().next().unwrap_or(' ');
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            _ => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
        }
        rest = &rest[i + c.len_utf8()..];
    }
    out.push_str(rest);
    out.push('"');
}
