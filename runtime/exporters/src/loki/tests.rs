//! The Loki exporter against a local push endpoint (Loki itself cannot be
//! installed here): the server does what Loki's distributor does with a
//! push — snappy-decompresses and decodes the `logproto.PushRequest`
//! protobuf, or parses the JSON form — and parses each stream's label
//! string as Loki does, and the tests check every field Loki stores.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;
use weir_engine::node::BatchExporter as _;
use weir_pdata::{Batch, Signal};

use super::proto::PushRequest;
use super::{Encoding, LokiConfig, LokiExporter};
use crate::delivery::RetryConfig;

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        key_strindex: 0,
    }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.into())
}

fn record(t: u64, body: any_value::Value, severity: &str, attrs: Vec<KeyValue>) -> LogRecord {
    LogRecord {
        time_unix_nano: t,
        severity_text: severity.into(),
        body: Some(AnyValue { value: Some(body) }),
        attributes: attrs,
        ..Default::default()
    }
}

fn batch_of(resource: Vec<KeyValue>, records: Vec<LogRecord>) -> Batch {
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "checkout.handler".into(),
                    ..Default::default()
                }),
                log_records: records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    };
    Batch::from_otlp(Signal::Logs, Bytes::from(req.encode_to_vec())).expect("a valid request")
}

/// One entry as Loki stores it.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    ns: u64,
    line: String,
    metadata: BTreeMap<String, String>,
}

#[derive(Clone, Default)]
struct Loki(Arc<Mutex<LokiState>>);

#[derive(Default)]
struct LokiState {
    answers: VecDeque<(u16, Option<&'static str>)>,
    requests: usize,
    tenant: Vec<String>,
    /// Label set -> entries, in arrival order.
    streams: BTreeMap<BTreeMap<String, String>, Vec<Entry>>,
}

/// Parses a label string the way Loki's `syntax.ParseLabels` accepts it:
/// `{name="value", ...}` with `\\`, `\"` and `\n` escapes.
fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .expect("braces");
    let mut out = BTreeMap::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') || chars.peek() == Some(&',') {
            let _ = chars.next();
        }
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.is_empty() {
            break;
        }
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "label name {name:?} is not valid in Loki"
        );
        assert_eq!(chars.next(), Some('"'), "a quoted value");
        let mut value = String::new();
        loop {
            match chars.next().expect("a closing quote") {
                '"' => break,
                '\\' => match chars.next().expect("an escape") {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                c => value.push(c),
            }
        }
        let _ = out.insert(name, value);
    }
    out
}

async fn loki_server() -> (Loki, SocketAddr) {
    use axum::extract::State;
    async fn push(
        State(l): State<Loki>,
        headers: http::HeaderMap,
        body: Bytes,
    ) -> (http::StatusCode, http::HeaderMap, &'static str) {
        let mut st = l.0.lock().expect("lock");
        st.requests += 1;
        let (status, retry_after) = st.answers.pop_front().unwrap_or((204, None));
        let mut out = http::HeaderMap::new();
        if let Some(r) = retry_after {
            let _ = out.insert(http::header::RETRY_AFTER, http::HeaderValue::from_static(r));
        }
        if status != 204 {
            let code = http::StatusCode::from_u16(status).expect("status");
            return (code, out, "entry too far behind");
        }
        if let Some(t) = headers.get("x-scope-orgid").and_then(|v| v.to_str().ok()) {
            st.tenant.push(t.to_string());
        }
        let ct = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if ct == "application/x-protobuf" {
            assert_eq!(
                headers
                    .get(http::header::CONTENT_ENCODING)
                    .map(|v| v.as_bytes()),
                None.or(Some(&b"snappy"[..])),
            );
            let raw = snap::raw::Decoder::new()
                .decompress_vec(&body)
                .expect("a snappy block");
            let req = PushRequest::decode(raw.as_slice()).expect("a logproto.PushRequest");
            for stream in req.streams {
                let labels = parse_labels(&stream.labels);
                let entries = st.streams.entry(labels).or_default();
                for e in stream.entries {
                    let ts = e.timestamp.expect("a timestamp");
                    entries.push(Entry {
                        ns: ts.as_nanos(),
                        line: e.line,
                        metadata: e
                            .structured_metadata
                            .into_iter()
                            .map(|p| (p.name, p.value))
                            .collect(),
                    });
                }
            }
        } else {
            assert_eq!(ct, "application/json");
            let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
            for stream in v["streams"].as_array().expect("streams") {
                let labels: BTreeMap<String, String> = stream["stream"]
                    .as_object()
                    .expect("stream labels")
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().expect("a string").to_string()))
                    .collect();
                let entries = st.streams.entry(labels).or_default();
                for row in stream["values"].as_array().expect("values") {
                    let row = row.as_array().expect("a row");
                    entries.push(Entry {
                        ns: row[0]
                            .as_str()
                            .expect("ns as a string")
                            .parse()
                            .expect("ns"),
                        line: row[1].as_str().expect("line").to_string(),
                        metadata: row
                            .get(2)
                            .and_then(|m| m.as_object())
                            .map(|m| {
                                m.iter()
                                    .map(|(k, v)| (k.clone(), v.as_str().expect("s").to_string()))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    });
                }
            }
        }
        (http::StatusCode::NO_CONTENT, out, "")
    }
    let state = Loki::default();
    let app = axum::Router::new()
        .route("/loki/api/v1/push", axum::routing::post(push))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let _server = tokio::spawn(async move { axum::serve(listener, app).await });
    (state, addr)
}

fn config(addr: SocketAddr) -> LokiConfig {
    let mut c = LokiConfig::new(format!("http://{addr}"));
    c.retry = RetryConfig {
        initial: Duration::from_millis(5),
        max: Duration::from_millis(20),
        max_elapsed: Duration::from_secs(5),
    };
    c
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const T0: u64 = 1_700_000_000_000_000_000;

fn checkout_batch() -> Batch {
    let resource = vec![
        kv("service.name", s("checkout")),
        kv("deployment.environment", s("prod")),
        kv("host.name", s("node-7")),
    ];
    let mut late = record(
        T0 + 2_000,
        s("payment declined"),
        "ERROR",
        vec![
            kv("http.route", s("/pay")),
            kv("user.id", any_value::Value::IntValue(42)),
        ],
    );
    late.trace_id = vec![0xab; 16];
    late.span_id = vec![0xcd; 8];
    let early = record(
        T0 + 1_000,
        s("retrying \"card\"\nnow"),
        "ERROR",
        vec![kv("http.route", s("/pay"))],
    );
    let info = record(
        T0 + 500,
        any_value::Value::KvlistValue(KeyValueList {
            values: vec![kv("order", any_value::Value::IntValue(7))],
        }),
        "INFO",
        vec![kv("http.route", s("/cart"))],
    );
    batch_of(resource, vec![late, early, info])
}

async fn push_checkout(encoding: Encoding) -> Loki {
    let (loki, addr) = loki_server().await;
    let mut c = config(addr);
    c.encoding = encoding;
    c.labels.attributes = vec!["http.route".into()];
    let _ = c
        .headers
        .insert("x-scope-orgid", http::HeaderValue::from_static("team-a"));
    let mut e = LokiExporter::new("loki", c, None).unwrap();
    e.export(&checkout_batch()).await.unwrap();
    loki
}

fn check_checkout(loki: &Loki) {
    let st = loki.0.lock().unwrap();
    assert_eq!(st.tenant, vec!["team-a"]);
    let base = [
        ("service_name", "checkout"),
        ("deployment_environment", "prod"),
    ];
    let pay = labels(&[base[0], base[1], ("http_route", "/pay"), ("level", "error")]);
    let cart = labels(&[base[0], base[1], ("http_route", "/cart"), ("level", "info")]);
    assert_eq!(
        st.streams.keys().cloned().collect::<Vec<_>>(),
        {
            let mut v = vec![pay.clone(), cart.clone()];
            v.sort();
            v
        },
        "one stream per label set"
    );
    let pay_entries = &st.streams[&pay];
    // In timestamp order although the batch had them the other way round.
    assert_eq!(
        pay_entries.iter().map(|e| e.ns).collect::<Vec<_>>(),
        vec![T0 + 1_000, T0 + 2_000]
    );
    assert_eq!(pay_entries[0].line, "retrying \"card\"\nnow");
    assert_eq!(pay_entries[1].line, "payment declined");
    let meta = &pay_entries[1].metadata;
    assert_eq!(meta["trace_id"], "ab".repeat(16));
    assert_eq!(meta["span_id"], "cd".repeat(8));
    assert_eq!(meta["user_id"], "42");
    assert_eq!(
        meta["host_name"], "node-7",
        "resource attributes that are not labels"
    );
    assert_eq!(meta["scope_name"], "checkout.handler");
    assert!(!meta.contains_key("http_route"), "labels are not repeated");
    let cart_entries = &st.streams[&cart];
    assert_eq!(
        cart_entries[0].line, r#"{"order":7}"#,
        "non-string bodies as JSON"
    );
}

#[tokio::test]
async fn pushes_protobuf_streams_with_labels_metadata_and_order() {
    let loki = push_checkout(Encoding::Protobuf).await;
    check_checkout(&loki);
}

#[tokio::test]
async fn pushes_the_same_as_json() {
    let loki = push_checkout(Encoding::Json).await;
    check_checkout(&loki);
}

#[tokio::test]
async fn the_cardinality_guard_folds_new_label_sets_into_the_overflow_stream() {
    let (loki, addr) = loki_server().await;
    let mut c = config(addr);
    c.labels.attributes = vec!["user".into()];
    c.labels.resource = vec![];
    c.labels.level = false;
    c.labels.max_streams = 2;
    let mut e = LokiExporter::new("loki", c, None).unwrap();
    let records = (0..5)
        .map(|i| {
            record(
                T0 + i,
                s(&format!("line {i}")),
                "",
                vec![kv("user", s(&format!("u{i}")))],
            )
        })
        .collect();
    e.export(&batch_of(vec![], records)).await.unwrap();
    let st = loki.0.lock().unwrap();
    assert_eq!(st.streams.len(), 3, "two streams and the overflow stream");
    assert_eq!(st.streams[&labels(&[("user", "u0")])].len(), 1);
    assert_eq!(st.streams[&labels(&[("user", "u1")])].len(), 1);
    let overflow = &st.streams[&labels(&[("weir_overflow", "true")])];
    assert_eq!(
        overflow
            .iter()
            .map(|e| e.metadata["user"].as_str())
            .collect::<Vec<_>>(),
        ["u2", "u3", "u4"],
        "the would-be labels are kept as metadata"
    );
}

#[tokio::test]
async fn retries_429_and_503_honouring_retry_after_then_delivers() {
    let (loki, addr) = loki_server().await;
    loki.0
        .lock()
        .unwrap()
        .answers
        .extend([(503, None), (429, Some("0"))]);
    let mut e = LokiExporter::new("loki", config(addr), None).unwrap();
    e.export(&checkout_batch()).await.unwrap();
    let st = loki.0.lock().unwrap();
    assert_eq!(st.requests, 3);
    assert_eq!(st.streams.values().map(Vec::len).sum::<usize>(), 3);
}

#[tokio::test]
async fn a_400_is_rejected_at_once_and_other_signals_are_refused() {
    let (loki, addr) = loki_server().await;
    loki.0.lock().unwrap().answers.push_back((400, None));
    let mut e = LokiExporter::new("loki", config(addr), None).unwrap();
    let err = e.export(&checkout_batch()).await.unwrap_err();
    assert!(err.is_permanent(), "a 400 is permanent: {err}");
    assert!(err.to_string().contains("entry too far behind"), "{err}");
    assert_eq!(loki.0.lock().unwrap().requests, 1, "not retried");
    let traces = Batch::from_otlp(Signal::Traces, Bytes::new()).unwrap();
    let err = e.export(&traces).await.unwrap_err();
    assert!(
        err.is_permanent() && err.to_string().contains("Tempo"),
        "{err}"
    );
}

#[tokio::test]
async fn a_backend_that_is_down_is_a_retryable_failure() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut c = config(addr);
    c.retry.max_elapsed = Duration::from_millis(50);
    let mut e = LokiExporter::new("loki", c, None).unwrap();
    let err = e.export(&checkout_batch()).await.unwrap_err();
    assert!(
        !err.is_permanent(),
        "connection refused may pass later: {err}"
    );
}

#[test]
fn label_names_and_escaping() {
    use super::streams::{label_name, render_labels};
    assert_eq!(label_name("service.name"), "service_name");
    assert_eq!(label_name("k8s.pod-name"), "k8s_pod_name");
    assert_eq!(label_name("1st"), "_1st");
    let text = render_labels(&[("a".into(), "x\"y\\z\nw".into())]);
    assert_eq!(parse_labels(&text), labels(&[("a", "x\"y\\z\nw")]));
}
