//! Runs the sqllogictest files under `tests/slt/` against the tables a SQL
//! processor sees (`spans`, `logs`, `metrics` over fixed batches, weir's
//! functions registered). `WEIR_BLESS=1` rewrites the expected results.
//!
//! Fixture (the same every run): two services, `cart` (resource attribute
//! `deployment.environment=prod`) and `shop`, each with spans of routes
//! `/a` and `/b`; logs of the same services; one sum and one histogram
//! metric.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message as _;
use sqllogictest::{DBOutput, DefaultColumnType};
use weir_pdata::{Batch, Signal};
use weir_sql::plan::QueryPlanner;
use weir_sql::source::Current;

const T0: u64 = 1_700_000_000_000_000_000;

fn v_str(s: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(s.into())),
    })
}

fn kv(k: &str, v: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: v,
        ..Default::default()
    }
}

fn int(i: i64) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::IntValue(i)),
    })
}

fn resource(service: &str) -> Option<Resource> {
    let mut attributes = vec![kv("service.name", v_str(service))];
    if service == "cart" {
        attributes.push(kv("deployment.environment", v_str("prod")));
    }
    Some(Resource {
        attributes,
        ..Default::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "fixture".into(),
        version: "1.0".into(),
        ..Default::default()
    })
}

fn spans() -> Batch {
    // (service, route, status code, duration ms, trace id byte)
    let rows: [(&str, &str, i32, u64, u8); 6] = [
        ("cart", "/a", 0, 12, 1),
        ("cart", "/a", 2, 250, 2),
        ("cart", "/b", 0, 3, 3),
        ("shop", "/a", 0, 40, 4),
        ("shop", "/b", 2, 900, 5),
        ("shop", "/b", 0, 8, 6),
    ];
    let req = ExportTraceServiceRequest {
        resource_spans: ["cart", "shop"]
            .iter()
            .map(|svc| ResourceSpans {
                resource: resource(svc),
                scope_spans: vec![ScopeSpans {
                    scope: scope(),
                    spans: rows
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| r.0 == *svc)
                        .map(|(i, r)| {
                            let start = T0 + i as u64 * 1_000_000_000;
                            let mut trace_id = vec![0u8; 16];
                            trace_id[15] = r.4;
                            trace_id[8] = r.4.wrapping_mul(37);
                            Span {
                                trace_id,
                                span_id: vec![r.4; 8],
                                name: format!("GET {}", r.1),
                                kind: 2,
                                start_time_unix_nano: start,
                                end_time_unix_nano: start + r.3 * 1_000_000,
                                attributes: vec![
                                    kv("http.route", v_str(r.1)),
                                    kv("http.status_code", int(if r.2 == 2 { 500 } else { 200 })),
                                    kv(
                                        "ratio",
                                        Some(AnyValue {
                                            value: Some(any_value::Value::DoubleValue(
                                                0.25 * f64::from(r.4),
                                            )),
                                        }),
                                    ),
                                    kv(
                                        "cached",
                                        Some(AnyValue {
                                            value: Some(any_value::Value::BoolValue(r.4 % 2 == 0)),
                                        }),
                                    ),
                                ],
                                status: (r.2 != 0).then(|| Status {
                                    code: r.2,
                                    message: "boom".into(),
                                }),
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    };
    Batch::from_otlp(Signal::Traces, Bytes::from(req.encode_to_vec())).expect("spans")
}

fn logs() -> Batch {
    let req = ExportLogsServiceRequest {
        resource_logs: ["cart", "shop"]
            .iter()
            .map(|svc| ResourceLogs {
                resource: resource(svc),
                scope_logs: vec![ScopeLogs {
                    scope: scope(),
                    log_records: (0..2)
                        .map(|i| LogRecord {
                            time_unix_nano: T0 + i * 1_000_000_000,
                            severity_number: if i == 0 { 9 } else { 17 },
                            severity_text: if i == 0 {
                                "INFO".into()
                            } else {
                                "ERROR".into()
                            },
                            body: v_str(&format!("{svc} says {i}")),
                            attributes: vec![kv("user.id", int(i as i64 + 100))],
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    };
    Batch::from_otlp(Signal::Logs, Bytes::from(req.encode_to_vec())).expect("logs")
}

fn metrics() -> Batch {
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource("cart"),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics: vec![
                    Metric {
                        name: "requests".into(),
                        unit: "1".into(),
                        data: Some(Data::Sum(Sum {
                            data_points: ["/a", "/b"]
                                .iter()
                                .enumerate()
                                .map(|(i, r)| NumberDataPoint {
                                    attributes: vec![kv("http.route", v_str(r))],
                                    time_unix_nano: T0,
                                    value: Some(number_data_point::Value::AsInt(
                                        10 * (i as i64 + 1),
                                    )),
                                    ..Default::default()
                                })
                                .collect(),
                            aggregation_temporality: 2,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "latency".into(),
                        unit: "ms".into(),
                        data: Some(Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                time_unix_nano: T0,
                                count: 3,
                                sum: Some(60.0),
                                bucket_counts: vec![1, 2],
                                explicit_bounds: vec![10.0],
                                ..Default::default()
                            }],
                            aggregation_temporality: 2,
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Batch::from_otlp(Signal::Metrics, Bytes::from(req.encode_to_vec())).expect("metrics")
}

/// The tables of a SQL processor over the fixture.
struct StreamTables {
    planner: Arc<QueryPlanner>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Error(String);

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for StreamTables {
    type Error = Error;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, Error> {
        let df = self
            .planner
            .context()
            .sql(sql)
            .await
            .map_err(|e| Error(e.to_string()))?;
        let schema = df.schema().as_arrow().clone();
        let batches = df.collect().await.map_err(|e| Error(e.to_string()))?;
        let types = schema
            .fields()
            .iter()
            .map(|f| {
                let t = f.data_type();
                if t.is_integer() {
                    DefaultColumnType::Integer
                } else if t.is_floating() {
                    DefaultColumnType::FloatingPoint
                } else {
                    DefaultColumnType::Text
                }
            })
            .collect();
        Ok(DBOutput::Rows {
            types,
            rows: weir_sql::format_rows(&batches),
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "weir"
    }
}

fn planner() -> Arc<QueryPlanner> {
    let p = QueryPlanner::new(&[]).expect("planner");
    for batch in [spans(), logs(), metrics()] {
        let tables = batch.tables().expect("decodes");
        p.show(batch.signal(), Some(Current { tables, rows: None }));
    }
    Arc::new(p)
}

fn files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/slt exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    files
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let bless = std::env::var_os("WEIR_BLESS").is_some();
    let (mut passed, mut failed) = (0, 0);
    for file in files() {
        let planner = planner();
        let mut runner = sqllogictest::Runner::new(move || {
            let planner = planner.clone();
            async move { Ok::<_, Error>(StreamTables { planner }) }
        });
        let name = file.display().to_string();
        let result = rt.block_on(async {
            if bless {
                runner
                    .update_test_file(
                        &file,
                        " ",
                        sqllogictest::default_validator,
                        sqllogictest::default_normalizer,
                        sqllogictest::default_column_validator,
                    )
                    .await
                    .map_err(|e| e.to_string())
            } else {
                runner
                    .run_file_async(&file)
                    .await
                    .map_err(|e| e.display(false).to_string())
            }
        });
        match result {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(e) => {
                println!("test {name} ... FAILED\n{e}");
                failed += 1;
            }
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed; 0 ignored; 0 measured; 0 filtered out",
        if failed == 0 { "ok" } else { "FAILED" }
    );
    assert!(passed > 0, "no .slt file ran");
    if failed > 0 {
        std::process::exit(1);
    }
}
