//! WASM plugins in a real weir process: the OpenTelemetry Python SDK sends
//! traces and logs through `builtin:redact` and `builtin:sample` to an OTLP
//! sink. What arrives must equal what was sent with exactly the redaction
//! applied (computed here, independently of the plugin) and exactly the
//! traces the OpenTelemetry trace-id ratio rule keeps; the plugin series are
//! in `/metrics`.

use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::ResourceLogs;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use sha2::{Digest, Sha256};
use weir_tests::process::metric_value;
use weir_tests::{Addrs, Logs, Protocol, SendPlan, Sink, Traces, Weir, assert_same};

const WAIT: Duration = Duration::from_secs(60);
const STOP: Duration = Duration::from_secs(15);
const SALT: &str = "pepper";

/// The rules the pipeline configures, applied to one attribute list the way
/// `docs/plugins.md` specifies them.
fn redact(attrs: &mut Vec<KeyValue>) {
    attrs.retain(|kv| kv.key != "int.negative");
    for kv in attrs.iter_mut() {
        let Some(Value::StringValue(s)) = kv.value.as_mut().and_then(|v| v.value.as_mut()) else {
            if kv.key == "int" {
                let text = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(Value::IntValue(n)) => n.to_string(),
                    other => panic!("`int` holds {other:?}"),
                };
                kv.value = Some(AnyValue {
                    value: Some(Value::StringValue(hash(&text))),
                });
            }
            continue;
        };
        if kv.key == "str" {
            *s = s.replace("unicode", "[gone]");
        }
    }
}

fn hash(text: &str) -> String {
    let mut h = Sha256::new();
    h.update(SALT.as_bytes());
    h.update(text.as_bytes());
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn redact_spans(resources: &mut [ResourceSpans]) {
    for r in resources {
        if let Some(res) = r.resource.as_mut() {
            redact(&mut res.attributes);
        }
        for s in &mut r.scope_spans {
            for span in &mut s.spans {
                redact(&mut span.attributes);
            }
        }
    }
}

fn redact_logs(resources: &mut [ResourceLogs]) {
    for r in resources {
        if let Some(res) = r.resource.as_mut() {
            redact(&mut res.attributes);
        }
        for s in &mut r.scope_logs {
            for log in &mut s.log_records {
                redact(&mut log.attributes);
            }
        }
    }
}

fn pipeline(a: &Addrs, sink: &str, sample: &str) -> String {
    format!(
        r#"
settings {{ admin "{admin}"; shutdown-timeout "10s" }}
receiver "in" type="otlp" {{ grpc "{grpc}"; http "{http}" }}
processor "redact" type="wasm" {{
    from "in"
    plugin "builtin:redact"
    config {{
        rule "uni" {{ keys "str"; pattern "unicode"; replacement "[gone]"; scopes "all"; }}
        rule "neg" {{ keys "int.negative"; action "delete"; scopes "record" "resource"; }}
        rule "int" {{ keys "int"; action "hash"; salt "{SALT}"; scopes "record" "resource"; }}
    }}
    on-error "drop"
}}
{sample}
exporter "out" type="otlp" {{ from "{last}"; endpoint "{sink}"; protocol "grpc" }}
"#,
        admin = a.admin,
        grpc = a.grpc,
        http = a.http,
        last = if sample.is_empty() {
            "redact"
        } else {
            "sample"
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redaction_changes_exactly_what_the_rules_say() {
    let sink = Sink::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let a = Addrs::free();
    let mut weir = Weir::with_pipeline(dir.path(), &pipeline(&a, &sink.endpoint(), ""));
    weir.wait_ready(a.admin, &[a.grpc, a.http]).await;

    let sent = SendPlan::new(Protocol::Grpc, a.grpc)
        .signals("traces,logs")
        .run()
        .await;
    assert!(sent.spans() >= 400 && sent.log_records() > 10);
    let traces = sink.wait_items::<Traces>(sent.spans(), WAIT).await;
    let logs = sink.wait_items::<Logs>(sent.log_records(), WAIT).await;

    let mut expected_traces = sent.traces.clone();
    for req in &mut expected_traces {
        redact_spans(&mut req.resource_spans);
    }
    let mut expected_logs = sent.logs.clone();
    for req in &mut expected_logs {
        redact_logs(&mut req.resource_logs);
    }
    // The rules did change something, so the comparison is not vacuous.
    assert_ne!(expected_traces, sent.traces);
    assert_ne!(expected_logs, sent.logs);
    assert_same::<Traces>(&expected_traces, &traces);
    assert_same::<Logs>(&expected_logs, &logs);

    let text = weir.metrics(a.admin).await;
    let calls = metric_value(
        &text,
        "weir_plugin_calls_total",
        &[("node", "redact"), ("plugin", "builtin:redact")],
    );
    assert!(
        calls.is_some_and(|c| c >= 2.0),
        "plugin calls in /metrics:\n{text}"
    );
    let failures = text
        .lines()
        .filter(|l| l.starts_with("weir_plugin_failures_total{"))
        .filter(|l| !l.ends_with(" 0"))
        .count();
    assert_eq!(failures, 0, "no plugin failure:\n{text}");
    weir.stop(STOP).await;
}

/// The OpenTelemetry consistent-probability rule for ratio 0.5: the
/// rejection threshold is 2^55, and a span is kept when the low 56 bits of
/// its trace id (its randomness, the SDK sets no `rv`) reach it.
fn kept_at_half(trace_id: &[u8]) -> bool {
    let mut r = [0u8; 8];
    r[1..].copy_from_slice(&trace_id[9..16]);
    u64::from_be_bytes(r) >= 1 << 55
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_keeps_exactly_the_traces_the_ratio_rule_keeps() {
    let sink = Sink::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let a = Addrs::free();
    let sample = r#"processor "sample" type="wasm" { from "redact"; plugin "builtin:sample"; config { ratio 0.5; }; }"#;
    let mut weir = Weir::with_pipeline(dir.path(), &pipeline(&a, &sink.endpoint(), sample));
    weir.wait_ready(a.admin, &[a.grpc, a.http]).await;

    let sent = SendPlan::new(Protocol::Grpc, a.grpc)
        .signals("traces")
        .run()
        .await;
    let mut expected = sent.traces.clone();
    for req in &mut expected {
        redact_spans(&mut req.resource_spans);
        for r in &mut req.resource_spans {
            for s in &mut r.scope_spans {
                s.spans.retain(|span| kept_at_half(&span.trace_id));
                for span in &mut s.spans {
                    // Kept spans record the threshold for downstream
                    // re-weighting.
                    span.trace_state = if span.trace_state.is_empty() {
                        "ot=th:8".to_string()
                    } else {
                        format!("ot=th:8,{}", span.trace_state)
                    };
                }
            }
            r.scope_spans.retain(|s| !s.spans.is_empty());
        }
        req.resource_spans.retain(|r| !r.scope_spans.is_empty());
    }
    let kept: usize = weir_tests::otlp::count::<Traces>(&expected);
    assert!(
        kept > sent.spans() / 5 && kept < sent.spans(),
        "the SDK's random trace ids keep some spans and drop others ({kept} of {})",
        sent.spans()
    );
    let traces = sink.wait_items::<Traces>(kept, WAIT).await;
    assert_same::<Traces>(&expected, &traces);
    weir.stop(STOP).await;
    assert_same::<Traces>(&expected, &sink.received::<Traces>());
}

/// `on-error "dead-letter"` in a real process: a plugin that fails every
/// batch (its output is over `max-output`) sends each one, unchanged, to
/// the dead-letter exporter; nothing goes downstream and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_a_plugin_fails_go_to_the_dead_letter_exporter() {
    let out = Sink::start().await;
    let dead = Sink::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let a = Addrs::free();
    let kdl = format!(
        r#"
settings {{ admin "{admin}"; shutdown-timeout "10s" }}
receiver "in" type="otlp" {{ grpc "{grpc}"; http "{http}" }}
processor "redact" type="wasm" {{
    from "in"
    plugin "builtin:redact"
    config {{ rule "all" {{ pattern "(?s).+"; scopes "all"; }} }}
    limits {{ max-output "1B"; }}
    circuit {{ failures 100000; }}
    on-error "dead-letter"
    dead-letter "dl"
}}
exporter "out" type="otlp" {{ from "redact"; endpoint "{out}"; protocol "grpc" }}
exporter "dl" type="otlp" {{ endpoint "{dead}"; protocol "grpc" }}
"#,
        admin = a.admin,
        grpc = a.grpc,
        http = a.http,
        out = out.endpoint(),
        dead = dead.endpoint(),
    );
    let mut weir = Weir::with_pipeline(dir.path(), &kdl);
    weir.wait_ready(a.admin, &[a.grpc, a.http]).await;

    let sent = SendPlan::new(Protocol::Grpc, a.grpc)
        .signals("traces")
        .run()
        .await;
    assert!(sent.spans() >= 400);
    let got = dead.wait_items::<Traces>(sent.spans(), WAIT).await;
    assert_same::<Traces>(&sent.traces, &got);
    assert_eq!(out.items::<Traces>(), 0, "nothing failed goes downstream");

    let text = weir.metrics(a.admin).await;
    let failures: f64 = text
        .lines()
        .filter(|l| l.starts_with("weir_plugin_failures_total{") && l.contains("node=\"redact\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(failures >= 1.0, "plugin failures counted:\n{text}");
    weir.stop(STOP).await;
}
