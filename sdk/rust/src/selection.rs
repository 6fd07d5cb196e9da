//! [`Selection`]: which records of a batch to keep.

/// A bitmap over the records of a batch: set bits are kept by
/// [`crate::Batch::keep`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    bits: Vec<u8>,
    len: usize,
}

impl Selection {
    /// Keeps every one of `len` records.
    pub fn all(len: usize) -> Self {
        let mut s = Selection {
            bits: vec![0xff; len.div_ceil(8)],
            len,
        };
        s.clear_tail();
        s
    }

    /// Keeps none of `len` records.
    pub fn none(len: usize) -> Self {
        Selection {
            bits: vec![0; len.div_ceil(8)],
            len,
        }
    }

    /// Keeps record `i` when `keep(i)` is true.
    pub fn from_fn(len: usize, mut keep: impl FnMut(usize) -> bool) -> Self {
        let mut s = Selection::none(len);
        for i in 0..len {
            if keep(i) {
                s.keep(i);
            }
        }
        s
    }

    fn clear_tail(&mut self) {
        let rem = self.len % 8;
        if rem != 0
            && let Some(last) = self.bits.last_mut()
        {
            *last &= (1u8 << rem) - 1;
        }
    }

    /// The number of records the selection is over.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the selection is over no records.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keeps record `i`.
    pub fn keep(&mut self, i: usize) -> &mut Self {
        self.set(i, true)
    }

    /// Drops record `i`.
    pub fn drop_row(&mut self, i: usize) -> &mut Self {
        self.set(i, false)
    }

    /// Keeps (`true`) or drops record `i`; ignored past the end.
    pub fn set(&mut self, i: usize, keep: bool) -> &mut Self {
        if i < self.len {
            if keep {
                self.bits[i / 8] |= 1 << (i % 8);
            } else {
                self.bits[i / 8] &= !(1 << (i % 8));
            }
        }
        self
    }

    /// Whether record `i` is kept.
    pub fn is_kept(&self, i: usize) -> bool {
        i < self.len && self.bits[i / 8] & (1 << (i % 8)) != 0
    }

    /// How many records are kept.
    pub fn count(&self) -> usize {
        self.bits.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// The bitmap (least significant bit first).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bits
    }
}
