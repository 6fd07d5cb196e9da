//! Attribute maps and `AnyValue` structs, in both directions.
//!
//! [`AnyValueBuilder`] and [`AttrsBuilder`] take values one at a time
//! (`append_str`, `append_int`, ..., `close_row`), so a decoder that walks
//! the protobuf wire format itself can fill them without building
//! `KeyValue` structs first; the `append_kv` / `append_row` conveniences
//! serve today's prost-based decoder. [`AttrsReader`] and
//! [`AnyValueReader`] turn columns back into prost messages.

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
};
use arrow_array::types::{Float64Type, Int64Type, UInt8Type};
use arrow_array::{
    Array, ArrayRef, BinaryArray, MapArray, PrimitiveArray, StructArray, UInt8Array,
};
use arrow_buffer::{ArrowNativeType, NullBufferBuilder};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;
use std::sync::Arc;

use super::columns::{BoolCol, Cols, OffsetsBuilder, Prim, StrCol};
use crate::PdataError;
use crate::schema::{self, ValueType, any_value as av};

/// Which child of the `AnyValue` struct holds a value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    None,
    Str,
    Int,
    Double,
    Bool,
    Bytes,
}

/// Builds an `AnyValue` struct column.
pub(crate) struct AnyValueBuilder {
    ty: Vec<u8>,
    str: StringBuilder,
    int: Int64Builder,
    double: Float64Builder,
    bool: BooleanBuilder,
    bytes: BinaryBuilder,
    nulls: NullBufferBuilder,
    scratch: Vec<u8>,
}

impl AnyValueBuilder {
    /// A builder for about `capacity` values.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        AnyValueBuilder {
            ty: Vec::with_capacity(capacity),
            str: StringBuilder::with_capacity(capacity, capacity * 8),
            int: Int64Builder::with_capacity(capacity),
            double: Float64Builder::with_capacity(capacity),
            bool: BooleanBuilder::with_capacity(capacity),
            bytes: BinaryBuilder::with_capacity(capacity, 0),
            nulls: NullBufferBuilder::new(capacity),
            scratch: Vec::new(),
        }
    }

    /// The number of values appended.
    pub(crate) fn len(&self) -> usize {
        self.ty.len()
    }

    fn begin(&mut self, ty: ValueType, keep: Slot) {
        self.nulls.append_non_null();
        self.fill(ty, keep);
    }

    fn fill(&mut self, ty: ValueType, keep: Slot) {
        self.ty.push(ty as u8);
        if keep != Slot::Str {
            self.str.append_null();
        }
        if keep != Slot::Int {
            self.int.append_null();
        }
        if keep != Slot::Double {
            self.double.append_null();
        }
        if keep != Slot::Bool {
            self.bool.append_null();
        }
        if keep != Slot::Bytes {
            self.bytes.append_null();
        }
    }

    /// Appends a null: a `KeyValue` without value, a log without body.
    pub(crate) fn append_null(&mut self) {
        self.nulls.append_null();
        self.fill(ValueType::Empty, Slot::None);
    }

    /// Appends an `AnyValue` with no value set.
    pub(crate) fn append_empty(&mut self) {
        self.begin(ValueType::Empty, Slot::None);
    }

    /// Appends a string value.
    pub(crate) fn append_str(&mut self, value: &str) {
        self.begin(ValueType::Str, Slot::Str);
        self.str.append_value(value);
    }

    /// Appends a bool value.
    pub(crate) fn append_bool(&mut self, value: bool) {
        self.begin(ValueType::Bool, Slot::Bool);
        self.bool.append_value(value);
    }

    /// Appends an int value.
    pub(crate) fn append_int(&mut self, value: i64) {
        self.begin(ValueType::Int, Slot::Int);
        self.int.append_value(value);
    }

    /// Appends a double value.
    pub(crate) fn append_double(&mut self, value: f64) {
        self.begin(ValueType::Double, Slot::Double);
        self.double.append_value(value);
    }

    /// Appends a bytes value.
    pub(crate) fn append_bytes(&mut self, value: &[u8]) {
        self.begin(ValueType::Bytes, Slot::Bytes);
        self.bytes.append_value(value);
    }

    /// Appends a `string_value_strindex`.
    pub(crate) fn append_str_index(&mut self, value: i32) {
        self.begin(ValueType::StrIndex, Slot::Int);
        self.int.append_value(i64::from(value));
    }

    /// Appends an array or kvlist given the protobuf encoding of the whole
    /// `AnyValue` message (`ty` is [`ValueType::Array`] or
    /// [`ValueType::KvList`]).
    pub(crate) fn append_encoded(&mut self, ty: ValueType, any_value_message: &[u8]) {
        self.begin(ty, Slot::Bytes);
        self.bytes.append_value(any_value_message);
    }

    /// Appends an optional `AnyValue` message (`None` is null).
    pub(crate) fn append(&mut self, value: Option<&AnyValue>) {
        match value {
            None => self.append_null(),
            Some(v) => self.append_value(v.value.as_ref()),
        }
    }

    /// Appends the content of an `AnyValue` message (`None` is empty).
    pub(crate) fn append_value(&mut self, value: Option<&any_value::Value>) {
        use any_value::Value;
        match value {
            None => self.append_empty(),
            Some(Value::StringValue(s)) => self.append_str(s),
            Some(Value::BoolValue(b)) => self.append_bool(*b),
            Some(Value::IntValue(i)) => self.append_int(*i),
            Some(Value::DoubleValue(d)) => self.append_double(*d),
            Some(Value::BytesValue(b)) => self.append_bytes(b),
            Some(Value::StringValueStrindex(i)) => self.append_str_index(*i),
            Some(v @ (Value::ArrayValue(_) | Value::KvlistValue(_))) => {
                let ty = if matches!(v, Value::ArrayValue(_)) {
                    ValueType::Array
                } else {
                    ValueType::KvList
                };
                // The oneof field alone is the whole `AnyValue` message.
                let mut scratch = std::mem::take(&mut self.scratch);
                scratch.clear();
                v.encode(&mut scratch);
                self.append_encoded(ty, &scratch);
                self.scratch = scratch;
            }
        }
    }

    /// The struct column.
    pub(crate) fn finish(mut self) -> Result<StructArray, PdataError> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt8Array::from(self.ty)),
            Arc::new(self.str.finish()),
            Arc::new(self.int.finish()),
            Arc::new(self.double.finish()),
            Arc::new(self.bool.finish()),
            Arc::new(self.bytes.finish()),
        ];
        Ok(StructArray::try_new(
            schema::any_value_fields(),
            columns,
            self.nulls.finish(),
        )?)
    }
}

/// Builds an attribute `Map` column, one row at a time.
pub(crate) struct AttrsBuilder {
    offsets: OffsetsBuilder,
    keys: StringBuilder,
    values: AnyValueBuilder,
    nulls: NullBufferBuilder,
}

impl AttrsBuilder {
    /// A builder for `rows` rows of about `entries` entries in all.
    pub(crate) fn with_capacity(rows: usize, entries: usize) -> Self {
        AttrsBuilder {
            offsets: OffsetsBuilder::with_capacity(rows),
            keys: StringBuilder::with_capacity(entries, entries * 12),
            values: AnyValueBuilder::with_capacity(entries),
            nulls: NullBufferBuilder::new(rows),
        }
    }

    /// Starts an entry of the current row: appends its key. The caller then
    /// appends exactly one value (or null) to [`Self::value`].
    pub(crate) fn key(&mut self, key: &str) -> &mut AnyValueBuilder {
        self.keys.append_value(key);
        &mut self.values
    }

    /// Appends one `KeyValue` to the current row (its `key_strindex`, which
    /// only the profiles signal uses, is not kept).
    pub(crate) fn append_kv(&mut self, kv: &KeyValue) {
        self.key(&kv.key).append(kv.value.as_ref());
    }

    /// Ends the current row.
    pub(crate) fn close_row(&mut self) {
        self.offsets.close(self.values.len());
        self.nulls.append_non_null();
    }

    /// Appends a null row (the owning message is absent).
    pub(crate) fn append_null_row(&mut self) {
        self.offsets.close(self.values.len());
        self.nulls.append_null();
    }

    /// Appends a whole row.
    pub(crate) fn append_row(&mut self, kvs: &[KeyValue]) {
        for kv in kvs {
            self.append_kv(kv);
        }
        self.close_row();
    }

    /// The map column.
    pub(crate) fn finish(mut self) -> Result<MapArray, PdataError> {
        let len = self.values.len();
        let offsets = self.offsets.finish(len)?;
        let entries = StructArray::try_new(
            schema::attributes_entry_fields(),
            vec![
                Arc::new(self.keys.finish()),
                Arc::new(self.values.finish()?),
            ],
            None,
        )?;
        Ok(MapArray::try_new(
            schema::attributes_entries(),
            offsets,
            entries,
            self.nulls.finish(),
            false,
        )?)
    }
}

/// One `AnyValue` of a column, borrowed: what the wire encoder writes
/// without building a prost message.
#[derive(Clone, Copy)]
pub(crate) enum ValueRef<'a> {
    /// No value set.
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
    /// `string_value_strindex`.
    StrIndex(i32),
    /// An array or kvlist: the protobuf `AnyValue` message as stored.
    Encoded(&'a [u8]),
}

/// Reads an `AnyValue` struct column.
pub(crate) struct AnyValueReader<'a> {
    cols: Cols<'a>,
    array: &'a StructArray,
    ty: &'a PrimitiveArray<UInt8Type>,
    str: StrCol<'a>,
    int: Prim<'a, Int64Type>,
    double: Prim<'a, Float64Type>,
    bool: BoolCol<'a>,
    bytes: Option<&'a BinaryArray>,
}

impl<'a> AnyValueReader<'a> {
    /// Wraps column `name` of `parent`, which must be an `AnyValue` struct.
    pub(crate) fn new(
        parent: &Cols<'a>,
        name: &'a str,
        array: &'a dyn Array,
    ) -> Result<Self, PdataError> {
        let array = array
            .as_any()
            .downcast_ref::<StructArray>()
            .ok_or_else(|| {
                parent.err(
                    name,
                    format_args!("not an AnyValue struct: {}", array.data_type()),
                )
            })?;
        let cols = Cols::of_struct(parent.signal(), name, array);
        let ty = cols
            .prim::<UInt8Type>(av::TYPE)?
            .0
            .ok_or_else(|| cols.err(av::TYPE, "missing"))?;
        Ok(AnyValueReader {
            cols,
            array,
            ty,
            str: cols.str(av::STR)?,
            int: cols.prim(av::INT)?,
            double: cols.prim(av::DOUBLE)?,
            bool: cols.bool(av::BOOL)?,
            bytes: cols.binary(av::BYTES)?,
        })
    }

    fn bytes(&self, i: usize) -> &'a [u8] {
        self.bytes
            .filter(|b| b.is_valid(i))
            .map_or(&[][..], |b| b.value(i))
    }

    /// The value at `i` without copying; `None` when null. Reads what
    /// [`Self::get`] reads, with the same errors, except that an array or
    /// kvlist is returned as stored (not checked).
    pub(crate) fn value_ref(&self, i: usize) -> Result<Option<ValueRef<'a>>, PdataError> {
        if self.array.is_null(i) {
            return Ok(None);
        }
        let code = if self.ty.is_valid(i) {
            self.ty.value(i)
        } else {
            0
        };
        let ty = ValueType::from_u8(code).ok_or_else(|| {
            self.cols
                .err(av::TYPE, format_args!("unknown value type {code}"))
        })?;
        Ok(Some(match ty {
            ValueType::Empty => ValueRef::Empty,
            ValueType::Str => ValueRef::Str(self.str.get(i)),
            ValueType::Bool => ValueRef::Bool(self.bool.opt(i).unwrap_or_default()),
            ValueType::Int => ValueRef::Int(self.int.get(i)),
            ValueType::Double => ValueRef::Double(self.double.get(i)),
            ValueType::Bytes => ValueRef::Bytes(self.bytes(i)),
            ValueType::StrIndex => ValueRef::StrIndex(
                i32::try_from(self.int.get(i))
                    .map_err(|e| self.cols.err(av::INT, format_args!("string index: {e}")))?,
            ),
            ValueType::Array | ValueType::KvList => ValueRef::Encoded(self.bytes(i)),
        }))
    }

    /// The value at `i`; `None` when null.
    pub(crate) fn get(&self, i: usize) -> Result<Option<AnyValue>, PdataError> {
        use any_value::Value;
        if self.array.is_null(i) {
            return Ok(None);
        }
        let code = if self.ty.is_valid(i) {
            self.ty.value(i)
        } else {
            0
        };
        let ty = ValueType::from_u8(code).ok_or_else(|| {
            self.cols
                .err(av::TYPE, format_args!("unknown value type {code}"))
        })?;
        let value = match ty {
            ValueType::Empty => None,
            ValueType::Str => Some(Value::StringValue(self.str.get(i).to_owned())),
            ValueType::Bool => Some(Value::BoolValue(self.bool.opt(i).unwrap_or_default())),
            ValueType::Int => Some(Value::IntValue(self.int.get(i))),
            ValueType::Double => Some(Value::DoubleValue(self.double.get(i))),
            ValueType::Bytes => Some(Value::BytesValue(self.bytes(i).to_vec())),
            ValueType::StrIndex => {
                let index = i32::try_from(self.int.get(i))
                    .map_err(|e| self.cols.err(av::INT, format_args!("string index: {e}")))?;
                Some(Value::StringValueStrindex(index))
            }
            ValueType::Array | ValueType::KvList => {
                return Ok(Some(AnyValue::decode(self.bytes(i))?));
            }
        };
        Ok(Some(AnyValue { value }))
    }
}

/// Reads an attribute `Map` column (or its absence).
pub(crate) struct AttrsReader<'a> {
    map: Option<&'a MapArray>,
    keys: StrCol<'a>,
    values: Option<AnyValueReader<'a>>,
}

impl<'a> AttrsReader<'a> {
    /// Reads map column `name` of `cols`; a missing column reads as null
    /// rows.
    pub(crate) fn new(cols: &Cols<'a>, name: &'a str) -> Result<Self, PdataError> {
        let Some(array) = cols.get(name) else {
            return Ok(AttrsReader {
                map: None,
                keys: StrCol::Missing,
                values: None,
            });
        };
        Self::of_array(cols, name, array.as_ref())
    }

    /// Reads `array`, found as `name` in `cols`.
    pub(crate) fn of_array(
        cols: &Cols<'a>,
        name: &'a str,
        array: &'a dyn Array,
    ) -> Result<Self, PdataError> {
        let map = array
            .as_any()
            .downcast_ref::<MapArray>()
            .ok_or_else(|| cols.err(name, format_args!("not a map: {}", array.data_type())))?;
        let entries = map.entries();
        let keys = StrCol::new(entries.column(0).as_ref())
            .ok_or_else(|| cols.err(name, "map keys are not strings"))?;
        let values = AnyValueReader::new(cols, name, entries.column(1).as_ref())?;
        Ok(AttrsReader {
            map: Some(map),
            keys,
            values: Some(values),
        })
    }

    /// Whether row `i` is null (or the column missing).
    pub(crate) fn is_null(&self, i: usize) -> bool {
        self.map.is_none_or(|m| m.is_null(i))
    }

    /// The entry range of row `i`; `None` when null (or the column
    /// missing).
    pub(crate) fn range(&self, i: usize) -> Option<std::ops::Range<usize>> {
        let map = self.map.filter(|m| m.is_valid(i))?;
        let offsets = map.value_offsets();
        Some(offsets[i].as_usize()..offsets[i + 1].as_usize())
    }

    /// The key of entry `j`.
    pub(crate) fn key(&self, j: usize) -> &'a str {
        self.keys.get(j)
    }

    /// The value of entry `j`, borrowed; `None` when null.
    pub(crate) fn value_ref(&self, j: usize) -> Result<Option<ValueRef<'a>>, PdataError> {
        match &self.values {
            Some(v) => v.value_ref(j),
            None => Ok(None),
        }
    }

    /// The attributes of row `i`; empty when null.
    pub(crate) fn get(&self, i: usize) -> Result<Vec<KeyValue>, PdataError> {
        let (Some(map), Some(values)) = (self.map, self.values.as_ref()) else {
            return Ok(Vec::new());
        };
        if map.is_null(i) {
            return Ok(Vec::new());
        }
        let offsets = map.value_offsets();
        let range = offsets[i].as_usize()..offsets[i + 1].as_usize();
        let mut out = Vec::with_capacity(range.len());
        for j in range {
            out.push(KeyValue {
                key: self.keys.get(j).to_owned(),
                value: values.get(j)?,
                key_strindex: 0,
            });
        }
        Ok(out)
    }

    /// The attributes of row `i`; `None` when null.
    pub(crate) fn opt(&self, i: usize) -> Result<Option<Vec<KeyValue>>, PdataError> {
        if self.is_null(i) {
            Ok(None)
        } else {
            self.get(i).map(Some)
        }
    }
}
