//! The store: shaping, files and rotation, then SQL over what was written.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arrow_array::cast::AsArray as _;
use arrow_array::types::Int64Type;
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, DictionaryArray, Float64Array, Int32Array,
    Int64Array, MapArray, RecordBatch, StringArray, StructArray, TimestampNanosecondArray,
    UInt8Array, UInt32Array,
};
use arrow_schema::{DataType, Field, Fields, Schema};
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use parquet::file::properties::WriterProperties;
use prost::Message as _;
use weir_engine::message::{Ack, Delivery, Message};
use weir_engine::metrics::NodeMetrics;
use weir_engine::node::{BatchExporter as _, Exporter as _, ExporterContext};
use weir_pdata::{Batch, Signal, SignalTables};

use super::config::ParquetExporterConfig;
use super::exporter::{ParquetExporter, ParquetNode};
use super::files::{Partition, Rotation, StoreFiles};
use super::table::stored_batch;

// ---- hand-made tables of the documented schema (no decoder needed) ----

fn any_value_fields() -> Fields {
    Fields::from(vec![
        Field::new("type", DataType::UInt8, false),
        Field::new("str", DataType::Utf8, true),
        Field::new("int", DataType::Int64, true),
        Field::new("double", DataType::Float64, true),
        Field::new("bool", DataType::Boolean, true),
        Field::new("bytes", DataType::Binary, true),
    ])
}

/// One attribute: a key and a string (`Ok`) or int (`Err`) value.
type Attr<'a> = (&'a str, Result<&'a str, i64>);

/// A `Map<Utf8, AnyValue>` of string and int attributes; `None` rows are
/// null (absent).
fn attributes(rows: &[Option<Vec<Attr<'_>>>]) -> MapArray {
    let entries: Vec<&Attr<'_>> = rows.iter().flatten().flatten().collect();
    let keys: StringArray = entries.iter().map(|(k, _)| Some(*k)).collect();
    let ty: UInt8Array = entries
        .iter()
        .map(|(_, v)| if v.is_ok() { 1 } else { 3 })
        .collect::<Vec<u8>>()
        .into();
    let strs: StringArray = entries.iter().map(|(_, v)| v.ok()).collect();
    let ints: Int64Array = entries.iter().map(|(_, v)| v.err()).collect();
    let n = entries.len();
    let values = StructArray::new(
        any_value_fields(),
        vec![
            Arc::new(ty),
            Arc::new(strs),
            Arc::new(ints),
            Arc::new(Float64Array::new_null(n)),
            Arc::new(BooleanArray::new_null(n)),
            Arc::new(BinaryArray::new_null(n)),
        ],
        None,
    );
    let entries = StructArray::new(
        Fields::from(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", DataType::Struct(any_value_fields()), true),
        ]),
        vec![Arc::new(keys), Arc::new(values)],
        None,
    );
    let offsets = arrow_buffer::OffsetBuffer::from_lengths(
        rows.iter().map(|r| r.as_ref().map_or(0, Vec::len)),
    );
    let nulls =
        arrow_buffer::NullBuffer::from(rows.iter().map(Option::is_some).collect::<Vec<_>>());
    let field = Arc::new(Field::new("entries", entries.data_type().clone(), false));
    MapArray::new(field, offsets, entries, Some(nulls), false)
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .expect("a valid test batch")
}

/// Logs tables with non-dense ids: two resources, three scopes, five logs.
fn log_tables() -> SignalTables {
    let resources = batch(vec![
        ("id", Arc::new(UInt32Array::from(vec![7, 3]))),
        (
            "attributes",
            Arc::new(attributes(&[
                Some(vec![("service.name", Ok("checkout")), ("host", Ok("a"))]),
                None,
            ])),
        ),
        (
            "dropped_attributes_count",
            Arc::new(UInt32Array::from(vec![0, 0])),
        ),
        (
            "schema_url",
            Arc::new(StringArray::from(vec![Some("https://s/1"), None])),
        ),
    ]);
    let scope_names: DictionaryArray<arrow_array::types::UInt32Type> =
        vec!["lib-a", "lib-b", "lib-c"].into_iter().collect();
    let scopes = batch(vec![
        ("id", Arc::new(UInt32Array::from(vec![10, 11, 12]))),
        ("resource_id", Arc::new(UInt32Array::from(vec![7, 3, 7]))),
        ("name", Arc::new(scope_names)),
        (
            "version",
            Arc::new(StringArray::from(vec![Some("1.0"), None, Some("3")])),
        ),
        (
            "attributes",
            Arc::new(attributes(&[
                Some(vec![("scope.attr", Ok("x"))]),
                Some(vec![]),
                None,
            ])),
        ),
        (
            "dropped_attributes_count",
            Arc::new(UInt32Array::from(vec![0, 0, 0])),
        ),
        (
            "schema_url",
            Arc::new(StringArray::from(vec![None::<&str>, None, None])),
        ),
    ]);
    let records = batch(vec![
        (
            "scope_id",
            Arc::new(UInt32Array::from(vec![12, 10, 11, 10, 12])),
        ),
        (
            "time",
            Arc::new(TimestampNanosecondArray::from(vec![1, 2, 3, 4, 5]).with_timezone("UTC")),
        ),
        (
            "severity_number",
            Arc::new(Int32Array::from(vec![9, 9, 17, 13, 9])),
        ),
        (
            "attributes",
            Arc::new(attributes(&[
                Some(vec![("http.route", Ok("/a"))]),
                Some(vec![("http.route", Ok("/b")), ("code", Err(200))]),
                Some(vec![]),
                Some(vec![("http.route", Ok("/a"))]),
                None,
            ])),
        ),
    ]);
    SignalTables {
        resources,
        scopes,
        records,
    }
}

fn strings(a: &ArrayRef) -> Vec<Option<String>> {
    let a = arrow_cast_utf8(a);
    if let Some(v) = a.as_string_view_opt() {
        return (0..v.len())
            .map(|i| v.is_valid(i).then(|| v.value(i).to_string()))
            .collect();
    }
    let s = a.as_string::<i32>();
    (0..s.len())
        .map(|i| s.is_valid(i).then(|| s.value(i).to_string()))
        .collect()
}

fn arrow_cast_utf8(a: &ArrayRef) -> ArrayRef {
    match a.data_type() {
        DataType::Dictionary(_, _) => {
            let d = a.as_dictionary::<arrow_array::types::UInt32Type>();
            let values = strings(d.values());
            Arc::new(
                d.keys()
                    .iter()
                    .map(|k| k.and_then(|k| values[k as usize].clone()))
                    .collect::<StringArray>(),
            )
        }
        _ => a.clone(),
    }
}

#[test]
fn stored_batch_joins_scopes_and_resources() {
    let stored = stored_batch(Signal::Logs, &log_tables()).expect("stored");
    let schema = stored.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        vec![
            "service_name",
            "time",
            "severity_number",
            "attributes",
            "resource_attributes",
            "resource_schema_url",
            "scope_name",
            "scope_version",
            "scope_attributes"
        ]
    );
    assert_eq!(stored.num_rows(), 5);
    let col = |n: &str| stored.column_by_name(n).expect("column").clone();
    let s = |x: &str| Some(x.to_string());
    assert_eq!(
        strings(&col("service_name")),
        vec![
            s("checkout"),
            s("checkout"),
            None,
            s("checkout"),
            s("checkout")
        ]
    );
    assert_eq!(
        strings(&col("scope_name")),
        vec![s("lib-c"), s("lib-a"), s("lib-b"), s("lib-a"), s("lib-c")]
    );
    assert_eq!(
        strings(&col("scope_version")),
        vec![s("3"), s("1.0"), None, s("1.0"), s("3")]
    );
    assert_eq!(
        strings(&col("resource_schema_url")),
        vec![
            s("https://s/1"),
            s("https://s/1"),
            None,
            s("https://s/1"),
            s("https://s/1")
        ]
    );
    let res_attrs = col("resource_attributes");
    assert!(res_attrs.is_null(2) && res_attrs.is_valid(0));
    let scope_attrs = col("scope_attributes");
    assert!(scope_attrs.is_null(0) && scope_attrs.is_valid(1));
}

#[test]
fn stored_batch_refuses_dangling_ids() {
    let mut t = log_tables();
    let mut cols = t.records.columns().to_vec();
    cols[0] = Arc::new(UInt32Array::from(vec![12, 10, 99, 10, 12]));
    t.records = RecordBatch::try_new(t.records.schema(), cols).expect("batch");
    let err = stored_batch(Signal::Logs, &t).expect_err("scope 99 does not exist");
    assert!(err.to_string().contains("scope 99"), "{err}");
}

#[test]
fn partition_is_the_utc_hour() {
    // 2024-02-29T13:05:00Z
    let t = UNIX_EPOCH + Duration::from_secs(1_709_211_900);
    let p = Partition::of(t);
    assert_eq!(p.dir(), PathBuf::from("date=2024-02-29/hour=13"));
    assert_eq!(
        Partition::of(UNIX_EPOCH).dir(),
        PathBuf::from("date=1970-01-01/hour=00")
    );
    // 2000-12-31T23:59:59Z
    let t = UNIX_EPOCH + Duration::from_secs(978_307_199);
    assert_eq!(
        Partition::of(t).dir(),
        PathBuf::from("date=2000-12-31/hour=23")
    );
}

fn files_under(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p, ext));
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn props() -> WriterProperties {
    ParquetExporterConfig::default().writer_properties()
}

#[tokio::test]
async fn rotates_by_size_and_publishes_on_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stored = stored_batch(Signal::Logs, &log_tables()).expect("stored");
    let now = SystemTime::now();

    // A limit every batch exceeds: one published file per write.
    let mut small = StoreFiles::new(
        dir.path().to_path_buf(),
        props(),
        Rotation {
            max_size: 1,
            max_age: Duration::from_secs(3600),
        },
    );
    for _ in 0..3 {
        let published = small.write(Signal::Logs, &stored, now).expect("write");
        assert_eq!(published.len(), 1);
    }
    assert_eq!(files_under(dir.path(), "parquet").len(), 3);
    assert!(files_under(dir.path(), "tmp").is_empty());

    // A large limit: one file, invisible until closed.
    let mut large = StoreFiles::new(
        dir.path().to_path_buf(),
        props(),
        Rotation {
            max_size: 1 << 30,
            max_age: Duration::from_secs(3600),
        },
    );
    for _ in 0..4 {
        assert!(
            large
                .write(Signal::Logs, &stored, now)
                .expect("write")
                .is_empty()
        );
    }
    assert_eq!(large.open_rows(Signal::Logs), 20);
    assert_eq!(files_under(dir.path(), "tmp").len(), 1);
    assert_eq!(files_under(dir.path(), "parquet").len(), 3);
    let published = large.close_all().expect("close");
    assert_eq!(published.len(), 1);
    assert!(files_under(dir.path(), "tmp").is_empty());
    let all = files_under(dir.path(), "parquet");
    assert_eq!(all.len(), 4);
    let expected_dir = dir.path().join("logs").join(Partition::of(now).dir());
    assert!(
        all.iter()
            .all(|p| p.parent() == Some(expected_dir.as_path())),
        "{all:?}"
    );

    let out = weir_sql::query(dir.path(), "SELECT count(*) FROM logs")
        .await
        .expect("query");
    assert_eq!(out[0].column(0).as_primitive::<Int64Type>().value(0), 35);
    let out = weir_sql::query(
        dir.path(),
        "SELECT attr(attributes, 'http.route') AS route, count(*) AS n FROM logs \
         WHERE service_name = 'checkout' GROUP BY 1 ORDER BY 1 NULLS LAST",
    )
    .await
    .expect("query");
    let routes = strings(out[0].column(0));
    assert_eq!(routes, vec![Some("/a".into()), Some("/b".into()), None]);
    let counts = out[0].column(1).as_primitive::<Int64Type>();
    assert_eq!(counts.values().to_vec(), vec![14, 7, 7]);
}

#[tokio::test]
async fn idle_files_are_published_on_age() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = StoreFiles::new(
        dir.path().to_path_buf(),
        props(),
        Rotation {
            max_size: 1 << 30,
            max_age: Duration::from_millis(50),
        },
    );
    let stored = stored_batch(Signal::Logs, &log_tables()).expect("stored");
    files
        .write(Signal::Logs, &stored, SystemTime::now())
        .expect("write");
    assert!(
        files
            .close_expired(SystemTime::now())
            .expect("close")
            .is_empty(),
        "too early"
    );
    let deadline = files.next_deadline().expect("a file is open");
    std::thread::sleep(deadline.saturating_duration_since(std::time::Instant::now()));
    assert_eq!(
        files.close_expired(SystemTime::now()).expect("close").len(),
        1
    );
    assert_eq!(files.next_deadline(), None);
    assert_eq!(files_under(dir.path(), "parquet").len(), 1);
}

// ---- through the decoder: OTLP protobuf in, SQL out ----

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn traces(service: &str, routes: &[&str]) -> Batch {
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv(
                    "service.name",
                    any_value::Value::StringValue(service.into()),
                )],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "weir-test".into(),
                    version: "1.2.3".into(),
                    ..Default::default()
                }),
                spans: routes
                    .iter()
                    .enumerate()
                    .map(|(i, r)| Span {
                        trace_id: vec![0xab; 16],
                        span_id: vec![i as u8 + 1; 8],
                        name: format!("GET {r}"),
                        kind: 2,
                        start_time_unix_nano: 1_700_000_000_000_000_000,
                        end_time_unix_nano: 1_700_000_000_250_000_000,
                        attributes: vec![
                            kv("http.route", any_value::Value::StringValue((*r).into())),
                            kv("http.status_code", any_value::Value::IntValue(200)),
                        ],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Batch::from_otlp(Signal::Traces, Bytes::from(req.encode_to_vec())).expect("a valid request")
}

fn exporter(dir: &Path, max_file_size: u64) -> ParquetExporter {
    let config = ParquetExporterConfig {
        max_file_size,
        ..ParquetExporterConfig::default()
    };
    ParquetExporter::new("store", dir.to_path_buf(), &config)
}

#[tokio::test]
async fn otlp_batches_are_queryable_after_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut e = exporter(dir.path(), 64 << 20);
    e.export(&traces("checkout", &["/users", "/users", "/orders"]))
        .await
        .expect("export");
    e.export(&traces("billing", &["/invoices"]))
        .await
        .expect("export");
    assert!(
        files_under(dir.path(), "parquet").is_empty(),
        "visible before it is complete"
    );
    e.shutdown().await.expect("shutdown");
    assert_eq!(files_under(dir.path(), "parquet").len(), 1);
    assert!(files_under(dir.path(), "tmp").is_empty());

    let out = weir_sql::query(
        dir.path(),
        "SELECT service_name, attr(attributes, 'http.route') AS route, count(*) AS n, \
         min(attr(attributes, 'http.status_code')) AS code, min(scope_name) AS scope, min(scope_version) AS v \
         FROM spans GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .await
    .expect("query");
    let b = &out[0];
    let s = |x: &str| Some(x.to_string());
    assert_eq!(
        strings(b.column(0)),
        vec![s("billing"), s("checkout"), s("checkout")]
    );
    assert_eq!(
        strings(b.column(1)),
        vec![s("/invoices"), s("/orders"), s("/users")]
    );
    assert_eq!(
        b.column(2).as_primitive::<Int64Type>().values().to_vec(),
        vec![1, 1, 2]
    );
    assert_eq!(strings(b.column(3)), vec![s("200"); 3]);
    assert_eq!(strings(b.column(4)), vec![s("weir-test"); 3]);
    assert_eq!(strings(b.column(5)), vec![s("1.2.3"); 3]);
}

#[tokio::test]
async fn otlp_batches_rotate_by_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut e = exporter(dir.path(), 1);
    for i in 0..3 {
        let routes: Vec<String> = (0..=i).map(|j| format!("/r{j}")).collect();
        let refs: Vec<&str> = routes.iter().map(String::as_str).collect();
        e.export(&traces("checkout", &refs)).await.expect("export");
    }
    assert_eq!(files_under(dir.path(), "parquet").len(), 3);
    e.shutdown().await.expect("shutdown");
    assert_eq!(files_under(dir.path(), "parquet").len(), 3);
    let out = weir_sql::query(dir.path(), "SELECT count(*) FROM spans")
        .await
        .expect("query");
    assert_eq!(out[0].column(0).as_primitive::<Int64Type>().value(0), 6);
}

#[tokio::test]
async fn node_publishes_idle_files_and_closes_on_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ParquetExporterConfig {
        max_file_age: Duration::from_millis(100),
        ..ParquetExporterConfig::default()
    };
    let node = Box::new(ParquetNode::new(ParquetExporter::new(
        "store",
        dir.path().to_path_buf(),
        &config,
    )));
    let metrics = Arc::new(NodeMetrics::new("store", "exporter", "parquet"));
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let ctx = ExporterContext {
        id: "store".into(),
        input: weir_engine::channel::Input::new(rx, metrics.clone()),
        metrics: metrics.clone(),
    };
    let running = tokio::spawn(node.run(ctx));

    let (ack, delivered) = Ack::new();
    tx.send(Message::with_ack(traces("checkout", &["/a"]), ack))
        .await
        .expect("send");
    assert_eq!(delivered.await.expect("settled"), Delivery::Delivered);
    // Idle: the file is published once it is 100 ms old.
    let start = std::time::Instant::now();
    while files_under(dir.path(), "parquet").is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "idle file never published"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tx.send(Message::new(traces("checkout", &["/b", "/c"])))
        .await
        .expect("send");
    drop(tx);
    running.await.expect("joined").expect("clean shutdown");
    assert_eq!(files_under(dir.path(), "parquet").len(), 2);
    assert!(files_under(dir.path(), "tmp").is_empty());
    assert_eq!(metrics.items_out(), 3);
    let out = weir_sql::query(dir.path(), "SELECT count(*) FROM spans")
        .await
        .expect("query");
    assert_eq!(out[0].column(0).as_primitive::<Int64Type>().value(0), 3);
}

fn metrics_batch() -> Batch {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
    };
    let point = |host: &str, v: f64| NumberDataPoint {
        attributes: vec![kv("host", any_value::Value::StringValue(host.into()))],
        time_unix_nano: 1_700_000_000_000_000_000,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    };
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv(
                    "service.name",
                    any_value::Value::StringValue("api".into()),
                )],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    Metric {
                        name: "cpu.load".into(),
                        unit: "1".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: vec![point("a", 0.5), point("b", 1.5)],
                        })),
                        ..Default::default()
                    },
                    // A metric without points: not a row of the store.
                    Metric {
                        name: "empty".into(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Batch::from_otlp(Signal::Metrics, Bytes::from(req.encode_to_vec())).expect("a valid request")
}

fn logs_batch() -> Batch {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv(
                    "service.name",
                    any_value::Value::StringValue("api".into()),
                )],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: ["started", "stopped"]
                    .iter()
                    .map(|b| LogRecord {
                        time_unix_nano: 1_700_000_000_000_000_000,
                        severity_number: 9,
                        severity_text: "INFO".into(),
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue((*b).into())),
                        }),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Batch::from_otlp(Signal::Logs, Bytes::from(req.encode_to_vec())).expect("a valid request")
}

#[tokio::test]
async fn metrics_and_logs_get_their_own_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut e = exporter(dir.path(), 64 << 20);
    e.export(&metrics_batch()).await.expect("export metrics");
    e.export(&logs_batch()).await.expect("export logs");
    e.export(&traces("api", &["/x"]))
        .await
        .expect("export spans");
    e.shutdown().await.expect("shutdown");
    for table in ["spans", "logs", "metrics"] {
        assert_eq!(
            files_under(&dir.path().join(table), "parquet").len(),
            1,
            "{table}"
        );
    }

    let out = weir_sql::query(
        dir.path(),
        "SELECT metric_name, attr(attributes, 'host'), value_double, service_name FROM metrics ORDER BY 2",
    )
    .await
    .expect("query metrics");
    let b = &out[0];
    assert_eq!(b.num_rows(), 2, "the metric without points is not stored");
    let s = |x: &str| Some(x.to_string());
    assert_eq!(strings(b.column(0)), vec![s("cpu.load"); 2]);
    assert_eq!(strings(b.column(1)), vec![s("a"), s("b")]);
    let values = b
        .column(2)
        .as_primitive::<arrow_array::types::Float64Type>();
    assert_eq!(values.values().to_vec(), vec![0.5, 1.5]);
    assert_eq!(strings(b.column(3)), vec![s("api"); 2]);

    let out = weir_sql::query(
        dir.path(),
        "SELECT severity_text, body FROM logs ORDER BY time",
    )
    .await
    .expect("query logs");
    let text = weir_sql::format_table(&out);
    assert!(
        text.contains("started") && text.contains("stopped") && text.contains("INFO"),
        "{text}"
    );
}
