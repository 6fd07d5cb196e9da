//! Builds the metrics records table: one row per data point, metric-level
//! columns repeated on each, and one placeholder row (null `attributes`)
//! per metric without data points.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, FixedSizeBinaryBuilder, Float64Builder, Int32Builder, Int64Builder,
    ListBuilder, StringDictionaryBuilder, TimestampNanosecondBuilder, UInt32Builder, UInt64Builder,
};
use arrow_array::types::UInt32Type;
use arrow_array::{
    ArrayRef, Float64Array, Int32Array, RecordBatch, StructArray, UInt8Array, UInt32Array,
};
use arrow_buffer::NullBufferBuilder;
use arrow_schema::{DataType, Field};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint,
    SummaryDataPoint, exemplar, exponential_histogram_data_point::Buckets, metric::Data,
    number_data_point, summary_data_point::ValueAtQuantile,
};

use crate::PdataError;
use crate::otlp::arrow::attrs::AttrsBuilder;
use crate::otlp::arrow::columns::{
    OffsetsBuilder, append_id, list_of_structs, timestamp_builder, timestamps, ts_to_arrow,
};
use crate::otlp::arrow::envelope::next_id;
use crate::schema::{self, MetricType};

fn list_builder<T: arrow_array::builder::ArrayBuilder>(
    values: T,
    item: DataType,
    rows: usize,
) -> ListBuilder<T> {
    ListBuilder::with_capacity(values, rows).with_field(Arc::new(Field::new_list_field(item, true)))
}

/// Builds the `exemplars` column.
struct ExemplarsBuilder {
    offsets: OffsetsBuilder,
    nulls: NullBufferBuilder,
    attrs: AttrsBuilder,
    time: Vec<i64>,
    value_double: Float64Builder,
    value_int: Int64Builder,
    span_id: FixedSizeBinaryBuilder,
    trace_id: FixedSizeBinaryBuilder,
}

impl ExemplarsBuilder {
    fn with_capacity(rows: usize) -> Self {
        ExemplarsBuilder {
            offsets: OffsetsBuilder::with_capacity(rows),
            nulls: NullBufferBuilder::new(rows),
            attrs: AttrsBuilder::with_capacity(0, 0),
            time: Vec::new(),
            value_double: Float64Builder::new(),
            value_int: Int64Builder::new(),
            span_id: FixedSizeBinaryBuilder::new(8),
            trace_id: FixedSizeBinaryBuilder::new(16),
        }
    }

    fn append_row(&mut self, exemplars: Option<&[Exemplar]>) -> Result<(), PdataError> {
        for e in exemplars.unwrap_or_default() {
            append_id(&mut self.span_id, &e.span_id, 8, "Exemplar.span_id")?;
            append_id(&mut self.trace_id, &e.trace_id, 16, "Exemplar.trace_id")?;
            self.attrs.append_row(&e.filtered_attributes);
            self.time.push(ts_to_arrow(e.time_unix_nano));
            let (d, i) = match e.value {
                Some(exemplar::Value::AsDouble(d)) => (Some(d), None),
                Some(exemplar::Value::AsInt(i)) => (None, Some(i)),
                None => (None, None),
            };
            self.value_double.append_option(d);
            self.value_int.append_option(i);
        }
        self.offsets.close(self.time.len());
        self.nulls.append(exemplars.is_some());
        Ok(())
    }

    fn finish(mut self) -> Result<ArrayRef, PdataError> {
        let len = self.time.len();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.attrs.finish()?),
            timestamps(self.time),
            Arc::new(self.value_double.finish()),
            Arc::new(self.value_int.finish()),
            Arc::new(self.span_id.finish()),
            Arc::new(self.trace_id.finish()),
        ];
        list_of_structs(
            schema::exemplar_fields(),
            columns,
            self.offsets,
            len,
            self.nulls.finish(),
        )
    }
}

/// Builds a `positive` / `negative` buckets column.
struct BucketsBuilder {
    offset: Vec<i32>,
    counts: ListBuilder<UInt64Builder>,
    nulls: NullBufferBuilder,
}

impl BucketsBuilder {
    fn with_capacity(rows: usize) -> Self {
        BucketsBuilder {
            offset: Vec::with_capacity(rows),
            counts: list_builder(UInt64Builder::new(), DataType::UInt64, rows),
            nulls: NullBufferBuilder::new(rows),
        }
    }

    fn append(&mut self, buckets: Option<&Buckets>) {
        self.offset.push(buckets.map_or(0, |b| b.offset));
        if let Some(b) = buckets {
            self.counts.values().append_slice(&b.bucket_counts);
        }
        self.counts.append(true);
        self.nulls.append(buckets.is_some());
    }

    fn finish(mut self) -> Result<ArrayRef, PdataError> {
        Ok(Arc::new(StructArray::try_new(
            schema::buckets_fields(),
            vec![
                Arc::new(Int32Array::from(self.offset)),
                Arc::new(self.counts.finish()),
            ],
            self.nulls.finish(),
        )?))
    }
}

/// Builds the `quantile_values` column.
struct QuantilesBuilder {
    offsets: OffsetsBuilder,
    nulls: NullBufferBuilder,
    quantile: Vec<f64>,
    value: Vec<f64>,
}

impl QuantilesBuilder {
    fn with_capacity(rows: usize) -> Self {
        QuantilesBuilder {
            offsets: OffsetsBuilder::with_capacity(rows),
            nulls: NullBufferBuilder::new(rows),
            quantile: Vec::new(),
            value: Vec::new(),
        }
    }

    fn append(&mut self, values: Option<&[ValueAtQuantile]>) {
        for q in values.unwrap_or_default() {
            self.quantile.push(q.quantile);
            self.value.push(q.value);
        }
        self.offsets.close(self.quantile.len());
        self.nulls.append(values.is_some());
    }

    fn finish(mut self) -> Result<ArrayRef, PdataError> {
        let len = self.quantile.len();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(self.quantile)),
            Arc::new(Float64Array::from(self.value)),
        ];
        list_of_structs(
            schema::quantile_fields(),
            columns,
            self.offsets,
            len,
            self.nulls.finish(),
        )
    }
}

/// The metric-level values repeated on each row of one metric.
struct Header<'m> {
    scope_id: u32,
    metric_id: u32,
    metric: &'m Metric,
    ty: MetricType,
    temporality: Option<i32>,
    monotonic: Option<bool>,
}

/// Builds the metrics records table, one metric at a time.
pub(crate) struct MetricsBuilder {
    metrics: usize,
    // Metric-level columns.
    scope_id: Vec<u32>,
    metric_id: Vec<u32>,
    name: StringDictionaryBuilder<UInt32Type>,
    description: StringDictionaryBuilder<UInt32Type>,
    unit: StringDictionaryBuilder<UInt32Type>,
    metadata: AttrsBuilder,
    metric_type: Vec<u8>,
    temporality: Int32Builder,
    monotonic: BooleanBuilder,
    // Columns of every point.
    attrs: AttrsBuilder,
    start_time: TimestampNanosecondBuilder,
    time: TimestampNanosecondBuilder,
    flags: UInt32Builder,
    exemplars: ExemplarsBuilder,
    // Number points.
    value_double: Float64Builder,
    value_int: Int64Builder,
    // Histograms and summaries.
    count: UInt64Builder,
    sum: Float64Builder,
    min: Float64Builder,
    max: Float64Builder,
    // Explicit-bucket histograms.
    bucket_counts: ListBuilder<UInt64Builder>,
    explicit_bounds: ListBuilder<Float64Builder>,
    // Exponential histograms.
    scale: Int32Builder,
    zero_count: UInt64Builder,
    zero_threshold: Float64Builder,
    positive: BucketsBuilder,
    negative: BucketsBuilder,
    // Summaries.
    quantiles: QuantilesBuilder,
}

impl MetricsBuilder {
    /// A builder for about `rows` rows.
    pub(crate) fn with_capacity(rows: usize) -> Self {
        MetricsBuilder {
            metrics: 0,
            scope_id: Vec::with_capacity(rows),
            metric_id: Vec::with_capacity(rows),
            name: StringDictionaryBuilder::with_capacity(rows, 64, 2048),
            description: StringDictionaryBuilder::with_capacity(rows, 64, 4096),
            unit: StringDictionaryBuilder::with_capacity(rows, 16, 128),
            metadata: AttrsBuilder::with_capacity(rows, 0),
            metric_type: Vec::with_capacity(rows),
            temporality: Int32Builder::with_capacity(rows),
            monotonic: BooleanBuilder::with_capacity(rows),
            attrs: AttrsBuilder::with_capacity(rows, rows * 4),
            start_time: timestamp_builder(rows),
            time: timestamp_builder(rows),
            flags: UInt32Builder::with_capacity(rows),
            exemplars: ExemplarsBuilder::with_capacity(rows),
            value_double: Float64Builder::with_capacity(rows),
            value_int: Int64Builder::with_capacity(rows),
            count: UInt64Builder::with_capacity(rows),
            sum: Float64Builder::with_capacity(rows),
            min: Float64Builder::with_capacity(rows),
            max: Float64Builder::with_capacity(rows),
            bucket_counts: list_builder(UInt64Builder::new(), DataType::UInt64, rows),
            explicit_bounds: list_builder(Float64Builder::new(), DataType::Float64, rows),
            scale: Int32Builder::with_capacity(rows),
            zero_count: UInt64Builder::with_capacity(rows),
            zero_threshold: Float64Builder::with_capacity(rows),
            positive: BucketsBuilder::with_capacity(rows),
            negative: BucketsBuilder::with_capacity(rows),
            quantiles: QuantilesBuilder::with_capacity(rows),
        }
    }

    /// Appends every data point of metric `m` of scope `scope_id` (or one
    /// placeholder row when it has none).
    ///
    /// # Errors
    /// [`PdataError::InvalidValue`] for exemplar ids of the wrong length.
    pub(crate) fn append_metric(&mut self, scope_id: u32, m: &Metric) -> Result<(), PdataError> {
        let metric_id = next_id(self.metrics, "metrics")?;
        self.metrics += 1;
        let (ty, temporality, monotonic) = match &m.data {
            None => (MetricType::None, None, None),
            Some(Data::Gauge(_)) => (MetricType::Gauge, None, None),
            Some(Data::Sum(s)) => (
                MetricType::Sum,
                Some(s.aggregation_temporality),
                Some(s.is_monotonic),
            ),
            Some(Data::Histogram(h)) => {
                (MetricType::Histogram, Some(h.aggregation_temporality), None)
            }
            Some(Data::ExponentialHistogram(h)) => (
                MetricType::ExponentialHistogram,
                Some(h.aggregation_temporality),
                None,
            ),
            Some(Data::Summary(_)) => (MetricType::Summary, None, None),
        };
        let h = Header {
            scope_id,
            metric_id,
            metric: m,
            ty,
            temporality,
            monotonic,
        };
        let points = match &m.data {
            None => 0,
            Some(Data::Gauge(g)) => g.data_points.len(),
            Some(Data::Sum(s)) => s.data_points.len(),
            Some(Data::Histogram(x)) => x.data_points.len(),
            Some(Data::ExponentialHistogram(x)) => x.data_points.len(),
            Some(Data::Summary(x)) => x.data_points.len(),
        };
        if points == 0 {
            self.header(&h);
            self.placeholder();
            return Ok(());
        }
        match &m.data {
            None => {}
            Some(Data::Gauge(g)) => self.numbers(&h, &g.data_points)?,
            Some(Data::Sum(s)) => self.numbers(&h, &s.data_points)?,
            Some(Data::Histogram(x)) => {
                for p in &x.data_points {
                    self.header(&h);
                    self.histogram(p)?;
                }
            }
            Some(Data::ExponentialHistogram(x)) => {
                for p in &x.data_points {
                    self.header(&h);
                    self.exponential_histogram(p)?;
                }
            }
            Some(Data::Summary(x)) => {
                for p in &x.data_points {
                    self.header(&h);
                    self.summary(p);
                }
            }
        }
        Ok(())
    }

    fn header(&mut self, h: &Header<'_>) {
        self.scope_id.push(h.scope_id);
        self.metric_id.push(h.metric_id);
        self.name.append_value(&h.metric.name);
        self.description.append_value(&h.metric.description);
        self.unit.append_value(&h.metric.unit);
        self.metadata.append_row(&h.metric.metadata);
        self.metric_type.push(h.ty as u8);
        self.temporality.append_option(h.temporality);
        self.monotonic.append_option(h.monotonic);
    }

    /// Columns every point has.
    fn common(
        &mut self,
        attributes: &[KeyValue],
        start: u64,
        time: u64,
        flags: u32,
        exemplars: Option<&[Exemplar]>,
    ) -> Result<(), PdataError> {
        self.exemplars.append_row(exemplars)?;
        self.attrs.append_row(attributes);
        self.start_time.append_value(ts_to_arrow(start));
        self.time.append_value(ts_to_arrow(time));
        self.flags.append_value(flags);
        Ok(())
    }

    fn stats(&mut self, count: Option<u64>, sum: Option<f64>, min: Option<f64>, max: Option<f64>) {
        self.count.append_option(count);
        self.sum.append_option(sum);
        self.min.append_option(min);
        self.max.append_option(max);
    }

    fn no_number(&mut self) {
        self.value_double.append_null();
        self.value_int.append_null();
    }

    fn no_explicit(&mut self) {
        self.bucket_counts.append(false);
        self.explicit_bounds.append(false);
    }

    fn no_exponential(&mut self) {
        self.scale.append_null();
        self.zero_count.append_null();
        self.zero_threshold.append_null();
        self.positive.append(None);
        self.negative.append(None);
    }

    /// A row standing for a metric without data points.
    fn placeholder(&mut self) {
        self.attrs.append_null_row();
        self.start_time.append_null();
        self.time.append_null();
        self.flags.append_null();
        // Cannot fail: no exemplars, no ids.
        let _ = self.exemplars.append_row(None);
        self.no_number();
        self.stats(None, None, None, None);
        self.no_explicit();
        self.no_exponential();
        self.quantiles.append(None);
    }

    fn numbers(&mut self, h: &Header<'_>, points: &[NumberDataPoint]) -> Result<(), PdataError> {
        for p in points {
            self.header(h);
            self.common(
                &p.attributes,
                p.start_time_unix_nano,
                p.time_unix_nano,
                p.flags,
                Some(&p.exemplars),
            )?;
            let (d, i) = match p.value {
                Some(number_data_point::Value::AsDouble(d)) => (Some(d), None),
                Some(number_data_point::Value::AsInt(i)) => (None, Some(i)),
                None => (None, None),
            };
            self.value_double.append_option(d);
            self.value_int.append_option(i);
            self.stats(None, None, None, None);
            self.no_explicit();
            self.no_exponential();
            self.quantiles.append(None);
        }
        Ok(())
    }

    fn histogram(&mut self, p: &HistogramDataPoint) -> Result<(), PdataError> {
        self.common(
            &p.attributes,
            p.start_time_unix_nano,
            p.time_unix_nano,
            p.flags,
            Some(&p.exemplars),
        )?;
        self.no_number();
        self.stats(Some(p.count), p.sum, p.min, p.max);
        self.bucket_counts.values().append_slice(&p.bucket_counts);
        self.bucket_counts.append(true);
        self.explicit_bounds
            .values()
            .append_slice(&p.explicit_bounds);
        self.explicit_bounds.append(true);
        self.no_exponential();
        self.quantiles.append(None);
        Ok(())
    }

    fn exponential_histogram(
        &mut self,
        p: &ExponentialHistogramDataPoint,
    ) -> Result<(), PdataError> {
        self.common(
            &p.attributes,
            p.start_time_unix_nano,
            p.time_unix_nano,
            p.flags,
            Some(&p.exemplars),
        )?;
        self.no_number();
        self.stats(Some(p.count), p.sum, p.min, p.max);
        self.no_explicit();
        self.scale.append_value(p.scale);
        self.zero_count.append_value(p.zero_count);
        self.zero_threshold.append_value(p.zero_threshold);
        self.positive.append(p.positive.as_ref());
        self.negative.append(p.negative.as_ref());
        self.quantiles.append(None);
        Ok(())
    }

    fn summary(&mut self, p: &SummaryDataPoint) {
        // Cannot fail: summaries have no exemplars.
        let _ = self.common(
            &p.attributes,
            p.start_time_unix_nano,
            p.time_unix_nano,
            p.flags,
            None,
        );
        self.no_number();
        self.stats(Some(p.count), Some(p.sum), None, None);
        self.no_explicit();
        self.no_exponential();
        self.quantiles.append(Some(&p.quantile_values));
    }

    /// The records table.
    pub(crate) fn finish(mut self) -> Result<RecordBatch, PdataError> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from(self.scope_id)),
            Arc::new(UInt32Array::from(self.metric_id)),
            Arc::new(self.name.finish()),
            Arc::new(self.description.finish()),
            Arc::new(self.unit.finish()),
            Arc::new(self.metadata.finish()?),
            Arc::new(UInt8Array::from(self.metric_type)),
            Arc::new(self.temporality.finish()),
            Arc::new(self.monotonic.finish()),
            Arc::new(self.attrs.finish()?),
            Arc::new(self.start_time.finish()),
            Arc::new(self.time.finish()),
            Arc::new(self.flags.finish()),
            Arc::new(self.value_double.finish()),
            Arc::new(self.value_int.finish()),
            Arc::new(self.count.finish()),
            Arc::new(self.sum.finish()),
            Arc::new(self.min.finish()),
            Arc::new(self.max.finish()),
            Arc::new(self.bucket_counts.finish()),
            Arc::new(self.explicit_bounds.finish()),
            Arc::new(self.scale.finish()),
            Arc::new(self.zero_count.finish()),
            Arc::new(self.zero_threshold.finish()),
            self.positive.finish()?,
            self.negative.finish()?,
            self.quantiles.finish()?,
            self.exemplars.finish()?,
        ];
        Ok(RecordBatch::try_new(schema::metrics(), columns)?)
    }
}
