//! Counting the items of an OTLP export request.
//!
//! The sink counts with `weir_pdata::otlp::scan`, one pass over the wire
//! format with no allocation, so it stays cheap next to the system under
//! test. `prost` decoding is kept as a fallback and a cross-check.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message;
use weir_pdata::{PdataError, Signal};

/// How the sink counts the items of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CountMode {
    /// Scan the wire format (`weir_pdata::otlp::scan`).
    Scan,
    /// Decode the request with prost and count the decoded items.
    Prost,
    /// Scan, and decode with prost only when the scan finds no item in a
    /// non-empty request (while the scan is not implemented yet).
    Auto,
}

/// Why a request could not be counted.
#[derive(Debug, thiserror::Error)]
pub enum CountError {
    /// The scan refused the bytes.
    #[error("the wire scan refused the request")]
    Scan(#[source] PdataError),
    /// prost could not decode the bytes.
    #[error("prost could not decode the request")]
    Decode(#[source] prost::DecodeError),
}

/// Counts the items (spans, data points, log records) of a request.
///
/// # Errors
/// [`CountError`] when the bytes are not a valid request of `signal`.
pub fn count_items(mode: CountMode, signal: Signal, bytes: &[u8]) -> Result<u64, CountError> {
    match mode {
        CountMode::Scan => scan(signal, bytes),
        CountMode::Prost => decode_and_count(signal, bytes),
        CountMode::Auto => match scan(signal, bytes)? {
            0 if !bytes.is_empty() => decode_and_count(signal, bytes),
            n => Ok(n),
        },
    }
}

fn scan(signal: Signal, bytes: &[u8]) -> Result<u64, CountError> {
    weir_pdata::otlp::scan(signal, bytes)
        .map(|n| n as u64)
        .map_err(CountError::Scan)
}

fn decode_and_count(signal: Signal, bytes: &[u8]) -> Result<u64, CountError> {
    let count = match signal {
        Signal::Traces => ExportTraceServiceRequest::decode(bytes)
            .map_err(CountError::Decode)?
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum::<usize>(),
        Signal::Logs => ExportLogsServiceRequest::decode(bytes)
            .map_err(CountError::Decode)?
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum::<usize>(),
        Signal::Metrics => ExportMetricsServiceRequest::decode(bytes)
            .map_err(CountError::Decode)?
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| match &m.data {
                Some(Data::Gauge(g)) => g.data_points.len(),
                Some(Data::Sum(s)) => s.data_points.len(),
                Some(Data::Histogram(h)) => h.data_points.len(),
                Some(Data::ExponentialHistogram(e)) => e.data_points.len(),
                Some(Data::Summary(s)) => s.data_points.len(),
                None => 0,
            })
            .sum::<usize>(),
        Signal::Profiles => return Err(CountError::Scan(PdataError::NoOtlp(signal))),
    };
    Ok(count as u64)
}
