//! A window's result rows as OTLP metric points.
//!
//! Every row is one series of the window. Columns declared with `metric`
//! are values: `kind="sum"` and `kind="gauge"` take a number column,
//! `kind="histogram"` a `histogram(...)` column. Every other column is a
//! label:
//!
//! - `service_name` becomes the resource attribute `service.name`, and a
//!   column named `resource.<key>` the resource attribute `<key>`: rows with
//!   the same resource labels share one resource;
//! - any other column is a data point attribute named like the column
//!   (quote names with dots: `AS "http.route"`). A NULL label is left out.
//!
//! Points are delta: `start_time` is the window start and `time` its end.
//! A NULL value gives no point.

use std::collections::BTreeMap;

use arrow::array::{Array, ArrayRef, AsArray as _, RecordBatch, StructArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type, SchemaRef, UInt64Type};
use datafusion::common::{Result, exec_err};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::functions::edit::is_attribute_value;
use crate::functions::histogram::histogram_type;
use crate::view::SERVICE_NAME;

/// The kind of a declared metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A delta sum (monotonic or not).
    Sum {
        /// Whether the sum only grows (counts).
        monotonic: bool,
    },
    /// A gauge.
    Gauge,
    /// An explicit-bucket histogram.
    Histogram,
}

/// A `metric` declaration of the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricDecl {
    /// The result column.
    pub column: String,
    /// The kind.
    pub kind: MetricKind,
    /// The metric name (default: the column name).
    pub name: String,
    /// The unit.
    pub unit: String,
    /// The description.
    pub description: String,
}

#[derive(Debug, Clone)]
struct MetricColumn {
    decl: MetricDecl,
    index: usize,
}

#[derive(Debug, Clone)]
struct Label {
    index: usize,
    key: String,
}

/// A resource's labels, comparable: (key, value's debug form).
type ResourceKey = Vec<(String, String)>;

/// How the columns of a window's result become points.
#[derive(Debug, Clone)]
pub struct PointsLayout {
    metrics: Vec<MetricColumn>,
    resource: Vec<Label>,
    point: Vec<Label>,
}

impl PointsLayout {
    /// Checks `schema` against `decls`.
    ///
    /// # Errors
    /// Every problem: a declared metric that is no column or of the wrong
    /// type, a label column that cannot be an attribute.
    pub fn new(schema: &SchemaRef, decls: &[MetricDecl]) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let mut metrics = Vec::new();
        for d in decls {
            let Some((index, field)) = schema.column_with_name(&d.column) else {
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                problems.push(format!(
                    "metric `{}` names no column of the result (columns: {})",
                    d.column,
                    names.join(", ")
                ));
                continue;
            };
            let t = field.data_type();
            let ok = match d.kind {
                MetricKind::Sum { .. } | MetricKind::Gauge => t.is_numeric(),
                MetricKind::Histogram => t.equals_datatype(&histogram_type()),
            };
            if !ok {
                let want = match d.kind {
                    MetricKind::Histogram => "a histogram(value, bounds) column",
                    _ => "a number",
                };
                problems.push(format!(
                    "metric `{}` is {t}, but its kind needs {want}",
                    d.column
                ));
            }
            metrics.push(MetricColumn {
                decl: d.clone(),
                index,
            });
        }
        let mut resource = Vec::new();
        let mut point = Vec::new();
        for (index, field) in schema.fields().iter().enumerate() {
            let name = field.name();
            if decls.iter().any(|d| &d.column == name) {
                continue;
            }
            if !is_attribute_value(field.data_type()) {
                problems.push(format!(
                    "column `{name}` is {} and is not a declared metric: a label must be a string, number or bool",
                    field.data_type()
                ));
                continue;
            }
            if name == SERVICE_NAME {
                resource.push(Label {
                    index,
                    key: "service.name".to_string(),
                });
            } else if let Some(key) = name.strip_prefix("resource.") {
                resource.push(Label {
                    index,
                    key: key.to_string(),
                });
            } else {
                point.push(Label {
                    index,
                    key: name.clone(),
                });
            }
        }
        if decls.is_empty() {
            problems.push("a windowed query needs at least one `metric`".to_string());
        }
        if problems.is_empty() {
            Ok(PointsLayout {
                metrics,
                resource,
                point,
            })
        } else {
            Err(problems)
        }
    }

    /// The request holding the points of `result` for the window
    /// `[start, end)` (ns), and its number of points.
    ///
    /// # Errors
    /// A result that does not match the layout (a bug).
    pub fn request(
        &self,
        result: &[RecordBatch],
        start: i64,
        end: i64,
        scope_name: &str,
    ) -> Result<(ExportMetricsServiceRequest, usize)> {
        let mut resources: BTreeMap<ResourceKey, (Vec<KeyValue>, Vec<Metric>)> = BTreeMap::new();
        let mut points = 0;
        let (start, end) = (start as u64, end as u64);
        for batch in result {
            for row in 0..batch.num_rows() {
                let res_attrs = labels(batch, &self.resource, row)?;
                let key: Vec<(String, String)> = res_attrs
                    .iter()
                    .map(|kv| (kv.key.clone(), format!("{:?}", kv.value)))
                    .collect();
                let entry = resources.entry(key).or_insert_with(|| {
                    let metrics = self.metrics.iter().map(|m| empty_metric(&m.decl)).collect();
                    (res_attrs, metrics)
                });
                let attrs = labels(batch, &self.point, row)?;
                for (m, metric) in self.metrics.iter().zip(entry.1.iter_mut()) {
                    if push_point(metric, batch.column(m.index), row, &attrs, start, end)? {
                        points += 1;
                    }
                }
            }
        }
        let scope = InstrumentationScope {
            name: scope_name.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            ..Default::default()
        };
        let resource_metrics = resources
            .into_values()
            .map(|(attributes, metrics)| ResourceMetrics {
                resource: Some(Resource {
                    attributes,
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(scope.clone()),
                    metrics: metrics.into_iter().filter(has_points).collect(),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            })
            .collect();
        Ok((ExportMetricsServiceRequest { resource_metrics }, points))
    }
}

fn has_points(m: &Metric) -> bool {
    match &m.data {
        Some(Data::Sum(s)) => !s.data_points.is_empty(),
        Some(Data::Gauge(g)) => !g.data_points.is_empty(),
        Some(Data::Histogram(h)) => !h.data_points.is_empty(),
        _ => false,
    }
}

fn empty_metric(d: &MetricDecl) -> Metric {
    let delta = AggregationTemporality::Delta as i32;
    let data = match d.kind {
        MetricKind::Sum { monotonic } => Data::Sum(Sum {
            data_points: Vec::new(),
            aggregation_temporality: delta,
            is_monotonic: monotonic,
        }),
        MetricKind::Gauge => Data::Gauge(Gauge {
            data_points: Vec::new(),
        }),
        MetricKind::Histogram => Data::Histogram(Histogram {
            data_points: Vec::new(),
            aggregation_temporality: delta,
        }),
    };
    Metric {
        name: d.name.clone(),
        description: d.description.clone(),
        unit: d.unit.clone(),
        metadata: Vec::new(),
        data: Some(data),
    }
}

/// The labels of `row`, NULLs left out.
fn labels(batch: &RecordBatch, labels: &[Label], row: usize) -> Result<Vec<KeyValue>> {
    let mut out = Vec::with_capacity(labels.len());
    for l in labels {
        if let Some(value) = any_value(batch.column(l.index), row)? {
            out.push(KeyValue {
                key: l.key.clone(),
                value: Some(AnyValue { value: Some(value) }),
                ..Default::default()
            });
        }
    }
    Ok(out)
}

fn any_value(col: &ArrayRef, row: usize) -> Result<Option<any_value::Value>> {
    use any_value::Value as V;
    if col.is_null(row) {
        return Ok(None);
    }
    let t = col.data_type();
    Ok(Some(if t.is_integer() {
        let c = arrow::compute::cast(&col.slice(row, 1), &DataType::Int64)?;
        V::IntValue(c.as_primitive::<Int64Type>().value(0))
    } else if t.is_floating() {
        let c = arrow::compute::cast(&col.slice(row, 1), &DataType::Float64)?;
        V::DoubleValue(c.as_primitive::<Float64Type>().value(0))
    } else if matches!(t, DataType::Boolean) {
        V::BoolValue(col.as_boolean().value(row))
    } else {
        let c = arrow::compute::cast(&col.slice(row, 1), &DataType::Utf8)?;
        V::StringValue(c.as_string::<i32>().value(0).to_string())
    }))
}

/// Appends the point of `row` to `metric`; false when its value is NULL.
fn push_point(
    metric: &mut Metric,
    col: &ArrayRef,
    row: usize,
    attrs: &[KeyValue],
    start: u64,
    end: u64,
) -> Result<bool> {
    if col.is_null(row) {
        return Ok(false);
    }
    let number = |col: &ArrayRef| -> Result<number_data_point::Value> {
        let t = col.data_type();
        Ok(if t.is_integer() {
            let c = arrow::compute::cast(&col.slice(row, 1), &DataType::Int64)?;
            number_data_point::Value::AsInt(c.as_primitive::<Int64Type>().value(0))
        } else {
            let c = arrow::compute::cast(&col.slice(row, 1), &DataType::Float64)?;
            number_data_point::Value::AsDouble(c.as_primitive::<Float64Type>().value(0))
        })
    };
    let number_point = |value| NumberDataPoint {
        attributes: attrs.to_vec(),
        start_time_unix_nano: start,
        time_unix_nano: end,
        value: Some(value),
        ..Default::default()
    };
    match &mut metric.data {
        Some(Data::Sum(s)) => s.data_points.push(number_point(number(col)?)),
        Some(Data::Gauge(g)) => g.data_points.push(number_point(number(col)?)),
        Some(Data::Histogram(h)) => {
            let Some(s) = col.as_struct_opt() else {
                return exec_err!("histogram column is not a struct");
            };
            h.data_points
                .push(histogram_point(s, row, attrs, start, end)?);
        }
        _ => return exec_err!("metric without data"),
    }
    Ok(true)
}

fn histogram_point(
    s: &StructArray,
    row: usize,
    attrs: &[KeyValue],
    start: u64,
    end: u64,
) -> Result<HistogramDataPoint> {
    let get = |name: &str| -> Result<&ArrayRef> {
        match s.column_by_name(name) {
            Some(c) => Ok(c),
            None => exec_err!("histogram column has no field {name}"),
        }
    };
    let f64_at = |c: &ArrayRef| {
        c.as_primitive_opt::<Float64Type>()
            .and_then(|a| a.is_valid(row).then(|| a.value(row)))
    };
    let count = get("count")?
        .as_primitive_opt::<UInt64Type>()
        .map_or(0, |a| a.value(row));
    let list_f64 = |c: &ArrayRef| -> Vec<f64> {
        c.as_list_opt::<i32>()
            .map(|l| l.value(row))
            .and_then(|v| {
                v.as_primitive_opt::<Float64Type>()
                    .map(|p| p.values().to_vec())
            })
            .unwrap_or_default()
    };
    let list_u64 = |c: &ArrayRef| -> Vec<u64> {
        c.as_list_opt::<i32>()
            .map(|l| l.value(row))
            .and_then(|v| {
                v.as_primitive_opt::<UInt64Type>()
                    .map(|p| p.values().to_vec())
            })
            .unwrap_or_default()
    };
    Ok(HistogramDataPoint {
        attributes: attrs.to_vec(),
        start_time_unix_nano: start,
        time_unix_nano: end,
        count,
        sum: f64_at(get("sum")?),
        bucket_counts: list_u64(get("bucket_counts")?),
        explicit_bounds: list_f64(get("explicit_bounds")?),
        exemplars: Vec::new(),
        flags: 0,
        min: f64_at(get("min")?),
        max: f64_at(get("max")?),
    })
}
