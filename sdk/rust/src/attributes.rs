//! Attribute access by key: dense per-key columns read from the host, and a
//! builder for the columns written back.

use crate::bindings::weir::pipeline::types::{self as wit, ValueKind};
use crate::column::pack_bits;

/// The attribute columns returned by [`crate::Batch::attributes`], by key.
#[derive(Debug, Clone)]
pub struct Attributes {
    columns: Vec<wit::AttributeColumn>,
}

impl Attributes {
    pub(crate) fn new(columns: Vec<wit::AttributeColumn>) -> Self {
        Attributes { columns }
    }

    /// The values of `key` across rows, if it was read.
    pub fn get(&self, key: &str) -> Option<AttributeView<'_>> {
        self.columns
            .iter()
            .find(|c| c.key == key)
            .map(AttributeView::new)
    }

    /// Every column, in the order asked for.
    pub fn iter(&self) -> impl Iterator<Item = AttributeView<'_>> {
        self.columns.iter().map(AttributeView::new)
    }
}

/// One attribute value, borrowed from a column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// Present without a value.
    Empty,
    /// A string.
    Str(&'a str),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A double.
    Double(f64),
    /// Bytes.
    Bytes(&'a [u8]),
    /// An array or key-value list: the protobuf `AnyValue`.
    Complex(&'a [u8]),
}

/// The values of one attribute key across the rows of a scope.
#[derive(Debug, Clone, Copy)]
pub struct AttributeView<'a> {
    column: &'a wit::AttributeColumn,
    strings: &'a str,
}

fn slice<'a>(offsets: &[u32], data: &'a [u8], i: usize) -> Option<&'a [u8]> {
    let start = *offsets.get(i)? as usize;
    let end = *offsets.get(i + 1)? as usize;
    data.get(start..end)
}

impl<'a> AttributeView<'a> {
    fn new(column: &'a wit::AttributeColumn) -> Self {
        let strings = std::str::from_utf8(&column.strings.data).unwrap_or("");
        AttributeView { column, strings }
    }

    /// The key.
    pub fn key(&self) -> &'a str {
        &self.column.key
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.column.kinds.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.column.kinds.is_empty()
    }

    /// The kind of row `i`'s value ([`ValueKind::Absent`] past the end).
    pub fn kind(&self, i: usize) -> ValueKind {
        self.column
            .kinds
            .get(i)
            .copied()
            .unwrap_or(ValueKind::Absent)
    }

    /// Whether row `i` has the key.
    pub fn is_present(&self, i: usize) -> bool {
        self.kind(i) != ValueKind::Absent
    }

    /// Row `i`'s value, `None` when the row lacks the key.
    pub fn get(&self, i: usize) -> Option<Value<'a>> {
        let c = self.column;
        Some(match self.kind(i) {
            ValueKind::Absent => return None,
            ValueKind::Empty => Value::Empty,
            ValueKind::String => Value::Str(self.str(i)?),
            ValueKind::Boolean => Value::Bool(c.bools.get(i / 8)? & (1 << (i % 8)) != 0),
            ValueKind::Int => Value::Int(*c.ints.get(i)?),
            ValueKind::Double => Value::Double(*c.doubles.get(i)?),
            ValueKind::Bytes => Value::Bytes(slice(&c.bytes.offsets, &c.bytes.data, i)?),
            ValueKind::Complex => Value::Complex(slice(&c.bytes.offsets, &c.bytes.data, i)?),
        })
    }

    /// Row `i`'s value if it is a string.
    pub fn str(&self, i: usize) -> Option<&'a str> {
        if self.kind(i) != ValueKind::String {
            return None;
        }
        let start = *self.column.strings.offsets.get(i)? as usize;
        let end = *self.column.strings.offsets.get(i + 1)? as usize;
        self.strings.get(start..end)
    }

    /// Row `i`'s value if it is an integer.
    pub fn int(&self, i: usize) -> Option<i64> {
        match self.get(i)? {
            Value::Int(v) => Some(v),
            _ => None,
        }
    }

    /// Row `i`'s value if it is a double.
    pub fn double(&self, i: usize) -> Option<f64> {
        match self.get(i)? {
            Value::Double(v) => Some(v),
            _ => None,
        }
    }

    /// Row `i`'s value if it is a boolean.
    pub fn bool(&self, i: usize) -> Option<bool> {
        match self.get(i)? {
            Value::Bool(v) => Some(v),
            _ => None,
        }
    }

    /// Every row's value (`None` where the key is absent).
    pub fn iter(&self) -> impl Iterator<Item = Option<Value<'a>>> + 'a {
        let view = *self;
        (0..view.len()).map(move |i| view.get(i))
    }
}

/// Builds the values of one attribute key across the rows of a scope, for
/// [`crate::Batch::set_attribute`]. Rows start absent (the key is removed
/// from them); set the ones that should have it.
#[derive(Debug, Clone)]
pub struct AttributeColumnBuilder {
    key: String,
    values: Vec<Option<OwnedValue>>,
}

#[derive(Debug, Clone)]
enum OwnedValue {
    Empty,
    Str(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Vec<u8>),
    Complex(Vec<u8>),
}

impl AttributeColumnBuilder {
    /// A column of `rows` absent values for `key`.
    pub fn new(key: &str, rows: usize) -> Self {
        AttributeColumnBuilder {
            key: key.to_string(),
            values: vec![None; rows],
        }
    }

    /// A column holding the current values of `view`, to change some rows
    /// of.
    pub fn from_view(view: &AttributeView<'_>) -> Self {
        let mut b = AttributeColumnBuilder::new(view.key(), view.len());
        for (i, v) in view.iter().enumerate() {
            if let Some(v) = v {
                b.set(i, v);
            }
        }
        b
    }

    fn put(&mut self, i: usize, v: Option<OwnedValue>) -> &mut Self {
        if let Some(slot) = self.values.get_mut(i) {
            *slot = v;
        }
        self
    }

    /// Sets row `i` to `value`.
    pub fn set(&mut self, i: usize, value: Value<'_>) -> &mut Self {
        let v = match value {
            Value::Empty => OwnedValue::Empty,
            Value::Str(s) => OwnedValue::Str(s.to_string()),
            Value::Bool(b) => OwnedValue::Bool(b),
            Value::Int(n) => OwnedValue::Int(n),
            Value::Double(d) => OwnedValue::Double(d),
            Value::Bytes(b) => OwnedValue::Bytes(b.to_vec()),
            Value::Complex(b) => OwnedValue::Complex(b.to_vec()),
        };
        self.put(i, Some(v))
    }

    /// Sets row `i` to a string.
    pub fn set_str(&mut self, i: usize, value: &str) -> &mut Self {
        self.put(i, Some(OwnedValue::Str(value.to_string())))
    }

    /// Sets row `i` to an integer.
    pub fn set_int(&mut self, i: usize, value: i64) -> &mut Self {
        self.put(i, Some(OwnedValue::Int(value)))
    }

    /// Sets row `i` to a double.
    pub fn set_double(&mut self, i: usize, value: f64) -> &mut Self {
        self.put(i, Some(OwnedValue::Double(value)))
    }

    /// Sets row `i` to a boolean.
    pub fn set_bool(&mut self, i: usize, value: bool) -> &mut Self {
        self.put(i, Some(OwnedValue::Bool(value)))
    }

    /// Removes the key from row `i`.
    pub fn remove(&mut self, i: usize) -> &mut Self {
        self.put(i, None)
    }

    /// The column in the ABI's layout.
    pub fn finish(&self) -> wit::AttributeColumn {
        let n = self.values.len();
        let mut kinds = Vec::with_capacity(n);
        let mut str_offsets = Vec::with_capacity(n + 1);
        let mut str_data = Vec::new();
        let mut bytes_offsets = Vec::with_capacity(n + 1);
        let mut bytes_data = Vec::new();
        let mut ints = Vec::with_capacity(n);
        let mut doubles = Vec::with_capacity(n);
        let mut bools = Vec::with_capacity(n);
        str_offsets.push(0);
        bytes_offsets.push(0);
        for v in &self.values {
            let (kind, int, double, b) = match v {
                None => (ValueKind::Absent, 0, 0.0, false),
                Some(OwnedValue::Empty) => (ValueKind::Empty, 0, 0.0, false),
                Some(OwnedValue::Str(s)) => {
                    str_data.extend_from_slice(s.as_bytes());
                    (ValueKind::String, 0, 0.0, false)
                }
                Some(OwnedValue::Bool(x)) => (ValueKind::Boolean, 0, 0.0, *x),
                Some(OwnedValue::Int(x)) => (ValueKind::Int, *x, 0.0, false),
                Some(OwnedValue::Double(x)) => (ValueKind::Double, 0, *x, false),
                Some(OwnedValue::Bytes(x)) => {
                    bytes_data.extend_from_slice(x);
                    (ValueKind::Bytes, 0, 0.0, false)
                }
                Some(OwnedValue::Complex(x)) => {
                    bytes_data.extend_from_slice(x);
                    (ValueKind::Complex, 0, 0.0, false)
                }
            };
            kinds.push(kind);
            ints.push(int);
            doubles.push(double);
            bools.push(b);
            str_offsets.push(u32::try_from(str_data.len()).unwrap_or(u32::MAX));
            bytes_offsets.push(u32::try_from(bytes_data.len()).unwrap_or(u32::MAX));
        }
        wit::AttributeColumn {
            key: self.key.clone(),
            kinds,
            strings: wit::Utf8Array {
                offsets: str_offsets,
                data: str_data,
            },
            ints,
            doubles,
            bools: pack_bits(bools),
            bytes: wit::BinaryArray {
                offsets: bytes_offsets,
                data: bytes_data,
            },
        }
    }
}
