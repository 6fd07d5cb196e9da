//! Shared pieces of the pdata integration tests: proptest strategies for
//! arbitrary OTLP requests of all three signals, and the table
//! transformations a processor may apply (interleaved records, sparse ids).

// Each test binary uses a different subset.
#![allow(dead_code)]

use std::collections::HashMap;
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
use weir_pdata::schema::{metric as mt, resource as rc, scope as sc};
use weir_pdata::{Signal, SignalTables};

// ---------------------------------------------------------------- strategies

pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[a-z]{0,6}", 1 => "\\PC{0,4}"]
}

/// Ordinary doubles mostly, plus any bit pattern (NaN payloads, infinities,
/// subnormals) and negative zero.
pub fn double() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -1e9f64..1e9,
        1 => any::<u64>().prop_map(f64::from_bits),
        1 => Just(f64::NAN),
        1 => Just(-0.0),
    ]
}

pub fn time() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0), any::<u64>()]
}

pub fn id(width: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![Just(Vec::new()), vec(any::<u8>(), width)]
}

pub fn any_value() -> BoxedStrategy<AnyValue> {
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

pub fn kv((key, value): (String, Option<AnyValue>)) -> KeyValue {
    KeyValue {
        key,
        value,
        // Only the profiles signal uses it; not carried (docs/data-model.md).
        key_strindex: 0,
    }
}

pub fn attrs() -> impl Strategy<Value = Vec<KeyValue>> {
    vec((text(), option::of(any_value())), 0..3).prop_map(|v| v.into_iter().map(kv).collect())
}

pub fn resource() -> impl Strategy<Value = Option<Resource>> {
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

pub fn scope() -> impl Strategy<Value = Option<InstrumentationScope>> {
    option::of((text(), text(), attrs(), any::<u32>()).prop_map(
        |(name, version, attributes, dropped_attributes_count)| InstrumentationScope {
            name,
            version,
            attributes,
            dropped_attributes_count,
        },
    ))
}

pub fn span() -> impl Strategy<Value = Span> {
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

pub fn traces() -> impl Strategy<Value = ExportTraceServiceRequest> {
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

pub fn log_record() -> impl Strategy<Value = LogRecord> {
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

pub fn logs() -> impl Strategy<Value = ExportLogsServiceRequest> {
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

pub fn exemplars() -> impl Strategy<Value = Vec<Exemplar>> {
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

pub fn number_point() -> impl Strategy<Value = NumberDataPoint> {
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

pub fn histogram_point() -> impl Strategy<Value = HistogramDataPoint> {
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

pub fn buckets() -> impl Strategy<Value = Option<Buckets>> {
    option::of(
        (any::<i32>(), vec(any::<u64>(), 0..4)).prop_map(|(offset, bucket_counts)| Buckets {
            offset,
            bucket_counts,
        }),
    )
}

pub fn exponential_point() -> impl Strategy<Value = ExponentialHistogramDataPoint> {
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

pub fn summary_point() -> impl Strategy<Value = SummaryDataPoint> {
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

pub fn metric_data() -> impl Strategy<Value = Option<Data>> {
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

pub fn metrics() -> impl Strategy<Value = ExportMetricsServiceRequest> {
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

// ---------------------------------------------------------------- transforms

pub fn u32_column(batch: &RecordBatch, name: &str) -> Vec<u32> {
    batch
        .column_by_name(name)
        .map(|c| c.as_primitive::<UInt32Type>().values().to_vec())
        .unwrap_or_default()
}

/// Reorders records round-robin across groups (scopes, or metrics for the
/// metrics signal), keeping the order within each group: what a processor
/// appending rows may produce.
pub fn interleave(records: &RecordBatch, signal: Signal) -> RecordBatch {
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

pub fn with_column(batch: &RecordBatch, name: &str, values: Vec<u32>) -> RecordBatch {
    let i = batch.schema().index_of(name).expect("column");
    let mut columns = batch.columns().to_vec();
    columns[i] = Arc::new(UInt32Array::from(values)) as ArrayRef;
    RecordBatch::try_new(batch.schema(), columns).expect("batch")
}

/// Replaces resource and scope ids by sparse ones (`id * 3 + 7`), in the
/// tables that define them and in those that reference them.
pub fn sparse_ids(t: &SignalTables) -> SignalTables {
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
