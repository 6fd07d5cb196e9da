//! Making a column fit a field of weir's schemas: casts between compatible
//! types, OTLP defaults for missing columns and for NULLs in non-null
//! columns.
//!
//! Used both ways: input records that a processor upstream produced with a
//! slightly different layout (a `Utf8` name instead of a dictionary, a
//! missing column) are made to fit the SQL view's schema, and a query's
//! result is made to fit the records schema of its signal.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, DictionaryArray, ListArray, MapArray, StringArray, StructArray,
    UInt32Array, make_array, new_empty_array, new_null_array,
};
use arrow::buffer::OffsetBuffer;
use arrow::compute::CastOptions;
use arrow::datatypes::{DataType, Field, UInt32Type};
use arrow::error::ArrowError;
use datafusion::common::arrow::array::ArrayData;

/// Whether a value of type `from` can be stored in a column of type `to`
/// without guessing: the same type, another layout of strings, integers to
/// integers (checked), floats to floats, timestamps to timestamps, NULL to
/// anything, and nested types Arrow casts field by field.
pub fn compatible(from: &DataType, to: &DataType) -> bool {
    use DataType as T;
    if from == to || from.equals_datatype(to) || matches!(from, T::Null) {
        return true;
    }
    if is_string(from) && is_string(to) {
        return true;
    }
    match (from, to) {
        (f, t) if f.is_integer() && t.is_integer() => true,
        (f, t) if f.is_floating() && t.is_floating() => true,
        (T::Timestamp(_, _), T::Timestamp(_, _)) => true,
        (T::Map(_, _), T::Map(_, _))
        | (T::List(_), T::List(_))
        | (T::Struct(_), T::Struct(_))
        | (T::FixedSizeBinary(_), T::FixedSizeBinary(_)) => {
            arrow::compute::can_cast_types(from, to)
        }
        _ => false,
    }
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
        || matches!(t, DataType::Dictionary(_, v) if is_string(v))
}

/// `array` made to fit `field`: cast to its type (integers checked, so an
/// overflow is an error rather than a wrong value) and, when the field is
/// not nullable, NULLs replaced by the type's default.
///
/// # Errors
/// A cast that fails (an integer out of range, a fixed-size id of the wrong
/// length).
pub fn conform(array: &ArrayRef, field: &Field) -> Result<ArrayRef, ArrowError> {
    let to = field.data_type();
    let cast = if array.data_type() == to {
        array.clone()
    } else if matches!(array.data_type(), DataType::Null) {
        new_null_array(to, array.len())
    } else {
        let options = CastOptions {
            safe: false,
            ..Default::default()
        };
        arrow::compute::cast_with_options(array, to, &options)?
    };
    if field.is_nullable() || cast.null_count() == 0 {
        return Ok(cast);
    }
    fill_nulls(&cast, to)
}

/// `array` with each NULL replaced by the default of `to`.
fn fill_nulls(array: &ArrayRef, to: &DataType) -> Result<ArrayRef, ArrowError> {
    let default = default_array(to, array.len())?;
    let Some(nulls) = array.logical_nulls() else {
        return Ok(array.clone());
    };
    let valid = BooleanArray::new(nulls.into_inner(), None);
    let out = arrow::compute::kernels::zip::zip(&valid, array, &default)?;
    // `zip` keeps the nested layout but not always the exact field
    // nullability of `to`: rebuild with the type asked for.
    if out.data_type() == to {
        Ok(out)
    } else {
        let data = out
            .into_data()
            .into_builder()
            .data_type(to.clone())
            .build()?;
        Ok(make_array(data))
    }
}

/// A column of `len` OTLP default values of type `to`: NULL where the type
/// allows nothing better is not an option, so 0, "", empty maps and lists.
///
/// # Errors
/// A type that has no default here (none of weir's non-null columns).
pub fn default_array(to: &DataType, len: usize) -> Result<ArrayRef, ArrowError> {
    use DataType as T;
    Ok(match to {
        T::Utf8 => Arc::new(StringArray::from(vec![""; len])),
        T::Dictionary(k, v) if **k == T::UInt32 && **v == T::Utf8 => {
            let keys = UInt32Array::from(vec![0u32; len]);
            let values: ArrayRef = Arc::new(StringArray::from(vec![""]));
            Arc::new(DictionaryArray::<UInt32Type>::try_new(keys, values)?)
        }
        T::Map(entries, sorted) => {
            let T::Struct(fields) = entries.data_type() else {
                return Err(ArrowError::InvalidArgumentError(format!(
                    "map entries of type {}",
                    entries.data_type()
                )));
            };
            let empty = StructArray::new_empty_fields(0, None);
            let empty = if fields.is_empty() {
                empty
            } else {
                let columns = fields
                    .iter()
                    .map(|f| new_empty_array(f.data_type()))
                    .collect();
                StructArray::try_new(fields.clone(), columns, None)?
            };
            Arc::new(MapArray::try_new(
                entries.clone(),
                OffsetBuffer::new_zeroed(len),
                empty,
                None,
                *sorted,
            )?)
        }
        T::List(item) => Arc::new(ListArray::try_new(
            item.clone(),
            OffsetBuffer::new_zeroed(len),
            new_empty_array(item.data_type()),
            None,
        )?),
        t if t.is_primitive() || matches!(t, T::Boolean) => {
            // Zeros: a zeroed buffer of the right width, no validity.
            let zeros = ArrayData::new_null(t, len);
            let data = zeros.into_builder().nulls(None).build()?;
            make_array(data)
        }
        other => {
            return Err(ArrowError::InvalidArgumentError(format!(
                "no default value for a non-null column of type {other}"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray as _, Int64Array};
    use arrow::datatypes::Int32Type;
    use weir_pdata::schema;

    #[test]
    fn defaults_fit_every_non_null_records_column() {
        for s in [schema::spans(), schema::logs(), schema::metrics()] {
            for f in s.fields().iter().filter(|f| !f.is_nullable()) {
                let a = default_array(f.data_type(), 3).expect("default");
                assert_eq!(a.data_type(), f.data_type(), "{}", f.name());
                assert_eq!(a.len(), 3);
                assert_eq!(a.null_count(), 0, "{}", f.name());
            }
        }
    }

    #[test]
    fn casts_are_checked_and_nulls_filled() {
        let field = Field::new("kind", DataType::Int32, false);
        let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(2), None]));
        let out = conform(&a, &field).expect("conform");
        assert_eq!(
            out.as_primitive::<Int32Type>().values().to_vec(),
            vec![2, 0]
        );
        assert_eq!(out.null_count(), 0);
        let big: ArrayRef = Arc::new(Int64Array::from(vec![i64::MAX]));
        assert!(conform(&big, &field).is_err());
        assert!(compatible(&DataType::Utf8View, &schema::dictionary_utf8()));
        assert!(!compatible(&DataType::Utf8, &DataType::Int32));
    }
}
