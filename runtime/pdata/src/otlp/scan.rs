//! The wire-format check a receiver runs on every request.
//!
//! [`scan`] walks the protobuf bytes of an `Export*ServiceRequest` once,
//! without allocating, following the message tables of [`proto`]:
//!
//! - every varint, length and fixed-width value is within bounds, every known
//!   field has the wire type its declared type needs (repeated numeric fields
//!   may be packed), every nested message is checked recursively, unknown
//!   fields are skipped after their own wire format is checked (groups
//!   included), and `string` fields hold UTF-8;
//! - trace ids are empty or 16 bytes, span ids empty or 8 bytes (spans,
//!   links, log records, exemplars), as weir's data model requires;
//! - messages nest at most [`MAX_DEPTH`] levels (`AnyValue` arrays and
//!   key-value lists are recursive), so hostile input cannot exhaust the
//!   stack;
//! - it counts the items: spans, log records, or metric data points.
//!
//! Whatever `scan` accepts, prost decodes into the `opentelemetry-proto`
//! types (its recursion limit, 100, is above [`MAX_DEPTH`]); tests check the
//! two agree on every prefix of valid requests and on random corruptions.

pub(super) mod proto;
#[cfg(test)]
pub(super) mod samples;
#[cfg(test)]
mod tests;

use proto::{Card, Field, Kind, Message, wire};

use crate::{PdataError, Signal};

/// How deep messages may nest, counting the request as level 0.
///
/// A span attribute's `AnyValue` is at level 5; each level of array nesting
/// inside it adds 2 (`ArrayValue`, `AnyValue`), each key-value list 3.
pub(crate) const MAX_DEPTH: u32 = 64;

/// Checks that `bytes` are a well-formed `Export*ServiceRequest` of `signal`
/// and returns its number of items (spans, metric data points or log
/// records).
///
/// Allocates nothing unless the bytes are invalid.
///
/// # Errors
/// - [`PdataError::Protobuf`] with the byte offset and what is wrong
///   (`"truncated varint"`, `"field 2 of Span (span_id) has wire type 0,
///   expected 2"`, ...);
/// - [`PdataError::InvalidValue`] for a trace or span id of a length other
///   than 0 or 16 (trace) / 8 (span).
pub fn scan(signal: Signal, bytes: &[u8]) -> Result<usize, PdataError> {
    let mut scanner = Scanner::new(bytes);
    match scanner.message(proto::request(signal), 0, bytes.len(), 0) {
        Ok(()) => Ok(scanner.items),
        Err(fail) => Err(fail.into_error()),
    }
}

/// The walk's state: the whole request and the items counted so far.
///
/// Positions are absolute offsets into `buf`; every read is bounded by the
/// end of the enclosing message, itself within `buf`.
pub(super) struct Scanner<'a> {
    buf: &'a [u8],
    items: usize,
}

impl<'a> Scanner<'a> {
    /// A scanner over a whole request.
    pub(super) fn new(buf: &'a [u8]) -> Scanner<'a> {
        Scanner { buf, items: 0 }
    }

    /// Walks the fields of one message occupying `pos..end`.
    fn message(
        &mut self,
        msg: &'static Message,
        mut pos: usize,
        end: usize,
        depth: u32,
    ) -> Result<(), Fail> {
        while pos < end {
            let at = pos;
            let (number, wt) = self.key(&mut pos, end)?;
            match msg.field(number) {
                Some(field) if field.wire == wt => self.value(msg, field, &mut pos, end, depth)?,
                Some(field) => self.packed(msg, field, wt, at, &mut pos, end)?,
                None => self.skip(number, wt, at, &mut pos, end, depth)?,
            }
        }
        Ok(())
    }

    /// Checks one value of a known field whose wire type matches.
    #[inline(always)]
    fn value(
        &mut self,
        msg: &'static Message,
        field: &'static Field,
        pos: &mut usize,
        end: usize,
        depth: u32,
    ) -> Result<(), Fail> {
        match field.kind {
            Kind::Int32
            | Kind::Int64
            | Kind::UInt32
            | Kind::UInt64
            | Kind::SInt32
            | Kind::Bool
            | Kind::Enum(_) => {
                self.varint(pos, end)?;
            }
            Kind::Fixed64 | Kind::SFixed64 | Kind::Double => fixed(pos, end, 8, msg, field)?,
            Kind::Fixed32 => fixed(pos, end, 4, msg, field)?,
            Kind::String => {
                let (start, stop) = self.delimited(pos, end, msg, field)?;
                let text = self.buf.get(start..stop).unwrap_or_default();
                if let Err(e) = std::str::from_utf8(text) {
                    return Err(Fail::in_field(
                        start + e.valid_up_to(),
                        Reason::NotUtf8,
                        msg,
                        field,
                    ));
                }
            }
            Kind::Bytes => {
                self.delimited(pos, end, msg, field)?;
            }
            Kind::Id { len, path } => {
                let (start, stop) = self.delimited(pos, end, msg, field)?;
                let found = stop - start;
                if found != 0 && found != len {
                    return Err(Fail::new(
                        start,
                        Reason::IdLength {
                            path,
                            found,
                            expected: len,
                        },
                    ));
                }
            }
            Kind::Message(inner) => {
                let (start, stop) = self.delimited(pos, end, msg, field)?;
                if depth >= MAX_DEPTH {
                    return Err(Fail::new(start, Reason::TooDeep));
                }
                self.items += usize::from(inner.item);
                self.message(inner, start, stop, depth + 1)?;
            }
        }
        Ok(())
    }

    /// A known field whose wire type does not match its declared type: fine
    /// only for a packed repeated numeric field.
    #[inline(never)]
    fn packed(
        &mut self,
        msg: &'static Message,
        field: &'static Field,
        wt: u8,
        at: usize,
        pos: &mut usize,
        end: usize,
    ) -> Result<(), Fail> {
        if wt != wire::LEN || field.card != Card::Repeated || !field.kind.packable() {
            return Err(Fail::in_field(
                at,
                Reason::WrongWireType {
                    found: wt,
                    expected: field.wire,
                },
                msg,
                field,
            ));
        }
        let (start, stop) = self.delimited(pos, end, msg, field)?;
        let width = match field.wire {
            wire::I64 => 8,
            wire::I32 => 4,
            _ => {
                let mut p = start;
                while p < stop {
                    self.varint(&mut p, stop)
                        .map_err(|fail| fail.with_field(msg, field))?;
                }
                return Ok(());
            }
        };
        let len = stop - start;
        if len % width != 0 {
            return Err(Fail::in_field(
                start,
                Reason::PackedLength { len, width },
                msg,
                field,
            ));
        }
        Ok(())
    }

    /// Skips an unknown field after checking its wire format.
    pub(super) fn skip(
        &self,
        number: u32,
        wt: u8,
        at: usize,
        pos: &mut usize,
        end: usize,
        depth: u32,
    ) -> Result<(), Fail> {
        match wt {
            wire::VARINT => {
                self.varint(pos, end)?;
            }
            wire::I64 => fixed_unknown(pos, end, 8, number)?,
            wire::I32 => fixed_unknown(pos, end, 4, number)?,
            wire::LEN => {
                let len_at = *pos;
                let len = self.varint(pos, end)?;
                let remaining = end - *pos;
                if len > remaining as u64 {
                    return Err(Fail::new(
                        len_at,
                        Reason::Length {
                            len,
                            remaining,
                            number,
                        },
                    ));
                }
                *pos += len as usize;
            }
            wire::SGROUP => {
                if depth >= MAX_DEPTH {
                    return Err(Fail::new(at, Reason::TooDeep));
                }
                loop {
                    if *pos >= end {
                        return Err(Fail::new(at, Reason::GroupNotClosed { number }));
                    }
                    let inner_at = *pos;
                    let (inner, inner_wt) = self.key(pos, end)?;
                    if inner_wt == wire::EGROUP {
                        if inner != number {
                            return Err(Fail::new(
                                inner_at,
                                Reason::GroupMismatch {
                                    found: inner,
                                    open: number,
                                },
                            ));
                        }
                        break;
                    }
                    self.skip(inner, inner_wt, inner_at, pos, end, depth + 1)?;
                }
            }
            wire::EGROUP => return Err(Fail::new(at, Reason::StrayEndGroup { number })),
            _ => return Err(Fail::new(at, Reason::InvalidWireType { number, wt })),
        }
        Ok(())
    }

    /// Reads a field key: field number (1..2^29) and wire type.
    #[inline(always)]
    pub(super) fn key(&self, pos: &mut usize, end: usize) -> Result<(u32, u8), Fail> {
        let at = *pos;
        let key = self.varint(pos, end)?;
        if key > u64::from(u32::MAX) {
            return Err(Fail::new(at, Reason::KeyTooLarge(key)));
        }
        let number = (key >> 3) as u32;
        if number == 0 {
            return Err(Fail::new(at, Reason::FieldZero));
        }
        Ok((number, (key & 7) as u8))
    }

    /// Reads a length prefix and returns the range of the value it delimits.
    #[inline(always)]
    fn delimited(
        &self,
        pos: &mut usize,
        end: usize,
        msg: &'static Message,
        field: &'static Field,
    ) -> Result<(usize, usize), Fail> {
        let at = *pos;
        let len = self
            .varint(pos, end)
            .map_err(|fail| fail.with_field(msg, field))?;
        let start = *pos;
        let remaining = end - start;
        if len > remaining as u64 {
            return Err(Fail::in_field(
                at,
                Reason::Length {
                    len,
                    remaining,
                    number: field.number,
                },
                msg,
                field,
            ));
        }
        let stop = start + len as usize;
        *pos = stop;
        Ok((start, stop))
    }

    /// Reads a varint ending before `end`.
    #[inline(always)]
    pub(super) fn varint(&self, pos: &mut usize, end: usize) -> Result<u64, Fail> {
        let at = *pos;
        if at < end
            && let Some(&byte) = self.buf.get(at)
            && byte < 0x80
        {
            *pos = at + 1;
            return Ok(u64::from(byte));
        }
        self.varint_long(pos, end)
    }

    /// The multi-byte (or failing) case of [`Self::varint`].
    #[inline(never)]
    fn varint_long(&self, pos: &mut usize, end: usize) -> Result<u64, Fail> {
        let at = *pos;
        let bytes = self.buf.get(at..end).unwrap_or_default();
        let mut value = 0u64;
        for (i, &byte) in bytes.iter().take(10).enumerate() {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                if i == 9 && byte > 1 {
                    return Err(Fail::new(at, Reason::VarintOverflow));
                }
                *pos = at + i + 1;
                return Ok(value);
            }
        }
        if bytes.len() >= 10 {
            Err(Fail::new(at, Reason::VarintTooLong))
        } else {
            Err(Fail::new(at, Reason::TruncatedVarint))
        }
    }
}

/// Skips a fixed-width value of a known field.
#[inline(always)]
fn fixed(
    pos: &mut usize,
    end: usize,
    width: usize,
    msg: &'static Message,
    field: &'static Field,
) -> Result<(), Fail> {
    let remaining = end - *pos;
    if remaining < width {
        return Err(Fail::in_field(
            *pos,
            Reason::Fixed { width, remaining },
            msg,
            field,
        ));
    }
    *pos += width;
    Ok(())
}

/// Skips a fixed-width value of an unknown field.
fn fixed_unknown(pos: &mut usize, end: usize, width: usize, number: u32) -> Result<(), Fail> {
    let remaining = end - *pos;
    if remaining < width {
        return Err(Fail::new(
            *pos,
            Reason::FixedUnknown {
                width,
                remaining,
                number,
            },
        ));
    }
    *pos += width;
    Ok(())
}

/// Why a scan failed, kept small and allocation-free until reported.
#[derive(Debug, Clone, Copy)]
enum Reason {
    TruncatedVarint,
    VarintTooLong,
    VarintOverflow,
    KeyTooLarge(u64),
    FieldZero,
    InvalidWireType {
        number: u32,
        wt: u8,
    },
    WrongWireType {
        found: u8,
        expected: u8,
    },
    Length {
        len: u64,
        remaining: usize,
        number: u32,
    },
    Fixed {
        width: usize,
        remaining: usize,
    },
    FixedUnknown {
        width: usize,
        remaining: usize,
        number: u32,
    },
    PackedLength {
        len: usize,
        width: usize,
    },
    NotUtf8,
    TooDeep,
    GroupNotClosed {
        number: u32,
    },
    GroupMismatch {
        found: u32,
        open: u32,
    },
    StrayEndGroup {
        number: u32,
    },
    IdLength {
        path: &'static str,
        found: usize,
        expected: usize,
    },
}

impl Reason {
    /// Whether the description reads as a predicate of the field ("has
    /// wire type 0, expected 2") rather than a standalone phrase.
    fn is_predicate(self) -> bool {
        matches!(
            self,
            Reason::WrongWireType { .. }
                | Reason::Fixed { .. }
                | Reason::PackedLength { .. }
                | Reason::NotUtf8
        )
    }
}

/// A scan failure: where, why, and in which known field if any.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fail {
    offset: usize,
    reason: Reason,
    field: Option<(&'static Message, &'static Field)>,
}

impl Fail {
    #[cold]
    fn new(offset: usize, reason: Reason) -> Fail {
        Fail {
            offset,
            reason,
            field: None,
        }
    }

    #[cold]
    fn in_field(
        offset: usize,
        reason: Reason,
        msg: &'static Message,
        field: &'static Field,
    ) -> Fail {
        Fail {
            offset,
            reason,
            field: Some((msg, field)),
        }
    }

    #[cold]
    fn with_field(self, msg: &'static Message, field: &'static Field) -> Fail {
        Fail {
            field: Some((msg, field)),
            ..self
        }
    }

    #[cold]
    pub(super) fn into_error(self) -> PdataError {
        let what = match self.reason {
            Reason::TruncatedVarint => "truncated varint".to_owned(),
            Reason::VarintTooLong => "varint longer than 10 bytes".to_owned(),
            Reason::VarintOverflow => "varint overflows 64 bits".to_owned(),
            Reason::KeyTooLarge(key) => format!("field key {key} does not fit in 32 bits"),
            Reason::FieldZero => "field number 0 is invalid".to_owned(),
            Reason::InvalidWireType { number, wt } => {
                format!("field {number} has invalid wire type {wt}")
            }
            Reason::WrongWireType { found, expected } => {
                format!("has wire type {found}, expected {expected}")
            }
            Reason::Length {
                len,
                remaining,
                number,
            } => match self.field {
                Some(_) => format!("length {len} exceeds the {remaining} remaining bytes"),
                None => {
                    format!("field {number}: length {len} exceeds the {remaining} remaining bytes")
                }
            },
            Reason::Fixed { width, remaining } => {
                format!("needs {width} bytes, {remaining} remain")
            }
            Reason::FixedUnknown {
                width,
                remaining,
                number,
            } => format!("field {number} needs {width} bytes, {remaining} remain"),
            Reason::PackedLength { len, width } => {
                format!("is packed with length {len}, not a multiple of {width}")
            }
            Reason::NotUtf8 => "is not valid UTF-8".to_owned(),
            Reason::TooDeep => format!("messages nested deeper than {MAX_DEPTH} levels"),
            Reason::GroupNotClosed { number } => format!("group of field {number} is not closed"),
            Reason::GroupMismatch { found, open } => {
                format!("end-group tag of field {found} inside the group of field {open}")
            }
            Reason::StrayEndGroup { number } => {
                format!("end-group tag of field {number} without a start-group")
            }
            Reason::IdLength {
                path,
                found,
                expected,
            } => {
                return PdataError::InvalidValue {
                    field: path,
                    reason: format!(
                        "{found} bytes at byte {}, expected {expected} (or none)",
                        self.offset
                    ),
                };
            }
        };
        let reason = match self.field {
            None => what,
            Some((msg, field)) => {
                // "field 2 of Span (span_id) has wire type 0, expected 2", or
                // "field 9 of Span (attributes): truncated varint".
                let sep = if self.reason.is_predicate() {
                    " "
                } else {
                    ": "
                };
                format!(
                    "field {} of {} ({}){sep}{what}",
                    field.number, msg.name, field.name
                )
            }
        };
        PdataError::Protobuf {
            offset: self.offset,
            reason,
        }
    }
}
