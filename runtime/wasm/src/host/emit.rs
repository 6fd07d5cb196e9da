//! Metric points a plugin derives (`emit-metrics`, `tick`) as an OTLP
//! metrics batch.

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;
use weir_pdata::{Batch, PdataError, Signal};

use crate::bindings::weir::pipeline::types::{HostError, MetricKind, MetricPoint};

/// Checks a point's shape.
///
/// # Errors
/// [`HostError::InvalidColumn`] for a histogram whose `counts` does not
/// have one more entry than `bounds`.
pub fn check(p: &MetricPoint) -> Result<(), HostError> {
    if p.kind == MetricKind::Histogram && p.counts.len() != p.bounds.len() + 1 {
        return Err(HostError::InvalidColumn(format!(
            "metric point {:?}: a histogram needs one more count than bounds ({} counts, {} bounds)",
            p.name,
            p.counts.len(),
            p.bounds.len()
        )));
    }
    if p.name.is_empty() {
        return Err(HostError::InvalidColumn(
            "metric point without a name".to_string(),
        ));
    }
    Ok(())
}

/// The bytes a point carries, for the output limit.
pub fn size(p: &MetricPoint) -> u64 {
    let attrs: usize = p.attributes.iter().map(|(k, v)| k.len() + v.len()).sum();
    (p.name.len()
        + p.description.len()
        + p.unit.len()
        + attrs
        + 8 * (p.bounds.len() + p.counts.len())
        + 32) as u64
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

fn to_metric(p: MetricPoint) -> Metric {
    let attributes: Vec<KeyValue> = p.attributes.iter().map(|(k, v)| kv(k, v)).collect();
    let start = u64::try_from(p.start_time).unwrap_or(0);
    let time = u64::try_from(p.time).unwrap_or(0);
    let number = || NumberDataPoint {
        attributes: attributes.clone(),
        start_time_unix_nano: start,
        time_unix_nano: time,
        value: Some(number_data_point::Value::AsDouble(p.value)),
        ..Default::default()
    };
    let data = match p.kind {
        MetricKind::Gauge => metric::Data::Gauge(Gauge {
            data_points: vec![number()],
        }),
        MetricKind::Counter => metric::Data::Sum(Sum {
            data_points: vec![number()],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        }),
        MetricKind::Histogram => metric::Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                attributes: attributes.clone(),
                start_time_unix_nano: start,
                time_unix_nano: time,
                count: p.counts.iter().sum(),
                sum: Some(p.value),
                bucket_counts: p.counts.clone(),
                explicit_bounds: p.bounds.clone(),
                ..Default::default()
            }],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        }),
    };
    Metric {
        name: p.name,
        description: p.description,
        unit: p.unit,
        data: Some(data),
        ..Default::default()
    }
}

/// A metrics batch of `points`, from the plugin `plugin` of node `node`
/// (resource attribute `weir.node`, scope `weir.plugin`, version = the
/// plugin's name).
///
/// # Errors
/// [`PdataError`] if the encoded request does not validate (a bug).
pub fn to_batch(node: &str, plugin: &str, points: Vec<MetricPoint>) -> Result<Batch, PdataError> {
    let request = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("weir.node", node)],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "weir.plugin".to_string(),
                    version: plugin.to_string(),
                    ..Default::default()
                }),
                metrics: points.into_iter().map(to_metric).collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    };
    Batch::from_otlp(Signal::Metrics, Bytes::from(request.encode_to_vec()))
}
