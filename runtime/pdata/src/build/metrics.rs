//! [`MetricTablesBuilder`]: the metrics tables from data points appended one
//! at a time, with string-valued attributes.

use std::sync::Arc;

use arrow_array::builder::{FixedSizeBinaryBuilder, StringBuilder};
use arrow_array::types::{Float64Type, Int32Type, TimestampNanosecondType, UInt64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, ListArray, MapArray, RecordBatch, StructArray,
    TimestampNanosecondArray, UInt8Array, UInt32Array, new_empty_array, new_null_array,
};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::columns::{DictColumn, LazyList, LazyPrim, offset};
use crate::otlp::arrow::envelope::{ResourcesBuilder, ScopesBuilder};
use crate::schema::{self, MetricType, ValueType};
use crate::{PdataError, SignalTables};

/// The metric-level fields of the points that follow
/// ([`MetricTablesBuilder::metric`]).
#[derive(Debug, Clone, Copy)]
pub struct MetricHeader<'a> {
    /// The `scopes.id` (from [`MetricTablesBuilder::scope`]).
    pub scope_id: u32,
    /// `Metric.name`.
    pub name: &'a str,
    /// `Metric.description`.
    pub description: &'a str,
    /// `Metric.unit`.
    pub unit: &'a str,
    /// Gauge, sum, histogram or summary (exponential histograms are not
    /// built here).
    pub metric_type: MetricType,
    /// `AggregationTemporality` of sums and histograms.
    pub temporality: Option<i32>,
    /// `is_monotonic` of sums.
    pub monotonic: Option<bool>,
}

/// An exemplar of the next point, with string-valued attributes.
#[derive(Debug, Clone, Copy)]
pub struct Exemplar<'a> {
    /// Its attributes (`filtered_attributes`), borrowed.
    pub attributes: &'a [(&'a str, &'a str)],
    /// Unix nanoseconds (0 when unknown).
    pub time: u64,
    /// The value.
    pub value: f64,
    /// The trace id, if it has one.
    pub trace_id: Option<[u8; 16]>,
    /// The span id, if it has one.
    pub span_id: Option<[u8; 8]>,
}

/// A `Map<Utf8, AnyValue>` column whose values are all strings.
#[derive(Default)]
struct StrAttrs {
    offsets: Vec<i32>,
    keys: StringBuilder,
    values: StringBuilder,
    len: usize,
}

impl StrAttrs {
    fn new() -> Self {
        StrAttrs {
            offsets: vec![0],
            ..StrAttrs::default()
        }
    }

    fn push(&mut self, key: &str, value: &str) {
        self.keys.append_value(key);
        self.values.append_value(value);
        self.len += 1;
    }

    fn close(&mut self) -> Result<(), PdataError> {
        self.offsets.push(offset(self.len)?);
        Ok(())
    }

    /// The map column; rows whose bit in `nulls` is unset are null.
    fn finish(mut self, nulls: Option<arrow_buffer::NullBuffer>) -> Result<MapArray, PdataError> {
        let n = self.len;
        let value = StructArray::try_new(
            schema::any_value_fields(),
            vec![
                Arc::new(UInt8Array::from(vec![ValueType::Str as u8; n])),
                Arc::new(self.values.finish()),
                new_null_array(&DataType::Int64, n),
                new_null_array(&DataType::Float64, n),
                new_null_array(&DataType::Boolean, n),
                new_null_array(&DataType::Binary, n),
            ],
            None,
        )?;
        let entries = StructArray::try_new(
            schema::attributes_entry_fields(),
            vec![Arc::new(self.keys.finish()), Arc::new(value)],
            None,
        )?;
        Ok(MapArray::try_new(
            schema::attributes_entries(),
            OffsetBuffer::new(ScalarBuffer::from(self.offsets)),
            entries,
            nulls,
            false,
        )?)
    }
}

/// The `exemplars` column, built only when some point has exemplars.
#[derive(Default)]
struct Exemplars {
    rows: usize,
    started: bool,
    offsets: Vec<i32>,
    attrs: Option<StrAttrs>,
    time: Vec<i64>,
    value: Vec<f64>,
    span_id: Option<FixedSizeBinaryBuilder>,
    trace_id: Option<FixedSizeBinaryBuilder>,
    pending: usize,
}

impl Exemplars {
    fn push(&mut self, e: &Exemplar<'_>) -> Result<(), PdataError> {
        if !self.started {
            self.started = true;
            self.offsets = vec![0; self.rows + 1];
            self.attrs = Some(StrAttrs::new());
            self.span_id = Some(FixedSizeBinaryBuilder::new(8));
            self.trace_id = Some(FixedSizeBinaryBuilder::new(16));
        }
        if let Some(a) = &mut self.attrs {
            for (k, v) in e.attributes {
                a.push(k, v);
            }
            a.close()?;
        }
        self.time.push(e.time.cast_signed());
        self.value.push(e.value);
        if let Some(b) = &mut self.span_id {
            match e.span_id {
                Some(id) => b.append_value(id)?,
                None => b.append_null(),
            }
        }
        if let Some(b) = &mut self.trace_id {
            match e.trace_id {
                Some(id) => b.append_value(id)?,
                None => b.append_null(),
            }
        }
        self.pending += 1;
        Ok(())
    }

    /// Ends a row: its exemplars are those pushed since the last row.
    fn close(&mut self) -> Result<(), PdataError> {
        self.rows += 1;
        self.pending = 0;
        if self.started {
            self.offsets.push(offset(self.time.len())?);
        }
        Ok(())
    }

    fn finish(self) -> Result<ArrayRef, PdataError> {
        let item = DataType::Struct(schema::exemplar_fields());
        if !self.started {
            return Ok(new_null_array(&schema::list_of(item), self.rows));
        }
        let n = self.time.len();
        let attrs = self.attrs.unwrap_or_default().finish(None)?;
        let mut span_id = self
            .span_id
            .unwrap_or_else(|| FixedSizeBinaryBuilder::new(8));
        let mut trace_id = self
            .trace_id
            .unwrap_or_else(|| FixedSizeBinaryBuilder::new(16));
        let values = StructArray::try_new(
            schema::exemplar_fields(),
            vec![
                Arc::new(attrs),
                Arc::new(
                    TimestampNanosecondArray::from(self.time).with_timezone(schema::TIME_ZONE),
                ),
                Arc::new(Float64Array::from(self.value)),
                new_null_array(&DataType::Int64, n),
                Arc::new(span_id.finish()),
                Arc::new(trace_id.finish()),
            ],
            None,
        )?;
        Ok(Arc::new(ListArray::try_new(
            Arc::new(Field::new_list_field(item, true)),
            OffsetBuffer::new(ScalarBuffer::from(self.offsets)),
            Arc::new(values),
            None,
        )?))
    }
}

/// The `quantile_values` column, built only when some point is a summary.
#[derive(Default)]
struct Quantiles {
    rows: usize,
    offsets: Vec<i32>,
    nulls: Option<NullBufferBuilder>,
    quantile: Vec<f64>,
    value: Vec<f64>,
}

impl Quantiles {
    fn push(&mut self, q: &[(f64, f64)]) -> Result<(), PdataError> {
        if self.nulls.is_none() {
            let mut n = NullBufferBuilder::new(self.rows.max(64));
            n.append_n_nulls(self.rows);
            self.nulls = Some(n);
            self.offsets = vec![0; self.rows + 1];
        }
        for &(quantile, value) in q {
            self.quantile.push(quantile);
            self.value.push(value);
        }
        self.offsets.push(offset(self.quantile.len())?);
        if let Some(n) = &mut self.nulls {
            n.append_non_null();
        }
        self.rows += 1;
        Ok(())
    }

    fn push_null(&mut self) {
        if let Some(n) = &mut self.nulls {
            n.append_null();
            let last = self.offsets.last().copied().unwrap_or(0);
            self.offsets.push(last);
        }
        self.rows += 1;
    }

    fn finish(self) -> Result<ArrayRef, PdataError> {
        let item = DataType::Struct(schema::quantile_fields());
        let Some(mut nulls) = self.nulls else {
            return Ok(new_null_array(&schema::list_of(item), self.rows));
        };
        let values = StructArray::try_new(
            schema::quantile_fields(),
            vec![
                Arc::new(Float64Array::from(self.quantile)),
                Arc::new(Float64Array::from(self.value)),
            ],
            None,
        )?;
        Ok(Arc::new(ListArray::try_new(
            Arc::new(Field::new_list_field(item, true)),
            OffsetBuffer::new(ScalarBuffer::from(self.offsets)),
            Arc::new(values),
            nulls.finish(),
        )?))
    }
}

/// The keys and flags of the metric the next points belong to.
#[derive(Clone, Copy)]
struct Current {
    scope_id: u32,
    metric_id: u32,
    name: u32,
    description: u32,
    unit: u32,
    metric_type: u8,
    temporality: Option<i32>,
    monotonic: Option<bool>,
}

/// Builds the three metrics tables from data points, without OTLP structs.
///
/// Use: [`resource`](Self::resource) and [`scope`](Self::scope) once per
/// target or source; then per metric [`metric`](Self::metric), and per data
/// point its attributes ([`attr`](Self::attr)), optional
/// [`exemplar`](Self::exemplar)s, and one of [`number`](Self::number),
/// [`histogram`](Self::histogram) or [`summary`](Self::summary), which ends
/// the point. [`finish`](Self::finish) gives the tables.
///
/// Appending a point costs a few pushes onto flat vectors: metric-level
/// strings are looked up in their dictionaries once per
/// [`metric`](Self::metric) call, and columns a batch never fills (buckets,
/// quantiles, exemplars, exponential histograms) are created all-null at the
/// end.
pub struct MetricTablesBuilder {
    resources: ResourcesBuilder,
    scopes: ScopesBuilder,
    metrics: u32,
    current: Option<Current>,
    rows: usize,
    scope_id: Vec<u32>,
    metric_id: Vec<u32>,
    name: DictColumn,
    description: DictColumn,
    unit: DictColumn,
    metric_type: Vec<u8>,
    temporality: LazyPrim<Int32Type>,
    monotonic: Vec<Option<bool>>,
    attrs: StrAttrs,
    start_time: Vec<i64>,
    time: Vec<i64>,
    flags: Vec<u32>,
    value_double: LazyPrim<Float64Type>,
    count: LazyPrim<UInt64Type>,
    sum: LazyPrim<Float64Type>,
    bucket_counts: LazyList<UInt64Type>,
    explicit_bounds: LazyList<Float64Type>,
    quantiles: Quantiles,
    exemplars: Exemplars,
}

impl Default for MetricTablesBuilder {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl MetricTablesBuilder {
    /// A builder for about `points` data points.
    pub fn with_capacity(points: usize) -> Self {
        MetricTablesBuilder {
            resources: ResourcesBuilder::with_capacity(1),
            scopes: ScopesBuilder::with_capacity(1),
            metrics: 0,
            current: None,
            rows: 0,
            scope_id: Vec::with_capacity(points),
            metric_id: Vec::with_capacity(points),
            name: DictColumn::default(),
            description: DictColumn::default(),
            unit: DictColumn::default(),
            metric_type: Vec::with_capacity(points),
            temporality: LazyPrim::default(),
            monotonic: Vec::with_capacity(points),
            attrs: StrAttrs {
                offsets: {
                    let mut v = Vec::with_capacity(points + 1);
                    v.push(0);
                    v
                },
                keys: StringBuilder::with_capacity(points * 4, points * 32),
                values: StringBuilder::with_capacity(points * 4, points * 48),
                len: 0,
            },
            start_time: Vec::with_capacity(points),
            time: Vec::with_capacity(points),
            flags: Vec::with_capacity(points),
            value_double: LazyPrim::default(),
            count: LazyPrim::default(),
            sum: LazyPrim::default(),
            bucket_counts: LazyList::default(),
            explicit_bounds: LazyList::default(),
            quantiles: Quantiles::default(),
            exemplars: Exemplars::default(),
        }
    }

    /// Data points appended so far.
    pub fn points(&self) -> usize {
        self.rows
    }

    /// Adds a resource with string attributes; returns its id.
    ///
    /// # Errors
    /// [`PdataError::InvalidValue`] past 2^32 resources.
    pub fn resource(&mut self, attributes: &[(&str, &str)]) -> Result<u32, PdataError> {
        let resource = Resource {
            attributes: attributes.iter().map(|(k, v)| string_kv(k, v)).collect(),
            ..Resource::default()
        };
        self.resources.append(Some(&resource), "")
    }

    /// Adds an instrumentation scope of resource `resource_id`; returns its
    /// id.
    ///
    /// # Errors
    /// [`PdataError::InvalidValue`] past 2^32 scopes.
    pub fn scope(
        &mut self,
        resource_id: u32,
        name: &str,
        version: &str,
    ) -> Result<u32, PdataError> {
        let scope = InstrumentationScope {
            name: name.to_string(),
            version: version.to_string(),
            ..InstrumentationScope::default()
        };
        self.scopes.append(resource_id, Some(&scope), "")
    }

    /// Starts a metric: the points appended next belong to it.
    ///
    /// # Errors
    /// [`PdataError::InvalidValue`] past 2^32 metrics or names.
    pub fn metric(&mut self, header: &MetricHeader<'_>) -> Result<(), PdataError> {
        let metric_id = self.metrics;
        self.metrics = self
            .metrics
            .checked_add(1)
            .ok_or(PdataError::InvalidValue {
                field: "batch",
                reason: "more than 2^32 metrics".to_string(),
            })?;
        self.current = Some(Current {
            scope_id: header.scope_id,
            metric_id,
            name: self.name.key(header.name)?,
            description: self.description.key(header.description)?,
            unit: self.unit.key(header.unit)?,
            metric_type: header.metric_type as u8,
            temporality: header.temporality,
            monotonic: header.monotonic,
        });
        Ok(())
    }

    /// Adds an attribute to the next point.
    pub fn attr(&mut self, key: &str, value: &str) {
        self.attrs.push(key, value);
    }

    /// Adds an exemplar to the next point.
    ///
    /// # Errors
    /// Never in practice (ids have fixed sizes).
    pub fn exemplar(&mut self, e: &Exemplar<'_>) -> Result<(), PdataError> {
        self.exemplars.push(e)
    }

    fn begin_row(&mut self, start: u64, time: u64, flags: u32) -> Result<(), PdataError> {
        let c = self.current.ok_or(PdataError::InvalidValue {
            field: "batch",
            reason: "a data point before any metric".to_string(),
        })?;
        self.scope_id.push(c.scope_id);
        self.metric_id.push(c.metric_id);
        self.name.push(c.name);
        self.description.push(c.description);
        self.unit.push(c.unit);
        self.metric_type.push(c.metric_type);
        self.temporality.push_opt(c.temporality);
        self.monotonic.push(c.monotonic);
        self.attrs.close()?;
        self.start_time.push(start.cast_signed());
        self.time.push(time.cast_signed());
        self.flags.push(flags);
        self.exemplars.close()?;
        self.rows += 1;
        Ok(())
    }

    /// Ends a number point (gauge or sum) of the current metric.
    ///
    /// # Errors
    /// [`PdataError::InvalidValue`] without a current metric.
    pub fn number(
        &mut self,
        start: u64,
        time: u64,
        value: f64,
        flags: u32,
    ) -> Result<(), PdataError> {
        self.begin_row(start, time, flags)?;
        self.value_double.push(value);
        self.count.push_null();
        self.sum.push_null();
        self.bucket_counts.push_null();
        self.explicit_bounds.push_null();
        self.quantiles.push_null();
        Ok(())
    }

    /// Ends an explicit-bucket histogram point: `bucket_counts` has one more
    /// item than `bounds` (the +Inf bucket), counts are per bucket (not
    /// cumulative).
    ///
    /// # Errors
    /// [`PdataError::InvalidValue`] without a current metric, or when the
    /// lengths do not match.
    #[allow(clippy::too_many_arguments, reason = "one OTLP histogram point")]
    pub fn histogram(
        &mut self,
        start: u64,
        time: u64,
        count: u64,
        sum: Option<f64>,
        bounds: &[f64],
        bucket_counts: &[u64],
        flags: u32,
    ) -> Result<(), PdataError> {
        if !bucket_counts.is_empty() && bucket_counts.len() != bounds.len() + 1 {
            return Err(PdataError::InvalidValue {
                field: "HistogramDataPoint.bucket_counts",
                reason: format!("{} counts for {} bounds", bucket_counts.len(), bounds.len()),
            });
        }
        self.begin_row(start, time, flags)?;
        self.value_double.push_null();
        self.count.push(count);
        self.sum.push_opt(sum);
        self.bucket_counts.push(bucket_counts)?;
        self.explicit_bounds.push(bounds)?;
        self.quantiles.push_null();
        Ok(())
    }

    /// Ends a summary point: `quantiles` are `(quantile, value)` pairs.
    ///
    /// # Errors
    /// [`PdataError::InvalidValue`] without a current metric.
    pub fn summary(
        &mut self,
        start: u64,
        time: u64,
        count: u64,
        sum: f64,
        quantiles: &[(f64, f64)],
        flags: u32,
    ) -> Result<(), PdataError> {
        self.begin_row(start, time, flags)?;
        self.value_double.push_null();
        self.count.push(count);
        self.sum.push(sum);
        self.bucket_counts.push_null();
        self.explicit_bounds.push_null();
        self.quantiles.push(quantiles)?;
        Ok(())
    }

    /// The tables.
    ///
    /// # Errors
    /// [`PdataError::InvalidValue`] when the batch outgrew Arrow's 32-bit
    /// offsets; Arrow errors (a bug).
    pub fn finish(self) -> Result<SignalTables, PdataError> {
        let n = self.rows;
        let ts_type = schema::timestamp_type();
        let empty_map = empty_maps(n)?;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from(self.scope_id)),
            Arc::new(UInt32Array::from(self.metric_id)),
            self.name.finish()?,
            self.description.finish()?,
            self.unit.finish()?,
            empty_map,
            Arc::new(UInt8Array::from(self.metric_type)),
            self.temporality.finish(&DataType::Int32)?,
            Arc::new(BooleanArray::from(self.monotonic)),
            Arc::new(self.attrs.finish(None)?),
            Arc::new(
                arrow_array::PrimitiveArray::<TimestampNanosecondType>::from(self.start_time)
                    .with_data_type(ts_type.clone()),
            ),
            Arc::new(
                arrow_array::PrimitiveArray::<TimestampNanosecondType>::from(self.time)
                    .with_data_type(ts_type),
            ),
            Arc::new(UInt32Array::from(self.flags)),
            self.value_double.finish(&DataType::Float64)?,
            new_null_array(&DataType::Int64, n),
            self.count.finish(&DataType::UInt64)?,
            self.sum.finish(&DataType::Float64)?,
            new_null_array(&DataType::Float64, n),
            new_null_array(&DataType::Float64, n),
            self.bucket_counts.finish(&DataType::UInt64)?,
            self.explicit_bounds.finish(&DataType::Float64)?,
            new_null_array(&DataType::Int32, n),
            new_null_array(&DataType::UInt64, n),
            new_null_array(&DataType::Float64, n),
            new_null_array(&DataType::Struct(schema::buckets_fields()), n),
            new_null_array(&DataType::Struct(schema::buckets_fields()), n),
            self.quantiles.finish()?,
            self.exemplars.finish()?,
        ];
        let records = RecordBatch::try_new(schema::metrics(), columns)?;
        Ok(SignalTables {
            resources: self.resources.finish()?,
            scopes: self.scopes.finish()?,
            records,
        })
    }
}

fn string_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        key_strindex: 0,
    }
}

/// `n` non-null empty attribute maps (`metric_metadata`).
fn empty_maps(n: usize) -> Result<ArrayRef, PdataError> {
    let entries = new_empty_array(&DataType::Struct(schema::attributes_entry_fields()));
    let entries = entries
        .as_any()
        .downcast_ref::<StructArray>()
        .cloned()
        .ok_or_else(|| PdataError::InvalidValue {
            field: "batch",
            reason: "empty struct array".to_string(),
        })?;
    Ok(Arc::new(MapArray::try_new(
        schema::attributes_entries(),
        OffsetBuffer::new_zeroed(n),
        entries,
        None,
        false,
    )?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::Signal;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    use prost::Message;

    fn header(scope_id: u32, name: &str, ty: MetricType) -> MetricHeader<'_> {
        MetricHeader {
            scope_id,
            name,
            description: "help",
            unit: "",
            metric_type: ty,
            temporality: match ty {
                MetricType::Gauge | MetricType::Summary => None,
                _ => Some(2),
            },
            monotonic: (ty == MetricType::Sum).then_some(true),
        }
    }

    #[test]
    fn builds_tables_that_encode_to_the_same_otlp() {
        let mut b = MetricTablesBuilder::with_capacity(4);
        let r = b
            .resource(&[("service.name", "node"), ("service.instance.id", "h:1")])
            .unwrap();
        let s = b.scope(r, "weir", "0.1").unwrap();
        b.metric(&header(s, "up", MetricType::Gauge)).unwrap();
        b.number(0, 1_000_000, 1.0, 0).unwrap();
        b.metric(&header(s, "reqs_total", MetricType::Sum)).unwrap();
        b.attr("code", "200");
        b.exemplar(&Exemplar {
            attributes: &[("trace_id", "x")],
            time: 5,
            value: 2.0,
            trace_id: None,
            span_id: Some([1; 8]),
        })
        .unwrap();
        b.number(0, 1_000_000, 3.0, 0).unwrap();
        b.attr("code", "500");
        b.number(0, 1_000_000, 4.0, 1).unwrap();
        b.metric(&header(s, "lat", MetricType::Histogram)).unwrap();
        b.histogram(0, 2, 3, Some(1.5), &[0.1, 1.0], &[1, 1, 1], 0)
            .unwrap();
        b.metric(&header(s, "q", MetricType::Summary)).unwrap();
        b.summary(0, 2, 3, 1.5, &[(0.5, 0.2)], 0).unwrap();
        assert_eq!(b.points(), 5);
        let tables = b.finish().unwrap();
        assert_eq!(tables.records.num_rows(), 5);
        let bytes = crate::otlp::encode(Signal::Metrics, &tables).unwrap();
        let req = ExportMetricsServiceRequest::decode(bytes.as_ref()).unwrap();
        let rm = &req.resource_metrics[0];
        assert_eq!(rm.resource.as_ref().unwrap().attributes.len(), 2);
        let metrics = &rm.scope_metrics[0].metrics;
        assert_eq!(metrics.len(), 4);
        let Some(Data::Sum(sum)) = &metrics[1].data else {
            panic!("not a sum")
        };
        assert!(sum.is_monotonic);
        assert_eq!(sum.data_points.len(), 2);
        assert_eq!(sum.data_points[0].exemplars.len(), 1);
        assert_eq!(sum.data_points[0].exemplars[0].span_id, vec![1; 8]);
        assert_eq!(sum.data_points[1].flags, 1);
        assert_eq!(sum.data_points[1].attributes[0].key, "code");
        let Some(Data::Histogram(h)) = &metrics[2].data else {
            panic!("not a histogram")
        };
        assert_eq!(h.data_points[0].bucket_counts, vec![1, 1, 1]);
        assert_eq!(h.data_points[0].explicit_bounds, vec![0.1, 1.0]);
        assert_eq!(h.data_points[0].sum, Some(1.5));
        let Some(Data::Summary(q)) = &metrics[3].data else {
            panic!("not a summary")
        };
        assert_eq!(q.data_points[0].quantile_values[0].value, 0.2);
        // The same request decoded by the reference path gives equal tables.
        let decoded = crate::otlp::decode(Signal::Metrics, &bytes).unwrap();
        let again = crate::otlp::encode(Signal::Metrics, &decoded).unwrap();
        assert_eq!(again, bytes);
    }

    #[test]
    fn empty_builder_gives_empty_tables() {
        let t = MetricTablesBuilder::default().finish().unwrap();
        assert_eq!(t.records.num_rows(), 0);
        assert_eq!(t.records.schema(), schema::metrics());
    }

    #[test]
    fn point_without_metric_is_refused() {
        let mut b = MetricTablesBuilder::default();
        assert!(b.number(0, 0, 1.0, 0).is_err());
    }
}
