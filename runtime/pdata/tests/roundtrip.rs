//! Property tests: OTLP -> Arrow -> OTLP is lossless for arbitrary requests
//! of all three signals.
//!
//! Equality is checked on the protobuf bytes: prost encodes equal messages
//! to equal bytes, and comparing bytes compares doubles bit for bit, so NaN
//! (generated on purpose, with arbitrary payloads) round-trips exactly. Where
//! the message has no NaN, the decoded prost structs are compared too.
//!
//! Besides the plain round trip, each request is also checked after
//! transformations a processor may apply to the tables: records interleaved
//! across scopes (and points across metrics), ids made sparse, and tables of
//! two requests concatenated.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt32Type;
use arrow_array::{ArrayRef, RecordBatch, UInt32Array};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList, any_value,
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
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use prost::Message;
use weir_pdata::otlp::arrow::{concat, decode, encode};
use weir_pdata::schema::{self, metric as mt, resource as rc, scope as sc};
use weir_pdata::{Signal, SignalTables};

// ---------------------------------------------------------------- strategies

fn text() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[a-z]{0,6}", 1 => "\\PC{0,4}"]
}

/// Ordinary doubles mostly, plus any bit pattern (NaN payloads, infinities,
/// subnormals) and negative zero.
fn double() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -1e9f64..1e9,
        1 => any::<u64>().prop_map(f64::from_bits),
        1 => Just(f64::NAN),
        1 => Just(-0.0),
    ]
}

fn time() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0), any::<u64>()]
}

fn id(width: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![Just(Vec::new()), vec(any::<u8>(), width)]
}

fn any_value() -> BoxedStrategy<AnyValue> {
    use any_value::Value;
    let leaf = prop_oneof![
        Just(None),
        text().prop_map(|s| Some(Value::StringValue(s))),
        any::<bool>().prop_map(|b| Some(Value::BoolValue(b))),
        any::<i64>().prop_map(|i| Some(Value::IntValue(i))),
        double().prop_map(|d| Some(Value::DoubleValue(d))),
        vec(any::<u8>(), 0..6).prop_map(|b| Some(Value::BytesValue(b))),
        any::<i32>().prop_map(|i| Some(Value::StringValueStrindex(i))),
    ]
    .prop_map(|value| AnyValue { value });
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(|values| AnyValue {
                value: Some(Value::ArrayValue(ArrayValue { values })),
            }),
            vec((text(), option::of(inner)), 0..3).prop_map(|kvs| AnyValue {
                value: Some(Value::KvlistValue(KeyValueList {
                    values: kvs.into_iter().map(kv).collect(),
                })),
            }),
        ]
    })
    .boxed()
}

fn kv((key, value): (String, Option<AnyValue>)) -> KeyValue {
    KeyValue {
        key,
        value,
        // Only the profiles signal uses it; not carried (docs/data-model.md).
        key_strindex: 0,
    }
}

fn attrs() -> impl Strategy<Value = Vec<KeyValue>> {
    vec((text(), option::of(any_value())), 0..3).prop_map(|v| v.into_iter().map(kv).collect())
}

fn resource() -> impl Strategy<Value = Option<Resource>> {
    let entity = (text(), text(), vec(text(), 0..2), vec(text(), 0..2)).prop_map(
        |(schema_url, r#type, id_keys, description_keys)| EntityRef {
            schema_url,
            r#type,
            id_keys,
            description_keys,
        },
    );
    option::of((attrs(), any::<u32>(), vec(entity, 0..2)).prop_map(
        |(attributes, dropped_attributes_count, entity_refs)| Resource {
            attributes,
            dropped_attributes_count,
            entity_refs,
        },
    ))
}

fn scope() -> impl Strategy<Value = Option<InstrumentationScope>> {
    option::of((text(), text(), attrs(), any::<u32>()).prop_map(
        |(name, version, attributes, dropped_attributes_count)| InstrumentationScope {
            name,
            version,
            attributes,
            dropped_attributes_count,
        },
    ))
}

fn span() -> impl Strategy<Value = Span> {
    let event = (time(), text(), attrs(), any::<u32>()).prop_map(
        |(time_unix_nano, name, attributes, dropped_attributes_count)| span::Event {
            time_unix_nano,
            name,
            attributes,
            dropped_attributes_count,
        },
    );
    let link = (id(16), id(8), text(), attrs(), any::<u32>(), any::<u32>()).prop_map(
        |(trace_id, span_id, trace_state, attributes, dropped_attributes_count, flags)| {
            span::Link {
                trace_id,
                span_id,
                trace_state,
                attributes,
                dropped_attributes_count,
                flags,
            }
        },
    );
    let status = option::of((text(), 0..4i32).prop_map(|(message, code)| Status { message, code }));
    let ids = (id(16), id(8), text(), id(8), any::<u32>());
    let main = (text(), any::<i32>(), time(), time(), attrs(), any::<u32>());
    let rest = (
        vec(event, 0..3),
        any::<u32>(),
        vec(link, 0..3),
        any::<u32>(),
        status,
    );
    (ids, main, rest).prop_map(
        |(
            (trace_id, span_id, trace_state, parent_span_id, flags),
            (name, kind, start, end, attributes, dropped_attributes_count),
            (events, dropped_events_count, links, dropped_links_count, status),
        )| Span {
            trace_id,
            span_id,
            trace_state,
            parent_span_id,
            flags,
            name,
            kind,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes,
            dropped_attributes_count,
            events,
            dropped_events_count,
            links,
            dropped_links_count,
            status,
        },
    )
}

fn traces() -> impl Strategy<Value = ExportTraceServiceRequest> {
    let scope_spans =
        (scope(), vec(span(), 0..3), text()).prop_map(|(scope, spans, schema_url)| ScopeSpans {
            scope,
            spans,
            schema_url,
        });
    let resource_spans = (resource(), vec(scope_spans, 0..3), text()).prop_map(
        |(resource, scope_spans, schema_url)| ResourceSpans {
            resource,
            scope_spans,
            schema_url,
        },
    );
    vec(resource_spans, 0..3)
        .prop_map(|resource_spans| ExportTraceServiceRequest { resource_spans })
}

fn log_record() -> impl Strategy<Value = LogRecord> {
    (
        (
            time(),
            time(),
            any::<i32>(),
            text(),
            option::of(any_value()),
        ),
        (attrs(), any::<u32>(), any::<u32>(), id(16), id(8), text()),
    )
        .prop_map(
            |(
                (time_unix_nano, observed_time_unix_nano, severity_number, severity_text, body),
                (attributes, dropped_attributes_count, flags, trace_id, span_id, event_name),
            )| LogRecord {
                time_unix_nano,
                observed_time_unix_nano,
                severity_number,
                severity_text,
                body,
                attributes,
                dropped_attributes_count,
                flags,
                trace_id,
                span_id,
                event_name,
            },
        )
}

fn logs() -> impl Strategy<Value = ExportLogsServiceRequest> {
    let scope_logs =
        (scope(), vec(log_record(), 0..3), text()).prop_map(|(scope, log_records, schema_url)| {
            ScopeLogs {
                scope,
                log_records,
                schema_url,
            }
        });
    let resource_logs = (resource(), vec(scope_logs, 0..3), text()).prop_map(
        |(resource, scope_logs, schema_url)| ResourceLogs {
            resource,
            scope_logs,
            schema_url,
        },
    );
    vec(resource_logs, 0..3).prop_map(|resource_logs| ExportLogsServiceRequest { resource_logs })
}

fn exemplars() -> impl Strategy<Value = Vec<Exemplar>> {
    let value = option::of(prop_oneof![
        double().prop_map(exemplar::Value::AsDouble),
        any::<i64>().prop_map(exemplar::Value::AsInt),
    ]);
    vec(
        (attrs(), time(), id(8), id(16), value).prop_map(
            |(filtered_attributes, time_unix_nano, span_id, trace_id, value)| Exemplar {
                filtered_attributes,
                time_unix_nano,
                span_id,
                trace_id,
                value,
            },
        ),
        0..2,
    )
}

fn number_point() -> impl Strategy<Value = NumberDataPoint> {
    let value = option::of(prop_oneof![
        double().prop_map(number_data_point::Value::AsDouble),
        any::<i64>().prop_map(number_data_point::Value::AsInt),
    ]);
    (attrs(), time(), time(), exemplars(), any::<u32>(), value).prop_map(
        |(attributes, start_time_unix_nano, time_unix_nano, exemplars, flags, value)| {
            NumberDataPoint {
                attributes,
                start_time_unix_nano,
                time_unix_nano,
                exemplars,
                flags,
                value,
            }
        },
    )
}

fn histogram_point() -> impl Strategy<Value = HistogramDataPoint> {
    (
        (attrs(), time(), time(), any::<u64>(), option::of(double())),
        (
            vec(any::<u64>(), 0..4),
            vec(double(), 0..3),
            exemplars(),
            any::<u32>(),
        ),
        (option::of(double()), option::of(double())),
    )
        .prop_map(
            |(
                (attributes, start_time_unix_nano, time_unix_nano, count, sum),
                (bucket_counts, explicit_bounds, exemplars, flags),
                (min, max),
            )| HistogramDataPoint {
                attributes,
                start_time_unix_nano,
                time_unix_nano,
                count,
                sum,
                bucket_counts,
                explicit_bounds,
                exemplars,
                flags,
                min,
                max,
            },
        )
}

fn buckets() -> impl Strategy<Value = Option<Buckets>> {
    option::of(
        (any::<i32>(), vec(any::<u64>(), 0..4)).prop_map(|(offset, bucket_counts)| Buckets {
            offset,
            bucket_counts,
        }),
    )
}

fn exponential_point() -> impl Strategy<Value = ExponentialHistogramDataPoint> {
    (
        (attrs(), time(), time(), any::<u64>(), option::of(double())),
        (
            any::<i32>(),
            any::<u64>(),
            buckets(),
            buckets(),
            any::<u32>(),
        ),
        (
            exemplars(),
            option::of(double()),
            option::of(double()),
            double(),
        ),
    )
        .prop_map(
            |(
                (attributes, start_time_unix_nano, time_unix_nano, count, sum),
                (scale, zero_count, positive, negative, flags),
                (exemplars, min, max, zero_threshold),
            )| ExponentialHistogramDataPoint {
                attributes,
                start_time_unix_nano,
                time_unix_nano,
                count,
                sum,
                scale,
                zero_count,
                positive,
                negative,
                flags,
                exemplars,
                min,
                max,
                zero_threshold,
            },
        )
}

fn summary_point() -> impl Strategy<Value = SummaryDataPoint> {
    let quantiles = vec(
        (double(), double()).prop_map(|(quantile, value)| ValueAtQuantile { quantile, value }),
        0..3,
    );
    (
        attrs(),
        time(),
        time(),
        any::<u64>(),
        double(),
        quantiles,
        any::<u32>(),
    )
        .prop_map(
            |(
                attributes,
                start_time_unix_nano,
                time_unix_nano,
                count,
                sum,
                quantile_values,
                flags,
            )| {
                SummaryDataPoint {
                    attributes,
                    start_time_unix_nano,
                    time_unix_nano,
                    count,
                    sum,
                    quantile_values,
                    flags,
                }
            },
        )
}

fn metric_data() -> impl Strategy<Value = Option<Data>> {
    let temporality = 0..3i32;
    option::of(prop_oneof![
        vec(number_point(), 0..3).prop_map(|data_points| Data::Gauge(Gauge { data_points })),
        (
            vec(number_point(), 0..3),
            temporality.clone(),
            any::<bool>()
        )
            .prop_map(
                |(data_points, aggregation_temporality, is_monotonic)| Data::Sum(Sum {
                    data_points,
                    aggregation_temporality,
                    is_monotonic,
                })
            ),
        (vec(histogram_point(), 0..3), temporality.clone()).prop_map(
            |(data_points, aggregation_temporality)| Data::Histogram(Histogram {
                data_points,
                aggregation_temporality,
            })
        ),
        (vec(exponential_point(), 0..3), temporality).prop_map(
            |(data_points, aggregation_temporality)| {
                Data::ExponentialHistogram(ExponentialHistogram {
                    data_points,
                    aggregation_temporality,
                })
            }
        ),
        vec(summary_point(), 0..3).prop_map(|data_points| Data::Summary(Summary { data_points })),
    ])
}

fn metrics() -> impl Strategy<Value = ExportMetricsServiceRequest> {
    let metric = (text(), text(), text(), attrs(), metric_data()).prop_map(
        |(name, description, unit, metadata, data)| Metric {
            name,
            description,
            unit,
            metadata,
            data,
        },
    );
    let scope_metrics =
        (scope(), vec(metric, 0..3), text()).prop_map(|(scope, metrics, schema_url)| {
            ScopeMetrics {
                scope,
                metrics,
                schema_url,
            }
        });
    let resource_metrics = (resource(), vec(scope_metrics, 0..3), text()).prop_map(
        |(resource, scope_metrics, schema_url)| ResourceMetrics {
            resource,
            scope_metrics,
            schema_url,
        },
    );
    vec(resource_metrics, 0..3)
        .prop_map(|resource_metrics| ExportMetricsServiceRequest { resource_metrics })
}

// ---------------------------------------------------------------- checks

fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// Asserts that `tables` encode to exactly `bytes`, and that the decoded
/// messages are equal (when free of NaN, which is never equal to itself).
fn assert_encodes_to<M: Message + Default + PartialEq + Debug>(
    signal: Signal,
    tables: &SignalTables,
    bytes: &[u8],
    what: &str,
) -> Result<(), TestCaseError> {
    let back = encode(signal, tables).map_err(fail)?;
    let expected = M::decode(bytes).map_err(fail)?;
    let got = M::decode(&back[..]).map_err(fail)?;
    #[allow(clippy::eq_op)]
    if expected == expected {
        prop_assert_eq!(&got, &expected, "{}", what);
    }
    prop_assert!(back[..] == *bytes, "{}: bytes differ", what);
    Ok(())
}

fn check<M: Message + Default + PartialEq + Debug>(
    signal: Signal,
    message: &M,
) -> Result<(), TestCaseError> {
    let bytes = message.encode_to_vec();
    let tables = decode(signal, &bytes).map_err(fail)?;
    prop_assert_eq!(tables.resources.schema(), schema::resources());
    prop_assert_eq!(tables.scopes.schema(), schema::scopes());
    prop_assert_eq!(tables.records.schema(), schema::records(signal));
    assert_encodes_to::<M>(signal, &tables, &bytes, "round trip")?;

    let interleaved = SignalTables {
        records: interleave(&tables.records, signal),
        ..tables.clone()
    };
    assert_encodes_to::<M>(signal, &interleaved, &bytes, "interleaved records")?;

    let sparse = sparse_ids(&tables);
    assert_encodes_to::<M>(signal, &sparse, &bytes, "sparse ids")?;
    Ok(())
}

fn check_concat<M: Message + Default + PartialEq + Debug>(
    signal: Signal,
    a: &M,
    b: &M,
) -> Result<(), TestCaseError> {
    let (a, b) = (a.encode_to_vec(), b.encode_to_vec());
    let ta = decode(signal, &a).map_err(fail)?;
    let tb = decode(signal, &b).map_err(fail)?;
    // Sparse ids in the first part: the second part's ids must be shifted
    // past them, not past its row count.
    let ta = sparse_ids(&ta);
    let joined = concat(signal, &[&ta, &tb]).map_err(fail)?;
    // Protobuf concatenation appends repeated fields: the reference result.
    let expected = [a, b].concat();
    assert_encodes_to::<M>(signal, &joined, &expected, "concat")
}

fn u32_column(batch: &RecordBatch, name: &str) -> Vec<u32> {
    batch
        .column_by_name(name)
        .map(|c| c.as_primitive::<UInt32Type>().values().to_vec())
        .unwrap_or_default()
}

/// Reorders records round-robin across groups (scopes, or metrics for the
/// metrics signal), keeping the order within each group: what a processor
/// appending rows may produce.
fn interleave(records: &RecordBatch, signal: Signal) -> RecordBatch {
    let key = if signal == Signal::Metrics {
        mt::METRIC_ID
    } else {
        "scope_id"
    };
    let ids = u32_column(records, key);
    let mut rank: HashMap<u32, u32> = HashMap::new();
    let mut order: Vec<(u32, u32, u32)> = ids
        .iter()
        .enumerate()
        .map(|(row, &id)| {
            let r = rank.entry(id).or_default();
            *r += 1;
            (*r, id, row as u32)
        })
        .collect();
    order.sort_unstable();
    let indices = UInt32Array::from_iter_values(order.into_iter().map(|(_, _, row)| row));
    arrow_select::take::take_record_batch(records, &indices).expect("take")
}

fn with_column(batch: &RecordBatch, name: &str, values: Vec<u32>) -> RecordBatch {
    let i = batch.schema().index_of(name).expect("column");
    let mut columns = batch.columns().to_vec();
    columns[i] = Arc::new(UInt32Array::from(values)) as ArrayRef;
    RecordBatch::try_new(batch.schema(), columns).expect("batch")
}

/// Replaces resource and scope ids by sparse ones (`id * 3 + 7`), in the
/// tables that define them and in those that reference them.
fn sparse_ids(t: &SignalTables) -> SignalTables {
    let f = |v: Vec<u32>| v.into_iter().map(|id| id * 3 + 7).collect::<Vec<_>>();
    let resources = with_column(&t.resources, rc::ID, f(u32_column(&t.resources, rc::ID)));
    let scopes = with_column(&t.scopes, sc::ID, f(u32_column(&t.scopes, sc::ID)));
    let scopes = with_column(
        &scopes,
        sc::RESOURCE_ID,
        f(u32_column(&t.scopes, sc::RESOURCE_ID)),
    );
    let records = with_column(
        &t.records,
        "scope_id",
        f(u32_column(&t.records, "scope_id")),
    );
    SignalTables {
        resources,
        scopes,
        records,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn traces_round_trip(request in traces()) {
        check(Signal::Traces, &request)?;
    }

    #[test]
    fn logs_round_trip(request in logs()) {
        check(Signal::Logs, &request)?;
    }

    #[test]
    fn metrics_round_trip(request in metrics()) {
        check(Signal::Metrics, &request)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn traces_concat(a in traces(), b in traces()) {
        check_concat(Signal::Traces, &a, &b)?;
    }

    #[test]
    fn logs_concat(a in logs(), b in logs()) {
        check_concat(Signal::Logs, &a, &b)?;
    }

    #[test]
    fn metrics_concat(a in metrics(), b in metrics()) {
        check_concat(Signal::Metrics, &a, &b)?;
    }
}
