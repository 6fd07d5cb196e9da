//! The debug exporter writing JSON lines to a real file.

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message as _;
use weir_engine::node::BatchExporter as _;
use weir_pdata::{Batch, Signal};

use super::config::{DebugExporterConfig, Verbosity, validate};
use super::exporter::{DebugExporter, Sink};

fn logs(bodies: &[&str]) -> Batch {
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: bodies
                    .iter()
                    .map(|b| LogRecord {
                        time_unix_nano: 1_700_000_000_000_000_000,
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
    Batch::from_otlp_unchecked(Signal::Logs, Bytes::from(req.encode_to_vec()), bodies.len())
}

fn bodies_of(line: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
    v["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
        .as_array()
        .expect("logRecords")
        .iter()
        .map(|r| {
            r["body"]["stringValue"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn detailed_appends_one_request_per_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out/debug.jsonl");
    let mut e = DebugExporter::new("debug", Some(Sink::file(&path).expect("open")));
    e.export(&logs(&["hello", "world"])).await.expect("export");
    e.export(&logs(&["again"])).await.expect("export");
    e.shutdown().await.expect("shutdown");
    // A new exporter on the same file appends.
    let mut e = DebugExporter::new("debug", Some(Sink::file(&path).expect("reopen")));
    e.export(&logs(&["third"])).await.expect("export");
    e.shutdown().await.expect("shutdown");

    let text = std::fs::read_to_string(&path).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(bodies_of(lines[0]), vec!["hello", "world"]);
    assert_eq!(bodies_of(lines[1]), vec!["again"]);
    assert_eq!(bodies_of(lines[2]), vec!["third"]);
    assert!(text.ends_with('\n'));
}

#[tokio::test]
async fn basic_writes_nothing() {
    let mut e = DebugExporter::new("debug", None);
    e.export(&logs(&["x"])).await.expect("basic only logs");
}

fn read_kdl(body: &str) -> Vec<String> {
    let text = format!(
        "receiver \"in\" type=\"otlp\"\nexporter \"x\" type=\"debug\" {{\n from \"in\"\n{body}\n}}\n"
    );
    let pipeline = weir_config::parse("test.kdl", &text).expect("valid KDL");
    let decl = pipeline.node("x").expect("node x");
    let mut errors = Vec::new();
    let mut r = decl.reader(&mut errors);
    let built = validate(&mut r);
    r.finish();
    assert!(built.is_some());
    errors.into_iter().map(|e| e.message).collect()
}

#[test]
fn config_checks_path_and_verbosity() {
    assert!(read_kdl("verbosity \"detailed\"\npath \"./d.jsonl\"").is_empty());
    assert!(read_kdl("").is_empty());
    let errors = read_kdl("path \"./d.jsonl\"");
    assert_eq!(errors.len(), 1, "{errors:?}");
    let errors = read_kdl("verbosity \"loud\"");
    assert_eq!(errors.len(), 1, "{errors:?}");
}

#[test]
fn stdout_is_the_default_sink() {
    let c = DebugExporterConfig::default();
    assert_eq!(c.verbosity, Verbosity::Basic);
    assert_eq!(c.file(std::path::Path::new("/base")), None);
    let c = DebugExporterConfig {
        verbosity: Verbosity::Detailed,
        path: weir_config::Spanned::new("d.jsonl".into(), (0, 0).into()),
    };
    assert_eq!(
        c.file(std::path::Path::new("/base")),
        Some("/base/d.jsonl".into())
    );
}
