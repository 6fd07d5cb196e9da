//! Sample OTLP requests for tests: hand-built ones that use every message
//! and field of the schema, proptest strategies for random ones, and item
//! counts computed from the decoded messages.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint, exemplar, exponential_histogram_data_point::Buckets, metric,
    number_data_point, summary_data_point::ValueAtQuantile,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status,
    span::{Event, Link},
};
use proptest::prelude::*;

/// A key-value attribute.
pub(crate) fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

/// A string attribute value.
pub(crate) fn s(text: &str) -> Value {
    Value::StringValue(text.to_owned())
}

/// Attributes using every `AnyValue` variant, nested arrays and lists too.
pub(crate) fn rich_attributes() -> Vec<KeyValue> {
    vec![
        kv("str", s("héllo ✓")),
        kv("bool", Value::BoolValue(true)),
        kv("int", Value::IntValue(-9_007_199_254_740_993)),
        kv("double", Value::DoubleValue(3.25)),
        kv("bytes", Value::BytesValue(vec![0, 1, 2, 0xfe, 0xff])),
        kv(
            "array",
            Value::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(s("a")),
                    },
                    AnyValue { value: None },
                    AnyValue {
                        value: Some(Value::ArrayValue(ArrayValue {
                            values: vec![AnyValue {
                                value: Some(Value::IntValue(7)),
                            }],
                        })),
                    },
                ],
            }),
        ),
        kv(
            "kvlist",
            Value::KvlistValue(KeyValueList {
                values: vec![
                    kv("inner", Value::BoolValue(false)),
                    kv("zero", Value::IntValue(0)),
                ],
            }),
        ),
        KeyValue {
            key: "no value".to_owned(),
            value: None,
            key_strindex: 0,
        },
        kv("strindex", Value::StringValueStrindex(3)),
    ]
}

fn resource(service: &str) -> Resource {
    Resource {
        attributes: vec![kv("service.name", s(service)), kv("host.name", s("host-1"))],
        dropped_attributes_count: 1,
        entity_refs: vec![EntityRef {
            schema_url: "https://opentelemetry.io/schemas/1.30.0".to_owned(),
            r#type: "service".to_owned(),
            id_keys: vec!["service.name".to_owned()],
            description_keys: vec!["host.name".to_owned(), "x".to_owned()],
        }],
    }
}

fn scope(name: &str) -> InstrumentationScope {
    InstrumentationScope {
        name: name.to_owned(),
        version: "1.2.3".to_owned(),
        attributes: vec![kv("scope.attr", s("v"))],
        dropped_attributes_count: 2,
    }
}

fn span(i: u8) -> Span {
    Span {
        trace_id: vec![i; 16],
        span_id: vec![i + 1; 8],
        trace_state: "k=v".to_owned(),
        parent_span_id: if i.is_multiple_of(2) {
            vec![]
        } else {
            vec![9; 8]
        },
        flags: 0x301,
        name: format!("span {i}"),
        kind: i32::from(i % 6),
        start_time_unix_nano: 1_700_000_000_000_000_000 + u64::from(i),
        end_time_unix_nano: u64::MAX,
        attributes: rich_attributes(),
        dropped_attributes_count: 3,
        events: vec![Event {
            time_unix_nano: 5,
            name: "exception".to_owned(),
            attributes: vec![kv("exception.message", s("boom"))],
            dropped_attributes_count: 1,
        }],
        dropped_events_count: 4,
        links: vec![Link {
            trace_id: vec![7; 16],
            span_id: vec![8; 8],
            trace_state: String::new(),
            attributes: vec![kv("link", Value::IntValue(1))],
            dropped_attributes_count: 0,
            flags: 1,
        }],
        dropped_links_count: 5,
        status: Some(Status {
            message: "bad".to_owned(),
            code: 2,
        }),
    }
}

/// Two resources, three scopes, five spans (one span with defaults only).
pub(crate) fn traces() -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: Some(resource("checkout")),
                scope_spans: vec![
                    ScopeSpans {
                        scope: Some(scope("io.opentelemetry.http")),
                        spans: vec![span(1), span(2)],
                        schema_url: "https://opentelemetry.io/schemas/1.4.0".to_owned(),
                    },
                    ScopeSpans {
                        scope: None,
                        spans: vec![span(3), Span::default()],
                        schema_url: String::new(),
                    },
                ],
                schema_url: "https://opentelemetry.io/schemas/1.4.0".to_owned(),
            },
            ResourceSpans {
                resource: None,
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope::default()),
                    spans: vec![span(4)],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            },
        ],
    }
}

fn exemplars() -> Vec<Exemplar> {
    vec![
        Exemplar {
            filtered_attributes: vec![kv("user", s("u1"))],
            time_unix_nano: 10,
            span_id: vec![1; 8],
            trace_id: vec![2; 16],
            value: Some(exemplar::Value::AsDouble(1.5)),
        },
        Exemplar {
            filtered_attributes: vec![],
            time_unix_nano: 11,
            span_id: vec![],
            trace_id: vec![],
            value: Some(exemplar::Value::AsInt(-4)),
        },
    ]
}

fn number_point(value: number_data_point::Value) -> NumberDataPoint {
    NumberDataPoint {
        attributes: vec![kv("cpu", Value::IntValue(0))],
        start_time_unix_nano: 1,
        time_unix_nano: 2,
        exemplars: exemplars(),
        flags: 1,
        value: Some(value),
    }
}

fn metric(name: &str, data: Option<metric::Data>) -> Metric {
    Metric {
        name: name.to_owned(),
        description: format!("{name} description"),
        unit: "1".to_owned(),
        metadata: vec![kv("meta", s("m"))],
        data,
    }
}

/// One metric of every type plus one without data: 9 data points.
pub(crate) fn metrics() -> ExportMetricsServiceRequest {
    let gauge = metric(
        "gauge",
        Some(metric::Data::Gauge(Gauge {
            data_points: vec![
                number_point(number_data_point::Value::AsDouble(0.5)),
                number_point(number_data_point::Value::AsInt(0)),
            ],
        })),
    );
    let sum = metric(
        "sum",
        Some(metric::Data::Sum(Sum {
            data_points: vec![
                number_point(number_data_point::Value::AsInt(i64::MIN)),
                number_point(number_data_point::Value::AsDouble(-0.0)),
                NumberDataPoint::default(),
            ],
            aggregation_temporality: 2,
            is_monotonic: true,
        })),
    );
    let histogram = metric(
        "histogram",
        Some(metric::Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                attributes: vec![kv("route", s("/a"))],
                start_time_unix_nano: 1,
                time_unix_nano: 2,
                count: 6,
                sum: Some(0.0),
                bucket_counts: vec![1, 2, 3],
                explicit_bounds: vec![0.5, 1e300],
                exemplars: exemplars(),
                flags: 0,
                min: Some(-1.0),
                max: None,
            }],
            aggregation_temporality: 1,
        })),
    );
    let exponential = metric(
        "exponential",
        Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![
                ExponentialHistogramDataPoint {
                    attributes: vec![],
                    start_time_unix_nano: 1,
                    time_unix_nano: 2,
                    count: 10,
                    sum: Some(12.5),
                    scale: -3,
                    zero_count: 1,
                    positive: Some(Buckets {
                        offset: -2,
                        bucket_counts: vec![1, 0, u64::MAX],
                    }),
                    negative: Some(Buckets::default()),
                    flags: 1,
                    exemplars: exemplars(),
                    min: Some(0.0),
                    max: Some(9.0),
                    zero_threshold: 1e-9,
                },
                ExponentialHistogramDataPoint::default(),
            ],
            aggregation_temporality: 2,
        })),
    );
    let summary = metric(
        "summary",
        Some(metric::Data::Summary(Summary {
            data_points: vec![SummaryDataPoint {
                attributes: vec![],
                start_time_unix_nano: 1,
                time_unix_nano: 2,
                count: 3,
                sum: 7.5,
                quantile_values: vec![
                    ValueAtQuantile {
                        quantile: 0.5,
                        value: 2.0,
                    },
                    ValueAtQuantile {
                        quantile: 1.0,
                        value: 4.0,
                    },
                ],
                flags: 0,
            }],
        })),
    );
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource("db")),
            scope_metrics: vec![
                ScopeMetrics {
                    scope: Some(scope("meter")),
                    metrics: vec![gauge, sum, histogram],
                    schema_url: String::new(),
                },
                ScopeMetrics {
                    scope: None,
                    metrics: vec![exponential, summary, metric("empty", None)],
                    schema_url: "s".to_owned(),
                },
            ],
            schema_url: String::new(),
        }],
    }
}

fn log(i: u8, body: Option<Value>) -> LogRecord {
    LogRecord {
        time_unix_nano: u64::from(i),
        observed_time_unix_nano: 1_700_000_000_000_000_000,
        severity_number: i32::from(i % 25),
        severity_text: "INFO".to_owned(),
        body: body.map(|value| AnyValue { value: Some(value) }),
        attributes: rich_attributes(),
        dropped_attributes_count: 1,
        flags: 1,
        trace_id: if i.is_multiple_of(2) {
            vec![i; 16]
        } else {
            vec![]
        },
        span_id: if i.is_multiple_of(2) {
            vec![i; 8]
        } else {
            vec![]
        },
        event_name: if i == 3 {
            "device.app.lifecycle".to_owned()
        } else {
            String::new()
        },
    }
}

/// Two resources, four log records with bodies of different types.
pub(crate) fn logs() -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![
            ResourceLogs {
                resource: Some(resource("api")),
                scope_logs: vec![ScopeLogs {
                    scope: Some(scope("logger")),
                    log_records: vec![
                        log(0, Some(s("GET /index.html 200"))),
                        log(
                            1,
                            Some(Value::KvlistValue(KeyValueList {
                                values: vec![kv("a", Value::IntValue(1))],
                            })),
                        ),
                        log(2, None),
                    ],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            },
            ResourceLogs {
                resource: None,
                scope_logs: vec![ScopeLogs {
                    scope: None,
                    log_records: vec![log(3, Some(Value::BytesValue(vec![1, 2, 3])))],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            },
        ],
    }
}

/// The number of spans.
pub(crate) fn count_traces(request: &ExportTraceServiceRequest) -> usize {
    request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum()
}

/// The number of data points.
pub(crate) fn count_metrics(request: &ExportMetricsServiceRequest) -> usize {
    request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| match &m.data {
            None => 0,
            Some(metric::Data::Gauge(g)) => g.data_points.len(),
            Some(metric::Data::Sum(s)) => s.data_points.len(),
            Some(metric::Data::Histogram(h)) => h.data_points.len(),
            Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
            Some(metric::Data::Summary(s)) => s.data_points.len(),
        })
        .sum()
}

/// The number of log records.
pub(crate) fn count_logs(request: &ExportLogsServiceRequest) -> usize {
    request
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len())
        .sum()
}

fn id_ok(id: &[u8], len: usize) -> bool {
    id.is_empty() || id.len() == len
}

/// Whether every trace and span id is empty or of the right length.
pub(crate) fn ids_ok_traces(request: &ExportTraceServiceRequest) -> bool {
    request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .all(|s| {
            id_ok(&s.trace_id, 16)
                && id_ok(&s.span_id, 8)
                && id_ok(&s.parent_span_id, 8)
                && s.links
                    .iter()
                    .all(|l| id_ok(&l.trace_id, 16) && id_ok(&l.span_id, 8))
        })
}

/// Whether every exemplar's ids are empty or of the right length.
pub(crate) fn ids_ok_metrics(request: &ExportMetricsServiceRequest) -> bool {
    let ok = |e: &Exemplar| id_ok(&e.trace_id, 16) && id_ok(&e.span_id, 8);
    request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .all(|m| match &m.data {
            None => true,
            Some(metric::Data::Gauge(g)) => g.data_points.iter().flat_map(|p| &p.exemplars).all(ok),
            Some(metric::Data::Sum(s)) => s.data_points.iter().flat_map(|p| &p.exemplars).all(ok),
            Some(metric::Data::Histogram(h)) => {
                h.data_points.iter().flat_map(|p| &p.exemplars).all(ok)
            }
            Some(metric::Data::ExponentialHistogram(h)) => {
                h.data_points.iter().flat_map(|p| &p.exemplars).all(ok)
            }
            Some(metric::Data::Summary(_)) => true,
        })
}

/// Whether every log record's ids are empty or of the right length.
pub(crate) fn ids_ok_logs(request: &ExportLogsServiceRequest) -> bool {
    request
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
        .all(|l| id_ok(&l.trace_id, 16) && id_ok(&l.span_id, 8))
}

// ---- proptest strategies ----

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z.]{0,12}", "\\PC{0,6}", Just(String::new()),]
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        -1e15f64..1e15,
        Just(0.0),
        Just(-0.0),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
    ]
}

fn ids(len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), len),
        1 => Just(Vec::new()),
    ]
}

/// A random `AnyValue`, nested up to three levels, doubles finite.
pub(crate) fn any_value() -> impl Strategy<Value = AnyValue> {
    let leaf = prop_oneof![
        Just(None),
        text().prop_map(|t| Some(Value::StringValue(t))),
        any::<bool>().prop_map(|b| Some(Value::BoolValue(b))),
        any::<i64>().prop_map(|i| Some(Value::IntValue(i))),
        finite().prop_map(|d| Some(Value::DoubleValue(d))),
        prop::collection::vec(any::<u8>(), 0..6).prop_map(|b| Some(Value::BytesValue(b))),
    ]
    .prop_map(|value| AnyValue { value });
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(|values| AnyValue {
                value: Some(Value::ArrayValue(ArrayValue { values })),
            }),
            prop::collection::vec((text(), inner), 0..3).prop_map(|pairs| AnyValue {
                value: Some(Value::KvlistValue(KeyValueList {
                    values: pairs
                        .into_iter()
                        .map(|(key, value)| KeyValue {
                            key,
                            value: Some(value),
                            key_strindex: 0,
                        })
                        .collect(),
                })),
            }),
        ]
    })
}

fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    prop::collection::vec(
        (text(), prop::option::of(any_value())).prop_map(|(key, value)| KeyValue {
            key,
            value,
            key_strindex: 0,
        }),
        0..3,
    )
}

fn random_resource() -> impl Strategy<Value = Option<Resource>> {
    prop::option::of(
        (attributes(), any::<u32>()).prop_map(|(attributes, dropped)| Resource {
            attributes,
            dropped_attributes_count: dropped,
            entity_refs: vec![],
        }),
    )
}

fn random_scope() -> impl Strategy<Value = Option<InstrumentationScope>> {
    prop::option::of(
        (text(), text(), attributes()).prop_map(|(name, version, attributes)| {
            InstrumentationScope {
                name,
                version,
                attributes,
                dropped_attributes_count: 0,
            }
        }),
    )
}

fn random_span() -> impl Strategy<Value = Span> {
    (
        (ids(16), ids(8), ids(8), text(), any::<u32>(), 0i32..6),
        (any::<u64>(), any::<u64>(), attributes()),
        prop::collection::vec((any::<u64>(), text(), attributes()), 0..2),
        prop::collection::vec((ids(16), ids(8), attributes()), 0..2),
        prop::option::of((text(), 0i32..3)),
    )
        .prop_map(
            |(
                (trace_id, span_id, parent, name, flags, kind),
                (start, end, attributes),
                events,
                links,
                status,
            )| Span {
                trace_id,
                span_id,
                trace_state: String::new(),
                parent_span_id: parent,
                flags,
                name,
                kind,
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                attributes,
                dropped_attributes_count: 0,
                events: events
                    .into_iter()
                    .map(|(time, name, attributes)| Event {
                        time_unix_nano: time,
                        name,
                        attributes,
                        dropped_attributes_count: 0,
                    })
                    .collect(),
                dropped_events_count: 0,
                links: links
                    .into_iter()
                    .map(|(trace_id, span_id, attributes)| Link {
                        trace_id,
                        span_id,
                        trace_state: "a=b".to_owned(),
                        attributes,
                        dropped_attributes_count: 1,
                        flags: 0,
                    })
                    .collect(),
                dropped_links_count: 0,
                status: status.map(|(message, code)| Status { message, code }),
            },
        )
}

/// A random trace request (valid ids).
pub(crate) fn random_traces() -> impl Strategy<Value = ExportTraceServiceRequest> {
    prop::collection::vec(
        (
            random_resource(),
            prop::collection::vec(
                (random_scope(), prop::collection::vec(random_span(), 0..4)),
                0..3,
            ),
        ),
        0..3,
    )
    .prop_map(|resources| ExportTraceServiceRequest {
        resource_spans: resources
            .into_iter()
            .map(|(resource, scopes)| ResourceSpans {
                resource,
                scope_spans: scopes
                    .into_iter()
                    .map(|(scope, spans)| ScopeSpans {
                        scope,
                        spans,
                        schema_url: String::new(),
                    })
                    .collect(),
                schema_url: String::new(),
            })
            .collect(),
    })
}

fn random_exemplar() -> impl Strategy<Value = Exemplar> {
    (ids(8), ids(16), attributes(), prop::option::of(finite())).prop_map(
        |(span_id, trace_id, filtered_attributes, value)| Exemplar {
            filtered_attributes,
            time_unix_nano: 3,
            span_id,
            trace_id,
            value: value.map(exemplar::Value::AsDouble),
        },
    )
}

fn random_number_point() -> impl Strategy<Value = NumberDataPoint> {
    (
        attributes(),
        any::<u64>(),
        prop_oneof![
            Just(None),
            finite().prop_map(|d| Some(number_data_point::Value::AsDouble(d))),
            any::<i64>().prop_map(|i| Some(number_data_point::Value::AsInt(i))),
        ],
        prop::collection::vec(random_exemplar(), 0..2),
    )
        .prop_map(|(attributes, time, value, exemplars)| NumberDataPoint {
            attributes,
            start_time_unix_nano: 0,
            time_unix_nano: time,
            exemplars,
            flags: 0,
            value,
        })
}

fn random_metric_data() -> impl Strategy<Value = Option<metric::Data>> {
    let points = || prop::collection::vec(random_number_point(), 0..3);
    prop_oneof![
        Just(None),
        points().prop_map(|data_points| Some(metric::Data::Gauge(Gauge { data_points }))),
        (points(), 0i32..3, any::<bool>()).prop_map(|(data_points, t, m)| {
            Some(metric::Data::Sum(Sum {
                data_points,
                aggregation_temporality: t,
                is_monotonic: m,
            }))
        }),
        prop::collection::vec(
            (
                attributes(),
                prop::collection::vec(any::<u64>(), 0..4),
                prop::collection::vec(finite(), 0..3),
                prop::option::of(finite()),
                prop::collection::vec(random_exemplar(), 0..2),
            ),
            0..3,
        )
        .prop_map(|points| {
            Some(metric::Data::Histogram(Histogram {
                data_points: points
                    .into_iter()
                    .map(
                        |(attributes, bucket_counts, explicit_bounds, sum, exemplars)| {
                            HistogramDataPoint {
                                attributes,
                                count: bucket_counts.iter().fold(0u64, |a, b| a.wrapping_add(*b)),
                                sum,
                                bucket_counts,
                                explicit_bounds,
                                exemplars,
                                min: sum,
                                ..HistogramDataPoint::default()
                            }
                        },
                    )
                    .collect(),
                aggregation_temporality: 2,
            }))
        }),
        prop::collection::vec(
            (
                -10i32..10,
                prop::collection::vec(any::<u64>(), 0..4),
                prop::option::of(finite()),
            ),
            0..3,
        )
        .prop_map(|points| {
            Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points: points
                    .into_iter()
                    .map(|(scale, counts, max)| ExponentialHistogramDataPoint {
                        scale,
                        positive: Some(Buckets {
                            offset: scale,
                            bucket_counts: counts,
                        }),
                        max,
                        ..ExponentialHistogramDataPoint::default()
                    })
                    .collect(),
                aggregation_temporality: 1,
            }))
        }),
        prop::collection::vec(
            (
                finite(),
                prop::collection::vec((0.0f64..=1.0, finite()), 0..3)
            ),
            0..3,
        )
        .prop_map(|points| {
            Some(metric::Data::Summary(Summary {
                data_points: points
                    .into_iter()
                    .map(|(sum, quantiles)| SummaryDataPoint {
                        sum,
                        count: 1,
                        quantile_values: quantiles
                            .into_iter()
                            .map(|(quantile, value)| ValueAtQuantile { quantile, value })
                            .collect(),
                        ..SummaryDataPoint::default()
                    })
                    .collect(),
            }))
        }),
    ]
}

/// A random metrics request (valid ids, finite doubles).
pub(crate) fn random_metrics() -> impl Strategy<Value = ExportMetricsServiceRequest> {
    prop::collection::vec(
        (
            random_resource(),
            prop::collection::vec(
                (
                    random_scope(),
                    prop::collection::vec((text(), text(), random_metric_data()), 0..4),
                ),
                0..3,
            ),
        ),
        0..3,
    )
    .prop_map(|resources| ExportMetricsServiceRequest {
        resource_metrics: resources
            .into_iter()
            .map(|(resource, scopes)| ResourceMetrics {
                resource,
                scope_metrics: scopes
                    .into_iter()
                    .map(|(scope, metrics)| ScopeMetrics {
                        scope,
                        metrics: metrics
                            .into_iter()
                            .map(|(name, unit, data)| Metric {
                                name,
                                description: String::new(),
                                unit,
                                metadata: vec![],
                                data,
                            })
                            .collect(),
                        schema_url: String::new(),
                    })
                    .collect(),
                schema_url: String::new(),
            })
            .collect(),
    })
}

fn random_log() -> impl Strategy<Value = LogRecord> {
    (
        (any::<u64>(), any::<u64>(), 0i32..25, text()),
        (prop::option::of(any_value()), attributes(), any::<u32>()),
        (ids(16), ids(8), text()),
    )
        .prop_map(
            |(
                (time, observed, severity, severity_text),
                (body, attributes, flags),
                (trace_id, span_id, event_name),
            )| LogRecord {
                time_unix_nano: time,
                observed_time_unix_nano: observed,
                severity_number: severity,
                severity_text,
                body,
                attributes,
                dropped_attributes_count: 0,
                flags,
                trace_id,
                span_id,
                event_name,
            },
        )
}

/// A random logs request (valid ids).
pub(crate) fn random_logs() -> impl Strategy<Value = ExportLogsServiceRequest> {
    prop::collection::vec(
        (
            random_resource(),
            prop::collection::vec(
                (random_scope(), prop::collection::vec(random_log(), 0..4)),
                0..3,
            ),
        ),
        0..3,
    )
    .prop_map(|resources| ExportLogsServiceRequest {
        resource_logs: resources
            .into_iter()
            .map(|(resource, scopes)| ResourceLogs {
                resource,
                scope_logs: scopes
                    .into_iter()
                    .map(|(scope, log_records)| ScopeLogs {
                        scope,
                        log_records,
                        schema_url: String::new(),
                    })
                    .collect(),
                schema_url: String::new(),
            })
            .collect(),
    })
}
