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
//!
//! # Speed
//!
//! Most messages are walked through their action table (one lookup and one
//! dispatch per field). The three that make up most of a trace request,
//! `Span`, `KeyValue` and `AnyValue`, have hand-written walks that expect
//! fields in encoder order and test for them with well-predicted branches,
//! which halved the time the shared dispatch branch cost; tests check the
//! two walks agree on every input. Strings are checked for ASCII a word at a
//! time and fully decoded as UTF-8 only when they are not ASCII: the check
//! costs about a fifth of the scan. `benches/benches/pdata.rs` measures it
//! (about 0.15 ms per 1000 spans of 5 attributes on the 2-core CI VM, 15
//! times faster than prost decoding the same request).

pub(super) mod proto;
#[cfg(test)]
pub(super) mod samples;
#[cfg(test)]
mod tests;

use proto::{Field, Kind, Message, Shape, action, wire};

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
    match scanner.message(proto::request(signal)?, 0, bytes.len(), 0) {
        Ok(()) => Ok(scanner.items),
        Err(fail) => Err(fail.into()),
    }
}

/// A scan result: failures are boxed so that the hot path passes a pointer.
type Scan<T> = Result<T, Box<Fail>>;

/// [`scan`] with the table walk only (no hand-written walks), for tests.
#[cfg(test)]
pub(super) fn scan_by_table(signal: Signal, bytes: &[u8]) -> Result<usize, PdataError> {
    let mut scanner = Scanner::new(bytes);
    scanner.by_hand = false;
    match scanner.message(proto::request(signal)?, 0, bytes.len(), 0) {
        Ok(()) => Ok(scanner.items),
        Err(fail) => Err(fail.into()),
    }
}

/// The walk's state: the whole request and the items counted so far.
///
/// Positions are absolute offsets into `buf`; every read is bounded by the
/// end of the enclosing message, itself within `buf`.
pub(super) struct Scanner<'a> {
    buf: &'a [u8],
    items: usize,
    /// Whether `KeyValue` and `AnyValue` take their hand-written walks
    /// (always, except in the tests comparing them with the table walk).
    by_hand: bool,
}

impl<'a> Scanner<'a> {
    /// A scanner over a whole request.
    pub(super) fn new(buf: &'a [u8]) -> Scanner<'a> {
        Scanner {
            buf,
            items: 0,
            by_hand: true,
        }
    }

    /// Walks the fields of one message occupying `pos..end`.
    fn message(
        &mut self,
        msg: &'static Message,
        mut pos: usize,
        end: usize,
        depth: u32,
    ) -> Scan<()> {
        // Reads through `data` are bounded by the message's end.
        let data = self.buf.get(..end).unwrap_or_default();
        while pos < end {
            let at = pos;
            let key = varint(data, &mut pos)?;
            self.field(msg, data, key, at, &mut pos, depth)?;
        }
        Ok(())
    }

    /// Checks the value of the field whose key was just read, as the
    /// message's action table says.
    #[inline(always)]
    fn field(
        &mut self,
        msg: &'static Message,
        data: &[u8],
        key: u64,
        at: usize,
        pos: &mut usize,
        depth: u32,
    ) -> Scan<()> {
        let (act, index) = msg.action(key);
        match act {
            action::VARINT => {
                varint(data, pos).map_err(|f| f.with_field(msg, index))?;
            }
            action::I64 => skip_fixed(data, pos, 8).map_err(|f| f.with_field(msg, index))?,
            action::I32 => skip_fixed(data, pos, 4).map_err(|f| f.with_field(msg, index))?,
            action::STRING => string(data, pos).map_err(|f| f.with_field(msg, index))?,
            action::BYTES => {
                delimited(data, pos).map_err(|f| f.with_field(msg, index))?;
            }
            action::ID => id(data, pos, msg, index)?,
            action::MESSAGE => self.message_field(data, pos, msg, index, depth)?,
            action::PACKED => packed(data, pos, msg, index)?,
            _ => self.general(msg, key, at, pos, data.len(), depth)?,
        }
        Ok(())
    }

    /// Reads the value of message field `index` of `msg` and walks it.
    #[inline(always)]
    fn message_field(
        &mut self,
        data: &[u8],
        pos: &mut usize,
        msg: &'static Message,
        index: usize,
        depth: u32,
    ) -> Scan<()> {
        let body = delimited(data, pos).map_err(|f| f.with_field(msg, index))?;
        match msg.fields.get(index) {
            Some(Field {
                kind: Kind::Message(inner),
                ..
            }) => self.nested(inner, *pos - body.len(), *pos, depth),
            _ => Ok(()),
        }
    }

    /// [`Self::field`] out of line, for the rare fields of the hand-written
    /// walks.
    #[inline(never)]
    fn field_out_of_line(
        &mut self,
        msg: &'static Message,
        data: &[u8],
        key: u64,
        at: usize,
        pos: &mut usize,
        depth: u32,
    ) -> Scan<()> {
        self.field(msg, data, key, at, pos, depth)
    }

    /// Enters the nested message `inner` (at depth `depth + 1`) occupying
    /// `start..end`, counting it if it is an item.
    #[inline(always)]
    fn nested(
        &mut self,
        inner: &'static Message,
        start: usize,
        end: usize,
        depth: u32,
    ) -> Scan<()> {
        if depth >= MAX_DEPTH {
            return Err(Fail::new(start, Reason::TooDeep));
        }
        self.items += usize::from(inner.item);
        match inner.shape {
            Shape::KeyValue if self.by_hand => self.key_value(start, end, depth + 1),
            Shape::AnyValue if self.by_hand => self.any_value(start, end, depth + 1),
            Shape::Span if self.by_hand => self.span(start, end, depth + 1),
            _ => self.message(inner, start, end, depth + 1),
        }
    }

    /// `KeyValue`, the most frequent message, walked by hand: its usual
    /// fields are matched on their key directly instead of through the
    /// action table, whose shared dispatch branch predicts poorly. Tests
    /// check this gives what the table walk gives.
    fn key_value(&mut self, mut pos: usize, end: usize, depth: u32) -> Scan<()> {
        const KEY: u64 = 1 << 3 | wire::LEN as u64;
        const VALUE: u64 = 2 << 3 | wire::LEN as u64;
        let msg = &proto::KEY_VALUE;
        let data = self.buf.get(..end).unwrap_or_default();
        while pos < end {
            let at = pos;
            match varint(data, &mut pos)? {
                KEY => string(data, &mut pos).map_err(|f| f.with_field(msg, 0))?,
                VALUE => {
                    // What nested() does for an AnyValue, with its walk inlined.
                    let body = delimited(data, &mut pos).map_err(|f| f.with_field(msg, 1))?;
                    let start = pos - body.len();
                    if depth >= MAX_DEPTH {
                        return Err(Fail::new(start, Reason::TooDeep));
                    }
                    self.any_value_inline(start, pos, depth + 1)?;
                }
                key => self.field_out_of_line(msg, data, key, at, &mut pos, depth)?,
            }
        }
        Ok(())
    }

    /// `Span` walked by hand: its fields are expected in the order encoders
    /// write them (field number order), each tested by a branch that
    /// predicts well; a field out of order or unknown hands the rest of the
    /// span to the table walk.
    fn span(&mut self, mut pos: usize, end: usize, depth: u32) -> Scan<()> {
        const fn tag(number: u64, wt: u8) -> Option<u64> {
            Some(number << 3 | wt as u64)
        }
        let msg = &proto::SPAN;
        let data = self.buf.get(..end).unwrap_or_default();
        let mut at = pos;
        let mut key = next_key(data, &mut at, &mut pos)?;
        // Position in SPAN_FIELDS = field number - 1 (checked by the tests).
        if key == tag(1, wire::LEN) {
            id(data, &mut pos, msg, 0)?;
            key = next_key(data, &mut at, &mut pos)?;
        }
        if key == tag(2, wire::LEN) {
            id(data, &mut pos, msg, 1)?;
            key = next_key(data, &mut at, &mut pos)?;
        }
        if key == tag(3, wire::LEN) {
            string(data, &mut pos).map_err(|f| f.with_field(msg, 2))?;
            key = next_key(data, &mut at, &mut pos)?;
        }
        if key == tag(4, wire::LEN) {
            id(data, &mut pos, msg, 3)?;
            key = next_key(data, &mut at, &mut pos)?;
        }
        if key == tag(5, wire::LEN) {
            string(data, &mut pos).map_err(|f| f.with_field(msg, 4))?;
            key = next_key(data, &mut at, &mut pos)?;
        }
        if key == tag(6, wire::VARINT) {
            varint(data, &mut pos).map_err(|f| f.with_field(msg, 5))?;
            key = next_key(data, &mut at, &mut pos)?;
        }
        if key == tag(7, wire::I64) {
            skip_fixed(data, &mut pos, 8).map_err(|f| f.with_field(msg, 6))?;
            key = next_key(data, &mut at, &mut pos)?;
        }
        if key == tag(8, wire::I64) {
            skip_fixed(data, &mut pos, 8).map_err(|f| f.with_field(msg, 7))?;
            key = next_key(data, &mut at, &mut pos)?;
        }
        while key == tag(9, wire::LEN) {
            let body = delimited(data, &mut pos).map_err(|f| f.with_field(msg, 8))?;
            self.nested(&proto::KEY_VALUE, pos - body.len(), pos, depth)?;
            key = next_key(data, &mut at, &mut pos)?;
        }
        if key == tag(10, wire::VARINT) {
            varint(data, &mut pos).map_err(|f| f.with_field(msg, 9))?;
            key = next_key(data, &mut at, &mut pos)?;
        }
        while key == tag(11, wire::LEN) {
            self.message_field(data, &mut pos, msg, 10, depth)?;
            key = next_key(data, &mut at, &mut pos)?;
        }
        if key == tag(12, wire::VARINT) {
            varint(data, &mut pos).map_err(|f| f.with_field(msg, 11))?;
            key = next_key(data, &mut at, &mut pos)?;
        }
        while key == tag(13, wire::LEN) {
            self.message_field(data, &mut pos, msg, 12, depth)?;
            key = next_key(data, &mut at, &mut pos)?;
        }
        if key == tag(14, wire::VARINT) {
            varint(data, &mut pos).map_err(|f| f.with_field(msg, 13))?;
            key = next_key(data, &mut at, &mut pos)?;
        }
        if key == tag(15, wire::LEN) {
            self.message_field(data, &mut pos, msg, 14, depth)?;
            key = next_key(data, &mut at, &mut pos)?;
        }
        if key == tag(16, wire::I32) {
            skip_fixed(data, &mut pos, 4).map_err(|f| f.with_field(msg, 15))?;
            key = next_key(data, &mut at, &mut pos)?;
        }
        // A field out of order or unknown: the table walk from here.
        match key {
            None => Ok(()),
            Some(k) => {
                self.field_out_of_line(msg, data, k, at, &mut pos, depth)?;
                self.message(msg, pos, end, depth)
            }
        }
    }

    /// `AnyValue` walked by hand for its scalar values (see
    /// [`Self::key_value`]).
    fn any_value(&mut self, pos: usize, end: usize, depth: u32) -> Scan<()> {
        self.any_value_inline(pos, end, depth)
    }

    /// [`Self::any_value`], inlined where a `KeyValue` holds it.
    #[inline(always)]
    fn any_value_inline(&mut self, mut pos: usize, end: usize, depth: u32) -> Scan<()> {
        const STRING: u64 = 1 << 3 | wire::LEN as u64;
        const BOOL: u64 = 2 << 3 | wire::VARINT as u64;
        const INT: u64 = 3 << 3 | wire::VARINT as u64;
        const DOUBLE: u64 = 4 << 3 | wire::I64 as u64;
        let msg = &proto::ANY_VALUE;
        let data = self.buf.get(..end).unwrap_or_default();
        while pos < end {
            let at = pos;
            match varint(data, &mut pos)? {
                STRING => string(data, &mut pos).map_err(|f| f.with_field(msg, 0))?,
                BOOL => {
                    varint(data, &mut pos).map_err(|f| f.with_field(msg, 1))?;
                }
                INT => {
                    varint(data, &mut pos).map_err(|f| f.with_field(msg, 2))?;
                }
                DOUBLE => skip_fixed(data, &mut pos, 8).map_err(|f| f.with_field(msg, 3))?,
                key => self.field_out_of_line(msg, data, key, at, &mut pos, depth)?,
            }
        }
        Ok(())
    }

    /// A key the action table does not cover: a known field with the wrong
    /// wire type (an error), or an unknown field (skipped after checking).
    #[inline(never)]
    fn general(
        &self,
        msg: &'static Message,
        key: u64,
        at: usize,
        pos: &mut usize,
        end: usize,
        depth: u32,
    ) -> Scan<()> {
        let (number, wt) = split_key(key, at)?;
        match msg.position(number) {
            Some(index) => Err(Fail::in_field(
                at,
                Reason::WrongWireType {
                    found: wt,
                    expected: msg.fields.get(index).map_or(0, |f| f.wire),
                },
                msg,
                index,
            )),
            None => self.skip(number, wt, at, pos, end, depth),
        }
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
    ) -> Scan<()> {
        let data = self.buf.get(..end).unwrap_or_default();
        let unknown = |f: Box<Fail>| f.in_unknown(number);
        match wt {
            wire::VARINT => {
                varint(data, pos)?;
            }
            wire::I64 => skip_fixed(data, pos, 8).map_err(unknown)?,
            wire::I32 => skip_fixed(data, pos, 4).map_err(unknown)?,
            wire::LEN => {
                delimited(data, pos).map_err(unknown)?;
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
    pub(super) fn key(&self, pos: &mut usize, end: usize) -> Scan<(u32, u8)> {
        let at = *pos;
        let key = self.varint(pos, end)?;
        split_key(key, at)
    }

    /// Reads a varint ending before `end`.
    pub(super) fn varint(&self, pos: &mut usize, end: usize) -> Scan<u64> {
        varint(self.buf.get(..end).unwrap_or_default(), pos)
    }
}

/// Splits a key into field number and wire type, refusing keys above 32
/// bits and field number 0.
fn split_key(key: u64, at: usize) -> Scan<(u32, u8)> {
    if key > u64::from(u32::MAX) {
        return Err(Fail::new(at, Reason::KeyTooLarge(key)));
    }
    let number = (key >> 3) as u32;
    if number == 0 {
        return Err(Fail::new(at, Reason::FieldZero));
    }
    Ok((number, (key & 7) as u8))
}

/// Reads the varint at `pos` in `data`.
#[inline(always)]
fn varint(data: &[u8], pos: &mut usize) -> Scan<u64> {
    let at = *pos;
    if let Some(&b0) = data.get(at) {
        if b0 < 0x80 {
            *pos = at + 1;
            return Ok(u64::from(b0));
        }
        if let Some(&b1) = data.get(at + 1)
            && b1 < 0x80
        {
            *pos = at + 2;
            return Ok(u64::from(b0 & 0x7f) | u64::from(b1) << 7);
        }
    }
    varint_long(data, pos)
}

/// The case of [`varint`] for three bytes and more, or failing.
#[inline(never)]
fn varint_long(data: &[u8], pos: &mut usize) -> Scan<u64> {
    let at = *pos;
    let bytes = data.get(at..).unwrap_or_default();
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

/// Reads a length prefix at `pos` and returns the bytes it delimits.
#[inline(always)]
fn delimited<'d>(data: &'d [u8], pos: &mut usize) -> Scan<&'d [u8]> {
    let at = *pos;
    let len = varint(data, pos)?;
    let start = *pos;
    let remaining = data.len() - start;
    if len > remaining as u64 {
        return Err(Fail::new(at, Reason::Length { len, remaining }));
    }
    let stop = start + len as usize;
    *pos = stop;
    Ok(data.get(start..stop).unwrap_or_default())
}

/// Reads a trace or span id and checks its length.
#[inline(always)]
fn id(data: &[u8], pos: &mut usize, msg: &'static Message, index: usize) -> Scan<()> {
    let id = delimited(data, pos).map_err(|f| f.with_field(msg, index))?;
    if let Some(Field {
        kind: Kind::Id { len, path },
        ..
    }) = msg.fields.get(index)
        && !id.is_empty()
        && id.len() != *len
    {
        return Err(Fail::new(
            *pos - id.len(),
            Reason::IdLength {
                path,
                found: id.len(),
                expected: *len,
            },
        ));
    }
    Ok(())
}

/// Reads the next field key of a message ending at `data.len()`, noting
/// where it starts in `at`; `None` at the end.
#[inline(always)]
fn next_key(data: &[u8], at: &mut usize, pos: &mut usize) -> Scan<Option<u64>> {
    *at = *pos;
    if *pos < data.len() {
        varint(data, pos).map(Some)
    } else {
        Ok(None)
    }
}

/// Reads a length-delimited string and checks it is UTF-8.
#[inline(always)]
fn string(data: &[u8], pos: &mut usize) -> Scan<()> {
    let text = delimited(data, pos)?;
    if is_ascii(text) {
        Ok(())
    } else {
        utf8(text, *pos - text.len())
    }
}

/// Skips a fixed-width value.
#[inline(always)]
fn skip_fixed(data: &[u8], pos: &mut usize, width: usize) -> Scan<()> {
    let remaining = data.len() - *pos;
    if remaining < width {
        return Err(Fail::new(*pos, Reason::Fixed { width, remaining }));
    }
    *pos += width;
    Ok(())
}

/// Checks a packed repeated numeric field.
#[inline(never)]
fn packed(data: &[u8], pos: &mut usize, msg: &'static Message, index: usize) -> Scan<()> {
    let body = delimited(data, pos).map_err(|f| f.with_field(msg, index))?;
    let start = *pos - body.len();
    let width = match msg.fields.get(index).map(|f| f.wire) {
        Some(wire::I64) => 8,
        Some(wire::I32) => 4,
        _ => {
            let mut p = 0;
            while p < body.len() {
                varint(body, &mut p).map_err(|f| f.moved(start).with_field(msg, index))?;
            }
            return Ok(());
        }
    };
    if !body.len().is_multiple_of(width) {
        return Err(Fail::in_field(
            start,
            Reason::PackedLength {
                len: body.len(),
                width,
            },
            msg,
            index,
        ));
    }
    Ok(())
}

/// Whether `bytes` are all ASCII, a word at a time (most strings are).
#[inline(always)]
fn is_ascii(bytes: &[u8]) -> bool {
    let n = bytes.len();
    let word = |i: usize| {
        bytes
            .get(i..i + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map_or(u64::MAX, u64::from_le_bytes)
    };
    let half = |i: usize| {
        bytes
            .get(i..i + 4)
            .and_then(|w| <[u8; 4]>::try_from(w).ok())
            .map_or(u32::MAX, u32::from_le_bytes)
    };
    if n >= 8 {
        // Whole words, the last one overlapping the one before.
        let mut acc = word(n - 8);
        let mut i = 0;
        while i + 8 < n {
            acc |= word(i);
            i += 8;
        }
        acc & 0x8080_8080_8080_8080 == 0
    } else if n >= 4 {
        (half(0) | half(n - 4)) & 0x8080_8080 == 0
    } else {
        bytes.iter().all(|b| *b < 0x80)
    }
}

/// Checks UTF-8 the slow way; `start` is the text's offset, for errors.
#[cold]
fn utf8(text: &[u8], start: usize) -> Scan<()> {
    match std::str::from_utf8(text) {
        Ok(_) => Ok(()),
        Err(e) => Err(Fail::new(start + e.valid_up_to(), Reason::NotUtf8)),
    }
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
    },
    Fixed {
        width: usize,
        remaining: usize,
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

/// The field a failure happened in, if known.
#[derive(Debug, Clone, Copy)]
enum Context {
    None,
    /// A field of the schema: message and position in its `fields`.
    Field(&'static Message, usize),
    /// An unknown field, by number.
    Unknown(u32),
}

/// A scan failure: where, why, and in which field.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fail {
    offset: usize,
    reason: Reason,
    context: Context,
}

impl Fail {
    #[cold]
    fn new(offset: usize, reason: Reason) -> Box<Fail> {
        Box::new(Fail {
            offset,
            reason,
            context: Context::None,
        })
    }

    #[cold]
    fn in_field(offset: usize, reason: Reason, msg: &'static Message, index: usize) -> Box<Fail> {
        Box::new(Fail {
            offset,
            reason,
            context: Context::Field(msg, index),
        })
    }

    #[cold]
    fn with_field(mut self: Box<Self>, msg: &'static Message, index: usize) -> Box<Fail> {
        self.context = Context::Field(msg, index);
        self
    }

    #[cold]
    fn in_unknown(mut self: Box<Self>, number: u32) -> Box<Fail> {
        self.context = Context::Unknown(number);
        self
    }

    /// Makes the offset of a failure found in a sub-slice absolute.
    #[cold]
    fn moved(mut self: Box<Self>, start: usize) -> Box<Fail> {
        self.offset += start;
        self
    }
}

impl From<Box<Fail>> for PdataError {
    #[cold]
    fn from(fail: Box<Fail>) -> PdataError {
        let fail = *fail;
        let what = match fail.reason {
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
            Reason::Length { len, remaining } => {
                format!("length {len} exceeds the {remaining} remaining bytes")
            }
            Reason::Fixed { width, remaining } => {
                format!("needs {width} bytes, {remaining} remain")
            }
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
                        fail.offset
                    ),
                };
            }
        };
        // "field 2 of Span (span_id) has wire type 0, expected 2", or
        // "field 9 of Span (attributes): truncated varint".
        let sep = if fail.reason.is_predicate() {
            " "
        } else {
            ": "
        };
        let reason = match fail.context {
            Context::None => what,
            Context::Field(msg, index) => match msg.fields.get(index) {
                Some(field) => format!(
                    "field {} of {} ({}){sep}{what}",
                    field.number, msg.name, field.name
                ),
                None => format!("a field of {}{sep}{what}", msg.name),
            },
            Context::Unknown(number) => format!("field {number}{sep}{what}"),
        };
        PdataError::Protobuf {
            offset: fail.offset,
            reason,
        }
    }
}
