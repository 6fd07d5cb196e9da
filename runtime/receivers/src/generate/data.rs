//! Synthetic OTLP requests that look like a small web application.
//!
//! A handful of services (one resource each, with `service.name`,
//! `service.version` and `host.name`) serve a fixed set of HTTP routes.
//! Traces are requests: a `SERVER` root span with `http.method`,
//! `http.route` and `http.status_code`, and child spans (database, cache,
//! downstream calls) nested inside it; about 2% of requests fail with a 5xx
//! and an error status. Durations follow a heavy-tailed (Pareto)
//! distribution. Logs are the access and error logs of such requests, with
//! their trace and span ids. Metrics cycle through every kind: a cumulative
//! request counter, a gauge, a histogram, an exponential histogram and a
//! summary, one data point per route.
//!
//! Every batch has exactly the number of items asked for.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint, exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
    summary_data_point::ValueAtQuantile,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status::StatusCode,
};
use prost::Message as _;
use weir_pdata::Signal;

/// Service names; beyond this list, names get a numeric suffix.
const SERVICE_NAMES: [&str; 10] = [
    "frontend",
    "checkout",
    "cart",
    "payment",
    "shipping",
    "catalog",
    "auth",
    "search",
    "recommendation",
    "email",
];

/// `(method, route)` of the HTTP endpoints every service serves.
const ROUTES: [(&str, &str); 8] = [
    ("GET", "/api/products"),
    ("GET", "/api/products/{id}"),
    ("GET", "/api/cart"),
    ("POST", "/api/cart"),
    ("POST", "/api/checkout"),
    ("GET", "/api/recommendations"),
    ("POST", "/api/login"),
    ("GET", "/health"),
];

/// Operations inside a request: `(span name, kind, attribute key, value)`.
const OPERATIONS: [(&str, span::SpanKind, &str, &str); 6] = [
    (
        "SELECT products",
        span::SpanKind::Client,
        "db.system",
        "postgresql",
    ),
    (
        "UPDATE carts",
        span::SpanKind::Client,
        "db.system",
        "postgresql",
    ),
    ("GET", span::SpanKind::Client, "db.system", "redis"),
    (
        "publish orders",
        span::SpanKind::Producer,
        "messaging.system",
        "kafka",
    ),
    ("render", span::SpanKind::Internal, "template", "page.html"),
    ("grpc.Charge", span::SpanKind::Client, "rpc.system", "grpc"),
];

/// Upper bounds (seconds) of the histogram's buckets.
const BOUNDS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The exponential histogram's scale (2^(2^-3) growth per bucket).
const EXP_SCALE: i32 = 3;

/// Samples behind each histogram or summary point.
const SAMPLES: usize = 20;

/// Makes the requests of one signal.
pub(super) struct Generator {
    rng: fastrand::Rng,
    resources: Vec<Resource>,
    scope: InstrumentationScope,
    /// Cumulative request counters, per service and route.
    counters: Vec<[u64; ROUTES.len()]>,
    /// Start of the cumulative counters.
    started: u64,
    /// The next metric kind (0..5).
    next_kind: usize,
    /// The service of the next metric.
    next_service: usize,
}

impl Generator {
    /// A generator over `services` services, seeded for `signal`.
    pub(super) fn new(signal: Signal, services: usize, seed: u64) -> Self {
        let salt = match signal {
            Signal::Traces => 1,
            Signal::Metrics => 2,
            Signal::Logs => 3,
            Signal::Profiles => 4,
        };
        let resources = (0..services.max(1)).map(resource).collect::<Vec<_>>();
        Generator {
            rng: fastrand::Rng::with_seed(
                seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(salt),
            ),
            counters: vec![[0; ROUTES.len()]; resources.len()],
            resources,
            scope: InstrumentationScope {
                name: "weir.generate".to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                ..Default::default()
            },
            started: now_ns(),
            next_kind: 0,
            next_service: 0,
        }
    }

    /// The protobuf bytes of an `Export*ServiceRequest` of `signal` with
    /// exactly `items` items.
    pub(super) fn request(&mut self, signal: Signal, items: usize) -> Vec<u8> {
        match signal {
            Signal::Traces => self.traces(items).encode_to_vec(),
            Signal::Metrics => self.metrics(items).encode_to_vec(),
            Signal::Logs => self.logs(items).encode_to_vec(),
            // Not a signal `generate` accepts (its validation refuses it).
            Signal::Profiles => Vec::new(),
        }
    }

    fn service(&mut self) -> usize {
        // Skewed: the first services get most of the traffic.
        let n = self.resources.len();
        let a = self.rng.usize(..n);
        let b = self.rng.usize(..n);
        a.min(b)
    }

    fn status_code(&mut self, route: usize) -> i64 {
        let p = self.rng.f64();
        if ROUTES[route].1 == "/health" {
            return 200;
        }
        if p < 0.02 {
            if self.rng.bool() { 500 } else { 503 }
        } else if p < 0.05 {
            404
        } else if ROUTES[route].0 == "POST" {
            201
        } else {
            200
        }
    }

    /// A heavy-tailed duration in nanoseconds: Pareto with a 2 ms minimum,
    /// capped at 30 s.
    fn duration_ns(&mut self) -> u64 {
        let u = 1.0 - self.rng.f64(); // (0, 1]
        let ms = 2.0 * u.powf(-1.0 / 1.3);
        (ms.min(30_000.0) * 1e6) as u64
    }

    fn id<const N: usize>(&mut self) -> Vec<u8> {
        let mut id = [0u8; N];
        self.rng.fill(&mut id);
        if id.iter().all(|b| *b == 0) {
            id[N - 1] = 1; // all-zero ids are invalid
        }
        id.to_vec()
    }

    fn traces(&mut self, items: usize) -> ExportTraceServiceRequest {
        let now = now_ns();
        let mut per_service: Vec<Vec<Span>> = vec![Vec::new(); self.resources.len()];
        let mut made = 0;
        while made < items {
            let size = (1 + self.rng.usize(..6)).min(items - made);
            self.trace(now, size, &mut per_service);
            made += size;
        }
        ExportTraceServiceRequest {
            resource_spans: per_service
                .into_iter()
                .enumerate()
                .filter(|(_, spans)| !spans.is_empty())
                .map(|(i, spans)| ResourceSpans {
                    resource: Some(self.resources[i].clone()),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(self.scope.clone()),
                        spans,
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                })
                .collect(),
        }
    }

    /// One request of `size` spans: a server span and its children.
    fn trace(&mut self, now: u64, size: usize, out: &mut [Vec<Span>]) {
        let trace_id = self.id::<16>();
        let root_id = self.id::<8>();
        let service = self.service();
        let route = self.rng.usize(..ROUTES.len());
        let (method, path) = ROUTES[route];
        let code = self.status_code(route);
        let failed = code >= 500;
        let duration = self.duration_ns();
        let end = now.saturating_sub(self.rng.u64(..1_000_000_000));
        let start = end.saturating_sub(duration);
        let mut root = Span {
            trace_id: trace_id.clone(),
            span_id: root_id.clone(),
            flags: 0x100, // SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
            name: format!("{method} {path}"),
            kind: span::SpanKind::Server as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes: vec![
                kv_str("http.method", method),
                kv_str("http.route", path),
                kv_int("http.status_code", code),
                kv_str("url.scheme", "https"),
            ],
            status: failed.then(|| Status {
                message: format!("HTTP {code}"),
                code: StatusCode::Error as i32,
            }),
            ..Default::default()
        };
        if failed {
            root.events.push(span::Event {
                time_unix_nano: end.saturating_sub(duration / 10),
                name: "exception".to_string(),
                attributes: vec![
                    kv_str("exception.type", "UpstreamError"),
                    kv_str(
                        "exception.message",
                        "upstream request failed: connection reset",
                    ),
                ],
                dropped_attributes_count: 0,
            });
        }
        out[service].push(root);
        // Children run one after the other inside the root span.
        let children = size - 1;
        let slot = duration / (children as u64 + 1).max(1);
        for c in 0..children {
            let (name, kind, key, value) = OPERATIONS[self.rng.usize(..OPERATIONS.len())];
            let child_start = start + slot * c as u64 + self.rng.u64(..slot.max(1) / 4 + 1);
            let child_len = slot / 2 + self.rng.u64(..slot.max(2) / 2);
            let child_failed = failed && c + 1 == children;
            // Downstream calls are spans of another service half the time.
            let owner = if self.rng.bool() {
                self.service()
            } else {
                service
            };
            out[owner].push(Span {
                trace_id: trace_id.clone(),
                span_id: self.id::<8>(),
                parent_span_id: root_id.clone(),
                flags: 0x100,
                name: name.to_string(),
                kind: kind as i32,
                start_time_unix_nano: child_start,
                end_time_unix_nano: (child_start + child_len).min(end),
                attributes: vec![kv_str(key, value)],
                status: child_failed.then(|| Status {
                    message: "connection reset by peer".to_string(),
                    code: StatusCode::Error as i32,
                }),
                ..Default::default()
            });
        }
    }

    fn logs(&mut self, items: usize) -> ExportLogsServiceRequest {
        let now = now_ns();
        let mut per_service: Vec<Vec<LogRecord>> = vec![Vec::new(); self.resources.len()];
        for _ in 0..items {
            let service = self.service();
            let route = self.rng.usize(..ROUTES.len());
            let (method, path) = ROUTES[route];
            let code = self.status_code(route);
            let ms = self.duration_ns() / 1_000_000;
            let (severity, text, body) = match code {
                500.. => (
                    SeverityNumber::Error,
                    "ERROR",
                    format!(
                        "{method} {path} failed with {code}: upstream request failed: connection reset"
                    ),
                ),
                400.. => (
                    SeverityNumber::Warn,
                    "WARN",
                    format!("{method} {path} -> {code} in {ms} ms"),
                ),
                _ if self.rng.u8(..10) == 0 => (
                    SeverityNumber::Debug,
                    "DEBUG",
                    format!("cache lookup for {path} took {} us", self.rng.u32(20..900)),
                ),
                _ => (
                    SeverityNumber::Info,
                    "INFO",
                    format!("{method} {path} -> {code} in {ms} ms"),
                ),
            };
            let time = now.saturating_sub(self.rng.u64(..1_000_000_000));
            per_service[service].push(LogRecord {
                time_unix_nano: time,
                observed_time_unix_nano: now,
                severity_number: severity as i32,
                severity_text: text.to_string(),
                body: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(body)),
                }),
                attributes: vec![
                    kv_str("http.method", method),
                    kv_str("http.route", path),
                    kv_int("http.status_code", code),
                ],
                flags: 1, // sampled
                trace_id: self.id::<16>(),
                span_id: self.id::<8>(),
                ..Default::default()
            });
        }
        ExportLogsServiceRequest {
            resource_logs: per_service
                .into_iter()
                .enumerate()
                .filter(|(_, logs)| !logs.is_empty())
                .map(|(i, log_records)| ResourceLogs {
                    resource: Some(self.resources[i].clone()),
                    scope_logs: vec![ScopeLogs {
                        scope: Some(self.scope.clone()),
                        log_records,
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                })
                .collect(),
        }
    }

    fn metrics(&mut self, items: usize) -> ExportMetricsServiceRequest {
        let now = now_ns();
        let mut per_service: Vec<Vec<Metric>> = vec![Vec::new(); self.resources.len()];
        let mut made = 0;
        while made < items {
            let points = ROUTES.len().min(items - made);
            let service = self.next_service;
            self.next_service = (self.next_service + 1) % self.resources.len();
            let kind = self.next_kind;
            self.next_kind = (self.next_kind + 1) % 5;
            let metric = match kind {
                0 => self.counter(service, points, now),
                1 => self.gauge(points, now),
                2 => self.histogram(points, now),
                3 => self.exponential_histogram(points, now),
                _ => self.summary(points, now),
            };
            per_service[service].push(metric);
            made += points;
        }
        ExportMetricsServiceRequest {
            resource_metrics: per_service
                .into_iter()
                .enumerate()
                .filter(|(_, metrics)| !metrics.is_empty())
                .map(|(i, metrics)| ResourceMetrics {
                    resource: Some(self.resources[i].clone()),
                    scope_metrics: vec![ScopeMetrics {
                        scope: Some(self.scope.clone()),
                        metrics,
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                })
                .collect(),
        }
    }

    fn counter(&mut self, service: usize, points: usize, now: u64) -> Metric {
        let data_points = (0..points)
            .map(|r| {
                self.counters[service][r] += self.rng.u64(1..50);
                NumberDataPoint {
                    attributes: route_attributes(r),
                    start_time_unix_nano: self.started,
                    time_unix_nano: now,
                    value: Some(number_data_point::Value::AsInt(
                        i64::try_from(self.counters[service][r]).unwrap_or(i64::MAX),
                    )),
                    ..Default::default()
                }
            })
            .collect();
        metric(
            "http.server.request.count",
            "Requests served.",
            "{request}",
            Data::Sum(Sum {
                data_points,
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            }),
        )
    }

    fn gauge(&mut self, points: usize, now: u64) -> Metric {
        let data_points = (0..points)
            .map(|cpu| NumberDataPoint {
                attributes: vec![kv_int("cpu", cpu as i64)],
                time_unix_nano: now,
                value: Some(number_data_point::Value::AsDouble(self.rng.f64())),
                ..Default::default()
            })
            .collect();
        metric(
            "system.cpu.utilization",
            "CPU time in use, per CPU.",
            "1",
            Data::Gauge(Gauge { data_points }),
        )
    }

    /// Request durations in seconds.
    fn samples(&mut self) -> Vec<f64> {
        (0..SAMPLES)
            .map(|_| self.duration_ns() as f64 / 1e9)
            .collect()
    }

    fn histogram(&mut self, points: usize, now: u64) -> Metric {
        let start = now.saturating_sub(10_000_000_000);
        let data_points = (0..points)
            .map(|r| {
                let samples = self.samples();
                let mut bucket_counts = vec![0u64; BOUNDS.len() + 1];
                for v in &samples {
                    let i = BOUNDS.iter().position(|b| v <= b).unwrap_or(BOUNDS.len());
                    bucket_counts[i] += 1;
                }
                HistogramDataPoint {
                    attributes: route_attributes(r),
                    start_time_unix_nano: start,
                    time_unix_nano: now,
                    count: samples.len() as u64,
                    sum: Some(samples.iter().sum()),
                    bucket_counts,
                    explicit_bounds: BOUNDS.to_vec(),
                    min: samples.iter().copied().reduce(f64::min),
                    max: samples.iter().copied().reduce(f64::max),
                    ..Default::default()
                }
            })
            .collect();
        metric(
            "http.server.request.duration",
            "Duration of HTTP server requests.",
            "s",
            Data::Histogram(Histogram {
                data_points,
                aggregation_temporality: AggregationTemporality::Delta as i32,
            }),
        )
    }

    fn exponential_histogram(&mut self, points: usize, now: u64) -> Metric {
        let start = now.saturating_sub(10_000_000_000);
        let data_points = (0..points)
            .map(|r| {
                let samples = self.samples();
                // Bucket i holds values in (base^i, base^(i+1)], base = 2^(2^-scale).
                let factor = f64::from(1u32 << EXP_SCALE);
                let index = |v: f64| (v.log2() * factor).ceil() as i32 - 1;
                let lo = samples.iter().map(|v| index(*v)).min().unwrap_or(0);
                let hi = samples.iter().map(|v| index(*v)).max().unwrap_or(0);
                let mut bucket_counts = vec![0u64; usize::try_from(hi - lo + 1).unwrap_or(1)];
                for v in &samples {
                    if let Ok(i) = usize::try_from(index(*v) - lo) {
                        bucket_counts[i] += 1;
                    }
                }
                ExponentialHistogramDataPoint {
                    attributes: route_attributes(r),
                    start_time_unix_nano: start,
                    time_unix_nano: now,
                    count: samples.len() as u64,
                    sum: Some(samples.iter().sum()),
                    scale: EXP_SCALE,
                    zero_count: 0,
                    positive: Some(Buckets {
                        offset: lo,
                        bucket_counts,
                    }),
                    min: samples.iter().copied().reduce(f64::min),
                    max: samples.iter().copied().reduce(f64::max),
                    ..Default::default()
                }
            })
            .collect();
        metric(
            "http.client.request.duration",
            "Duration of outgoing HTTP requests.",
            "s",
            Data::ExponentialHistogram(ExponentialHistogram {
                data_points,
                aggregation_temporality: AggregationTemporality::Delta as i32,
            }),
        )
    }

    fn summary(&mut self, points: usize, now: u64) -> Metric {
        let start = now.saturating_sub(10_000_000_000);
        let data_points = (0..points)
            .map(|r| {
                let mut samples = self.samples();
                samples.sort_by(f64::total_cmp);
                let at = |q: f64| {
                    let i = ((samples.len() - 1) as f64 * q).round() as usize;
                    samples[i.min(samples.len() - 1)] * 1000.0
                };
                SummaryDataPoint {
                    attributes: route_attributes(r),
                    start_time_unix_nano: start,
                    time_unix_nano: now,
                    count: samples.len() as u64,
                    sum: samples.iter().sum::<f64>() * 1000.0,
                    quantile_values: [0.0, 0.5, 0.9, 0.99, 1.0]
                        .into_iter()
                        .map(|quantile| ValueAtQuantile {
                            quantile,
                            value: at(quantile),
                        })
                        .collect(),
                    ..Default::default()
                }
            })
            .collect();
        metric(
            "rpc.server.latency",
            "Latency of RPCs served.",
            "ms",
            Data::Summary(Summary { data_points }),
        )
    }
}

fn resource(i: usize) -> Resource {
    let base = SERVICE_NAMES[i % SERVICE_NAMES.len()];
    let name = if i < SERVICE_NAMES.len() {
        base.to_string()
    } else {
        format!("{base}-{}", i / SERVICE_NAMES.len())
    };
    Resource {
        attributes: vec![
            kv_str("service.name", &name),
            kv_str("service.version", &format!("1.{}.{}", i % 4, i % 3)),
            kv_str("host.name", &format!("node-{}", i % 3 + 1)),
            kv_str("deployment.environment", "demo"),
        ],
        ..Default::default()
    }
}

fn metric(name: &str, description: &str, unit: &str, data: Data) -> Metric {
    Metric {
        name: name.to_string(),
        description: description.to_string(),
        unit: unit.to_string(),
        data: Some(data),
        ..Default::default()
    }
}

fn route_attributes(route: usize) -> Vec<KeyValue> {
    let (method, path) = ROUTES[route % ROUTES.len()];
    vec![kv_str("http.method", method), kv_str("http.route", path)]
}

fn kv_str(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

fn kv_int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
