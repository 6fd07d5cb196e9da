//! Hot reload of a real weir process under continuous OTLP/gRPC load:
//! plugin swaps between two versions (`POST /reload`, `SIGHUP` and the
//! file watch), pipeline edits (a processor added, the exporter changed, a
//! branch added then removed), and a broken plugin and a broken pipeline
//! refused — while a client sends without pause. Every request must be
//! answered OK, every record sent must reach the sink exactly once, tagged
//! by one of the two versions, and the plugin's sequence numbers (its
//! state, carried across versions and kept by pipeline edits that leave its
//! node alone) must be exactly 0..N.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message;
use weir_tests::process::{http_client, metric_value, weir_bin};
use weir_tests::raw::grpc_export;
use weir_tests::{Addrs, Logs, Sink, Weir};

const LOGS: &str = "opentelemetry.proto.collector.logs.v1.LogsService";
const PER_REQUEST: u64 = 4;

/// The plugins built from `plugins/` by weir-wasm's build script.
fn plugin(krate: &str) -> PathBuf {
    let bin = weir_bin();
    let target = bin
        .parent()
        .and_then(Path::parent)
        .expect("<target>/<profile>/weir");
    target
        .join("wasm-plugins/wasm32-wasip2/release")
        .join(format!("{krate}.wasm"))
}

fn install(src: &Path, dst: &Path) {
    let tmp = dst.with_extension("tmp");
    std::fs::copy(src, &tmp).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
    std::fs::rename(&tmp, dst).expect("rename over the plugin");
}

fn request(first: u64) -> Bytes {
    let records = (first..first + PER_REQUEST)
        .map(|n| LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000 + n,
            body: Some(AnyValue {
                value: Some(Value::StringValue(format!("record {n}"))),
            }),
            attributes: vec![KeyValue {
                key: "n".to_string(),
                value: Some(AnyValue {
                    value: Some(Value::IntValue(n as i64)),
                }),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Bytes::from(req.encode_to_vec())
}

/// Sends requests one after the other until stopped; any error fails.
struct Client {
    sent: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Result<(), String>>,
}

impl Client {
    fn start(addr: SocketAddr) -> Client {
        let sent = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (sent.clone(), stop.clone());
        let task = tokio::spawn(async move {
            while !st.load(Ordering::SeqCst) {
                let first = s.load(Ordering::SeqCst);
                grpc_export(addr, LOGS, request(first), false)
                    .await
                    .map_err(|e| format!("request from {first}: {e}"))?;
                let _ = s.fetch_add(PER_REQUEST, Ordering::SeqCst);
            }
            Ok(())
        });
        Client { sent, stop, task }
    }

    async fn flow(&self, n: u64) {
        let until = self.sent.load(Ordering::SeqCst) + n;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while self.sent.load(Ordering::SeqCst) < until {
            assert!(!self.task.is_finished(), "the client stopped (an error)");
            assert!(tokio::time::Instant::now() < deadline, "traffic stalled");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        match self.task.await.expect("client task") {
            Ok(()) => self.sent.load(Ordering::SeqCst),
            Err(e) => panic!("a client request failed during the reloads: {e}"),
        }
    }
}

fn pipeline(a: &Addrs, sink: &str, middle: &str, exporter_extra: &str, branch: bool) -> String {
    let last = if middle.is_empty() { "tag" } else { "batch" };
    let branch = if branch {
        r#"exporter "branch" type="debug" { from "in"; verbosity "detailed"; path "branch.jsonl" }"#
    } else {
        ""
    };
    format!(
        r#"
settings {{ admin "{admin}"; shutdown-timeout "20s"; watch #true; watch-debounce "1s" }}
receiver "in" type="otlp" {{ grpc "{grpc}"; backpressure-wait "5s" }}
processor "tag" type="wasm" {{
    from "in"
    plugin "./tag.wasm"
    config {{ label "e2e" }}
    on-error "drop"
    canary 2
}}
{middle}
exporter "out" type="otlp" {{ from "{last}"; endpoint "{sink}"; protocol "grpc"; {exporter_extra} }}
{branch}
"#,
        admin = a.admin,
        grpc = a.grpc,
    )
}

async fn post_reload(admin: SocketAddr) -> (u16, serde_json::Value) {
    let url = format!("http://{admin}/reload");
    let r = http_client()
        .post(&url)
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = r.status().as_u16();
    let text = r.text().await.expect("the report");
    let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, json)
}

fn outcome(report: &serde_json::Value) -> String {
    report["plugins"][0]["outcome"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn names(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until `/metrics` says the node has had `n` reloads.
async fn wait_reloads(weir: &Weir, admin: SocketAddr, n: f64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = weir.metrics(admin).await;
        let got = metric_value(&text, "weir_plugin_reloads_total", &[("node", "tag")]);
        if got == Some(n) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "reloads: {got:?}, want {n}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_and_pipelines_reload_under_load_with_nothing_lost() {
    let sink = Sink::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let a = Addrs::free();
    let (v1, v2) = (
        plugin("weir_test_plugin_tag_v1"),
        plugin("weir_test_plugin_tag_v2"),
    );
    let file = dir.path().join("tag.wasm");
    install(&v1, &file);
    let kdl = dir.path().join("pipeline.kdl");
    let write = |text: String| {
        let tmp = kdl.with_extension("tmp");
        std::fs::write(&tmp, text).expect("write the pipeline");
        std::fs::rename(&tmp, &kdl).expect("replace the pipeline");
    };
    let endpoint = sink.endpoint();
    let mut weir = Weir::with_pipeline(dir.path(), &pipeline(&a, &endpoint, "", "", false));
    weir.wait_ready(a.admin, &[a.grpc]).await;
    let client = Client::start(a.grpc);
    client.flow(100).await;

    // Plugin swaps through POST /reload.
    let mut reloads = 0.0;
    for i in 0..20 {
        install(if i % 2 == 0 { &v2 } else { &v1 }, &file);
        let (status, report) = post_reload(a.admin).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(outcome(&report), "swapped", "{report}");
        assert_eq!(report["plugins"][0]["state_bytes"], 8, "{report}");
        reloads += 1.0;
        client.flow(PER_REQUEST).await;
    }
    // SIGHUP, then the file watch (v2 now).
    install(&v2, &file);
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &weir.pid().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(hup.success());
    reloads += 1.0;
    wait_reloads(&weir, a.admin, reloads).await;
    install(&v1, &file);
    reloads += 1.0;
    wait_reloads(&weir, a.admin, reloads).await;
    client.flow(100).await;

    // A broken plugin is refused; v1 keeps running.
    std::fs::write(dir.path().join("junk"), b"not a component").expect("write");
    // (The watch waits for a second of quiet: these POSTs always come
    // first, and what the watch reloads later is then unchanged.)
    install(&dir.path().join("junk"), &file);
    let (status, report) = post_reload(a.admin).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(outcome(&report), "refused", "{report}");
    assert_eq!(report["plugins"][0]["stage"], "compile", "{report}");
    install(&v1, &file);
    client.flow(100).await;

    // Pipeline edits: add a processor, change the exporter, add a branch.
    let batch = r#"processor "batch" type="batch" { from "tag"; max-items 64; timeout "20ms" }"#;
    write(pipeline(&a, &endpoint, batch, r#"timeout "20s""#, true));
    let (status, report) = post_reload(a.admin).await;
    assert_eq!(status, 200, "{report}");
    let p = &report["pipeline"];
    assert_eq!(names(&p["added"]), ["batch", "branch"], "{report}");
    assert_eq!(names(&p["changed"]), ["out"], "{report}");
    assert_eq!(names(&p["rewired"]), ["in", "tag"], "{report}");
    client.flow(200).await;

    // A broken pipeline is refused with its diagnostics; nothing changes.
    write(pipeline(
        &a,
        &endpoint,
        batch,
        r#"timeout "20s"; colour "blue""#,
        true,
    ));
    let (status, report) = post_reload(a.admin).await;
    assert_eq!(status, 422, "{report}");
    assert_eq!(report["ok"], false);
    let why = report["refused"].as_str().unwrap_or_default();
    assert!(why.contains("colour"), "{why}");
    client.flow(200).await;

    // Remove the branch and the processor again.
    write(pipeline(&a, &endpoint, "", r#"timeout "20s""#, false));
    let (status, report) = post_reload(a.admin).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        names(&report["pipeline"]["removed"]),
        ["batch", "branch"],
        "{report}"
    );
    client.flow(200).await;

    let sent = client.finish().await;
    weir.stop(Duration::from_secs(30)).await;

    let mut numbers = BTreeSet::new();
    let mut seqs = BTreeSet::new();
    let mut versions = BTreeSet::new();
    let mut records = 0u64;
    for req in sink.received::<Logs>() {
        for r in req
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records)
        {
            records += 1;
            let int = |key: &str| match r
                .attributes
                .iter()
                .find(|kv| kv.key == key)
                .and_then(|kv| kv.value.as_ref()?.value.as_ref())
            {
                Some(Value::IntValue(n)) => *n,
                other => panic!("{key}: {other:?}"),
            };
            let _ = numbers.insert(int("n"));
            let _ = seqs.insert(int("tag.seq"));
            match r
                .attributes
                .iter()
                .find(|kv| kv.key == "tag.version")
                .and_then(|kv| kv.value.as_ref()?.value.as_ref())
            {
                Some(Value::StringValue(v)) => {
                    let _ = versions.insert(v.clone());
                }
                other => panic!("tag.version: {other:?}"),
            }
        }
    }
    assert_eq!(records, sent, "records received vs sent");
    assert_eq!(numbers, (0..sent as i64).collect(), "each record once");
    assert_eq!(
        seqs,
        (0..sent as i64).collect(),
        "the plugin's state survived every reload"
    );
    assert_eq!(versions, ["v1", "v2"].map(String::from).into());
}
