//! The string form of an OTLP `AnyValue` stored as weir's `AnyValue` struct.
//!
//! Strings are themselves; booleans, integers and doubles print as in JSON;
//! bytes as lower-case hex; arrays and key-value lists (stored as the
//! protobuf encoding of the `AnyValue`) as compact JSON. An empty value or a
//! null struct has no string form (SQL NULL).

use arrow::array::{Array, AsArray as _, StructArray};
use arrow::datatypes::{Float64Type, Int64Type, UInt8Type};
use opentelemetry_proto::tonic::common::v1::AnyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message as _;
use weir_pdata::schema::{ValueType, any_value as col};

/// A string column of any of Arrow's string layouts.
#[derive(Clone, Copy)]
pub enum Strings<'a> {
    /// `Utf8`.
    Utf8(&'a arrow::array::StringArray),
    /// `LargeUtf8`.
    Large(&'a arrow::array::LargeStringArray),
    /// `Utf8View`.
    View(&'a arrow::array::StringViewArray),
}

impl<'a> Strings<'a> {
    /// `array` if it is a string column.
    pub fn of(array: &'a dyn Array) -> Option<Self> {
        if let Some(s) = array.as_string_opt::<i32>() {
            Some(Strings::Utf8(s))
        } else if let Some(s) = array.as_string_opt::<i64>() {
            Some(Strings::Large(s))
        } else {
            array.as_string_view_opt().map(Strings::View)
        }
    }

    /// Row `i`, or `None` when null.
    pub fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Strings::Utf8(s) => s.is_valid(i).then(|| s.value(i)),
            Strings::Large(s) => s.is_valid(i).then(|| s.value(i)),
            Strings::View(s) => s.is_valid(i).then(|| s.value(i)),
        }
    }
}

/// Whether `values` looks like weir's `AnyValue` struct (has `type` and
/// `str` children).
pub fn is_any_value(values: &StructArray) -> bool {
    values.column_by_name(col::TYPE).is_some() && values.column_by_name(col::STR).is_some()
}

/// Reads the string form of rows of an `AnyValue` struct array.
pub struct AnyValueReader<'a> {
    values: &'a StructArray,
}

impl<'a> AnyValueReader<'a> {
    /// A reader over `values`.
    pub fn new(values: &'a StructArray) -> Self {
        AnyValueReader { values }
    }

    /// The string form of row `i`, or `None`.
    pub fn string(&self, i: usize) -> Option<String> {
        let v = self.values;
        if v.is_null(i) {
            return None;
        }
        let ty = v
            .column_by_name(col::TYPE)?
            .as_primitive_opt::<UInt8Type>()?;
        if ty.is_null(i) {
            return None;
        }
        match ValueType::from_u8(ty.value(i))? {
            ValueType::Str => Strings::of(v.column_by_name(col::STR)?.as_ref())?
                .get(i)
                .map(str::to_string),
            ValueType::Bool => {
                let b = v.column_by_name(col::BOOL)?.as_boolean_opt()?;
                b.is_valid(i).then(|| b.value(i).to_string())
            }
            ValueType::Int => {
                let n = v
                    .column_by_name(col::INT)?
                    .as_primitive_opt::<Int64Type>()?;
                n.is_valid(i).then(|| n.value(i).to_string())
            }
            ValueType::Double => {
                let d = v
                    .column_by_name(col::DOUBLE)?
                    .as_primitive_opt::<Float64Type>()?;
                d.is_valid(i).then(|| d.value(i).to_string())
            }
            k @ (ValueType::Bytes | ValueType::Array | ValueType::KvList) => {
                let b = v.column_by_name(col::BYTES)?.as_binary_opt::<i32>()?;
                if b.is_null(i) {
                    return None;
                }
                let bytes = b.value(i);
                if k == ValueType::Bytes {
                    Some(hex(bytes))
                } else {
                    let decoded = AnyValue::decode(bytes).ok()?;
                    Some(to_json(&decoded).to_string())
                }
            }
            // Empty, and profiles string-table indexes (meaningless here).
            ValueType::Empty | ValueType::StrIndex => None,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

fn to_json(v: &AnyValue) -> serde_json::Value {
    use serde_json::Value as J;
    match &v.value {
        // A profiles string-table index has no meaning outside a profile.
        None | Some(Value::StringValueStrindex(_)) => J::Null,
        Some(Value::StringValue(s)) => J::String(s.clone()),
        Some(Value::BoolValue(b)) => J::Bool(*b),
        Some(Value::IntValue(n)) => J::from(*n),
        Some(Value::DoubleValue(d)) => {
            serde_json::Number::from_f64(*d).map_or_else(|| J::String(d.to_string()), J::Number)
        }
        Some(Value::BytesValue(b)) => J::String(hex(b)),
        Some(Value::ArrayValue(a)) => J::Array(a.values.iter().map(to_json).collect()),
        Some(Value::KvlistValue(kv)) => J::Object(
            kv.values
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.as_ref().map_or(J::Null, to_json)))
                .collect(),
        ),
    }
}
