//! Reads `Metric` messages back from the rows of the metrics records table.

use arrow_array::types::{
    Float64Type, Int32Type, Int64Type, TimestampNanosecondType, UInt8Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, StructArray};
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, Sum, Summary, SummaryDataPoint, exemplar,
    exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
    summary_data_point::ValueAtQuantile,
};

use crate::PdataError;
use crate::otlp::arrow::attrs::AttrsReader;
use crate::otlp::arrow::columns::{
    BoolCol, Cols, IdCol, ListCol, Prim, PrimList, StrCol, ts_from_arrow,
};
use crate::schema::{MetricType, buckets as bk, exemplar as ex, metric as mt, quantile as qt};

/// Reads `exemplars`.
struct ExemplarsReader<'a> {
    list: ListCol<'a>,
    attrs: Option<AttrsReader<'a>>,
    time: Prim<'a, TimestampNanosecondType>,
    value_double: Prim<'a, Float64Type>,
    value_int: Prim<'a, Int64Type>,
    span_id: IdCol<'a>,
    trace_id: IdCol<'a>,
}

impl<'a> ExemplarsReader<'a> {
    fn new(cols: &Cols<'a>) -> Result<Self, PdataError> {
        let list = cols.list(mt::EXEMPLARS)?;
        let Some(values) = list.struct_values(cols, mt::EXEMPLARS)? else {
            return Ok(ExemplarsReader {
                list,
                attrs: None,
                time: Prim(None),
                value_double: Prim(None),
                value_int: Prim(None),
                span_id: IdCol::default(),
                trace_id: IdCol::default(),
            });
        };
        let c = Cols::of_struct(cols.signal(), mt::EXEMPLARS, values);
        Ok(ExemplarsReader {
            list,
            attrs: Some(AttrsReader::new(&c, ex::FILTERED_ATTRIBUTES)?),
            time: c.prim(ex::TIME)?,
            value_double: c.prim(ex::VALUE_DOUBLE)?,
            value_int: c.prim(ex::VALUE_INT)?,
            span_id: c.id_bytes(ex::SPAN_ID, 8)?,
            trace_id: c.id_bytes(ex::TRACE_ID, 16)?,
        })
    }

    fn get(&self, row: usize) -> Result<Vec<Exemplar>, PdataError> {
        let (Some(range), Some(attrs)) = (self.list.range(row), &self.attrs) else {
            return Ok(Vec::new());
        };
        range
            .map(|j| {
                let value = match (self.value_int.opt(j), self.value_double.opt(j)) {
                    (Some(i), _) => Some(exemplar::Value::AsInt(i)),
                    (None, Some(d)) => Some(exemplar::Value::AsDouble(d)),
                    (None, None) => None,
                };
                Ok(Exemplar {
                    filtered_attributes: attrs.get(j)?,
                    time_unix_nano: ts_from_arrow(self.time.get(j)),
                    span_id: self.span_id.get(j),
                    trace_id: self.trace_id.get(j),
                    value,
                })
            })
            .collect()
    }
}

/// Reads a `positive` / `negative` column.
struct BucketsReader<'a> {
    array: Option<&'a StructArray>,
    offset: Prim<'a, Int32Type>,
    counts: Option<PrimList<'a, UInt64Type>>,
}

impl<'a> BucketsReader<'a> {
    fn new(cols: &Cols<'a>, name: &'static str) -> Result<Self, PdataError> {
        let Some(array) = cols.structure(name)? else {
            return Ok(BucketsReader {
                array: None,
                offset: Prim(None),
                counts: None,
            });
        };
        let c = Cols::of_struct(cols.signal(), name, array);
        Ok(BucketsReader {
            array: Some(array),
            offset: c.prim(bk::OFFSET)?,
            counts: Some(c.prim_list(bk::BUCKET_COUNTS)?),
        })
    }

    fn get(&self, row: usize) -> Option<Buckets> {
        self.array.filter(|a| a.is_valid(row))?;
        Some(Buckets {
            offset: self.offset.get(row),
            bucket_counts: self.counts.as_ref().map(|c| c.get(row)).unwrap_or_default(),
        })
    }
}

/// Reads `quantile_values`.
struct QuantilesReader<'a> {
    list: ListCol<'a>,
    quantile: Prim<'a, Float64Type>,
    value: Prim<'a, Float64Type>,
}

impl<'a> QuantilesReader<'a> {
    fn new(cols: &Cols<'a>) -> Result<Self, PdataError> {
        let list = cols.list(mt::QUANTILE_VALUES)?;
        let (quantile, value) = match list.struct_values(cols, mt::QUANTILE_VALUES)? {
            None => (Prim::<Float64Type>(None), Prim::<Float64Type>(None)),
            Some(values) => {
                let c = Cols::of_struct(cols.signal(), mt::QUANTILE_VALUES, values);
                (
                    c.prim::<Float64Type>(qt::QUANTILE)?,
                    c.prim::<Float64Type>(qt::VALUE)?,
                )
            }
        };
        Ok(QuantilesReader {
            list,
            quantile,
            value,
        })
    }

    fn get(&self, row: usize) -> Vec<ValueAtQuantile> {
        self.list
            .range(row)
            .map(|r| {
                r.map(|j| ValueAtQuantile {
                    quantile: self.quantile.get(j),
                    value: self.value.get(j),
                })
                .collect()
            })
            .unwrap_or_default()
    }
}

/// Reads metrics from the records table.
pub(crate) struct MetricsReader<'a> {
    cols: Cols<'a>,
    name: StrCol<'a>,
    description: StrCol<'a>,
    unit: StrCol<'a>,
    metadata: AttrsReader<'a>,
    metric_type: Prim<'a, UInt8Type>,
    temporality: Prim<'a, Int32Type>,
    monotonic: BoolCol<'a>,
    attrs: AttrsReader<'a>,
    start_time: Prim<'a, TimestampNanosecondType>,
    time: Prim<'a, TimestampNanosecondType>,
    flags: Prim<'a, UInt32Type>,
    exemplars: ExemplarsReader<'a>,
    value_double: Prim<'a, Float64Type>,
    value_int: Prim<'a, Int64Type>,
    count: Prim<'a, UInt64Type>,
    sum: Prim<'a, Float64Type>,
    min: Prim<'a, Float64Type>,
    max: Prim<'a, Float64Type>,
    bucket_counts: PrimList<'a, UInt64Type>,
    explicit_bounds: PrimList<'a, Float64Type>,
    scale: Prim<'a, Int32Type>,
    zero_count: Prim<'a, UInt64Type>,
    zero_threshold: Prim<'a, Float64Type>,
    positive: BucketsReader<'a>,
    negative: BucketsReader<'a>,
    quantiles: QuantilesReader<'a>,
}

impl<'a> MetricsReader<'a> {
    /// Reads the columns of the records table.
    pub(crate) fn new(cols: &Cols<'a>) -> Result<Self, PdataError> {
        Ok(MetricsReader {
            cols: *cols,
            name: cols.str(mt::METRIC_NAME)?,
            description: cols.str(mt::METRIC_DESCRIPTION)?,
            unit: cols.str(mt::METRIC_UNIT)?,
            metadata: AttrsReader::new(cols, mt::METRIC_METADATA)?,
            metric_type: cols.prim(mt::METRIC_TYPE)?,
            temporality: cols.prim(mt::AGGREGATION_TEMPORALITY)?,
            monotonic: cols.bool(mt::IS_MONOTONIC)?,
            attrs: AttrsReader::new(cols, mt::ATTRIBUTES)?,
            start_time: cols.prim(mt::START_TIME)?,
            time: cols.prim(mt::TIME)?,
            flags: cols.prim(mt::FLAGS)?,
            exemplars: ExemplarsReader::new(cols)?,
            value_double: cols.prim(mt::VALUE_DOUBLE)?,
            value_int: cols.prim(mt::VALUE_INT)?,
            count: cols.prim(mt::COUNT)?,
            sum: cols.prim(mt::SUM)?,
            min: cols.prim(mt::MIN)?,
            max: cols.prim(mt::MAX)?,
            bucket_counts: cols.prim_list(mt::BUCKET_COUNTS)?,
            explicit_bounds: cols.prim_list(mt::EXPLICIT_BOUNDS)?,
            scale: cols.prim(mt::SCALE)?,
            zero_count: cols.prim(mt::ZERO_COUNT)?,
            zero_threshold: cols.prim(mt::ZERO_THRESHOLD)?,
            positive: BucketsReader::new(cols, mt::POSITIVE)?,
            negative: BucketsReader::new(cols, mt::NEGATIVE)?,
            quantiles: QuantilesReader::new(cols)?,
        })
    }

    /// The `Metric` whose rows are `rows` (all with the same `metric_id`):
    /// metric-level fields come from the first row, placeholder rows (null
    /// `attributes`) add no point.
    pub(crate) fn metric(&self, rows: &[usize]) -> Result<Metric, PdataError> {
        let Some(&first) = rows.first() else {
            return Ok(Metric::default());
        };
        let code = self.metric_type.get(first);
        let ty = MetricType::from_u8(code).ok_or_else(|| {
            self.cols
                .err(mt::METRIC_TYPE, format_args!("unknown metric type {code}"))
        })?;
        let points = rows.iter().copied().filter(|&r| !self.attrs.is_null(r));
        let temporality = self.temporality.get(first);
        let data = match ty {
            MetricType::None => None,
            MetricType::Gauge => Some(Data::Gauge(Gauge {
                data_points: points.map(|r| self.number(r)).collect::<Result<_, _>>()?,
            })),
            MetricType::Sum => Some(Data::Sum(Sum {
                data_points: points.map(|r| self.number(r)).collect::<Result<_, _>>()?,
                aggregation_temporality: temporality,
                is_monotonic: self.monotonic.opt(first).unwrap_or_default(),
            })),
            MetricType::Histogram => Some(Data::Histogram(Histogram {
                data_points: points
                    .map(|r| self.histogram(r))
                    .collect::<Result<_, _>>()?,
                aggregation_temporality: temporality,
            })),
            MetricType::ExponentialHistogram => {
                Some(Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: points
                        .map(|r| self.exponential_histogram(r))
                        .collect::<Result<_, _>>()?,
                    aggregation_temporality: temporality,
                }))
            }
            MetricType::Summary => Some(Data::Summary(Summary {
                data_points: points.map(|r| self.summary(r)).collect::<Result<_, _>>()?,
            })),
        };
        Ok(Metric {
            name: self.name.get(first).to_owned(),
            description: self.description.get(first).to_owned(),
            unit: self.unit.get(first).to_owned(),
            metadata: self.metadata.get(first)?,
            data,
        })
    }

    fn number(&self, r: usize) -> Result<NumberDataPoint, PdataError> {
        let value = match (self.value_int.opt(r), self.value_double.opt(r)) {
            (Some(i), _) => Some(number_data_point::Value::AsInt(i)),
            (None, Some(d)) => Some(number_data_point::Value::AsDouble(d)),
            (None, None) => None,
        };
        Ok(NumberDataPoint {
            attributes: self.attrs.get(r)?,
            start_time_unix_nano: ts_from_arrow(self.start_time.get(r)),
            time_unix_nano: ts_from_arrow(self.time.get(r)),
            exemplars: self.exemplars.get(r)?,
            flags: self.flags.get(r),
            value,
        })
    }

    fn histogram(&self, r: usize) -> Result<HistogramDataPoint, PdataError> {
        Ok(HistogramDataPoint {
            attributes: self.attrs.get(r)?,
            start_time_unix_nano: ts_from_arrow(self.start_time.get(r)),
            time_unix_nano: ts_from_arrow(self.time.get(r)),
            count: self.count.get(r),
            sum: self.sum.opt(r),
            bucket_counts: self.bucket_counts.get(r),
            explicit_bounds: self.explicit_bounds.get(r),
            exemplars: self.exemplars.get(r)?,
            flags: self.flags.get(r),
            min: self.min.opt(r),
            max: self.max.opt(r),
        })
    }

    fn exponential_histogram(&self, r: usize) -> Result<ExponentialHistogramDataPoint, PdataError> {
        Ok(ExponentialHistogramDataPoint {
            attributes: self.attrs.get(r)?,
            start_time_unix_nano: ts_from_arrow(self.start_time.get(r)),
            time_unix_nano: ts_from_arrow(self.time.get(r)),
            count: self.count.get(r),
            sum: self.sum.opt(r),
            scale: self.scale.get(r),
            zero_count: self.zero_count.get(r),
            positive: self.positive.get(r),
            negative: self.negative.get(r),
            flags: self.flags.get(r),
            exemplars: self.exemplars.get(r)?,
            min: self.min.opt(r),
            max: self.max.opt(r),
            zero_threshold: self.zero_threshold.get(r),
        })
    }

    fn summary(&self, r: usize) -> Result<SummaryDataPoint, PdataError> {
        Ok(SummaryDataPoint {
            attributes: self.attrs.get(r)?,
            start_time_unix_nano: ts_from_arrow(self.start_time.get(r)),
            time_unix_nano: ts_from_arrow(self.time.get(r)),
            count: self.count.get(r),
            sum: self.sum.get(r),
            quantile_values: self.quantiles.get(r),
            flags: self.flags.get(r),
        })
    }
}
