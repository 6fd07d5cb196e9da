//! Hand-written OTLP edge cases: each one round-trips, and its Arrow form is
//! the one `docs/data-model.md` describes.

use std::fmt::Debug;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType, UInt8Type, UInt32Type};
use arrow_array::{Array, MapArray, RecordBatch, StructArray};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint, exemplar, exponential_histogram_data_point::Buckets, metric::Data,
    number_data_point, summary_data_point::ValueAtQuantile,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message;
use weir_pdata::otlp::arrow::{decode, encode, placeholder_rows};
use weir_pdata::schema::{self, MetricType, ValueType, log as lg, metric as mt, span as sp};
use weir_pdata::{Batch, PdataError, Signal, SignalTables};

/// Decodes `message`, checks the schemas, encodes back and asserts the
/// result decodes to `message`; returns the tables for further checks.
fn round_trip<M: Message + Default + PartialEq + Debug>(
    signal: Signal,
    message: &M,
) -> SignalTables {
    let bytes = message.encode_to_vec();
    let tables = decode(signal, &bytes).expect("decode");
    assert_eq!(tables.resources.schema(), schema::resources());
    assert_eq!(tables.scopes.schema(), schema::scopes());
    assert_eq!(tables.records.schema(), schema::records(signal));
    let back = encode(signal, &tables).expect("encode");
    assert_eq!(&M::decode(&back[..]).expect("valid protobuf"), message);
    assert_eq!(back[..], bytes[..]);
    tables
}

fn kv(key: &str, value: Option<Value>) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value }),
        key_strindex: 0,
    }
}

fn str_value(s: &str) -> Option<Value> {
    Some(Value::StringValue(s.to_string()))
}

fn traces(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource::default()),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope::default()),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn metrics(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: None,
            scope_metrics: vec![ScopeMetrics {
                scope: None,
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn logs(log_records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: None,
            scope_logs: vec![ScopeLogs {
                scope: None,
                log_records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn metric(name: &str, data: Option<Data>) -> Metric {
    Metric {
        name: name.to_string(),
        data,
        ..Default::default()
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> &'a dyn Array {
    batch.column_by_name(name).expect("column").as_ref()
}

fn map<'a>(batch: &'a RecordBatch, name: &str) -> &'a MapArray {
    column(batch, name).as_map()
}

#[test]
fn absent_and_empty_resources_and_scopes_are_distinct() {
    let request = ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: None,
                scope_spans: vec![
                    ScopeSpans {
                        scope: None,
                        spans: vec![],
                        schema_url: "https://scope/1".into(),
                    },
                    ScopeSpans {
                        scope: Some(InstrumentationScope::default()),
                        spans: vec![Span::default()],
                        schema_url: String::new(),
                    },
                ],
                schema_url: "https://resource/1".into(),
            },
            ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", str_value("checkout"))],
                    dropped_attributes_count: 3,
                    entity_refs: vec![],
                }),
                scope_spans: vec![],
                schema_url: String::new(),
            },
            ResourceSpans {
                resource: Some(Resource::default()),
                scope_spans: vec![],
                schema_url: String::new(),
            },
        ],
    };
    let t = round_trip(Signal::Traces, &request);
    let attrs = map(&t.resources, schema::resource::ATTRIBUTES);
    assert!(attrs.is_null(0));
    assert!(attrs.is_valid(1) && attrs.value_length(1) == 1);
    assert!(attrs.is_valid(2) && attrs.value_length(2) == 0);
    let scope_attrs = map(&t.scopes, schema::scope::ATTRIBUTES);
    assert!(scope_attrs.is_null(0));
    assert!(scope_attrs.is_valid(1));
    let resource_ids = column(&t.scopes, schema::scope::RESOURCE_ID).as_primitive::<UInt32Type>();
    assert_eq!(resource_ids.values().to_vec(), vec![0, 0]);
}

#[test]
fn attribute_values_of_every_type_round_trip() {
    let nested_array = Value::ArrayValue(ArrayValue {
        values: vec![
            AnyValue {
                value: Some(Value::IntValue(1)),
            },
            AnyValue { value: None },
            AnyValue {
                value: Some(Value::ArrayValue(ArrayValue { values: vec![] })),
            },
        ],
    });
    let kvlist = Value::KvlistValue(KeyValueList {
        values: vec![
            kv("inner", str_value("x")),
            KeyValue {
                key: "no value".into(),
                value: None,
                key_strindex: 0,
            },
        ],
    });
    let attributes = vec![
        kv("s", str_value("hello")),
        kv("b", Some(Value::BoolValue(true))),
        kv("i", Some(Value::IntValue(-42))),
        kv("d", Some(Value::DoubleValue(2.5))),
        kv("bytes", Some(Value::BytesValue(vec![0, 159, 146, 150]))),
        kv("arr", Some(nested_array)),
        kv("kv", Some(kvlist)),
        kv("empty", None),
        KeyValue {
            key: "missing".into(),
            value: None,
            key_strindex: 0,
        },
        // Duplicate keys and their order are kept as received.
        kv("s", str_value("again")),
        kv("", str_value("")),
    ];
    let t = round_trip(
        Signal::Traces,
        &traces(vec![Span {
            attributes,
            ..Default::default()
        }]),
    );
    let attrs = map(&t.records, sp::ATTRIBUTES);
    let keys: Vec<&str> = attrs.keys().as_string::<i32>().iter().flatten().collect();
    assert_eq!(
        keys,
        [
            "s", "b", "i", "d", "bytes", "arr", "kv", "empty", "missing", "s", ""
        ]
    );
    let values: &StructArray = attrs.values().as_struct();
    let types: Vec<u8> = values
        .column_by_name(schema::any_value::TYPE)
        .expect("type")
        .as_primitive::<UInt8Type>()
        .values()
        .to_vec();
    let expected = [
        ValueType::Str,
        ValueType::Bool,
        ValueType::Int,
        ValueType::Double,
        ValueType::Bytes,
        ValueType::Array,
        ValueType::KvList,
        ValueType::Empty,
    ];
    for (i, ty) in expected.iter().enumerate() {
        assert_eq!(types[i], *ty as u8, "entry {i}");
    }
    // A `KeyValue` without value is a null struct; an empty `AnyValue` is not.
    assert!(values.is_null(8));
    assert!(values.is_valid(7));
    let ints = values
        .column_by_name(schema::any_value::INT)
        .expect("int")
        .as_primitive::<Int64Type>();
    assert_eq!(ints.value(2), -42);
}

#[test]
fn span_fields_status_events_and_links_round_trip() {
    let full = Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        trace_state: "vendor=1".into(),
        parent_span_id: vec![3; 8],
        flags: 0x301,
        name: "GET /".into(),
        kind: 2,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: u64::MAX,
        attributes: vec![kv("http.method", str_value("GET"))],
        dropped_attributes_count: 1,
        events: vec![
            span::Event {
                time_unix_nano: 5,
                name: "exception".into(),
                attributes: vec![kv("exception.type", str_value("E"))],
                dropped_attributes_count: 2,
            },
            span::Event::default(),
        ],
        dropped_events_count: 3,
        links: vec![
            span::Link {
                trace_id: vec![4; 16],
                span_id: vec![5; 8],
                trace_state: "a=b".into(),
                attributes: vec![kv("l", Some(Value::IntValue(1)))],
                dropped_attributes_count: 4,
                flags: 1,
            },
            span::Link::default(),
        ],
        dropped_links_count: 5,
        status: Some(Status {
            message: "boom".into(),
            code: 2,
        }),
    };
    let default_status = Span {
        status: Some(Status::default()),
        ..Default::default()
    };
    let t = round_trip(
        Signal::Traces,
        &traces(vec![full, default_status, Span::default()]),
    );
    let status = column(&t.records, sp::STATUS);
    assert!(status.is_valid(0) && status.is_valid(1) && status.is_null(2));
    let trace_ids = column(&t.records, sp::TRACE_ID).as_fixed_size_binary();
    assert_eq!(trace_ids.value(0), [1; 16]);
    assert!(trace_ids.is_null(1));
    // u64::MAX nanoseconds are kept bit for bit (they read as -1 ns).
    let end = column(&t.records, sp::END_TIME).as_primitive::<TimestampNanosecondType>();
    assert_eq!(end.value(0), -1);
    assert_eq!(end.timezone(), Some(schema::TIME_ZONE));
    let events = column(&t.records, sp::EVENTS).as_list::<i32>();
    assert_eq!(events.value_length(0), 2);
    assert_eq!(events.value_length(1), 0);
}

#[test]
fn ids_of_the_wrong_length_are_refused() {
    fn refused(signal: Signal, bytes: Vec<u8>, field: &str) {
        match decode(signal, &bytes) {
            Err(PdataError::InvalidValue { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected InvalidValue for {field}, got {other:?}"),
        }
    }
    let span = |s: Span| traces(vec![s]).encode_to_vec();
    refused(
        Signal::Traces,
        span(Span {
            trace_id: vec![1; 15],
            ..Default::default()
        }),
        "Span.trace_id",
    );
    refused(
        Signal::Traces,
        span(Span {
            parent_span_id: vec![1; 16],
            ..Default::default()
        }),
        "Span.parent_span_id",
    );
    refused(
        Signal::Traces,
        span(Span {
            links: vec![span::Link {
                span_id: vec![1; 9],
                ..Default::default()
            }],
            ..Default::default()
        }),
        "Span.Link.span_id",
    );
    refused(
        Signal::Logs,
        logs(vec![LogRecord {
            trace_id: vec![1; 3],
            ..Default::default()
        }])
        .encode_to_vec(),
        "LogRecord.trace_id",
    );
    let point = NumberDataPoint {
        exemplars: vec![Exemplar {
            span_id: vec![1; 4],
            ..Default::default()
        }],
        ..Default::default()
    };
    refused(
        Signal::Metrics,
        metrics(vec![metric(
            "m",
            Some(Data::Gauge(Gauge {
                data_points: vec![point],
            })),
        )])
        .encode_to_vec(),
        "Exemplar.span_id",
    );
}

#[test]
fn invalid_protobuf_is_a_decode_error() {
    for signal in Signal::ALL {
        let err = decode(signal, &[0x0a, 0x05, 0x01]).expect_err("truncated message");
        // The wire decoder says where (`Protobuf`), prost does not (`Decode`).
        assert!(
            matches!(err, PdataError::Protobuf { .. } | PdataError::Decode(_)),
            "{err:?}"
        );
    }
}

#[test]
fn log_bodies_of_every_kind_and_event_names_round_trip() {
    let bodies = vec![
        None,
        Some(AnyValue { value: None }),
        Some(AnyValue {
            value: str_value("plain text"),
        }),
        Some(AnyValue {
            value: Some(Value::KvlistValue(KeyValueList {
                values: vec![kv("msg", str_value("structured"))],
            })),
        }),
        Some(AnyValue {
            value: Some(Value::ArrayValue(ArrayValue { values: vec![] })),
        }),
        Some(AnyValue {
            value: Some(Value::BytesValue(vec![])),
        }),
        Some(AnyValue {
            value: Some(Value::DoubleValue(-0.5)),
        }),
    ];
    let records = bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| LogRecord {
            time_unix_nano: i as u64,
            observed_time_unix_nano: 7,
            severity_number: 9,
            severity_text: "INFO".into(),
            body,
            event_name: if i == 0 {
                "app.start".into()
            } else {
                String::new()
            },
            flags: 1,
            trace_id: vec![9; 16],
            span_id: vec![8; 8],
            ..Default::default()
        })
        .collect();
    let t = round_trip(Signal::Logs, &logs(records));
    let body: &StructArray = column(&t.records, lg::BODY).as_struct();
    assert!(body.is_null(0));
    let types = body
        .column_by_name(schema::any_value::TYPE)
        .expect("type")
        .as_primitive::<UInt8Type>();
    assert_eq!(types.value(1), ValueType::Empty as u8);
    assert_eq!(types.value(2), ValueType::Str as u8);
    assert_eq!(types.value(3), ValueType::KvList as u8);
    assert_eq!(types.value(4), ValueType::Array as u8);
    assert_eq!(types.value(5), ValueType::Bytes as u8);
}

#[test]
fn number_points_hold_an_int_a_double_or_neither() {
    let point = |value| NumberDataPoint {
        value,
        time_unix_nano: 10,
        attributes: vec![kv("host", str_value("a"))],
        ..Default::default()
    };
    let request = metrics(vec![
        metric(
            "g",
            Some(Data::Gauge(Gauge {
                data_points: vec![
                    point(Some(number_data_point::Value::AsInt(3))),
                    point(Some(number_data_point::Value::AsDouble(1.5))),
                    point(None),
                ],
            })),
        ),
        metric(
            "s",
            Some(Data::Sum(Sum {
                data_points: vec![point(Some(number_data_point::Value::AsInt(-1)))],
                aggregation_temporality: 2,
                is_monotonic: true,
            })),
        ),
    ]);
    let t = round_trip(Signal::Metrics, &request);
    let ints = column(&t.records, mt::VALUE_INT).as_primitive::<Int64Type>();
    let doubles = column(&t.records, mt::VALUE_DOUBLE).as_primitive::<Float64Type>();
    assert_eq!(ints.value(0), 3);
    assert!(doubles.is_null(0));
    assert!(ints.is_null(1));
    assert_eq!(doubles.value(1), 1.5);
    assert!(ints.is_null(2) && doubles.is_null(2));
    let metric_ids = column(&t.records, mt::METRIC_ID).as_primitive::<UInt32Type>();
    assert_eq!(metric_ids.values().to_vec(), vec![0, 0, 0, 1]);
    assert_eq!(placeholder_rows(&t.records), 0);
}

#[test]
fn nan_doubles_keep_their_bits() {
    let nan = f64::from_bits(0x7ff8_0000_dead_beef);
    let request = metrics(vec![metric(
        "nan",
        Some(Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint {
                value: Some(number_data_point::Value::AsDouble(nan)),
                ..Default::default()
            }],
        })),
    )]);
    let bytes = request.encode_to_vec();
    let tables = decode(Signal::Metrics, &bytes).expect("decode");
    let back = encode(Signal::Metrics, &tables).expect("encode");
    // NaN != NaN as a struct; the bytes carry the exact bits.
    assert_eq!(back[..], bytes[..]);
    let doubles = column(&tables.records, mt::VALUE_DOUBLE).as_primitive::<Float64Type>();
    assert_eq!(doubles.value(0).to_bits(), nan.to_bits());
}

#[test]
fn histograms_keep_absent_sum_min_and_max() {
    let with = HistogramDataPoint {
        count: 4,
        sum: Some(10.0),
        min: Some(-1.0),
        max: Some(9.0),
        bucket_counts: vec![1, 2, 1],
        explicit_bounds: vec![0.0, 5.0],
        exemplars: vec![Exemplar {
            filtered_attributes: vec![kv("user", str_value("u"))],
            time_unix_nano: 3,
            span_id: vec![1; 8],
            trace_id: vec![2; 16],
            value: Some(exemplar::Value::AsInt(7)),
        }],
        flags: 1,
        ..Default::default()
    };
    let without = HistogramDataPoint {
        count: 0,
        ..Default::default()
    };
    let t = round_trip(
        Signal::Metrics,
        &metrics(vec![metric(
            "h",
            Some(Data::Histogram(Histogram {
                data_points: vec![with, without],
                aggregation_temporality: 1,
            })),
        )]),
    );
    let sum = column(&t.records, mt::SUM).as_primitive::<Float64Type>();
    assert_eq!(sum.value(0), 10.0);
    assert!(sum.is_null(1));
    let ty = column(&t.records, mt::METRIC_TYPE).as_primitive::<UInt8Type>();
    assert_eq!(ty.value(0), MetricType::Histogram as u8);
}

#[test]
fn exponential_histograms_keep_absent_and_empty_buckets() {
    let point = |positive, negative| ExponentialHistogramDataPoint {
        count: 3,
        scale: -2,
        zero_count: 1,
        zero_threshold: 1e-9,
        positive,
        negative,
        sum: Some(1.0),
        ..Default::default()
    };
    let buckets = Buckets {
        offset: -3,
        bucket_counts: vec![1, 0, 2],
    };
    let t = round_trip(
        Signal::Metrics,
        &metrics(vec![metric(
            "e",
            Some(Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![
                    point(None, None),
                    point(Some(Buckets::default()), Some(buckets.clone())),
                    point(Some(buckets), None),
                ],
                aggregation_temporality: 2,
            })),
        )]),
    );
    let positive = column(&t.records, mt::POSITIVE);
    assert!(positive.is_null(0) && positive.is_valid(1) && positive.is_valid(2));
}

#[test]
fn summaries_round_trip() {
    let point = SummaryDataPoint {
        count: 10,
        sum: 99.5,
        quantile_values: vec![
            ValueAtQuantile {
                quantile: 0.5,
                value: 7.0,
            },
            ValueAtQuantile {
                quantile: 0.99,
                value: 12.0,
            },
        ],
        start_time_unix_nano: 1,
        time_unix_nano: 2,
        flags: 0,
        attributes: vec![kv("q", str_value("x"))],
    };
    round_trip(
        Signal::Metrics,
        &metrics(vec![metric(
            "s",
            Some(Data::Summary(Summary {
                data_points: vec![point, SummaryDataPoint::default()],
            })),
        )]),
    );
}

#[test]
fn metrics_without_points_are_placeholder_rows() {
    let request = metrics(vec![
        Metric {
            name: "no data".into(),
            description: "data unset".into(),
            unit: "1".into(),
            metadata: vec![kv("m", str_value("v"))],
            data: None,
        },
        metric("empty gauge", Some(Data::Gauge(Gauge::default()))),
        metric(
            "empty sum",
            Some(Data::Sum(Sum {
                data_points: vec![],
                aggregation_temporality: 2,
                is_monotonic: true,
            })),
        ),
        metric(
            "two points",
            Some(Data::Gauge(Gauge {
                data_points: vec![NumberDataPoint::default(), NumberDataPoint::default()],
            })),
        ),
        metric("empty summary", Some(Data::Summary(Summary::default()))),
    ]);
    let t = round_trip(Signal::Metrics, &request);
    assert_eq!(t.records.num_rows(), 6);
    assert_eq!(placeholder_rows(&t.records), 4);
    assert_eq!(t.placeholder_rows(), 4);
    let ty = column(&t.records, mt::METRIC_TYPE).as_primitive::<UInt8Type>();
    assert_eq!(ty.value(0), MetricType::None as u8);
    assert_eq!(ty.value(1), MetricType::Gauge as u8);
    let attrs = map(&t.records, mt::ATTRIBUTES);
    let nulls: Vec<bool> = (0..6).map(|i| attrs.is_null(i)).collect();
    assert_eq!(nulls, [true, true, true, false, false, true]);
    assert_eq!(Batch::from_tables(Signal::Metrics, t).items(), 2);
    // Traces and logs tables have no placeholders.
    let spans = decode(
        Signal::Traces,
        &traces(vec![Span::default()]).encode_to_vec(),
    )
    .expect("decode");
    assert_eq!(spans.placeholder_rows(), 0);
}

#[test]
fn empty_requests_scopes_and_resources_round_trip() {
    for signal in Signal::ALL {
        let t = decode(signal, &[]).expect("empty request");
        assert_eq!(
            t.resources.num_rows() + t.scopes.num_rows() + t.records.num_rows(),
            0
        );
        assert_eq!(t.records.schema(), schema::records(signal));
        assert!(encode(signal, &t).expect("encode").is_empty());
    }
    let request = ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans::default(),
            ResourceSpans {
                scope_spans: vec![ScopeSpans::default(), ScopeSpans::default()],
                ..Default::default()
            },
        ],
    };
    let t = round_trip(Signal::Traces, &request);
    assert_eq!((t.resources.num_rows(), t.scopes.num_rows()), (2, 2));
    round_trip(
        Signal::Logs,
        &ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs::default()],
                ..Default::default()
            }],
        },
    );
    round_trip(
        Signal::Metrics,
        &ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics::default()],
        },
    );
}
