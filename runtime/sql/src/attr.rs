//! The `attr(map, key)` SQL function: an attribute's value as a string.
//!
//! `SELECT attr(attributes, 'http.route'), count(*) FROM spans GROUP BY 1`.
//! The first argument is any attribute column (`attributes`,
//! `resource_attributes`, `scope_attributes`, ...), a `Map<Utf8, AnyValue>`;
//! the result is the string form of the value of the first entry with that
//! key (see [`crate::any_value`]), or NULL when the key is absent.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray as _, MapArray, StringBuilder};
use arrow::datatypes::DataType;
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::any_value::{AnyValueReader, Strings, is_any_value};

/// The `attr` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct AttrFunction {
    signature: Signature,
}

impl Default for AttrFunction {
    fn default() -> Self {
        AttrFunction {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

/// `attr` as a DataFusion scalar function, ready to register.
pub fn attr_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(AttrFunction::default())
}

impl ScalarUDFImpl for AttrFunction {
    fn name(&self) -> &str {
        "attr"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::Map(_, _), key] if is_string(key) || key == &DataType::Null => {
                Ok(DataType::Utf8)
            }
            [DataType::Map(_, _), other] => {
                plan_err!("attr(map, key): the key must be a string, not {other}")
            }
            [other, _] => plan_err!(
                "attr(map, key): the first argument must be an attribute column such as `attributes`, not {other}"
            ),
            _ => plan_err!("attr(map, key) takes two arguments"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let mut it = args.args.into_iter();
        let (Some(map), Some(key)) = (it.next(), it.next()) else {
            return exec_err!("attr(map, key) takes two arguments");
        };
        let map = map.into_array(n)?;
        let Some(map) = map.as_map_opt() else {
            return exec_err!("attr(map, key): the first argument is not a map");
        };
        // The usual call has a literal key: read it once.
        let out = match key {
            ColumnarValue::Scalar(s) => {
                let s = s.cast_to(&DataType::Utf8)?;
                let key = match &s {
                    ScalarValue::Utf8(k) => k.as_deref(),
                    _ => None,
                };
                lookup(map, |_| key)?
            }
            ColumnarValue::Array(a) => {
                let a = arrow::compute::cast(&a, &DataType::Utf8)?;
                let keys = a.as_string::<i32>();
                lookup(map, |row| keys.is_valid(row).then(|| keys.value(row)))?
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
        || matches!(t, DataType::Dictionary(_, v) if is_string(v))
}

/// The string form of the value of `key_of(row)` in each row of `map`.
fn lookup<'k>(map: &MapArray, key_of: impl Fn(usize) -> Option<&'k str>) -> Result<ArrayRef> {
    let Some(entry_keys) = Strings::of(map.keys().as_ref()) else {
        return exec_err!("attr(map, key): the map's keys are not strings");
    };
    let values = map.values();
    let any = values
        .as_struct_opt()
        .filter(|s| is_any_value(s))
        .map(AnyValueReader::new);
    let plain = Strings::of(values.as_ref());
    let offsets = map.value_offsets();
    let mut out = StringBuilder::with_capacity(map.len(), map.len() * 8);
    for row in 0..map.len() {
        let key = match key_of(row) {
            Some(k) if map.is_valid(row) => k,
            _ => {
                out.append_null();
                continue;
            }
        };
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        let found = (start..end).find(|&i| entry_keys.get(i) == Some(key));
        let value = found.and_then(|i| match (&any, plain) {
            (Some(r), _) => r.string(i),
            (None, Some(s)) => s.get(i).map(str::to_string),
            (None, None) => None,
        });
        out.append_option(value);
    }
    Ok(Arc::new(out.finish()))
}
