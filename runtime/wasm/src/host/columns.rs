//! Record columns between Arrow arrays and the ABI's `column` record.
//!
//! Reads copy buffers in bulk (a primitive column is one `memcpy`);
//! dictionary columns (span names, severity texts) are materialised as
//! UTF-8. One level of struct is flattened into dotted names (`status.code`,
//! `body.str`), so plugins can read and write struct fields without a
//! struct type in the ABI. Map and list columns (attributes, events, links,
//! buckets) are not columns of the ABI: attributes have their own calls.

use std::sync::Arc;

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float64Type, Int32Type, Int64Type, TimestampNanosecondType, UInt8Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, FixedSizeBinaryArray, PrimitiveArray, RecordBatch,
    StringArray, StructArray,
};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, TimeUnit};

use crate::bindings::weir::pipeline::types::{
    BinaryArray as WitBinary, Column, ColumnValues, HostError, Utf8Array,
};

/// Columns a plugin may not write: they tie records to their scope and
/// metric, and a wrong value would make the batch unencodable.
const READ_ONLY: [&str; 2] = ["scope_id", "metric_id"];

fn readable(t: &DataType) -> bool {
    match t {
        DataType::Boolean
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float64
        | DataType::Timestamp(TimeUnit::Nanosecond, _)
        | DataType::Utf8
        | DataType::Binary
        | DataType::FixedSizeBinary(_) => true,
        DataType::Dictionary(k, v) => **k == DataType::UInt32 && **v == DataType::Utf8,
        _ => false,
    }
}

/// The names of the readable columns of `records`, in schema order.
pub fn names(records: &RecordBatch) -> Vec<String> {
    let mut out = Vec::new();
    for f in records.schema().fields() {
        match f.data_type() {
            DataType::Struct(children) => {
                for c in children {
                    if readable(c.data_type()) {
                        out.push(format!("{}.{}", f.name(), c.name()));
                    }
                }
            }
            t if readable(t) => out.push(f.name().clone()),
            _ => {}
        }
    }
    out
}

/// Finds `name` (or `parent.child`) in `records`: the array, with the
/// parent struct's nulls folded in.
fn find(records: &RecordBatch, name: &str) -> Option<ArrayRef> {
    if let Some(col) = records.column_by_name(name) {
        return readable(col.data_type()).then(|| col.clone());
    }
    let (parent, child) = name.split_once('.')?;
    let parent = records.column_by_name(parent)?.as_struct_opt()?;
    let array = parent.column_by_name(child)?;
    if !readable(array.data_type()) {
        return None;
    }
    let nulls = NullBuffer::union(parent.nulls(), array.nulls());
    let data = array.to_data().into_builder().nulls(nulls).build().ok()?;
    Some(arrow_array::make_array(data))
}

fn bitmap(nulls: Option<&NullBuffer>) -> Option<Vec<u8>> {
    let n = nulls.filter(|n| n.null_count() > 0)?;
    Some(n.inner().sliced().as_slice().to_vec())
}

fn utf8_of<'a>(values: impl Iterator<Item = Option<&'a str>>, len: usize) -> Utf8Array {
    let mut offsets = Vec::with_capacity(len + 1);
    let mut data = Vec::new();
    offsets.push(0u32);
    for v in values {
        data.extend_from_slice(v.unwrap_or("").as_bytes());
        offsets.push(u32::try_from(data.len()).unwrap_or(u32::MAX));
    }
    Utf8Array { offsets, data }
}

/// Offsets rebased to 0 and the data they cover, from Arrow's `i32`
/// offsets.
fn rebase(offsets: &[i32], data: &[u8]) -> (Vec<u32>, Vec<u8>) {
    let base = offsets.first().copied().unwrap_or(0);
    let end = offsets.last().copied().unwrap_or(0);
    let out = offsets
        .iter()
        .map(|o| u32::try_from(o - base).unwrap_or(0))
        .collect();
    let (b, e) = (
        usize::try_from(base).unwrap_or(0),
        usize::try_from(end).unwrap_or(0),
    );
    (out, data.get(b..e).unwrap_or_default().to_vec())
}

/// Reads column `name` of `records`.
///
/// # Errors
/// [`HostError::UnknownColumn`] when there is no readable column of that
/// name.
pub fn read(records: &RecordBatch, name: &str) -> Result<Column, HostError> {
    let array = find(records, name).ok_or_else(|| HostError::UnknownColumn(name.to_string()))?;
    let len = array.len();
    let values = match array.data_type() {
        DataType::Boolean => {
            ColumnValues::Boolean(array.as_boolean().values().sliced().as_slice().to_vec())
        }
        DataType::Int32 => ColumnValues::Int32(array.as_primitive::<Int32Type>().values().to_vec()),
        DataType::Int64 => ColumnValues::Int64(array.as_primitive::<Int64Type>().values().to_vec()),
        DataType::UInt8 => ColumnValues::Uint32(
            array
                .as_primitive::<UInt8Type>()
                .values()
                .iter()
                .map(|&v| u32::from(v))
                .collect(),
        ),
        DataType::UInt32 => {
            ColumnValues::Uint32(array.as_primitive::<UInt32Type>().values().to_vec())
        }
        DataType::UInt64 => {
            ColumnValues::Uint64(array.as_primitive::<UInt64Type>().values().to_vec())
        }
        DataType::Float64 => {
            ColumnValues::Float64(array.as_primitive::<Float64Type>().values().to_vec())
        }
        DataType::Timestamp(..) => ColumnValues::Timestamp(
            array
                .as_primitive::<TimestampNanosecondType>()
                .values()
                .to_vec(),
        ),
        DataType::Utf8 => {
            let s = array.as_string::<i32>();
            let (offsets, data) = rebase(s.value_offsets(), s.value_data());
            ColumnValues::Utf8(Utf8Array { offsets, data })
        }
        DataType::Dictionary(..) => {
            let d = array.as_dictionary::<UInt32Type>();
            let dict = d
                .values()
                .as_string_opt::<i32>()
                .ok_or_else(|| HostError::UnknownColumn(name.to_string()))?;
            let keys = d.keys();
            let values = (0..len).map(|i| {
                if keys.is_null(i) {
                    return None;
                }
                let k = keys.value(i) as usize;
                (k < dict.len()).then(|| dict.value(k))
            });
            ColumnValues::Utf8(utf8_of(values, len))
        }
        DataType::Binary => {
            let b = array.as_binary::<i32>();
            let (offsets, data) = rebase(b.value_offsets(), b.value_data());
            ColumnValues::Binary(WitBinary { offsets, data })
        }
        DataType::FixedSizeBinary(w) => {
            let a = array.as_fixed_size_binary();
            let width = usize::try_from(*w).unwrap_or(0);
            let mut data = Vec::with_capacity(len * width);
            for i in 0..len {
                if a.is_valid(i) {
                    data.extend_from_slice(a.value(i));
                } else {
                    data.resize(data.len() + width, 0);
                }
            }
            ColumnValues::FixedBinary((u32::try_from(width).unwrap_or(0), data))
        }
        _ => return Err(HostError::UnknownColumn(name.to_string())),
    };
    Ok(Column {
        name: name.to_string(),
        len: u32::try_from(len).unwrap_or(u32::MAX),
        validity: bitmap(array.logical_nulls().as_ref()),
        values,
    })
}

/// How many bytes a written column carries (for the output limit).
pub fn payload_size(c: &Column) -> u64 {
    let values = match &c.values {
        ColumnValues::Boolean(v) => v.len(),
        ColumnValues::Int32(v) => v.len() * 4,
        ColumnValues::Uint32(v) => v.len() * 4,
        ColumnValues::Int64(v) | ColumnValues::Timestamp(v) => v.len() * 8,
        ColumnValues::Uint64(v) => v.len() * 8,
        ColumnValues::Float64(v) => v.len() * 8,
        ColumnValues::Utf8(a) => a.offsets.len() * 4 + a.data.len(),
        ColumnValues::Binary(a) => a.offsets.len() * 4 + a.data.len(),
        ColumnValues::FixedBinary((_, d)) => d.len(),
    };
    (values + c.validity.as_ref().map_or(0, Vec::len)) as u64
}

fn invalid(name: &str, why: impl std::fmt::Display) -> HostError {
    HostError::InvalidColumn(format!("{name}: {why}"))
}

fn offsets_i32(
    name: &str,
    offsets: &[u32],
    len: usize,
    data_len: usize,
) -> Result<OffsetBuffer<i32>, HostError> {
    if offsets.len() != len + 1 {
        return Err(invalid(
            name,
            format!("{} offsets for {len} rows", offsets.len()),
        ));
    }
    let mut out = Vec::with_capacity(offsets.len());
    let mut prev = 0u32;
    for &o in offsets {
        if o < prev || o as usize > data_len {
            return Err(invalid(name, "offsets out of order or past the data"));
        }
        prev = o;
        out.push(i32::try_from(o).map_err(|_| invalid(name, "data too large"))?);
    }
    if out.first() != Some(&0) {
        return Err(invalid(name, "offsets must start at 0"));
    }
    Ok(OffsetBuffer::new(ScalarBuffer::from(out)))
}

fn prim<T: arrow_array::ArrowPrimitiveType>(
    name: &str,
    values: Vec<T::Native>,
    len: usize,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef, HostError> {
    if values.len() != len {
        return Err(invalid(
            name,
            format!("{} values for {len} rows", values.len()),
        ));
    }
    Ok(Arc::new(PrimitiveArray::<T>::new(
        ScalarBuffer::from(values),
        nulls,
    )))
}

/// Builds the Arrow array of type `target` from a written column.
fn to_arrow(target: &DataType, c: Column) -> Result<ArrayRef, HostError> {
    let name = c.name.clone();
    let len = c.len as usize;
    let nulls = match c.validity {
        None => None,
        Some(bits) => {
            if bits.len() < len.div_ceil(8) {
                return Err(invalid(&name, "validity bitmap too short"));
            }
            Some(NullBuffer::new(BooleanBuffer::new(
                Buffer::from_vec(bits),
                0,
                len,
            )))
            .filter(|n| n.null_count() > 0)
        }
    };
    let wrong = |found: &str| invalid(&name, format!("expected {target}, got {found}"));
    Ok(match (target, c.values) {
        (DataType::Boolean, ColumnValues::Boolean(bits)) => {
            if bits.len() < len.div_ceil(8) {
                return Err(invalid(&name, "boolean bitmap too short"));
            }
            Arc::new(BooleanArray::new(
                BooleanBuffer::new(Buffer::from_vec(bits), 0, len),
                nulls,
            ))
        }
        (DataType::Int32, ColumnValues::Int32(v)) => prim::<Int32Type>(&name, v, len, nulls)?,
        (DataType::Int64, ColumnValues::Int64(v)) => prim::<Int64Type>(&name, v, len, nulls)?,
        (DataType::UInt32, ColumnValues::Uint32(v)) => prim::<UInt32Type>(&name, v, len, nulls)?,
        (DataType::UInt64, ColumnValues::Uint64(v)) => prim::<UInt64Type>(&name, v, len, nulls)?,
        (DataType::Float64, ColumnValues::Float64(v)) => prim::<Float64Type>(&name, v, len, nulls)?,
        (DataType::UInt8, ColumnValues::Uint32(v)) => {
            let narrowed = v
                .iter()
                .map(|&x| {
                    u8::try_from(x)
                        .map_err(|_| invalid(&name, format!("{x} does not fit in 8 bits")))
                })
                .collect::<Result<Vec<u8>, _>>()?;
            prim::<UInt8Type>(&name, narrowed, len, nulls)?
        }
        (DataType::Timestamp(_, tz), ColumnValues::Timestamp(v)) => {
            if v.len() != len {
                return Err(invalid(&name, format!("{} values for {len} rows", v.len())));
            }
            Arc::new(
                PrimitiveArray::<TimestampNanosecondType>::new(ScalarBuffer::from(v), nulls)
                    .with_timezone_opt(tz.clone()),
            )
        }
        (DataType::Utf8, ColumnValues::Utf8(a)) => {
            let offsets = offsets_i32(&name, &a.offsets, len, a.data.len())?;
            Arc::new(
                StringArray::try_new(offsets, Buffer::from_vec(a.data), nulls)
                    .map_err(|e| invalid(&name, e))?,
            )
        }
        (DataType::Dictionary(..), ColumnValues::Utf8(a)) => {
            let offsets = offsets_i32(&name, &a.offsets, len, a.data.len())?;
            let strings = StringArray::try_new(offsets, Buffer::from_vec(a.data), nulls)
                .map_err(|e| invalid(&name, e))?;
            let mut b = StringDictionaryBuilder::<UInt32Type>::new();
            for v in &strings {
                match v {
                    Some(s) => {
                        let _ = b.append(s).map_err(|e| invalid(&name, e))?;
                    }
                    None => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        (DataType::Binary, ColumnValues::Binary(a)) => {
            let offsets = offsets_i32(&name, &a.offsets, len, a.data.len())?;
            Arc::new(
                BinaryArray::try_new(offsets, Buffer::from_vec(a.data), nulls)
                    .map_err(|e| invalid(&name, e))?,
            )
        }
        (DataType::FixedSizeBinary(w), ColumnValues::FixedBinary((width, data))) => {
            if i64::from(*w) != i64::from(width) {
                return Err(invalid(&name, format!("width {width}, expected {w}")));
            }
            if data.len() != len * width as usize {
                return Err(invalid(
                    &name,
                    format!("{} bytes for {len} rows of {width}", data.len()),
                ));
            }
            Arc::new(
                FixedSizeBinaryArray::try_new(*w, Buffer::from_vec(data), nulls)
                    .map_err(|e| invalid(&name, e))?,
            )
        }
        (_, v) => {
            let found = match v {
                ColumnValues::Boolean(_) => "boolean",
                ColumnValues::Int32(_) => "int32",
                ColumnValues::Int64(_) => "int64",
                ColumnValues::Uint32(_) => "uint32",
                ColumnValues::Uint64(_) => "uint64",
                ColumnValues::Float64(_) => "float64",
                ColumnValues::Timestamp(_) => "timestamp",
                ColumnValues::Utf8(_) => "utf8",
                ColumnValues::Binary(_) => "binary",
                ColumnValues::FixedBinary(_) => "fixed-binary",
            };
            return Err(wrong(found));
        }
    })
}

/// `records` with column `c.name` replaced by `c`.
///
/// # Errors
/// [`HostError::UnknownColumn`] for an unknown or read-only column,
/// [`HostError::InvalidColumn`] for a wrong length, type or null in a
/// non-nullable column.
pub fn write(records: &RecordBatch, c: Column) -> Result<RecordBatch, HostError> {
    let name = c.name.clone();
    if READ_ONLY.contains(&name.as_str()) {
        return Err(invalid(&name, "the column is read-only"));
    }
    if c.len as usize != records.num_rows() {
        return Err(invalid(
            &name,
            format!("{} rows, the batch has {}", c.len, records.num_rows()),
        ));
    }
    let schema = records.schema();
    let mut columns = records.columns().to_vec();
    if let Some((i, field)) = schema.column_with_name(&name) {
        if !readable(field.data_type()) {
            return Err(HostError::UnknownColumn(name));
        }
        let array = to_arrow(field.data_type(), c)?;
        if !field.is_nullable() && array.null_count() > 0 {
            return Err(invalid(&name, "nulls in a column that cannot be null"));
        }
        columns[i] = array;
    } else {
        let (parent, child) = name
            .split_once('.')
            .ok_or_else(|| HostError::UnknownColumn(name.clone()))?;
        let (i, _) = schema
            .column_with_name(parent)
            .ok_or_else(|| HostError::UnknownColumn(name.clone()))?;
        let st = columns[i]
            .as_struct_opt()
            .ok_or_else(|| HostError::UnknownColumn(name.clone()))?
            .clone();
        let (fields, mut children, nulls) = st.into_parts();
        let (j, field) = fields
            .find(child)
            .ok_or_else(|| HostError::UnknownColumn(name.clone()))?;
        if !readable(field.data_type()) {
            return Err(HostError::UnknownColumn(name));
        }
        let array = to_arrow(field.data_type(), c)?;
        // Rows where the struct itself is null keep whatever the child
        // says; only the struct's own validity is checked by Arrow.
        if !field.is_nullable() {
            let child_nulls = array.logical_nulls();
            let outside = match (&child_nulls, &nulls) {
                (Some(cn), Some(sn)) => (0..cn.len()).any(|r| cn.is_null(r) && sn.is_valid(r)),
                (Some(cn), None) => cn.null_count() > 0,
                (None, _) => false,
            };
            if outside {
                return Err(invalid(&name, "nulls in a field that cannot be null"));
            }
        }
        children[j] = array;
        columns[i] =
            Arc::new(StructArray::try_new(fields, children, nulls).map_err(|e| invalid(&name, e))?);
    }
    RecordBatch::try_new(schema, columns).map_err(|e| invalid(&name, e))
}
