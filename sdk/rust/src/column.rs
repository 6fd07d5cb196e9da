//! Typed views over record columns read from the host, and constructors for
//! columns written back.
//!
//! Columns arrive in Arrow's physical layout (values, offsets, validity
//! bitmap), copied in bulk; the views here read them without copying again.

use crate::bindings::weir::pipeline::types::{self as wit, ColumnValues};

/// The columns returned by [`crate::Batch::columns`], by name.
#[derive(Debug, Clone)]
pub struct Columns {
    columns: Vec<Column>,
}

impl Columns {
    pub(crate) fn new(columns: Vec<wit::Column>) -> Self {
        Columns {
            columns: columns.into_iter().map(Column).collect(),
        }
    }

    /// The column called `name`, if it was read.
    pub fn get(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.0.name == name)
    }

    /// Every column, in the order asked for.
    pub fn iter(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter()
    }
}

/// One record column.
#[derive(Debug, Clone)]
pub struct Column(pub(crate) wit::Column);

fn bit(bitmap: &[u8], i: usize) -> bool {
    bitmap.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
}

/// Packs booleans into a bitmap, least significant bit first (Arrow's
/// layout).
pub(crate) fn pack_bits(bits: impl IntoIterator<Item = bool>) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, b) in bits.into_iter().enumerate() {
        if i % 8 == 0 {
            out.push(0);
        }
        if b && let Some(last) = out.last_mut() {
            *last |= 1 << (i % 8);
        }
    }
    out
}

impl Column {
    /// The column's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.0.len as usize
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }

    /// Whether row `i` has a value (is not null).
    pub fn is_valid(&self, i: usize) -> bool {
        i < self.len() && self.0.validity.as_deref().is_none_or(|v| bit(v, i))
    }

    /// The raw values, for anything the typed accessors do not cover.
    pub fn values(&self) -> &ColumnValues {
        &self.0.values
    }

    /// The generated record, to pass back to [`crate::Batch::set_column`]
    /// after changing it.
    pub fn into_inner(self) -> wit::Column {
        self.0
    }

    /// The strings of a UTF-8 column (dictionary columns such as span names
    /// arrive as UTF-8).
    pub fn utf8(&self) -> Option<Utf8View<'_>> {
        match &self.0.values {
            ColumnValues::Utf8(a) => Utf8View::new(&a.offsets, &a.data),
            _ => None,
        }
    }

    /// The values of an `int32` column (span kind, severity number, status
    /// code).
    pub fn i32(&self) -> Option<&[i32]> {
        match &self.0.values {
            ColumnValues::Int32(v) => Some(v),
            _ => None,
        }
    }

    /// The values of an `int64` column.
    pub fn i64(&self) -> Option<&[i64]> {
        match &self.0.values {
            ColumnValues::Int64(v) => Some(v),
            _ => None,
        }
    }

    /// The values of a `uint32` column (flags, dropped counts).
    pub fn u32(&self) -> Option<&[u32]> {
        match &self.0.values {
            ColumnValues::Uint32(v) => Some(v),
            _ => None,
        }
    }

    /// The values of a `uint64` column.
    pub fn u64(&self) -> Option<&[u64]> {
        match &self.0.values {
            ColumnValues::Uint64(v) => Some(v),
            _ => None,
        }
    }

    /// The values of a `float64` column.
    pub fn f64(&self) -> Option<&[f64]> {
        match &self.0.values {
            ColumnValues::Float64(v) => Some(v),
            _ => None,
        }
    }

    /// Nanoseconds since the Unix epoch, of a timestamp column.
    pub fn timestamps(&self) -> Option<&[i64]> {
        match &self.0.values {
            ColumnValues::Timestamp(v) => Some(v),
            _ => None,
        }
    }

    /// Row `i` of a boolean column.
    pub fn bool(&self, i: usize) -> Option<bool> {
        match &self.0.values {
            ColumnValues::Boolean(bits) if self.is_valid(i) => Some(bit(bits, i)),
            _ => None,
        }
    }

    /// The ids of a fixed-size binary column (trace ids, span ids).
    pub fn fixed_binary(&self) -> Option<FixedBinaryView<'_>> {
        match &self.0.values {
            ColumnValues::FixedBinary((width, data)) => Some(FixedBinaryView {
                width: *width as usize,
                data,
                column: self,
            }),
            _ => None,
        }
    }

    /// A UTF-8 column to write back, from one string per row.
    pub fn from_strs<S: AsRef<str>>(name: &str, values: impl IntoIterator<Item = S>) -> Column {
        let mut offsets = vec![0u32];
        let mut data = Vec::new();
        for v in values {
            data.extend_from_slice(v.as_ref().as_bytes());
            offsets.push(u32::try_from(data.len()).unwrap_or(u32::MAX));
        }
        let len = u32::try_from(offsets.len() - 1).unwrap_or(u32::MAX);
        Column(wit::Column {
            name: name.to_string(),
            len,
            validity: None,
            values: ColumnValues::Utf8(wit::Utf8Array { offsets, data }),
        })
    }

    /// A column to write back from raw values.
    pub fn from_values(name: &str, len: usize, values: ColumnValues) -> Column {
        Column(wit::Column {
            name: name.to_string(),
            len: u32::try_from(len).unwrap_or(u32::MAX),
            validity: None,
            values,
        })
    }

    /// Sets the validity of a column to write (`false` = null).
    pub fn with_validity(mut self, valid: impl IntoIterator<Item = bool>) -> Column {
        self.0.validity = Some(pack_bits(valid));
        self
    }
}

/// The strings of a UTF-8 column.
#[derive(Debug, Clone, Copy)]
pub struct Utf8View<'a> {
    offsets: &'a [u32],
    data: &'a str,
}

impl<'a> Utf8View<'a> {
    fn new(offsets: &'a [u32], data: &'a [u8]) -> Option<Self> {
        let data = std::str::from_utf8(data).ok()?;
        Some(Utf8View { offsets, data })
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The string of row `i` (empty for a null row).
    pub fn get(&self, i: usize) -> Option<&'a str> {
        let start = *self.offsets.get(i)? as usize;
        let end = *self.offsets.get(i + 1)? as usize;
        self.data.get(start..end)
    }

    /// Every row's string, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let data = self.data;
        self.offsets
            .windows(2)
            .map(move |w| data.get(w[0] as usize..w[1] as usize).unwrap_or(""))
    }
}

/// The values of a fixed-size binary column: one `width`-byte id per row.
#[derive(Debug, Clone, Copy)]
pub struct FixedBinaryView<'a> {
    width: usize,
    data: &'a [u8],
    column: &'a Column,
}

impl<'a> FixedBinaryView<'a> {
    /// The width of each value in bytes (16 for trace ids, 8 for span ids).
    pub fn width(&self) -> usize {
        self.width
    }

    /// The bytes of row `i`, `None` when null (an empty id).
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        if !self.column.is_valid(i) {
            return None;
        }
        self.data.get(i * self.width..(i + 1) * self.width)
    }

    /// Every row's bytes (`None` for null rows), in order.
    pub fn iter(&self) -> impl Iterator<Item = Option<&'a [u8]>> + 'a {
        let view = *self;
        (0..view.column.len()).map(move |i| view.get(i))
    }
}
