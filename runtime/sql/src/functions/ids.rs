//! Trace and span id helpers: `id_hex(id)` and `trace_id_ratio(trace_id)`.
//!
//! - `id_hex(trace_id)` is the lower-case hex form of any id (or other
//!   binary) column: the form Tempo and Grafana show and search by.
//! - `trace_id_ratio(trace_id)` maps a trace id to a number in `[0, 1)` the
//!   way OpenTelemetry's `TraceIdRatioBased` sampler does (the last 8 bytes,
//!   big-endian, shifted right by one, over 2^63), so `WHERE
//!   trace_id_ratio(trace_id) < 0.1` keeps the same 10% of traces as a
//!   10% SDK sampler, on every node of every tier. NULL for a NULL (empty)
//!   or shorter id.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray as _, Float64Builder, StringBuilder};
use arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// Which id function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum IdKind {
    Hex,
    Ratio,
}

/// `id_hex` or `trace_id_ratio`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IdFunction {
    kind: IdKind,
    signature: Signature,
}

/// `id_hex(id)`, ready to register.
pub fn id_hex_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(IdFunction {
        kind: IdKind::Hex,
        signature: Signature::any(1, Volatility::Immutable),
    })
}

/// `trace_id_ratio(trace_id)`, ready to register.
pub fn trace_id_ratio_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(IdFunction {
        kind: IdKind::Ratio,
        signature: Signature::any(1, Volatility::Immutable),
    })
}

fn is_binary(t: &DataType) -> bool {
    matches!(
        t,
        DataType::FixedSizeBinary(_)
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::Null
    )
}

/// Row `i` of a binary column of any layout.
fn bytes_at(a: &dyn Array, i: usize) -> Option<&[u8]> {
    if a.is_null(i) {
        return None;
    }
    if let Some(b) = a.as_fixed_size_binary_opt() {
        Some(b.value(i))
    } else if let Some(b) = a.as_binary_opt::<i32>() {
        Some(b.value(i))
    } else if let Some(b) = a.as_binary_opt::<i64>() {
        Some(b.value(i))
    } else {
        a.as_binary_view_opt().map(|b| b.value(i))
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8], out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
}

/// The sampling ratio of a trace id: see the module docs.
pub fn trace_id_ratio(id: &[u8]) -> Option<f64> {
    let tail: [u8; 8] = id.get(id.len().checked_sub(8)?..)?.try_into().ok()?;
    let x = u64::from_be_bytes(tail) >> 1;
    Some(x as f64 / (1u64 << 63) as f64)
}

impl ScalarUDFImpl for IdFunction {
    fn name(&self) -> &str {
        match self.kind {
            IdKind::Hex => "id_hex",
            IdKind::Ratio => "trace_id_ratio",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [t] if is_binary(t) => Ok(match self.kind {
                IdKind::Hex => DataType::Utf8,
                IdKind::Ratio => DataType::Float64,
            }),
            [t] => plan_err!(
                "{}(id): the argument must be an id column such as `trace_id`, not {t}",
                self.name()
            ),
            _ => plan_err!("{}(id) takes one argument", self.name()),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let Some(arg) = args.args.into_iter().next() else {
            return exec_err!("{}(id) takes one argument", self.name());
        };
        let a = arg.into_array(n)?;
        let out: ArrayRef = match self.kind {
            IdKind::Hex => {
                let mut out = StringBuilder::with_capacity(a.len(), a.len() * 32);
                let mut s = String::with_capacity(32);
                for i in 0..a.len() {
                    match bytes_at(a.as_ref(), i) {
                        Some(b) => {
                            s.clear();
                            hex(b, &mut s);
                            out.append_value(&s);
                        }
                        None => out.append_null(),
                    }
                }
                Arc::new(out.finish())
            }
            IdKind::Ratio => {
                let mut out = Float64Builder::with_capacity(a.len());
                for i in 0..a.len() {
                    out.append_option(bytes_at(a.as_ref(), i).and_then(trace_id_ratio));
                }
                Arc::new(out.finish())
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}
