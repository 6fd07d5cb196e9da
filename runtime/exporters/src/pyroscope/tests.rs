//! The Pyroscope exporter against a local ingest endpoint (Pyroscope itself
//! is not installable here): the test server parses the multipart upload
//! as Pyroscope does, gunzips it and decodes the pprof `Profile`, and the
//! test checks every field a Pyroscope server reads.

use std::collections::VecDeque;
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;
use weir_engine::node::BatchExporter as _;
use weir_pdata::profiles::{self, Frame, Sample};
use weir_pdata::{Batch, Signal};

use super::{Profile, PyroscopeConfig, PyroscopeExporter};
use crate::otlp::RetryConfig;

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

fn frame(function: &str, module: &str, address: u64) -> Frame {
    Frame {
        function: function.into(),
        module: module.into(),
        address,
    }
}

const START: u64 = 1_700_000_000_000_000_000;
const END: u64 = START + 10_000_000_000;
const PERIOD: i64 = 1_000_000_000 / 99;

/// Two programs: `api` (two threads, two stacks) and `db`.
fn batch() -> Batch {
    let sample = |pid: i64, exe: &str, tid: i64, samples: i64, frames: Vec<Frame>| Sample {
        start_time_ns: START,
        time_ns: END,
        profile_type: "cpu".into(),
        period_ns: PERIOD,
        samples,
        frames,
        attributes: vec![
            kv("process.pid", any_value::Value::IntValue(pid)),
            kv("process.executable.name", s(exe)),
            kv("thread.id", any_value::Value::IntValue(tid)),
            kv("thread.name", s(exe)),
        ],
    };
    let rows = vec![
        sample(
            10,
            "api",
            10,
            40,
            vec![
                frame("serve_hot", "/usr/bin/api", 0x1010),
                frame("main", "/usr/bin/api", 0x1100),
            ],
        ),
        sample(
            10,
            "api",
            11,
            5,
            vec![
                frame("do_syscall_64", "[kernel]", 0xffff_0010),
                frame("write", "/usr/lib/libc.so.6", 0x7f00_0010),
                frame("main", "/usr/bin/api", 0x1100),
            ],
        ),
        sample(20, "db", 20, 7, vec![frame("scan", "/usr/bin/db", 0x2000)]),
    ];
    let resource = Resource {
        attributes: vec![kv("service.name", s("node-1"))],
        dropped_attributes_count: 0,
        entity_refs: Vec::new(),
    };
    let scope = InstrumentationScope {
        name: "weir.ebpf".into(),
        ..Default::default()
    };
    Batch::from_tables(
        Signal::Profiles,
        profiles::tables(Some(&resource), Some(&scope), &rows).expect("tables"),
    )
}

#[derive(Clone, Default)]
struct Ingest(Arc<Mutex<IngestState>>);

#[derive(Default)]
struct IngestState {
    answers: VecDeque<u16>,
    received: Vec<(String, Profile)>,
}

/// The pprof of a multipart body, as Pyroscope's handler reads it: the
/// `profile` form field, gzipped.
fn profile_of(content_type: &str, body: &[u8]) -> Profile {
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .expect("a multipart boundary");
    let delimiter = format!("--{boundary}");
    let text = body;
    let start = find(text, delimiter.as_bytes()).expect("first boundary");
    let part = &text[start + delimiter.len()..];
    let header_end = find(part, b"\r\n\r\n").expect("part headers");
    let headers = std::str::from_utf8(&part[..header_end]).expect("ascii headers");
    assert!(headers.contains("name=\"profile\""), "{headers}");
    let data = &part[header_end + 4..];
    let end = find(data, format!("\r\n{delimiter}--").as_bytes()).expect("closing boundary");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&data[..end])
        .read_to_end(&mut raw)
        .expect("gzip");
    Profile::decode(raw.as_slice()).expect("a pprof Profile")
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn ingest_server() -> (Ingest, SocketAddr) {
    use axum::extract::{RawQuery, State};
    async fn ingest(
        State(i): State<Ingest>,
        RawQuery(q): RawQuery,
        headers: http::HeaderMap,
        body: Bytes,
    ) -> http::StatusCode {
        let mut st = i.0.lock().expect("lock");
        let status = st.answers.pop_front().unwrap_or(200);
        if status == 200 {
            let ct = headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let profile = profile_of(&ct, &body);
            st.received.push((q.unwrap_or_default(), profile));
        }
        http::StatusCode::from_u16(status).expect("status")
    }
    let ingest_state = Ingest::default();
    let app = axum::Router::new()
        .route("/ingest", axum::routing::post(ingest))
        .with_state(ingest_state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let _server = tokio::spawn(async move { axum::serve(listener, app).await });
    (ingest_state, addr)
}

fn query(q: &str) -> std::collections::BTreeMap<String, String> {
    url_pairs(q)
}

fn url_pairs(q: &str) -> std::collections::BTreeMap<String, String> {
    reqwest::Url::parse(&format!("http://x/?{q}"))
        .expect("query")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn exporter(addr: SocketAddr) -> PyroscopeExporter {
    let mut config = PyroscopeConfig::new(format!("http://{addr}"));
    config.retry = RetryConfig {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(50),
        max_elapsed: Duration::from_secs(5),
    };
    PyroscopeExporter::new("pyro", config).expect("exporter")
}

#[tokio::test]
async fn uploads_one_pprof_per_program_with_stacks_values_and_labels() {
    let (ingest, addr) = ingest_server().await;
    let mut e = exporter(addr);
    e.export(&batch()).await.expect("exported");
    let received = ingest.0.lock().expect("lock").received.clone();
    assert_eq!(received.len(), 2, "one upload per program");
    let mut by_name = std::collections::BTreeMap::new();
    for (q, p) in received {
        let q = query(&q);
        assert_eq!(q["format"], "pprof");
        assert_eq!(q["from"], (START / 1_000_000_000).to_string());
        assert_eq!(q["until"], (END / 1_000_000_000).to_string());
        assert_eq!(q["sampleRate"], "99");
        let _ = by_name.insert(q["name"].clone(), p);
    }
    let api = &by_name["node-1{process_executable_name=api}"];
    let db = &by_name["node-1{process_executable_name=db}"];
    let st = |p: &Profile, i: i64| p.string_table[i as usize].clone();
    assert_eq!(api.string_table[0], "");
    // Sample types: samples/count and cpu/nanoseconds; the period.
    let types: Vec<(String, String)> = api
        .sample_type
        .iter()
        .map(|t| (st(api, t.r#type), st(api, t.unit)))
        .collect();
    assert_eq!(
        types,
        [
            ("samples".to_string(), "count".to_string()),
            ("cpu".to_string(), "nanoseconds".to_string())
        ]
    );
    let period = api.period_type.expect("period type");
    assert_eq!(
        (st(api, period.r#type), st(api, period.unit)),
        ("cpu".into(), "nanoseconds".into())
    );
    assert_eq!(api.period, PERIOD);
    assert_eq!(api.time_nanos, START as i64);
    assert_eq!(api.duration_nanos, (END - START) as i64);

    // Stacks, innermost first, through location -> line -> function.
    let stack = |p: &Profile, i: usize| -> Vec<String> {
        p.sample[i]
            .location_id
            .iter()
            .map(|id| {
                let loc = p.location.iter().find(|l| l.id == *id).expect("location");
                let f = p
                    .function
                    .iter()
                    .find(|f| f.id == loc.line[0].function_id)
                    .expect("function");
                let m = p
                    .mapping
                    .iter()
                    .find(|m| m.id == loc.mapping_id)
                    .expect("mapping");
                format!("{}@{}:{:#x}", st(p, f.name), st(p, m.filename), loc.address)
            })
            .collect()
    };
    assert_eq!(api.sample.len(), 2);
    assert_eq!(
        stack(api, 0),
        ["serve_hot@/usr/bin/api:0x1010", "main@/usr/bin/api:0x1100"]
    );
    assert_eq!(
        stack(api, 1),
        [
            "do_syscall_64@[kernel]:0xffff0010",
            "write@/usr/lib/libc.so.6:0x7f000010",
            "main@/usr/bin/api:0x1100"
        ]
    );
    assert_eq!(api.sample[0].value, [40, 40 * PERIOD]);
    assert_eq!(api.sample[1].value, [5, 5 * PERIOD]);
    // `main` is one function and one location shared by both stacks.
    assert_eq!(
        api.function
            .iter()
            .filter(|f| st(api, f.name) == "main")
            .count(),
        1
    );
    assert_eq!(api.location.len(), 4);
    // Thread labels per sample.
    let labels: Vec<(String, String)> = api.sample[1]
        .label
        .iter()
        .map(|l| (st(api, l.key), st(api, l.str)))
        .collect();
    assert!(
        labels.contains(&("thread_id".into(), "11".into())),
        "{labels:?}"
    );
    assert_eq!(db.sample.len(), 1);
    assert_eq!(stack(db, 0), ["scan@/usr/bin/db:0x2000"]);
    assert_eq!(db.sample[0].value, [7, 7 * PERIOD]);
}

#[tokio::test]
async fn retries_a_busy_server_then_delivers() {
    let (ingest, addr) = ingest_server().await;
    ingest.0.lock().expect("lock").answers.extend([503, 429]);
    let mut e = exporter(addr);
    e.export(&batch()).await.expect("exported after retries");
    assert_eq!(ingest.0.lock().expect("lock").received.len(), 2);
}

#[tokio::test]
async fn refuses_other_signals_and_permanent_errors() {
    let (ingest, addr) = ingest_server().await;
    let mut e = exporter(addr);
    let metrics = Batch::from_otlp(Signal::Metrics, Bytes::new()).expect("an empty request");
    let err = e.export(&metrics).await.expect_err("refused");
    assert!(err.to_string().contains("sending"), "{err}");
    let source = std::error::Error::source(&err)
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(source.contains("does not export metrics"), "{source}");
    ingest.0.lock().expect("lock").answers.push_back(400);
    let err = e.export(&batch()).await.expect_err("a 400 is permanent");
    let source = std::error::Error::source(&err)
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(source.contains("400"), "{source}");
}
