//! Tables as processors hand them back: built by hand, filtered,
//! concatenated, with missing or plain-typed columns, or broken.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt32Type;
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, FixedSizeBinaryArray, RecordBatch, StringArray,
    UInt32Array,
};
use arrow_schema::{DataType, Field, Schema};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric::Data,
};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use weir_pdata::otlp::arrow::{concat, decode, encode};
use weir_pdata::schema::{metric as mt, resource as rc, scope as sc, span as sp};
use weir_pdata::{Batch, PdataError, Signal, SignalTables};

fn span(name: &str) -> Span {
    Span {
        name: name.to_string(),
        trace_id: vec![7; 16],
        ..Default::default()
    }
}

/// Two resources, with one and two scopes; spans named `r{resource}s{scope}-{n}`.
fn traces() -> ExportTraceServiceRequest {
    let scope = |names: &[&str]| ScopeSpans {
        spans: names.iter().map(|n| span(n)).collect(),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                scope_spans: vec![scope(&["r0s0-0", "r0s0-1"])],
                ..Default::default()
            },
            ResourceSpans {
                scope_spans: vec![scope(&["r1s0-0"]), scope(&["r1s1-0", "r1s1-1"])],
                ..Default::default()
            },
        ],
    }
}

fn gauge(name: &str, points: usize) -> Metric {
    Metric {
        name: name.to_string(),
        data: Some(Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint::default(); points],
        })),
        ..Default::default()
    }
}

fn metrics(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn u32s(batch: &RecordBatch, name: &str) -> Vec<u32> {
    batch
        .column_by_name(name)
        .expect("column")
        .as_primitive::<UInt32Type>()
        .values()
        .to_vec()
}

fn span_names(request: &ExportTraceServiceRequest) -> Vec<Vec<Vec<String>>> {
    request
        .resource_spans
        .iter()
        .map(|r| {
            r.scope_spans
                .iter()
                .map(|s| s.spans.iter().map(|sp| sp.name.clone()).collect())
                .collect()
        })
        .collect()
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let arrays = columns.into_iter().map(|(_, a)| a).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("batch")
}

fn ids(values: &[u32]) -> ArrayRef {
    Arc::new(UInt32Array::from(values.to_vec()))
}

#[test]
fn hand_built_tables_with_plain_strings_and_missing_columns_encode() {
    // What a SQL processor might return: a few columns, names as plain Utf8.
    let resources = batch(vec![(rc::ID, ids(&[10]))]);
    let scopes = batch(vec![
        (sc::ID, ids(&[4, 5])),
        (sc::RESOURCE_ID, ids(&[10, 10])),
        (sc::NAME, Arc::new(StringArray::from(vec!["lib", "other"]))),
    ]);
    let records = batch(vec![
        (sp::SCOPE_ID, ids(&[5, 4, 5])),
        (sp::NAME, Arc::new(StringArray::from(vec!["a", "b", "c"]))),
        (
            sp::TRACE_ID,
            Arc::new(
                FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                    vec![Some(vec![1u8; 16]), None, Some(vec![2u8; 16])].into_iter(),
                    16,
                )
                .expect("ids"),
            ),
        ),
    ]);
    let tables = SignalTables {
        resources,
        scopes,
        records,
    };
    let bytes = encode(Signal::Traces, &tables).expect("encode");
    let request = ExportTraceServiceRequest::decode(&bytes[..]).expect("protobuf");
    assert_eq!(request.resource_spans.len(), 1);
    let rs = &request.resource_spans[0];
    // A missing attributes column reads as an absent message.
    assert!(rs.resource.is_none());
    assert!(rs.scope_spans[0].scope.is_none());
    assert_eq!(span_names(&request), vec![vec![vec!["b"], vec!["a", "c"]]]);
    let a = &rs.scope_spans[1].spans[0];
    assert_eq!(a.trace_id, vec![1; 16]);
    assert_eq!(
        (a.kind, a.start_time_unix_nano, a.status.clone()),
        (0, 0, None)
    );
    assert!(rs.scope_spans[0].spans[0].trace_id.is_empty());
}

#[test]
fn filtered_records_keep_their_scopes_and_order() {
    let tables = decode(Signal::Traces, &traces().encode_to_vec()).expect("decode");
    let keep = BooleanArray::from(vec![false, true, true, true, false]);
    let filtered = SignalTables {
        records: arrow_select::filter::filter_record_batch(&tables.records, &keep).expect("filter"),
        ..tables
    };
    let bytes = encode(Signal::Traces, &filtered).expect("encode");
    let request = ExportTraceServiceRequest::decode(&bytes[..]).expect("protobuf");
    assert_eq!(
        span_names(&request),
        vec![vec![vec!["r0s0-1"]], vec![vec!["r1s0-0"], vec!["r1s1-0"]]]
    );
}

#[test]
fn appended_rows_join_their_scope_and_metric() {
    // A processor appends a point to metric 0 at the end of the table.
    let tables = decode(
        Signal::Metrics,
        &metrics(vec![gauge("a", 1), gauge("b", 1)]).encode_to_vec(),
    )
    .expect("decode");
    let extra = arrow_select::take::take_record_batch(&tables.records, &UInt32Array::from(vec![0]))
        .expect("take");
    let records =
        arrow_select::concat::concat_batches(&tables.records.schema(), [&tables.records, &extra])
            .expect("concat");
    let appended = SignalTables { records, ..tables };
    let bytes = encode(Signal::Metrics, &appended).expect("encode");
    let request = ExportMetricsServiceRequest::decode(&bytes[..]).expect("protobuf");
    let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
    let points: Vec<(String, usize)> = metrics
        .iter()
        .map(|m| match &m.data {
            Some(Data::Gauge(g)) => (m.name.clone(), g.data_points.len()),
            _ => (m.name.clone(), usize::MAX),
        })
        .collect();
    assert_eq!(points, [("a".to_string(), 2), ("b".to_string(), 1)]);
}

#[test]
fn broken_tables_are_schema_errors() {
    let tables = decode(Signal::Traces, &traces().encode_to_vec()).expect("decode");
    let replace = |batch: &RecordBatch, name: &str, column: ArrayRef| {
        let schema = batch.schema();
        let i = schema.index_of(name).expect("column");
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields[i] = Field::new(name, column.data_type().clone(), true);
        let mut columns = batch.columns().to_vec();
        columns[i] = column;
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("batch")
    };
    let cases = [
        (
            "dangling scope_id",
            SignalTables {
                records: replace(&tables.records, sp::SCOPE_ID, ids(&[0, 0, 1, 2, 9])),
                ..tables.clone()
            },
        ),
        (
            "dangling resource_id",
            SignalTables {
                scopes: replace(&tables.scopes, sc::RESOURCE_ID, ids(&[0, 1, 5])),
                ..tables.clone()
            },
        ),
        (
            "duplicate resource ids",
            SignalTables {
                resources: replace(&tables.resources, rc::ID, ids(&[3, 3])),
                ..tables.clone()
            },
        ),
        (
            "null scope id",
            SignalTables {
                scopes: replace(
                    &tables.scopes,
                    sc::ID,
                    Arc::new(UInt32Array::from(vec![Some(0), None, Some(2)])),
                ),
                ..tables.clone()
            },
        ),
        (
            "trace id as binary",
            SignalTables {
                records: replace(
                    &tables.records,
                    sp::TRACE_ID,
                    Arc::new(BinaryArray::from(vec![&b"x"[..]; 5])),
                ),
                ..tables.clone()
            },
        ),
        (
            "span id of 16 bytes",
            SignalTables {
                records: replace(
                    &tables.records,
                    sp::SPAN_ID,
                    Arc::new(
                        FixedSizeBinaryArray::try_from_iter(vec![vec![0u8; 16]; 5].into_iter())
                            .expect("ids"),
                    ),
                ),
                ..tables.clone()
            },
        ),
        (
            "scope id as strings",
            SignalTables {
                records: replace(
                    &tables.records,
                    sp::SCOPE_ID,
                    Arc::new(StringArray::from(vec!["0"; 5])),
                ),
                ..tables.clone()
            },
        ),
    ];
    for (what, broken) in cases {
        match encode(Signal::Traces, &broken) {
            Err(PdataError::Schema { signal, .. }) => assert_eq!(signal, Signal::Traces, "{what}"),
            other => panic!("{what}: expected a schema error, got {other:?}"),
        }
    }
    let no_scope_id = SignalTables {
        records: tables.records.project(&[1, 2]).expect("project"),
        ..tables.clone()
    };
    assert!(matches!(
        encode(Signal::Traces, &no_scope_id),
        Err(PdataError::Schema { .. })
    ));
}

#[test]
fn concat_renumbers_ids() {
    let a = decode(
        Signal::Metrics,
        &metrics(vec![gauge("a", 2), gauge("b", 0)]).encode_to_vec(),
    )
    .expect("decode");
    let b = decode(
        Signal::Metrics,
        &metrics(vec![gauge("c", 1)]).encode_to_vec(),
    )
    .expect("decode");
    let joined = concat(Signal::Metrics, &[&a, &b, &b]).expect("concat");
    assert_eq!(u32s(&joined.resources, rc::ID), [0, 1, 2]);
    assert_eq!(u32s(&joined.scopes, sc::ID), [0, 1, 2]);
    assert_eq!(u32s(&joined.scopes, sc::RESOURCE_ID), [0, 1, 2]);
    assert_eq!(u32s(&joined.records, mt::SCOPE_ID), [0, 0, 0, 1, 2]);
    assert_eq!(u32s(&joined.records, mt::METRIC_ID), [0, 0, 1, 2, 3]);
    assert_eq!(joined.placeholder_rows(), 1);
    assert!(matches!(
        concat(Signal::Metrics, &[]),
        Err(PdataError::Empty)
    ));
}

#[test]
fn concat_refuses_tables_with_different_columns() {
    let a = decode(Signal::Traces, &traces().encode_to_vec()).expect("decode");
    let b = SignalTables {
        records: a.records.project(&[0, 1]).expect("project"),
        ..a.clone()
    };
    assert!(matches!(
        concat(Signal::Traces, &[&a, &b]),
        Err(PdataError::Schema { .. })
    ));
}

#[test]
fn batches_built_from_tables_encode_and_concatenate() {
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    LogRecord {
                        severity_text: "WARN".into(),
                        ..Default::default()
                    };
                    3
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let bytes = logs.encode_to_vec();
    let tables = decode(Signal::Logs, &bytes).expect("decode");
    let batch = Batch::from_tables(Signal::Logs, tables);
    assert_eq!(batch.items(), 3);
    assert!(!batch.has_otlp());
    assert_eq!(batch.otlp_bytes().expect("encode")[..], bytes[..]);
    let other = Batch::from_tables(Signal::Logs, decode(Signal::Logs, &bytes).expect("decode"));
    let joined = Batch::concat(&[batch, other]).expect("concat");
    assert_eq!(joined.items(), 6);
    let joined_bytes = joined.otlp_bytes().expect("encode");
    assert_eq!(joined_bytes[..], [bytes.clone(), bytes].concat()[..]);
    assert_eq!(
        joined
            .tables()
            .expect("tables")
            .records
            .schema()
            .field(4)
            .data_type(),
        &DataType::Dictionary(Box::new(DataType::UInt32), Box::new(DataType::Utf8))
    );
}
