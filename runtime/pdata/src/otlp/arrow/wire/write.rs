//! A buffer that protobuf is written into back to front.
//!
//! Writing the last field first means a nested message is complete before
//! its length prefix has to be written, so lengths are known without a
//! sizing pass and every prefix is a minimal varint: the output is exactly
//! prost's canonical encoding (fields in field-number order, defaults
//! omitted) in a single pass over the columns. Callers therefore emit
//! fields in descending field number, repeated fields last item first, and
//! close a message with [`RevBuf::message_end`].

use bytes::Bytes;

use super::read::wire;

/// Bytes written back to front: the output is `buf[pos..]`.
pub(super) struct RevBuf {
    buf: Vec<u8>,
    pos: usize,
}

impl RevBuf {
    /// A buffer with room for `capacity` bytes before it grows.
    pub(super) fn with_capacity(capacity: usize) -> RevBuf {
        let capacity = capacity.max(64);
        RevBuf {
            buf: vec![0; capacity],
            pos: capacity,
        }
    }

    /// The number of bytes written so far.
    #[inline(always)]
    pub(super) fn len(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Makes room for `n` more bytes in front; returns where they start.
    #[inline(always)]
    fn room(&mut self, n: usize) -> usize {
        if self.pos < n {
            self.grow(n);
        }
        self.pos -= n;
        self.pos
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self, n: usize) {
        let used = self.len();
        let capacity = (self.buf.len() * 2).max(used + n + 64);
        let mut buf = vec![0; capacity];
        let pos = capacity - used;
        if let (Some(to), Some(from)) = (buf.get_mut(pos..), self.buf.get(self.pos..)) {
            to.copy_from_slice(from);
        }
        self.buf = buf;
        self.pos = pos;
    }

    /// Writes raw bytes.
    #[inline(always)]
    pub(super) fn raw(&mut self, bytes: &[u8]) {
        let at = self.room(bytes.len());
        if let Some(to) = self.buf.get_mut(at..at + bytes.len()) {
            to.copy_from_slice(bytes);
        }
    }

    /// Writes a varint.
    #[inline(always)]
    pub(super) fn varint(&mut self, mut value: u64) {
        if value < 0x80 {
            let at = self.room(1);
            if let Some(b) = self.buf.get_mut(at) {
                *b = value as u8;
            }
            return;
        }
        let mut tmp = [0u8; 10];
        let mut n = 0;
        while value >= 0x80 {
            tmp[n] = (value as u8) | 0x80;
            value >>= 7;
            n += 1;
        }
        tmp[n] = value as u8;
        self.raw(&tmp[..=n]);
    }

    /// Writes a field key.
    #[inline(always)]
    pub(super) fn key(&mut self, number: u32, wt: u8) {
        self.varint(u64::from(number << 3 | u32::from(wt)));
    }

    /// Closes a message field `number` whose content was written since
    /// `len()` was `start`.
    #[inline(always)]
    pub(super) fn message_end(&mut self, number: u32, start: usize) {
        let len = self.len() - start;
        self.varint(len as u64);
        self.key(number, wire::LEN);
    }

    /// A length-delimited field, written even when empty (`oneof` members,
    /// repeated strings).
    #[inline(always)]
    pub(super) fn bytes_always(&mut self, number: u32, value: &[u8]) {
        self.raw(value);
        self.varint(value.len() as u64);
        self.key(number, wire::LEN);
    }

    /// A `string` or `bytes` field, omitted when empty.
    #[inline(always)]
    pub(super) fn bytes(&mut self, number: u32, value: &[u8]) {
        if !value.is_empty() {
            self.bytes_always(number, value);
        }
    }

    /// A `string` field, omitted when empty.
    #[inline(always)]
    pub(super) fn str(&mut self, number: u32, value: &str) {
        self.bytes(number, value.as_bytes());
    }

    /// A varint field, written even when 0 (`oneof` members).
    #[inline(always)]
    pub(super) fn varint_always(&mut self, number: u32, value: u64) {
        self.varint(value);
        self.key(number, wire::VARINT);
    }

    /// A `uint32` field, omitted when 0.
    #[inline(always)]
    pub(super) fn uint32(&mut self, number: u32, value: u32) {
        if value != 0 {
            self.varint_always(number, u64::from(value));
        }
    }

    /// An `int32` or enum field, omitted when 0 (negative values take 10
    /// bytes, sign-extended, as in prost).
    #[inline(always)]
    pub(super) fn int32(&mut self, number: u32, value: i32) {
        if value != 0 {
            self.varint_always(number, i64::from(value).cast_unsigned());
        }
    }

    /// A `fixed64` or `double` field (as bits), written even when 0.
    #[inline(always)]
    pub(super) fn fixed64_always(&mut self, number: u32, value: u64) {
        self.raw(&value.to_le_bytes());
        self.key(number, wire::I64);
    }

    /// A `fixed64` field, omitted when 0.
    #[inline(always)]
    pub(super) fn fixed64(&mut self, number: u32, value: u64) {
        if value != 0 {
            self.fixed64_always(number, value);
        }
    }

    /// A `fixed32` field, omitted when 0.
    #[inline(always)]
    pub(super) fn fixed32(&mut self, number: u32, value: u32) {
        if value != 0 {
            self.raw(&value.to_le_bytes());
            self.key(number, wire::I32);
        }
    }

    /// The bytes written. The spare room in front is dropped by copying
    /// when it is more than the data, else kept (a `Bytes` slice).
    pub(super) fn finish(self) -> Bytes {
        let len = self.len();
        if self.pos > len {
            Bytes::copy_from_slice(self.buf.get(self.pos..).unwrap_or_default())
        } else {
            Bytes::from(self.buf).slice(self.pos..)
        }
    }
}
