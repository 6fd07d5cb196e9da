//! What the targets share: the input format and item counts from prost.
//!
//! The first input byte picks the signal (`% 3`: traces, metrics, logs); the
//! rest is the payload.

// Each target uses part of this module.
#![allow(dead_code)]

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message;
use weir_pdata::Signal;

/// Splits a fuzz input into a signal and a payload.
pub fn split(data: &[u8]) -> Option<(Signal, &[u8])> {
    let (&first, payload) = data.split_first()?;
    Some((Signal::ALL[usize::from(first) % 3], payload))
}

/// The number of items prost finds in `bytes`, or `None` if it refuses them.
pub fn prost_items(signal: Signal, bytes: &[u8]) -> Option<usize> {
    match signal {
        Signal::Traces => ExportTraceServiceRequest::decode(bytes).ok().map(|r| {
            r.resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum()
        }),
        Signal::Metrics => ExportMetricsServiceRequest::decode(bytes).ok().map(|r| {
            r.resource_metrics
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .map(|m| match &m.data {
                    None => 0,
                    Some(Data::Gauge(g)) => g.data_points.len(),
                    Some(Data::Sum(s)) => s.data_points.len(),
                    Some(Data::Histogram(h)) => h.data_points.len(),
                    Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
                    Some(Data::Summary(s)) => s.data_points.len(),
                })
                .sum()
        }),
        Signal::Logs => ExportLogsServiceRequest::decode(bytes).ok().map(|r| {
            r.resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .map(|s| s.log_records.len())
                .sum()
        }),
    }
}
