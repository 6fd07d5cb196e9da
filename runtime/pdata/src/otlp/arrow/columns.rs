//! Small column helpers shared by every table: building offsets, ids and
//! timestamps on the decode side, and lenient typed access to columns on the
//! encode side.
//!
//! Encoding reads tables that processors may have built, so access is by
//! column name and tolerant where that costs nothing: a missing column reads
//! as the OTLP default (empty, zero, absent), string columns may be `Utf8`,
//! `LargeUtf8`, `Utf8View` or a dictionary of any of them. A column of an
//! unexpected type is a [`PdataError::Schema`] error, never a panic.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use arrow_array::builder::{FixedSizeBinaryBuilder, TimestampNanosecondBuilder};
use arrow_array::types::{
    ArrowDictionaryKeyType, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, BinaryArray, BooleanArray, DictionaryArray,
    FixedSizeBinaryArray, LargeStringArray, ListArray, PrimitiveArray, RecordBatch, StringArray,
    StringViewArray, StructArray, TimestampNanosecondArray,
};
use arrow_buffer::{ArrowNativeType, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Fields};

use crate::schema::TIME_ZONE;
use crate::{PdataError, Signal};

/// A [`PdataError::Schema`] for `signal`.
pub(crate) fn schema_err(signal: Signal, reason: impl Into<String>) -> PdataError {
    PdataError::Schema {
        signal,
        reason: reason.into(),
    }
}

/// The OTLP `fixed64` nanoseconds stored bit for bit in an Arrow timestamp.
pub(crate) fn ts_to_arrow(nanos: u64) -> i64 {
    nanos.cast_signed()
}

/// The OTLP `fixed64` nanoseconds of an Arrow timestamp.
pub(crate) fn ts_from_arrow(value: i64) -> u64 {
    value.cast_unsigned()
}

/// Offsets of a list or map column, built one row at a time.
pub(crate) struct OffsetsBuilder {
    offsets: Vec<i32>,
}

impl OffsetsBuilder {
    /// Offsets for `rows` rows.
    pub(crate) fn with_capacity(rows: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        OffsetsBuilder { offsets }
    }

    /// Ends a row whose children end at `child_len` (the total number of
    /// children appended so far).
    pub(crate) fn close(&mut self, child_len: usize) {
        // Saturates instead of wrapping; `finish` refuses the batch then.
        self.offsets
            .push(i32::try_from(child_len).unwrap_or(i32::MAX));
    }

    /// The offsets of all rows, checking that `child_len` children fit in
    /// `i32` offsets (if the last one fits, every one did).
    pub(crate) fn finish(self, child_len: usize) -> Result<OffsetBuffer<i32>, PdataError> {
        if i32::try_from(child_len).is_err() {
            return Err(PdataError::InvalidValue {
                field: "request",
                reason: format!("{child_len} nested items do not fit one Arrow list"),
            });
        }
        Ok(OffsetBuffer::new(ScalarBuffer::from(self.offsets)))
    }
}

/// A non-null timestamp column from OTLP nanoseconds already converted with
/// [`ts_to_arrow`].
pub(crate) fn timestamps(values: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampNanosecondArray::from(values).with_timezone(TIME_ZONE))
}

/// A builder of a nullable timestamp column.
pub(crate) fn timestamp_builder(capacity: usize) -> TimestampNanosecondBuilder {
    TimestampNanosecondBuilder::with_capacity(capacity).with_timezone(TIME_ZONE)
}

/// A `List<Struct>` column from the struct's `columns` (of `fields`) and the
/// offsets of each row; `len` is the number of structs.
pub(crate) fn list_of_structs(
    fields: Fields,
    columns: Vec<ArrayRef>,
    offsets: OffsetsBuilder,
    len: usize,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef, PdataError> {
    let offsets = offsets.finish(len)?;
    let values = StructArray::try_new_with_length(fields, columns, None, len)?;
    let item = Arc::new(Field::new_list_field(values.data_type().clone(), true));
    Ok(Arc::new(ListArray::try_new(
        item,
        offsets,
        Arc::new(values),
        nulls,
    )?))
}

/// Appends a trace or span id: empty is null, `width` bytes is a value, any
/// other length is refused.
pub(crate) fn append_id(
    builder: &mut FixedSizeBinaryBuilder,
    id: &[u8],
    width: usize,
    field: &'static str,
) -> Result<(), PdataError> {
    if id.is_empty() {
        builder.append_null();
        Ok(())
    } else if id.len() == width {
        Ok(builder.append_value(id)?)
    } else {
        Err(PdataError::InvalidValue {
            field,
            reason: format!("{} bytes, expected {width} or none", id.len()),
        })
    }
}

/// Row indexes of a table by id, for resolving `resource_id` / `scope_id`.
pub(crate) enum IdIndex {
    /// Ids are exactly the row numbers (every decoded batch).
    Dense(usize),
    /// Any other unique ids.
    Sparse(HashMap<u32, usize>),
}

impl IdIndex {
    /// Indexes the non-null, unique `ids` of table `what`.
    pub(crate) fn new(
        signal: Signal,
        what: &str,
        ids: &PrimitiveArray<UInt32Type>,
    ) -> Result<IdIndex, PdataError> {
        if ids.null_count() > 0 {
            return Err(schema_err(signal, format!("{what} has null ids")));
        }
        let values = ids.values();
        if values
            .iter()
            .enumerate()
            .all(|(i, &id)| usize::try_from(id).is_ok_and(|id| id == i))
        {
            return Ok(IdIndex::Dense(values.len()));
        }
        let mut map = HashMap::with_capacity(values.len());
        for (row, &id) in values.iter().enumerate() {
            if map.insert(id, row).is_some() {
                return Err(schema_err(signal, format!("{what} has duplicate id {id}")));
            }
        }
        Ok(IdIndex::Sparse(map))
    }

    /// The row of `id`, if it exists.
    pub(crate) fn row(&self, id: u32) -> Option<usize> {
        match self {
            IdIndex::Dense(len) => usize::try_from(id).ok().filter(|row| row < len),
            IdIndex::Sparse(map) => map.get(&id).copied(),
        }
    }
}

/// Children grouped by parent row, children of a parent in table order (a
/// counting sort: `O(parents + children)`).
pub(crate) struct Groups {
    starts: Vec<usize>,
    items: Vec<usize>,
}

impl Groups {
    /// Groups child rows `0..parent_of.len()` by `parent_of[child]`, which
    /// must all be `< parents`.
    pub(crate) fn new(parents: usize, parent_of: &[usize]) -> Groups {
        let mut starts = vec![0usize; parents + 1];
        for &p in parent_of {
            starts[p + 1] += 1;
        }
        for p in 0..parents {
            starts[p + 1] += starts[p];
        }
        let mut next = starts.clone();
        let mut items = vec![0usize; parent_of.len()];
        for (child, &p) in parent_of.iter().enumerate() {
            items[next[p]] = child;
            next[p] += 1;
        }
        Groups { starts, items }
    }

    /// The child rows of `parent`, in table order.
    pub(crate) fn children(&self, parent: usize) -> &[usize] {
        &self.items[self.starts[parent]..self.starts[parent + 1]]
    }
}

/// The columns of a record batch or of a struct array, looked up by name,
/// with the signal and a path for error messages.
#[derive(Clone, Copy)]
pub(crate) struct Cols<'a> {
    fields: &'a Fields,
    columns: &'a [ArrayRef],
    signal: Signal,
    path: &'a str,
}

impl<'a> Cols<'a> {
    /// The columns of table `path` of `signal`.
    pub(crate) fn of_batch(signal: Signal, path: &'a str, batch: &'a RecordBatch) -> Self {
        Cols {
            fields: batch.schema_ref().fields(),
            columns: batch.columns(),
            signal,
            path,
        }
    }

    /// The fields of struct `array`, found at `path`.
    pub(crate) fn of_struct(signal: Signal, path: &'a str, array: &'a StructArray) -> Self {
        Cols {
            fields: array.fields(),
            columns: array.columns(),
            signal,
            path,
        }
    }

    /// The signal, for errors.
    pub(crate) fn signal(&self) -> Signal {
        self.signal
    }

    /// A schema error about column `name`.
    pub(crate) fn err(&self, name: &str, reason: impl std::fmt::Display) -> PdataError {
        schema_err(self.signal, format!("{}.{name}: {reason}", self.path))
    }

    /// The column `name`, if present.
    pub(crate) fn get(&self, name: &str) -> Option<&'a ArrayRef> {
        self.fields
            .iter()
            .position(|f| f.name() == name)
            .and_then(|i| self.columns.get(i))
    }

    fn typed<T: Array + 'static>(&self, name: &str) -> Result<Option<&'a T>, PdataError> {
        match self.get(name) {
            None => Ok(None),
            Some(a) => {
                a.as_any().downcast_ref::<T>().map(Some).ok_or_else(|| {
                    self.err(name, format_args!("unexpected type {}", a.data_type()))
                })
            }
        }
    }

    /// A primitive column; missing reads as defaults.
    pub(crate) fn prim<T: ArrowPrimitiveType>(
        &self,
        name: &str,
    ) -> Result<Prim<'a, T>, PdataError> {
        self.typed::<PrimitiveArray<T>>(name).map(Prim)
    }

    /// A `UInt32` id column that must be present.
    pub(crate) fn ids(&self, name: &str) -> Result<&'a PrimitiveArray<UInt32Type>, PdataError> {
        self.typed::<PrimitiveArray<UInt32Type>>(name)?
            .ok_or_else(|| self.err(name, "missing"))
    }

    /// A boolean column; missing reads as false.
    pub(crate) fn bool(&self, name: &str) -> Result<BoolCol<'a>, PdataError> {
        self.typed::<BooleanArray>(name).map(BoolCol)
    }

    /// A binary column; missing reads as empty.
    pub(crate) fn binary(&self, name: &str) -> Result<Option<&'a BinaryArray>, PdataError> {
        self.typed::<BinaryArray>(name)
    }

    /// A struct column, if present.
    pub(crate) fn structure(&self, name: &str) -> Result<Option<&'a StructArray>, PdataError> {
        self.typed::<StructArray>(name)
    }

    /// A list column; missing reads as empty lists.
    pub(crate) fn list(&self, name: &str) -> Result<ListCol<'a>, PdataError> {
        self.typed::<ListArray>(name).map(ListCol)
    }

    /// A list of primitives; missing reads as empty lists.
    pub(crate) fn prim_list<T: ArrowPrimitiveType>(
        &self,
        name: &str,
    ) -> Result<PrimList<'a, T>, PdataError> {
        let list = self.list(name)?;
        let values = match list.0 {
            None => None,
            Some(l) => Some(
                l.values()
                    .as_any()
                    .downcast_ref::<PrimitiveArray<T>>()
                    .ok_or_else(|| {
                        self.err(name, format_args!("unexpected type {}", l.data_type()))
                    })?,
            ),
        };
        Ok(PrimList { list, values })
    }

    /// A string column of any string encoding; missing reads as "".
    pub(crate) fn str(&self, name: &str) -> Result<StrCol<'a>, PdataError> {
        match self.get(name) {
            None => Ok(StrCol::Missing),
            Some(a) => StrCol::new(a.as_ref())
                .ok_or_else(|| self.err(name, format_args!("unexpected type {}", a.data_type()))),
        }
    }

    /// A trace id (`width` 16) or span id (`width` 8) column; missing or null
    /// reads as empty.
    pub(crate) fn id_bytes(&self, name: &str, width: i32) -> Result<IdCol<'a>, PdataError> {
        let col = self.typed::<FixedSizeBinaryArray>(name)?;
        if let Some(c) = col
            && c.value_length() != width
        {
            return Err(self.err(
                name,
                format_args!("{} bytes per id, expected {width}", c.value_length()),
            ));
        }
        Ok(IdCol(col))
    }
}

/// A primitive column, or none.
#[derive(Clone, Copy)]
pub(crate) struct Prim<'a, T: ArrowPrimitiveType>(pub(crate) Option<&'a PrimitiveArray<T>>);

impl<T: ArrowPrimitiveType> Prim<'_, T> {
    /// The value at `i`, `None` when null or missing.
    pub(crate) fn opt(&self, i: usize) -> Option<T::Native> {
        self.0.filter(|a| a.is_valid(i)).map(|a| a.value(i))
    }

    /// The value at `i`, the default when null or missing.
    pub(crate) fn get(&self, i: usize) -> T::Native {
        self.opt(i).unwrap_or_default()
    }
}

/// A boolean column, or none.
#[derive(Clone, Copy)]
pub(crate) struct BoolCol<'a>(Option<&'a BooleanArray>);

impl BoolCol<'_> {
    /// The value at `i`, `None` when null or missing.
    pub(crate) fn opt(&self, i: usize) -> Option<bool> {
        self.0.filter(|a| a.is_valid(i)).map(|a| a.value(i))
    }
}

/// A fixed-size binary id column, or none.
#[derive(Clone, Copy, Default)]
pub(crate) struct IdCol<'a>(Option<&'a FixedSizeBinaryArray>);

impl IdCol<'_> {
    /// The id at `i`; empty when null or missing.
    pub(crate) fn get(&self, i: usize) -> Vec<u8> {
        self.0
            .filter(|a| a.is_valid(i))
            .map(|a| a.value(i).to_vec())
            .unwrap_or_default()
    }
}

impl<'a> IdCol<'a> {
    /// The id at `i` without copying; empty when null or missing.
    pub(crate) fn slice(&self, i: usize) -> &'a [u8] {
        match self.0 {
            Some(a) if a.is_valid(i) => a.value(i),
            _ => &[],
        }
    }
}

/// A list column, or none.
#[derive(Clone, Copy)]
pub(crate) struct ListCol<'a>(pub(crate) Option<&'a ListArray>);

impl<'a> ListCol<'a> {
    /// The range of row `i` in the list's values; `None` when null or
    /// missing.
    pub(crate) fn range(&self, i: usize) -> Option<Range<usize>> {
        let list = self.0.filter(|a| a.is_valid(i))?;
        let offsets = list.value_offsets();
        Some(offsets[i].as_usize()..offsets[i + 1].as_usize())
    }

    /// The struct values of the list, if it is a list of structs.
    pub(crate) fn struct_values(
        &self,
        cols: &Cols<'_>,
        name: &str,
    ) -> Result<Option<&'a StructArray>, PdataError> {
        match self.0 {
            None => Ok(None),
            Some(l) => l
                .values()
                .as_any()
                .downcast_ref::<StructArray>()
                .map(Some)
                .ok_or_else(|| cols.err(name, format_args!("unexpected type {}", l.data_type()))),
        }
    }
}

/// A list of primitives, or none.
pub(crate) struct PrimList<'a, T: ArrowPrimitiveType> {
    list: ListCol<'a>,
    values: Option<&'a PrimitiveArray<T>>,
}

impl<T: ArrowPrimitiveType> PrimList<'_, T> {
    /// The values of row `i` (null items read as defaults); `None` when the
    /// list is null or missing.
    pub(crate) fn opt(&self, i: usize) -> Option<Vec<T::Native>> {
        let range = self.list.range(i)?;
        let values = self.values?;
        Some(if values.null_count() == 0 {
            values.values()[range].to_vec()
        } else {
            range
                .map(|j| {
                    if values.is_valid(j) {
                        values.value(j)
                    } else {
                        T::Native::default()
                    }
                })
                .collect()
        })
    }

    /// The values of row `i`; empty when null or missing.
    pub(crate) fn get(&self, i: usize) -> Vec<T::Native> {
        self.opt(i).unwrap_or_default()
    }
}

/// A string column in any of Arrow's string encodings.
pub(crate) enum StrCol<'a> {
    /// No such column: reads as "".
    Missing,
    /// `Utf8`.
    Utf8(&'a StringArray),
    /// `LargeUtf8`.
    Large(&'a LargeStringArray),
    /// `Utf8View`.
    View(&'a StringViewArray),
    /// A dictionary: the key of each row (`None` when null) and the values.
    Dict {
        /// Index into `values` per row.
        keys: Vec<Option<usize>>,
        /// The dictionary values.
        values: Box<StrCol<'a>>,
        /// Number of dictionary values.
        len: usize,
    },
}

fn dict_keys<K: ArrowDictionaryKeyType>(a: &dyn Array) -> Option<(Vec<Option<usize>>, &ArrayRef)> {
    let d = a.as_any().downcast_ref::<DictionaryArray<K>>()?;
    let keys = d.keys();
    let out = (0..keys.len())
        .map(|i| keys.is_valid(i).then(|| keys.value(i).as_usize()))
        .collect();
    Some((out, d.values()))
}

impl<'a> StrCol<'a> {
    /// Wraps `array` if it holds strings.
    pub(crate) fn new(array: &'a dyn Array) -> Option<StrCol<'a>> {
        Some(match array.data_type() {
            DataType::Utf8 => StrCol::Utf8(array.as_any().downcast_ref()?),
            DataType::LargeUtf8 => StrCol::Large(array.as_any().downcast_ref()?),
            DataType::Utf8View => StrCol::View(array.as_any().downcast_ref()?),
            DataType::Dictionary(key, _) => {
                let (keys, values) = match key.as_ref() {
                    DataType::Int8 => dict_keys::<Int8Type>(array),
                    DataType::Int16 => dict_keys::<Int16Type>(array),
                    DataType::Int32 => dict_keys::<Int32Type>(array),
                    DataType::Int64 => dict_keys::<Int64Type>(array),
                    DataType::UInt8 => dict_keys::<UInt8Type>(array),
                    DataType::UInt16 => dict_keys::<UInt16Type>(array),
                    DataType::UInt32 => dict_keys::<UInt32Type>(array),
                    DataType::UInt64 => dict_keys::<UInt64Type>(array),
                    _ => None,
                }?;
                let values: &'a dyn Array = values.as_ref();
                StrCol::Dict {
                    keys,
                    len: values.len(),
                    values: Box::new(StrCol::new(values)?),
                }
            }
            _ => return None,
        })
    }

    /// The string at `i`, `None` when null or missing.
    pub(crate) fn opt(&self, i: usize) -> Option<&'a str> {
        match self {
            StrCol::Missing => None,
            StrCol::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            StrCol::Large(a) => a.is_valid(i).then(|| a.value(i)),
            StrCol::View(a) => a.is_valid(i).then(|| a.value(i)),
            StrCol::Dict { keys, values, len } => {
                let k = (*keys.get(i)?)?;
                if k < *len { values.opt(k) } else { None }
            }
        }
    }

    /// The string at `i`, "" when null or missing.
    pub(crate) fn get(&self, i: usize) -> &'a str {
        self.opt(i).unwrap_or_default()
    }
}
