//! Plugins written in other languages, built from source in the test run
//! and run in a real weir pipeline: the `tag-slow` example in Python
//! (componentize-py, `sdk/python`), JavaScript (componentize-js, `sdk/js`)
//! and C (clang for wasm32-wasi and `weir plugin componentize`, `sdk/c`). Spans of known durations and routes go in over OTLP/gRPC;
//! what reaches the sink must be exactly the spans the plugin keeps, with
//! exactly the `slow` tags its rule gives.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use weir_tests::process::{metric_value, output_within};
use weir_tests::raw::grpc_export;
use weir_tests::{Addrs, Sink, Traces, Weir, assert_same, repo_root};

const BUILD: Duration = Duration::from_secs(600);
const WAIT: Duration = Duration::from_secs(120);
const MS: u64 = 1_000_000;

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

/// Six spans: (duration in ms, route).
fn spans() -> Vec<Span> {
    let plan: [(u64, Option<&str>); 6] = [
        (10, Some("/a")),
        (300, Some("/healthz")),
        (250, Some("/b")),
        (0, None),
        (1000, Some("/healthz")),
        (249, Some("/c")),
    ];
    plan.iter()
        .enumerate()
        .map(|(i, (ms, route))| {
            let start = 1_700_000_000_000_000_000 + i as u64 * 1_000 * MS;
            let mut attributes = vec![kv("index", Value::IntValue(i as i64))];
            if let Some(r) = route {
                attributes.push(kv("http.route", Value::StringValue(r.to_string())));
            }
            Span {
                trace_id: vec![i as u8 + 1; 16],
                span_id: vec![i as u8 + 1; 8],
                name: format!("span-{i}"),
                start_time_unix_nano: start,
                end_time_unix_nano: start + ms * MS,
                attributes,
                ..Default::default()
            }
        })
        .collect()
}

fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", Value::StringValue("shop".into()))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

/// What `tag-slow` with `threshold-ms 250; drop-route "/healthz"` makes of
/// [`spans`], computed here from its documented rule.
fn expected() -> ExportTraceServiceRequest {
    let kept = spans()
        .into_iter()
        .filter(|s| {
            !s.attributes.iter().any(|kv| {
                kv.key == "http.route"
                    && kv.value.as_ref().and_then(|v| v.value.as_ref())
                        == Some(&Value::StringValue("/healthz".into()))
            })
        })
        .map(|mut s| {
            if s.end_time_unix_nano - s.start_time_unix_nano >= 250 * MS {
                s.attributes.push(kv("slow", Value::BoolValue(true)));
            }
            s
        })
        .collect();
    request(kept)
}

fn run(cmd: &mut Command, what: &str) {
    let out = output_within(std::mem::replace(cmd, Command::new("true")), BUILD)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn build_python(out: &Path) {
    let root = repo_root();
    let python = weir_tests::python::python();
    run(
        Command::new(python)
            .arg(root.join("sdk/python/weir_plugin.py"))
            .arg("build")
            .arg(root.join("plugins/examples/python/tag_slow.py"))
            .arg("-o")
            .arg(out),
        "building the Python plugin with componentize-py",
    );
}

fn build_js(out: &Path) {
    let root = repo_root();
    run(
        &mut Command::new(root.join("scripts/setup-js")),
        "installing componentize-js (scripts/setup-js)",
    );
    run(
        Command::new("node")
            .arg(root.join("sdk/js/build.mjs"))
            .arg(root.join("plugins/examples/js/tag-slow.js"))
            .arg("-o")
            .arg(out),
        "building the JavaScript plugin with componentize-js",
    );
}

fn build_c(out: &Path) {
    let root = repo_root();
    run(
        &mut Command::new(root.join("scripts/setup-c")),
        "installing the C toolchain (scripts/setup-c)",
    );
    run(
        Command::new(root.join("sdk/c/build.sh"))
            .arg(root.join("plugins/examples/c/tag_slow.c"))
            .arg("-o")
            .arg(out)
            .env("WEIR", weir_tests::weir_bin()),
        "building the C plugin with clang and weir plugin componentize",
    );
}

async fn through_weir(plugin: PathBuf, language: &str) {
    let sink = Sink::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let a = Addrs::free();
    let pipeline = format!(
        r#"
settings {{ admin "{admin}"; shutdown-timeout "10s" }}
receiver "in" type="otlp" {{ grpc "{grpc}"; http "{http}" }}
processor "tag" type="wasm" {{
    from "in"
    plugin "{plugin}"
    config {{ threshold-ms 250; drop-route "/healthz"; }}
    limits {{ memory "256MiB"; timeout "5s"; }}
}}
exporter "out" type="otlp" {{ from "tag"; endpoint "{sink}"; protocol "grpc" }}
"#,
        admin = a.admin,
        grpc = a.grpc,
        http = a.http,
        plugin = plugin.display(),
        sink = sink.endpoint(),
    );
    let mut weir = Weir::with_pipeline(dir.path(), &pipeline);
    // Compiling a 12-19 MB component takes a while on a loaded machine.
    weir.wait_ready_within(a.admin, &[a.grpc, a.http], Duration::from_secs(300))
        .await;
    let sent = request(spans());
    grpc_export(
        a.grpc,
        "opentelemetry.proto.collector.trace.v1.TraceService",
        Bytes::from(sent.encode_to_vec()),
        false,
    )
    .await
    .unwrap_or_else(|s| panic!("{language}: export refused: {s}"));
    let got = sink.wait_items::<Traces>(4, WAIT).await;
    assert_same::<Traces>(&[expected()], &got);
    let text = weir.metrics(a.admin).await;
    // Tagging runs before dropping: the three spans of 250 ms and more
    // count, two of them then dropped for their route.
    assert_eq!(
        metric_value(&text, "weir_plugin_slow_spans_total", &[("node", "tag")]),
        Some(3.0),
        "{language}: the plugin's own counter:\n{text}"
    );
    weir.stop(Duration::from_secs(15)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_plugin_runs_in_a_real_pipeline() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let wasm = dir.path().join("tag_slow.wasm");
    let out = wasm.clone();
    tokio::task::spawn_blocking(move || build_python(&out))
        .await
        .expect("build thread");
    through_weir(wasm, "Python").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_plugin_runs_in_a_real_pipeline() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let wasm = dir.path().join("tag-slow.wasm");
    let out = wasm.clone();
    tokio::task::spawn_blocking(move || build_js(&out))
        .await
        .expect("build thread");
    through_weir(wasm, "JavaScript").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_plugin_runs_in_a_real_pipeline() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let wasm = dir.path().join("tag_slow.wasm");
    let out = wasm.clone();
    tokio::task::spawn_blocking(move || build_c(&out))
        .await
        .expect("build thread");
    through_weir(wasm, "C").await;
}
