//! `duration_ns(start, end)` and `duration_ms(start, end)`: the time between
//! two timestamps (a span's `start_time` and `end_time`).
//!
//! Timestamps hold OTLP's `u64` nanoseconds bit for bit, so the difference
//! is taken on the raw nanoseconds (`end - start`, negative when the end is
//! before the start). `duration_ns` is `Int64` nanoseconds, `duration_ms`
//! `Float64` milliseconds.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray as _, Float64Array, Int64Array};
use arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// `duration_ns` or `duration_ms`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DurationFunction {
    millis: bool,
    signature: Signature,
}

/// `duration_ns(start, end)`, ready to register.
pub fn duration_ns_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(DurationFunction {
        millis: false,
        signature: Signature::any(2, Volatility::Immutable),
    })
}

/// `duration_ms(start, end)`, ready to register.
pub fn duration_ms_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(DurationFunction {
        millis: true,
        signature: Signature::any(2, Volatility::Immutable),
    })
}

fn is_time(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Timestamp(_, _) | DataType::Int64 | DataType::Null
    )
}

/// Nanoseconds since the epoch of a timestamp or integer column.
fn nanos(a: &ArrayRef) -> Result<Int64Array> {
    let ns = match a.data_type() {
        DataType::Timestamp(unit, _) if *unit != arrow::datatypes::TimeUnit::Nanosecond => {
            let target = DataType::Timestamp(arrow::datatypes::TimeUnit::Nanosecond, None);
            arrow::compute::cast(a, &target)?
        }
        _ => a.clone(),
    };
    let ints = arrow::compute::cast(&ns, &DataType::Int64)?;
    Ok(ints.as_primitive::<Int64Type>().clone())
}

impl ScalarUDFImpl for DurationFunction {
    fn name(&self) -> &str {
        if self.millis {
            "duration_ms"
        } else {
            "duration_ns"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [a, b] if is_time(a) && is_time(b) => Ok(if self.millis {
                DataType::Float64
            } else {
                DataType::Int64
            }),
            [_, _] => plan_err!(
                "{}(start, end): both arguments must be timestamps such as `start_time` and `end_time`, not {}",
                self.name(),
                arg_types
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            _ => plan_err!("{}(start, end) takes two arguments", self.name()),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let mut it = args.args.into_iter();
        let (Some(start), Some(end)) = (it.next(), it.next()) else {
            return exec_err!("{}(start, end) takes two arguments", self.name());
        };
        let start = nanos(&start.into_array(n)?)?;
        let end = nanos(&end.into_array(n)?)?;
        let ns: Int64Array = arrow::compute::binary(&end, &start, i64::wrapping_sub)?;
        let out: ArrayRef = if self.millis {
            let ms: Float64Array = arrow::compute::unary(&ns, |v| v as f64 / 1e6);
            Arc::new(ms)
        } else {
            Arc::new(ns)
        };
        debug_assert_eq!(out.len(), n);
        Ok(ColumnarValue::Array(out))
    }
}
