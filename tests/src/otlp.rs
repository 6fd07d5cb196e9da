//! OTLP requests as the tests compare them: per signal, how to count items,
//! how to flatten a request into one-item requests, and a field-by-field
//! comparison of what a client sent with what a server received.
//!
//! Batching may regroup items (merge requests, split a request, repeat a
//! resource), so both sides are flattened into `(resource, scope, item)`
//! triples: one-item requests with their resource and scope copied whole.
//! For metrics the item is one data point (the `Metric` message with every
//! field except the other points). The two multisets must be equal: any
//! field that differs anywhere makes [`diff`] fail and says which.

use std::collections::HashMap;
use std::fmt::Debug;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogram, Gauge, Histogram, Metric, ResourceMetrics, ScopeMetrics, Sum, Summary,
};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use prost::Message;

/// One OTLP signal: its request type and how tests count and flatten it.
pub trait OtlpSignal: Send + Sync + 'static {
    /// The `Export*ServiceRequest` message.
    type Request: Message + Default + Clone + PartialEq + Debug + Send + Sync + 'static;
    /// `traces`, `metrics` or `logs`: the name of the frame file `send.py`
    /// writes and of the Parquet store's table (`spans` for traces).
    const NAME: &'static str;
    /// Items in a request: spans, log records, or metric data points (a
    /// metric without points counts as one item).
    fn items(request: &Self::Request) -> usize;
    /// The request as one-item requests, each carrying its resource and scope.
    fn flatten(request: &Self::Request) -> Vec<Self::Request>;
}

/// Traces: items are spans.
#[derive(Debug, Clone, Copy)]
pub struct Traces;
/// Metrics: items are data points.
#[derive(Debug, Clone, Copy)]
pub struct Metrics;
/// Logs: items are log records.
#[derive(Debug, Clone, Copy)]
pub struct Logs;

impl OtlpSignal for Traces {
    type Request = ExportTraceServiceRequest;
    const NAME: &'static str = "traces";

    fn items(request: &Self::Request) -> usize {
        let scopes = request.resource_spans.iter().flat_map(|r| &r.scope_spans);
        scopes.map(|s| s.spans.len()).sum()
    }

    fn flatten(request: &Self::Request) -> Vec<Self::Request> {
        let mut out = Vec::new();
        for rs in &request.resource_spans {
            // Exhaustive patterns: a field added to OTLP must be added here.
            let ResourceSpans {
                resource,
                scope_spans,
                schema_url: resource_schema,
            } = rs;
            for ss in scope_spans {
                let ScopeSpans {
                    scope,
                    spans,
                    schema_url,
                } = ss;
                for span in spans {
                    out.push(ExportTraceServiceRequest {
                        resource_spans: vec![ResourceSpans {
                            resource: resource.clone(),
                            schema_url: resource_schema.clone(),
                            scope_spans: vec![ScopeSpans {
                                scope: scope.clone(),
                                schema_url: schema_url.clone(),
                                spans: vec![span.clone()],
                            }],
                        }],
                    });
                }
            }
        }
        out
    }
}

impl OtlpSignal for Logs {
    type Request = ExportLogsServiceRequest;
    const NAME: &'static str = "logs";

    fn items(request: &Self::Request) -> usize {
        let scopes = request.resource_logs.iter().flat_map(|r| &r.scope_logs);
        scopes.map(|s| s.log_records.len()).sum()
    }

    fn flatten(request: &Self::Request) -> Vec<Self::Request> {
        let mut out = Vec::new();
        for rl in &request.resource_logs {
            let ResourceLogs {
                resource,
                scope_logs,
                schema_url: resource_schema,
            } = rl;
            for sl in scope_logs {
                let ScopeLogs {
                    scope,
                    log_records,
                    schema_url,
                } = sl;
                for record in log_records {
                    out.push(ExportLogsServiceRequest {
                        resource_logs: vec![ResourceLogs {
                            resource: resource.clone(),
                            schema_url: resource_schema.clone(),
                            scope_logs: vec![ScopeLogs {
                                scope: scope.clone(),
                                schema_url: schema_url.clone(),
                                log_records: vec![record.clone()],
                            }],
                        }],
                    });
                }
            }
        }
        out
    }
}

/// The data points of a metric, each as a copy of the metric holding only
/// that point; a metric without points is itself.
fn split_metric(metric: &Metric) -> Vec<Metric> {
    let Metric {
        name,
        description,
        unit,
        metadata,
        data,
    } = metric;
    let with = |data: Data| Metric {
        name: name.clone(),
        description: description.clone(),
        unit: unit.clone(),
        metadata: metadata.clone(),
        data: Some(data),
    };
    let split: Vec<Metric> = match data {
        None => Vec::new(),
        Some(Data::Gauge(Gauge { data_points })) => data_points
            .iter()
            .map(|p| {
                with(Data::Gauge(Gauge {
                    data_points: vec![p.clone()],
                }))
            })
            .collect(),
        Some(Data::Sum(Sum {
            data_points,
            aggregation_temporality,
            is_monotonic,
        })) => data_points
            .iter()
            .map(|p| {
                with(Data::Sum(Sum {
                    data_points: vec![p.clone()],
                    aggregation_temporality: *aggregation_temporality,
                    is_monotonic: *is_monotonic,
                }))
            })
            .collect(),
        Some(Data::Histogram(Histogram {
            data_points,
            aggregation_temporality,
        })) => data_points
            .iter()
            .map(|p| {
                with(Data::Histogram(Histogram {
                    data_points: vec![p.clone()],
                    aggregation_temporality: *aggregation_temporality,
                }))
            })
            .collect(),
        Some(Data::ExponentialHistogram(ExponentialHistogram {
            data_points,
            aggregation_temporality,
        })) => data_points
            .iter()
            .map(|p| {
                with(Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: vec![p.clone()],
                    aggregation_temporality: *aggregation_temporality,
                }))
            })
            .collect(),
        Some(Data::Summary(Summary { data_points })) => data_points
            .iter()
            .map(|p| {
                with(Data::Summary(Summary {
                    data_points: vec![p.clone()],
                }))
            })
            .collect(),
    };
    if split.is_empty() {
        vec![metric.clone()]
    } else {
        split
    }
}

impl OtlpSignal for Metrics {
    type Request = ExportMetricsServiceRequest;
    const NAME: &'static str = "metrics";

    fn items(request: &Self::Request) -> usize {
        let metrics = request
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics);
        metrics
            .map(|m| {
                let points = match &m.data {
                    None => 0,
                    Some(Data::Gauge(g)) => g.data_points.len(),
                    Some(Data::Sum(s)) => s.data_points.len(),
                    Some(Data::Histogram(h)) => h.data_points.len(),
                    Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
                    Some(Data::Summary(s)) => s.data_points.len(),
                };
                points.max(1)
            })
            .sum()
    }

    fn flatten(request: &Self::Request) -> Vec<Self::Request> {
        let mut out = Vec::new();
        for rm in &request.resource_metrics {
            let ResourceMetrics {
                resource,
                scope_metrics,
                schema_url: resource_schema,
            } = rm;
            for sm in scope_metrics {
                let ScopeMetrics {
                    scope,
                    metrics,
                    schema_url,
                } = sm;
                for metric in metrics.iter().flat_map(split_metric) {
                    out.push(ExportMetricsServiceRequest {
                        resource_metrics: vec![ResourceMetrics {
                            resource: resource.clone(),
                            schema_url: resource_schema.clone(),
                            scope_metrics: vec![ScopeMetrics {
                                scope: scope.clone(),
                                schema_url: schema_url.clone(),
                                metrics: vec![metric],
                            }],
                        }],
                    });
                }
            }
        }
        out
    }
}

/// Items in all `requests`.
pub fn count<S: OtlpSignal>(requests: &[S::Request]) -> usize {
    requests.iter().map(S::items).sum()
}

/// Decodes a sequence of frames (4-byte big-endian length, then an
/// `Export*ServiceRequest`), as `send.py` writes them.
///
/// # Errors
/// A message saying which frame is truncated or does not decode.
pub fn decode_frames<S: OtlpSignal>(mut bytes: &[u8]) -> Result<Vec<S::Request>, String> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let Some((len, rest)) = bytes.split_first_chunk::<4>() else {
            return Err(format!("{} frame {}: truncated length", S::NAME, out.len()));
        };
        let len = u32::from_be_bytes(*len) as usize;
        if rest.len() < len {
            return Err(format!("{} frame {}: truncated body", S::NAME, out.len()));
        }
        let (body, rest) = rest.split_at(len);
        let request = S::Request::decode(body)
            .map_err(|e| format!("{} frame {} does not decode: {e}", S::NAME, out.len()))?;
        out.push(request);
        bytes = rest;
    }
    Ok(out)
}

/// The flattened items of `requests`, keyed by their protobuf encoding.
fn multiset<S: OtlpSignal>(requests: &[S::Request]) -> HashMap<Vec<u8>, (usize, S::Request)> {
    let mut map: HashMap<Vec<u8>, (usize, S::Request)> = HashMap::new();
    for item in requests.iter().flat_map(S::flatten) {
        map.entry(item.encode_to_vec()).or_insert((0, item)).0 += 1;
    }
    map
}

/// Compares what was sent with what was received, item by item, every
/// field included; grouping into requests, resources and scopes is ignored.
///
/// # Errors
/// A report naming the items missing from `received`, the items only in
/// `received`, and, for the first of each, the fields that differ.
pub fn diff<S: OtlpSignal>(sent: &[S::Request], received: &[S::Request]) -> Result<(), String> {
    let sent_items = multiset::<S>(sent);
    let received_items = multiset::<S>(received);
    let only_in = |a: &HashMap<Vec<u8>, (usize, S::Request)>,
                   b: &HashMap<Vec<u8>, (usize, S::Request)>| {
        let mut v: Vec<(usize, S::Request)> = a
            .iter()
            .filter_map(|(k, (n, item))| {
                let m = b.get(k).map_or(0, |e| e.0);
                (*n > m).then(|| (n - m, item.clone()))
            })
            .collect();
        v.sort_by_key(|(_, item)| item.encode_to_vec());
        v
    };
    let missing = only_in(&sent_items, &received_items);
    let unexpected = only_in(&received_items, &sent_items);
    if missing.is_empty() && unexpected.is_empty() {
        return Ok(());
    }
    let n_missing: usize = missing.iter().map(|e| e.0).sum();
    let n_unexpected: usize = unexpected.iter().map(|e| e.0).sum();
    let mut report = format!(
        "{}: sent {} items, received {}; {n_missing} sent items were not received \
         exactly, {n_unexpected} received items were not sent.\n",
        S::NAME,
        count::<S>(sent),
        count::<S>(received),
    );
    match (missing.first(), unexpected.first()) {
        (Some((_, a)), Some((_, b))) => {
            report.push_str("First sent item without an equal received item, against the first unexpected received item (- sent, + received):\n");
            report.push_str(&line_diff(&format!("{a:#?}"), &format!("{b:#?}")));
        }
        (Some((_, a)), None) => {
            report.push_str(&format!("First missing item:\n{a:#?}\n"));
        }
        (None, Some((_, b))) => {
            report.push_str(&format!("First unexpected item:\n{b:#?}\n"));
        }
        (None, None) => {}
    }
    Err(report)
}

/// Panics with [`diff`]'s report unless `received` holds exactly the items
/// of `sent`.
#[track_caller]
pub fn assert_same<S: OtlpSignal>(sent: &[S::Request], received: &[S::Request]) {
    if let Err(report) = diff::<S>(sent, received) {
        panic!("{report}");
    }
}

/// The lines that differ between two texts (longest common subsequence),
/// with two lines of context around each change.
pub fn line_diff(a: &str, b: &str) -> String {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    // lcs[i][j]: length of the LCS of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            ops.push(('+', b[j]));
            j += 1;
        } else {
            ops.push(('-', a[i]));
            i += 1;
        }
    }
    let near_change = |k: usize| {
        let lo = k.saturating_sub(2);
        let hi = (k + 3).min(ops.len());
        ops[lo..hi].iter().any(|(op, _)| *op != ' ')
    };
    let mut out = String::new();
    let mut skipped = false;
    for (k, (op, line)) in ops.iter().enumerate() {
        if near_change(k) {
            out.push_str(&format!("{op} {line}\n"));
            skipped = false;
        } else if !skipped {
            out.push_str("  ...\n");
            skipped = true;
        }
    }
    out
}
