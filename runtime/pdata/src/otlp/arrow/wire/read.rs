//! A bounds-checked cursor over protobuf wire bytes, for the wire decoder.
//!
//! Every read stays within the enclosing message (`pos..end`, itself within
//! the request), checks the wire type the field's declared type needs, and
//! fails with a small [`Fault`] (offset and reason) that becomes a
//! [`PdataError::Protobuf`] only when reported. The rules are prost's: a
//! varint of more than 10 bytes or overflowing 64 bits, a key above
//! `u32::MAX`, field number 0, wire types 6 and 7, a stray end-group tag, and
//! a length past the end of the message are errors; unknown fields
//! (groups included) are skipped.

use crate::PdataError;

/// The protobuf wire types.
pub(super) mod wire {
    /// Varint.
    pub(crate) const VARINT: u8 = 0;
    /// 8 little-endian bytes.
    pub(crate) const I64: u8 = 1;
    /// Length-delimited.
    pub(crate) const LEN: u8 = 2;
    /// Start of a group.
    pub(crate) const SGROUP: u8 = 3;
    /// End of a group.
    pub(crate) const EGROUP: u8 = 4;
    /// 4 little-endian bytes.
    pub(crate) const I32: u8 = 5;
}

/// How deep groups of unknown fields may nest (prost's recursion limit).
const MAX_GROUP_DEPTH: u32 = 100;

/// Why a read failed.
#[derive(Debug, Clone, Copy)]
pub(super) enum Why {
    TruncatedVarint,
    VarintOverflow,
    KeyTooLarge,
    FieldZero,
    InvalidWireType(u8),
    WrongWireType {
        number: u32,
        found: u8,
        expected: u8,
    },
    Length {
        number: u32,
        len: u64,
        remaining: usize,
    },
    Fixed {
        number: u32,
        width: usize,
    },
    NotUtf8 {
        number: u32,
    },
    Group {
        number: u32,
    },
    TooDeep,
}

/// A read failure: where and why. Cheap to return; turned into a
/// [`PdataError`] only when reported.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fault {
    offset: usize,
    why: Why,
}

impl Fault {
    #[cold]
    fn new(offset: usize, why: Why) -> Fault {
        Fault { offset, why }
    }
}

impl From<Fault> for PdataError {
    #[cold]
    fn from(fault: Fault) -> PdataError {
        let reason = match fault.why {
            Why::TruncatedVarint => "truncated varint".to_owned(),
            Why::VarintOverflow => "varint overflows 64 bits".to_owned(),
            Why::KeyTooLarge => "field key does not fit in 32 bits".to_owned(),
            Why::FieldZero => "field number 0 is invalid".to_owned(),
            Why::InvalidWireType(wt) => format!("invalid wire type {wt}"),
            Why::WrongWireType {
                number,
                found,
                expected,
            } => format!("field {number} has wire type {found}, expected {expected}"),
            Why::Length {
                number,
                len,
                remaining,
            } => format!("field {number}: length {len} exceeds the {remaining} remaining bytes"),
            Why::Fixed { number, width } => {
                format!("field {number} needs {width} bytes, fewer remain")
            }
            Why::NotUtf8 { number } => format!("field {number} is not valid UTF-8"),
            Why::Group { number } => format!("group of field {number} is not closed properly"),
            Why::TooDeep => "groups nested too deep".to_owned(),
        };
        PdataError::Protobuf {
            offset: fault.offset,
            reason,
        }
    }
}

/// A position in one message of a request.
#[derive(Clone, Copy)]
pub(super) struct Cursor<'a> {
    /// The whole request (offsets in errors are absolute).
    buf: &'a [u8],
    pos: usize,
    end: usize,
    /// The number of the field being read, for errors.
    number: u32,
}

impl<'a> Cursor<'a> {
    /// A cursor over a whole request.
    pub(super) fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor {
            buf,
            pos: 0,
            end: buf.len(),
            number: 0,
        }
    }

    /// The offset of the next byte to read, in the whole request.
    #[inline(always)]
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// The offset just past this message, in the whole request.
    #[inline(always)]
    pub(super) fn end(&self) -> usize {
        self.end
    }

    /// The bytes not read yet in this message.
    pub(super) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..self.end).unwrap_or_default()
    }

    /// The next field's number and wire type; `None` at the end of the
    /// message.
    #[inline(always)]
    pub(super) fn key(&mut self) -> Result<Option<(u32, u8)>, Fault> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let at = self.pos;
        let key = self.varint()?;
        if key > u64::from(u32::MAX) {
            return Err(Fault::new(at, Why::KeyTooLarge));
        }
        let wt = (key & 7) as u8;
        if wt > wire::I32 {
            return Err(Fault::new(at, Why::InvalidWireType(wt)));
        }
        let number = (key >> 3) as u32;
        if number == 0 {
            return Err(Fault::new(at, Why::FieldZero));
        }
        self.number = number;
        Ok(Some((number, wt)))
    }

    #[inline(always)]
    fn expect(&self, wt: u8, expected: u8) -> Result<(), Fault> {
        if wt == expected {
            Ok(())
        } else {
            Err(self.wrong_wire_type(wt, expected))
        }
    }

    #[cold]
    fn wrong_wire_type(&self, found: u8, expected: u8) -> Fault {
        Fault::new(
            self.pos,
            Why::WrongWireType {
                number: self.number,
                found,
                expected,
            },
        )
    }

    /// Reads a varint.
    #[inline(always)]
    fn varint(&mut self) -> Result<u64, Fault> {
        if self.pos < self.end
            && let Some(&byte) = self.buf.get(self.pos)
            && byte < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(byte));
        }
        self.varint_long()
    }

    #[inline(never)]
    fn varint_long(&mut self) -> Result<u64, Fault> {
        let at = self.pos;
        let bytes = self.buf.get(at..self.end).unwrap_or_default();
        let mut value = 0u64;
        for (i, &byte) in bytes.iter().take(10).enumerate() {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                if i == 9 && byte > 1 {
                    return Err(Fault::new(at, Why::VarintOverflow));
                }
                self.pos = at + i + 1;
                return Ok(value);
            }
        }
        if bytes.len() >= 10 {
            Err(Fault::new(at, Why::VarintOverflow))
        } else {
            Err(Fault::new(at, Why::TruncatedVarint))
        }
    }

    /// A varint field's value (`uint64`; callers truncate as prost does for
    /// `int32`, `uint32` and enums).
    #[inline(always)]
    pub(super) fn uint64(&mut self, wt: u8) -> Result<u64, Fault> {
        self.expect(wt, wire::VARINT)?;
        self.varint()
    }

    /// A `uint32` field (truncated as prost does).
    #[inline(always)]
    pub(super) fn uint32(&mut self, wt: u8) -> Result<u32, Fault> {
        self.uint64(wt).map(|v| v as u32)
    }

    /// An `int32` or enum field (truncated as prost does).
    #[inline(always)]
    pub(super) fn int32(&mut self, wt: u8) -> Result<i32, Fault> {
        self.uint64(wt).map(|v| v as i32)
    }

    #[inline(always)]
    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], Fault> {
        let bytes = self
            .buf
            .get(self.pos..self.end)
            .and_then(|rest| rest.first_chunk::<N>())
            .copied();
        match bytes {
            Some(b) => {
                self.pos += N;
                Ok(b)
            }
            None => Err(Fault::new(
                self.pos,
                Why::Fixed {
                    number: self.number,
                    width: N,
                },
            )),
        }
    }

    /// A `fixed64` (or the bits of a `double`) field.
    #[inline(always)]
    pub(super) fn fixed64(&mut self, wt: u8) -> Result<u64, Fault> {
        self.expect(wt, wire::I64)?;
        self.fixed::<8>().map(u64::from_le_bytes)
    }

    /// A `fixed32` field.
    #[inline(always)]
    pub(super) fn fixed32(&mut self, wt: u8) -> Result<u32, Fault> {
        self.expect(wt, wire::I32)?;
        self.fixed::<4>().map(u32::from_le_bytes)
    }

    /// Reads a length prefix; returns the delimited range and moves past it.
    #[inline(always)]
    fn delimited(&mut self, wt: u8) -> Result<(usize, usize), Fault> {
        self.expect(wt, wire::LEN)?;
        let at = self.pos;
        let len = self.varint()?;
        let remaining = self.end - self.pos;
        if len > remaining as u64 {
            return Err(Fault::new(
                at,
                Why::Length {
                    number: self.number,
                    len,
                    remaining,
                },
            ));
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok((start, self.pos))
    }

    /// A `bytes` field.
    #[inline(always)]
    pub(super) fn bytes(&mut self, wt: u8) -> Result<&'a [u8], Fault> {
        let (start, stop) = self.delimited(wt)?;
        Ok(self.buf.get(start..stop).unwrap_or_default())
    }

    /// A `string` field, checked to be UTF-8.
    #[inline(always)]
    pub(super) fn str(&mut self, wt: u8) -> Result<&'a str, Fault> {
        let (start, stop) = self.delimited(wt)?;
        let bytes = self.buf.get(start..stop).unwrap_or_default();
        std::str::from_utf8(bytes).map_err(|e| {
            Fault::new(
                start + e.valid_up_to(),
                Why::NotUtf8 {
                    number: self.number,
                },
            )
        })
    }

    /// A message field: a cursor over its bytes.
    #[inline(always)]
    pub(super) fn message(&mut self, wt: u8) -> Result<Cursor<'a>, Fault> {
        let (start, stop) = self.delimited(wt)?;
        Ok(Cursor {
            buf: self.buf,
            pos: start,
            end: stop,
            number: 0,
        })
    }

    /// Skips the value of a field the decoder does not use.
    pub(super) fn skip(&mut self, number: u32, wt: u8) -> Result<(), Fault> {
        self.skip_at(number, wt, 0)
    }

    fn skip_at(&mut self, number: u32, wt: u8, depth: u32) -> Result<(), Fault> {
        match wt {
            wire::VARINT => {
                self.varint()?;
            }
            wire::I64 => {
                self.fixed::<8>()?;
            }
            wire::I32 => {
                self.fixed::<4>()?;
            }
            wire::LEN => {
                self.delimited(wt)?;
            }
            wire::SGROUP => {
                if depth >= MAX_GROUP_DEPTH {
                    return Err(Fault::new(self.pos, Why::TooDeep));
                }
                loop {
                    let at = self.pos;
                    match self.key()? {
                        None => return Err(Fault::new(at, Why::Group { number })),
                        Some((inner, wire::EGROUP)) => {
                            if inner != number {
                                return Err(Fault::new(at, Why::Group { number }));
                            }
                            break;
                        }
                        Some((inner, inner_wt)) => self.skip_at(inner, inner_wt, depth + 1)?,
                    }
                }
            }
            _ => return Err(Fault::new(self.pos, Why::Group { number })),
        }
        Ok(())
    }
}

/// Counts the repeated message fields `number` of the message in `c`,
/// without checking anything else; stops silently at the first malformed
/// field (the decoder reports it).
pub(super) fn count_each(mut c: Cursor<'_>, number: u32, mut each: impl FnMut(Cursor<'_>)) {
    while let Ok(Some((n, wt))) = c.key() {
        if n == number && wt == wire::LEN {
            match c.message(wt) {
                Ok(inner) => each(inner),
                Err(_) => return,
            }
        } else if c.skip(n, wt).is_err() {
            return;
        }
    }
}
