//! `attr(map, key)` and its typed variants: an attribute's value by key.
//!
//! `SELECT attr(attributes, 'http.route'), count(*) FROM spans GROUP BY 1`.
//! The first argument is any attribute column (`attributes`,
//! `resource_attributes`, `scope_attributes`, ...), a `Map<Utf8, AnyValue>`;
//! the value is that of the first entry with the key, or NULL when the key
//! is absent.
//!
//! | function | result | NULL when |
//! |---|---|---|
//! | `attr` | `Utf8`: the string form of any value (see [`crate::any_value`]) | absent, empty |
//! | `attr_int` | `Int64` | absent, not an int |
//! | `attr_double` | `Float64` (ints are widened) | absent, not a number |
//! | `attr_bool` | `Boolean` | absent, not a bool |

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray as _, BooleanBuilder, Float64Builder, Int64Builder, MapArray,
    StringBuilder, StructArray,
};
use arrow::datatypes::{DataType, Float64Type, Int64Type, UInt8Type};
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use weir_pdata::schema::{ValueType, any_value as col};

use crate::any_value::{AnyValueReader, Strings, is_any_value};

/// Which value an attribute function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrKind {
    /// `attr`: the string form of any value.
    Any,
    /// `attr_int`: int values.
    Int,
    /// `attr_double`: double values, and ints widened.
    Double,
    /// `attr_bool`: bool values.
    Bool,
}

impl AttrKind {
    fn name(self) -> &'static str {
        match self {
            AttrKind::Any => "attr",
            AttrKind::Int => "attr_int",
            AttrKind::Double => "attr_double",
            AttrKind::Bool => "attr_bool",
        }
    }

    fn data_type(self) -> DataType {
        match self {
            AttrKind::Any => DataType::Utf8,
            AttrKind::Int => DataType::Int64,
            AttrKind::Double => DataType::Float64,
            AttrKind::Bool => DataType::Boolean,
        }
    }
}

/// An attribute lookup function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct AttrFunction {
    kind: AttrKind,
    signature: Signature,
}

/// `attr` (string form), ready to register.
pub fn attr_udf() -> ScalarUDF {
    attr_udf_of(AttrKind::Any)
}

/// The attribute function of `kind`, ready to register.
pub fn attr_udf_of(kind: AttrKind) -> ScalarUDF {
    ScalarUDF::new_from_impl(AttrFunction {
        kind,
        signature: Signature::any(2, Volatility::Immutable),
    })
}

impl ScalarUDFImpl for AttrFunction {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let name = self.kind.name();
        match arg_types {
            [DataType::Map(_, _), key] if is_string(key) || key == &DataType::Null => {
                Ok(self.kind.data_type())
            }
            [DataType::Map(_, _), other] => {
                plan_err!("{name}(map, key): the key must be a string, not {other}")
            }
            [other, _] => plan_err!(
                "{name}(map, key): the first argument must be an attribute column such as `attributes`, not {other}"
            ),
            _ => plan_err!("{name}(map, key) takes two arguments"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let name = self.kind.name();
        let mut it = args.args.into_iter();
        let (Some(map), Some(key)) = (it.next(), it.next()) else {
            return exec_err!("{name}(map, key) takes two arguments");
        };
        let map = map.into_array(n)?;
        let Some(map) = map.as_map_opt() else {
            return exec_err!("{name}(map, key): the first argument is not a map");
        };
        // The usual call has a literal key: read it once.
        let found = match key {
            ColumnarValue::Scalar(s) => {
                let s = s.cast_to(&DataType::Utf8)?;
                let key = match &s {
                    ScalarValue::Utf8(k) => k.as_deref(),
                    _ => None,
                };
                find(map, name, |_| key)?
            }
            ColumnarValue::Array(a) => {
                let a = arrow::compute::cast(&a, &DataType::Utf8)?;
                let keys = a.as_string::<i32>();
                find(map, name, |row| keys.is_valid(row).then(|| keys.value(row)))?
            }
        };
        Ok(ColumnarValue::Array(values(map, self.kind, &found)?))
    }
}

pub(crate) fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
        || matches!(t, DataType::Dictionary(_, v) if is_string(v))
}

/// The entry index of `key_of(row)` in each row of `map` (first match).
pub(crate) fn find<'k>(
    map: &MapArray,
    name: &str,
    key_of: impl Fn(usize) -> Option<&'k str>,
) -> Result<Vec<Option<usize>>> {
    let Some(entry_keys) = Strings::of(map.keys().as_ref()) else {
        return exec_err!("{name}(map, key): the map's keys are not strings");
    };
    let offsets = map.value_offsets();
    Ok((0..map.len())
        .map(|row| {
            let key = key_of(row).filter(|_| map.is_valid(row))?;
            let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
            (start..end).find(|&i| entry_keys.get(i) == Some(key))
        })
        .collect())
}

/// The values of the entries `found` of `map`, as `kind` says.
fn values(map: &MapArray, kind: AttrKind, found: &[Option<usize>]) -> Result<ArrayRef> {
    let values = map.values();
    let any = values.as_struct_opt().filter(|s| is_any_value(s));
    let n = found.len();
    Ok(match kind {
        AttrKind::Any => {
            let reader = any.map(AnyValueReader::new);
            let plain = Strings::of(values.as_ref());
            let mut out = StringBuilder::with_capacity(n, n * 8);
            for f in found {
                out.append_option(f.and_then(|i| match (&reader, plain) {
                    (Some(r), _) => r.string(i),
                    (None, Some(s)) => s.get(i).map(str::to_string),
                    (None, None) => None,
                }));
            }
            Arc::new(out.finish())
        }
        AttrKind::Int => {
            let typed = Typed::of(any);
            let mut out = Int64Builder::with_capacity(n);
            for f in found {
                out.append_option(f.and_then(|i| typed.int(i)));
            }
            Arc::new(out.finish())
        }
        AttrKind::Double => {
            let typed = Typed::of(any);
            let mut out = Float64Builder::with_capacity(n);
            for f in found {
                out.append_option(
                    f.and_then(|i| typed.double(i).or(typed.int(i).map(|v| v as f64))),
                );
            }
            Arc::new(out.finish())
        }
        AttrKind::Bool => {
            let typed = Typed::of(any);
            let mut out = BooleanBuilder::with_capacity(n);
            for f in found {
                out.append_option(f.and_then(|i| typed.bool(i)));
            }
            Arc::new(out.finish())
        }
    })
}

/// The typed children of an `AnyValue` struct.
struct Typed<'a> {
    values: Option<&'a StructArray>,
}

impl<'a> Typed<'a> {
    fn of(values: Option<&'a StructArray>) -> Self {
        Typed { values }
    }

    fn is(&self, i: usize, want: ValueType) -> bool {
        let Some(v) = self.values else { return false };
        let Some(ty) = v
            .column_by_name(col::TYPE)
            .and_then(|c| c.as_primitive_opt::<UInt8Type>())
        else {
            return false;
        };
        v.is_valid(i) && ty.is_valid(i) && ValueType::from_u8(ty.value(i)) == Some(want)
    }

    fn int(&self, i: usize) -> Option<i64> {
        if !self.is(i, ValueType::Int) {
            return None;
        }
        let c = self
            .values?
            .column_by_name(col::INT)?
            .as_primitive_opt::<Int64Type>()?;
        c.is_valid(i).then(|| c.value(i))
    }

    fn double(&self, i: usize) -> Option<f64> {
        if !self.is(i, ValueType::Double) {
            return None;
        }
        let c = self
            .values?
            .column_by_name(col::DOUBLE)?
            .as_primitive_opt::<Float64Type>()?;
        c.is_valid(i).then(|| c.value(i))
    }

    fn bool(&self, i: usize) -> Option<bool> {
        if !self.is(i, ValueType::Bool) {
            return None;
        }
        let c = self.values?.column_by_name(col::BOOL)?.as_boolean_opt()?;
        c.is_valid(i).then(|| c.value(i))
    }
}
