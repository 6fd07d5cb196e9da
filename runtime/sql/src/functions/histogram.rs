//! Explicit-bucket histograms: the `histogram(value, bounds)` aggregate and
//! the `histogram_bucket(value, bounds)` function.
//!
//! `bounds` is a constant list of increasing upper bounds, `[5, 10, 25]`.
//! As in OTLP, bucket `i` counts the values in `(bounds[i-1], bounds[i]]`
//! and there is one more bucket than bounds, for values above the last.
//!
//! - `histogram_bucket(duration_ms(start_time, end_time), [5, 10, 25])` is
//!   the bucket index (`UInt32`, 0 to `len(bounds)`).
//! - `histogram(value, bounds)` aggregates values into a struct of
//!   [`histogram_fields`]: `count`, `sum`, `min`, `max`, `explicit_bounds`,
//!   `bucket_counts`. It is what a windowed SQL processor turns into an OTLP
//!   histogram point (`metric "x" kind="histogram"`). NULL and NaN values
//!   are not counted.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    Array, ArrayRef, AsArray as _, Float64Array, ListArray, StructArray, UInt32Builder, UInt64Array,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, UInt64Type};
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::expressions::Literal;

/// Name of the aggregate.
pub const HISTOGRAM: &str = "histogram";

static FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    Fields::from(vec![
        Field::new("count", DataType::UInt64, false),
        Field::new("sum", DataType::Float64, false),
        Field::new("min", DataType::Float64, true),
        Field::new("max", DataType::Float64, true),
        Field::new("explicit_bounds", list_of(DataType::Float64), false),
        Field::new("bucket_counts", list_of(DataType::UInt64), false),
    ])
});

fn list_of(t: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(t, true)))
}

/// The fields of the struct `histogram` returns.
pub fn histogram_fields() -> Fields {
    FIELDS.clone()
}

/// The type `histogram` returns.
pub fn histogram_type() -> DataType {
    DataType::Struct(histogram_fields())
}

fn is_number(t: &DataType) -> bool {
    t.is_numeric() || matches!(t, DataType::Null)
}

/// Checks and returns a list of bounds.
fn bounds_of(list: &ScalarValue, func: &str) -> Result<Arc<[f64]>> {
    let values = match list {
        ScalarValue::List(a) if a.len() == 1 && a.is_valid(0) => a.value(0),
        ScalarValue::LargeList(a) if a.len() == 1 && a.is_valid(0) => a.value(0),
        ScalarValue::FixedSizeList(a) if a.len() == 1 && a.is_valid(0) => a.value(0),
        other => {
            return plan_err!(
                "{func}(value, bounds): bounds must be a constant list of numbers such as [5, 10, 25], not {other}"
            );
        }
    };
    let values = arrow::compute::cast(&values, &DataType::Float64)?;
    let values = values.as_primitive::<Float64Type>();
    if values.null_count() > 0 {
        return plan_err!("{func}(value, bounds): bounds must not be NULL");
    }
    let bounds: Vec<f64> = values.values().to_vec();
    if bounds.iter().any(|b| !b.is_finite()) {
        return plan_err!("{func}(value, bounds): bounds must be finite numbers");
    }
    if bounds.windows(2).any(|w| w[0] >= w[1]) {
        return plan_err!("{func}(value, bounds): bounds must be increasing, got {bounds:?}");
    }
    Ok(bounds.into())
}

/// The bounds of a `histogram` call from its physical argument expressions
/// (the second must be a constant list). Used when the accumulator is
/// created and when a query is validated.
///
/// # Errors
/// A planning error saying what is wrong with the bounds.
pub fn histogram_bounds(exprs: &[Arc<dyn PhysicalExpr>]) -> Result<Arc<[f64]>> {
    let Some(bounds) = exprs.get(1) else {
        return plan_err!("{HISTOGRAM}(value, bounds) takes two arguments");
    };
    match (bounds.as_ref() as &dyn std::any::Any).downcast_ref::<Literal>() {
        Some(l) => bounds_of(l.value(), HISTOGRAM),
        None => plan_err!(
            "{HISTOGRAM}(value, bounds): bounds must be a constant list of numbers such as [5, 10, 25]"
        ),
    }
}

/// The bucket of `v` among `bounds`.
fn bucket(bounds: &[f64], v: f64) -> usize {
    bounds.partition_point(|b| *b < v)
}

/// The `histogram` aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HistogramFunction {
    signature: Signature,
}

/// `histogram(value, bounds)`, ready to register.
pub fn histogram_udaf() -> AggregateUDF {
    AggregateUDF::new_from_impl(HistogramFunction {
        signature: Signature::any(2, Volatility::Immutable),
    })
}

impl AggregateUDFImpl for HistogramFunction {
    fn name(&self) -> &str {
        HISTOGRAM
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [
                v,
                DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _),
            ] if is_number(v) => Ok(histogram_type()),
            [v, _] if is_number(v) => plan_err!(
                "{HISTOGRAM}(value, bounds): bounds must be a constant list of numbers such as [5, 10, 25]"
            ),
            [v, _] => plan_err!("{HISTOGRAM}(value, bounds): the value must be a number, not {v}"),
            _ => plan_err!("{HISTOGRAM}(value, bounds) takes two arguments"),
        }
    }

    fn is_nullable(&self) -> bool {
        false
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let bounds = histogram_bounds(args.exprs)?;
        Ok(Box::new(HistogramAccumulator::new(bounds)))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let f = |n: &str, t: DataType, null: bool| {
            Arc::new(Field::new(format_state_name(args.name, n), t, null))
        };
        Ok(vec![
            f("count", DataType::UInt64, true),
            f("sum", DataType::Float64, true),
            f("min", DataType::Float64, true),
            f("max", DataType::Float64, true),
            f("bucket_counts", list_of(DataType::UInt64), true),
        ])
    }
}

/// Running histogram of one group.
#[derive(Debug)]
struct HistogramAccumulator {
    bounds: Arc<[f64]>,
    counts: Vec<u64>,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl HistogramAccumulator {
    fn new(bounds: Arc<[f64]>) -> Self {
        HistogramAccumulator {
            counts: vec![0; bounds.len() + 1],
            bounds,
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    fn min_max(&self) -> (Option<f64>, Option<f64>) {
        if self.count == 0 {
            (None, None)
        } else {
            (Some(self.min), Some(self.max))
        }
    }
}

fn list_scalar<T: arrow::datatypes::ArrowPrimitiveType>(
    values: arrow::array::PrimitiveArray<T>,
) -> ScalarValue {
    let field = Arc::new(Field::new_list_field(T::DATA_TYPE, true));
    let offsets = OffsetBuffer::from_lengths([values.len()]);
    ScalarValue::List(Arc::new(ListArray::new(
        field,
        offsets,
        Arc::new(values),
        None,
    )))
}

impl Accumulator for HistogramAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(v) = values.first() else {
            return exec_err!("{HISTOGRAM}: no values");
        };
        let v = arrow::compute::cast(v, &DataType::Float64)?;
        let v = v.as_primitive::<Float64Type>();
        for x in v.iter().flatten() {
            if x.is_nan() {
                continue;
            }
            self.counts[bucket(&self.bounds, x)] += 1;
            self.count += 1;
            self.sum += x;
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let (min, max) = self.min_max();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from(vec![self.count])),
            Arc::new(Float64Array::from(vec![self.sum])),
            Arc::new(Float64Array::from(vec![min])),
            Arc::new(Float64Array::from(vec![max])),
            list_scalar(Float64Array::from(self.bounds.to_vec())).to_array()?,
            list_scalar(UInt64Array::from(self.counts.clone())).to_array()?,
        ];
        let s = StructArray::try_new(histogram_fields(), columns, None)?;
        Ok(ScalarValue::Struct(Arc::new(s)))
    }

    fn size(&self) -> usize {
        std::mem::size_of::<Self>() + self.counts.capacity() * 8
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let (min, max) = self.min_max();
        Ok(vec![
            ScalarValue::UInt64(Some(self.count)),
            ScalarValue::Float64(Some(self.sum)),
            ScalarValue::Float64(min),
            ScalarValue::Float64(max),
            list_scalar(UInt64Array::from(self.counts.clone())),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [count, sum, min, max, counts] = states else {
            return exec_err!(
                "{HISTOGRAM}: expected 5 state columns, got {}",
                states.len()
            );
        };
        let (Some(count), Some(sum), Some(min), Some(max), Some(counts)) = (
            count.as_primitive_opt::<UInt64Type>(),
            sum.as_primitive_opt::<Float64Type>(),
            min.as_primitive_opt::<Float64Type>(),
            max.as_primitive_opt::<Float64Type>(),
            counts.as_list_opt::<i32>(),
        ) else {
            return exec_err!("{HISTOGRAM}: state columns of unexpected types");
        };
        for row in 0..count.len() {
            if count.is_null(row) || counts.is_null(row) {
                continue;
            }
            let buckets = counts.value(row);
            let Some(buckets) = buckets.as_primitive_opt::<UInt64Type>() else {
                return exec_err!("{HISTOGRAM}: bucket counts are not UInt64");
            };
            if buckets.len() != self.counts.len() {
                return exec_err!(
                    "{HISTOGRAM}: cannot merge {} buckets into {}",
                    buckets.len(),
                    self.counts.len()
                );
            }
            for (c, b) in self.counts.iter_mut().zip(buckets.values()) {
                *c += b;
            }
            self.count += count.value(row);
            self.sum += if sum.is_valid(row) {
                sum.value(row)
            } else {
                0.0
            };
            if min.is_valid(row) {
                self.min = self.min.min(min.value(row));
            }
            if max.is_valid(row) {
                self.max = self.max.max(max.value(row));
            }
        }
        Ok(())
    }
}

/// The `histogram_bucket` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HistogramBucketFunction {
    signature: Signature,
}

/// `histogram_bucket(value, bounds)`, ready to register.
pub fn histogram_bucket_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(HistogramBucketFunction {
        signature: Signature::any(2, Volatility::Immutable),
    })
}

impl ScalarUDFImpl for HistogramBucketFunction {
    fn name(&self) -> &str {
        "histogram_bucket"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [
                v,
                DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _),
            ] if is_number(v) => Ok(DataType::UInt32),
            [v, _] if is_number(v) => plan_err!(
                "histogram_bucket(value, bounds): bounds must be a constant list of numbers such as [5, 10, 25]"
            ),
            [v, _] => {
                plan_err!("histogram_bucket(value, bounds): the value must be a number, not {v}")
            }
            _ => plan_err!("histogram_bucket(value, bounds) takes two arguments"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let mut it = args.args.into_iter();
        let (Some(value), Some(bounds)) = (it.next(), it.next()) else {
            return exec_err!("histogram_bucket(value, bounds) takes two arguments");
        };
        let ColumnarValue::Scalar(bounds) = bounds else {
            return exec_err!(
                "histogram_bucket(value, bounds): bounds must be a constant list of numbers"
            );
        };
        let bounds = bounds_of(&bounds, "histogram_bucket")?;
        let v = arrow::compute::cast(&value.into_array(n)?, &DataType::Float64)?;
        let v = v.as_primitive::<Float64Type>();
        let mut out = UInt32Builder::with_capacity(v.len());
        for x in v.iter() {
            out.append_option(
                x.filter(|x| !x.is_nan())
                    .and_then(|x| u32::try_from(bucket(&bounds, x)).ok()),
            );
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}
