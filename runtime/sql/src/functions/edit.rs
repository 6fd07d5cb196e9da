//! `attr_set(map, key, value)` and `attr_delete(map, key)`: an attribute map
//! with one key set or removed, so per-batch queries can enrich and redact
//! attributes and still return valid records:
//!
//! ```sql
//! SELECT * REPLACE (attr_set(attributes, 'team', t.team) AS attributes)
//! FROM spans LEFT JOIN teams t ON service_name = t.service
//! ```
//!
//! `key` is a constant string. Every entry with that key is removed;
//! `attr_set` then appends the new one (a string, int, double or bool by
//! the type of `value`). A NULL `value` leaves the row unchanged, so a
//! missed lookup keeps what was there. A NULL map stays NULL.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray as _, BinaryArray, MapArray, MutableArrayData, StringArray,
    StructArray, UInt8Array, make_array,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::DataType;
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use weir_pdata::schema::{self, ValueType};

use super::attr::is_string;
use crate::any_value::Strings;

/// `attr_set` or `attr_delete`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct EditFunction {
    set: bool,
    signature: Signature,
}

/// `attr_set(map, key, value)`, ready to register.
pub fn attr_set_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(EditFunction {
        set: true,
        signature: Signature::any(3, Volatility::Immutable),
    })
}

/// `attr_delete(map, key)`, ready to register.
pub fn attr_delete_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(EditFunction {
        set: false,
        signature: Signature::any(2, Volatility::Immutable),
    })
}

/// Whether a value of type `t` can be an attribute value.
pub fn is_attribute_value(t: &DataType) -> bool {
    is_string(t)
        || t.is_integer()
        || t.is_floating()
        || matches!(t, DataType::Boolean | DataType::Null)
}

/// `AnyValue`s of the values of `a` (strings, integers, floats, bools);
/// NULL values are NULL structs.
pub fn any_values(a: &ArrayRef) -> Result<StructArray> {
    let n = a.len();
    let t = a.data_type();
    let (ty, str_col, int_col, double_col, bool_col): (
        ValueType,
        ArrayRef,
        ArrayRef,
        ArrayRef,
        ArrayRef,
    ) = if is_string(t) {
        let s = arrow::compute::cast(a, &DataType::Utf8)?;
        (
            ValueType::Str,
            s,
            null(DataType::Int64, n),
            null(DataType::Float64, n),
            null(DataType::Boolean, n),
        )
    } else if t.is_integer() {
        let i = arrow::compute::cast(a, &DataType::Int64)?;
        (
            ValueType::Int,
            null(DataType::Utf8, n),
            i,
            null(DataType::Float64, n),
            null(DataType::Boolean, n),
        )
    } else if t.is_floating() {
        let d = arrow::compute::cast(a, &DataType::Float64)?;
        (
            ValueType::Double,
            null(DataType::Utf8, n),
            null(DataType::Int64, n),
            d,
            null(DataType::Boolean, n),
        )
    } else if matches!(t, DataType::Boolean) {
        (
            ValueType::Bool,
            null(DataType::Utf8, n),
            null(DataType::Int64, n),
            null(DataType::Float64, n),
            a.clone(),
        )
    } else if matches!(t, DataType::Null) {
        (
            ValueType::Empty,
            null(DataType::Utf8, n),
            null(DataType::Int64, n),
            null(DataType::Float64, n),
            null(DataType::Boolean, n),
        )
    } else {
        return exec_err!("an attribute value must be a string, number or bool, not {t}");
    };
    let codes = UInt8Array::from(vec![ty as u8; n]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(codes),
        str_col,
        int_col,
        double_col,
        bool_col,
        Arc::new(BinaryArray::new_null(n)),
    ];
    Ok(StructArray::try_new(
        schema::any_value_fields(),
        columns,
        a.logical_nulls(),
    )?)
}

fn null(t: DataType, n: usize) -> ArrayRef {
    arrow::array::new_null_array(&t, n)
}

/// `map` cast to weir's attribute map type.
fn canonical(map: ArrayRef, name: &str) -> Result<ArrayRef> {
    let target = schema::attributes_type();
    if map.data_type() == &target {
        return Ok(map);
    }
    if !matches!(map.data_type(), DataType::Map(_, _)) {
        return exec_err!("{name}: the first argument is not a map");
    }
    Ok(arrow::compute::cast(&map, &target)?)
}

impl ScalarUDFImpl for EditFunction {
    fn name(&self) -> &str {
        if self.set { "attr_set" } else { "attr_delete" }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let name = self.name();
        let usage = if self.set {
            "(map, key, value)"
        } else {
            "(map, key)"
        };
        match arg_types {
            [DataType::Map(_, _), key, rest @ ..] if is_string(key) => match rest {
                [] if !self.set => Ok(schema::attributes_type()),
                [v] if self.set && is_attribute_value(v) => Ok(schema::attributes_type()),
                [v] if self.set => {
                    plan_err!("{name}{usage}: the value must be a string, number or bool, not {v}")
                }
                _ => plan_err!("{name}{usage}: wrong number of arguments"),
            },
            [DataType::Map(_, _), key, ..] => {
                plan_err!("{name}{usage}: the key must be a string, not {key}")
            }
            [other, ..] => plan_err!(
                "{name}{usage}: the first argument must be an attribute column such as `attributes`, not {other}"
            ),
            _ => plan_err!("{name}{usage}: wrong number of arguments"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let name = self.name();
        let mut it = args.args.into_iter();
        let (Some(map), Some(key)) = (it.next(), it.next()) else {
            return exec_err!("{name}: wrong number of arguments");
        };
        let ColumnarValue::Scalar(key) = key else {
            return exec_err!("{name}: the key must be a constant string");
        };
        let key = match key.cast_to(&DataType::Utf8)? {
            ScalarValue::Utf8(Some(k)) => k,
            _ => return exec_err!("{name}: the key must be a constant string"),
        };
        let map = canonical(map.into_array(n)?, name)?;
        let Some(map) = map.as_map_opt() else {
            return exec_err!("{name}: the first argument is not a map");
        };
        let new_values = match it.next() {
            Some(v) => Some(any_values(&v.into_array(n)?)?),
            None => None,
        };
        Ok(ColumnarValue::Array(edit(map, &key, new_values.as_ref())?))
    }
}

/// `map` without the entries `key`, plus `key = new[row]` where `new` is
/// given and not NULL (then existing entries are kept when `new[row]` is
/// NULL).
fn edit(map: &MapArray, key: &str, new: Option<&StructArray>) -> Result<ArrayRef> {
    let entries = map.entries();
    let Some(keys) = Strings::of(map.keys().as_ref()) else {
        return exec_err!("attribute map keys are not strings");
    };
    let n = map.len();
    let new_entries = match new {
        Some(values) => Some(StructArray::try_new(
            schema::attributes_entry_fields(),
            vec![
                Arc::new(StringArray::from(vec![key; n])) as ArrayRef,
                Arc::new(values.clone()),
            ],
            None,
        )?),
        None => None,
    };
    let old_data = entries.to_data();
    let new_data = new_entries.as_ref().map(Array::to_data);
    let mut sources = vec![&old_data];
    if let Some(d) = &new_data {
        sources.push(d);
    }
    let mut out = MutableArrayData::new(sources, false, entries.len() + n);
    let offsets = map.value_offsets();
    let mut lengths = Vec::with_capacity(n);
    for row in 0..n {
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        let set_here = new.is_some_and(|v| v.is_valid(row)) && map.is_valid(row);
        if new.is_some() && !set_here {
            // attr_set with a NULL value (or a NULL map): unchanged.
            out.try_extend(0, start, end)?;
            lengths.push(end - start);
            continue;
        }
        let mut len = 0;
        let mut run = start;
        for i in start..end {
            if keys.get(i) == Some(key) {
                out.try_extend(0, run, i)?;
                len += i - run;
                run = i + 1;
            }
        }
        out.try_extend(0, run, end)?;
        len += end - run;
        if set_here {
            out.try_extend(1, row, row + 1)?;
            len += 1;
        }
        lengths.push(len);
    }
    let entries = make_array(out.freeze());
    let Some(entries) = entries.as_struct_opt().cloned() else {
        return exec_err!("attribute map entries are not a struct");
    };
    let out = MapArray::try_new(
        schema::attributes_entries(),
        OffsetBuffer::from_lengths(lengths),
        entries,
        map.nulls().cloned(),
        false,
    )?;
    Ok(Arc::new(out))
}
