//! SLOs end to end, with the real Prometheus tools (Debian `prometheus`):
//!
//! - `weir slo rules` on a set of SLO definitions (spans, logs and metrics
//!   sources, availability and latency, default and custom alerting) gives
//!   a file `promtool check rules` accepts;
//! - `weir slo dashboard`: the JSON parses and every panel's query reads a
//!   series the rules record;
//! - spans with a known error ratio and a known share of slow spans ->
//!   weir (the SLOs' generated `builtin:sli` processor) -> remote write ->
//!   a real Prometheus evaluating the generated rules (windows of seconds):
//!   the SLI, the burn rates, the error budget left and which alerts fire
//!   are what the ratios imply.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status};
use weir_tests::prometheus::{Prometheus, QuerySample, setup};
use weir_tests::{Addrs, Weir, weir_output};

const WAIT: Duration = Duration::from_secs(60);

/// SLO definitions covering every source and option.
const DEFINITIONS: &str = r#"
receiver "otlp" type="otlp" { grpc "127.0.0.1:4317"; }
exporter "prom" type="remote-write" { from "slo"; endpoint "http://127.0.0.1:9090/api/v1/write"; }

slo "query-availability" {
    service "query"
    description "Queries answer without a server error."
    objective 99.9
    sli "availability" { spans "otlp"; route "/api/v1/query"; kind "server"; }
    labels { team "search"; tier "1"; }
}
slo "query-latency" {
    service "query"
    objective 99
    window "30d"
    sli "latency" { spans "otlp"; threshold "300ms"; }
    alerting {
        page { window long="1h" short="5m" burn-rate=14.4 for="2m"; }
        ticket { window long="3d" short="6h" burn-rate=1; }
    }
}
slo "ingest-errors" {
    service "ingest"
    objective "99.5%"
    sli "availability" { logs "otlp"; }
}
slo "api-availability" {
    service "api"
    objective 99.95
    sli "availability" {
        metrics {
            total "http_requests_total{job=\"api\"}"
            bad "http_requests_total{job=\"api\",code=~\"5..\"}"
        }
    }
}
slo "api-latency" {
    service "api"
    objective 95
    window "7d"
    sli "latency" {
        metrics {
            total "http_request_duration_seconds_count{job=\"api\"}"
            good "http_request_duration_seconds_bucket{job=\"api\",le=\"0.25\"}"
        }
    }
    alerting { page { window long="2h" short="10m" burn-rate=10; } }
}
"#;

fn weir_ok(dir: &Path, args: &[&str]) -> String {
    let out = weir_output(dir, args);
    assert!(
        out.status.success(),
        "weir {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn promtool(args: &[&str]) -> (bool, String) {
    setup();
    let out = Command::new("promtool")
        .args(args)
        .output()
        .expect("run promtool (scripts/setup-prometheus installs it)");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The names the rules record.
fn recorded(rules: &str) -> Vec<String> {
    rules
        .lines()
        .filter_map(|l| l.trim().trim_start_matches("- ").strip_prefix("record: "))
        .map(|s| s.trim().to_string())
        .collect()
}

#[test]
fn promtool_accepts_the_generated_rules_and_the_dashboard_reads_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("slos.kdl"), DEFINITIONS).expect("write");
    let _ = weir_ok(dir.path(), &["slo", "rules", "slos.kdl", "-o", "rules.yml"]);
    let rules = std::fs::read_to_string(dir.path().join("rules.yml")).expect("rules.yml");
    let path = dir.path().join("rules.yml");
    let (ok, out) = promtool(&["check", "rules", &path.display().to_string()]);
    assert!(ok, "promtool check rules failed:\n{out}\n{rules}");
    // Per SLO: 3 series per window (error ratio, SLI, burn rate), 4
    // constants, and the alerts. Windows: 8 with the default alerting
    // (query-availability, ingest-errors, api-availability), 5 for
    // query-latency (5m 1h 6h 3d 30d), 3 for api-latency (10m 2h 7d);
    // alerts 4 + 2 + 4 + 4 + 1.
    let windows = 8 + 5 + 8 + 8 + 3;
    let expected = windows * 3 + 5 * 4 + 15;
    assert!(
        out.contains(&format!("SUCCESS: {expected} rules found")),
        "{out}"
    );
    // The worked example of docs/slo.md too.
    let example = weir_tests::repo_root().join("pipelines/slo.kdl");
    let out_path = dir.path().join("example-rules.yml");
    let _ = weir_ok(
        dir.path(),
        &[
            "slo",
            "rules",
            &example.display().to_string(),
            "-o",
            &out_path.display().to_string(),
        ],
    );
    let (ok, out_example) = promtool(&["check", "rules", &out_path.display().to_string()]);
    assert!(ok, "{out_example}");
    assert!(
        out_example.contains("SUCCESS: 64 rules found"),
        "{out_example}"
    );
    // The stdout form is the same file.
    assert_eq!(weir_ok(dir.path(), &["slo", "rules", "slos.kdl"]), rules);

    let records = recorded(&rules);
    assert_eq!(records.len(), windows * 3 + 5 * 4);
    let text = weir_ok(
        dir.path(),
        &["slo", "dashboard", "slos.kdl", "--title", "Query"],
    );
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("dashboard JSON");
    assert_eq!(dashboard["title"], "Query");
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut queries = 0;
    for p in panels {
        if p["type"] == "row" {
            continue;
        }
        let targets = p["targets"].as_array().expect("every panel has targets");
        assert!(!targets.is_empty(), "{p}");
        for t in targets {
            let expr = t["expr"].as_str().expect("expr");
            let name = expr.split('{').next().unwrap_or_default();
            assert!(
                records.iter().any(|r| r == name),
                "panel {:?} queries {expr}, which no rule records",
                p["title"]
            );
            queries += 1;
        }
    }
    let rows = panels.iter().filter(|p| p["type"] == "row").count();
    assert_eq!(rows, 5);
    assert!(queries >= 5 * 7, "{queries} queries");

    // The wiring: one processor reads otlp for the three stream SLOs.
    let wiring = weir_ok(dir.path(), &["slo", "wiring", "slos.kdl"]);
    assert!(wiring.contains("processor slo type=wasm"), "{wiring}");
    for want in [
        "slo query-availability",
        "slo query-latency",
        "slo ingest-errors",
        "signal logs",
    ] {
        assert!(wiring.contains(want), "{want} not in {wiring}");
    }
    assert!(!wiring.contains("api-availability"), "{wiring}");
    let validate = weir_ok(dir.path(), &["validate", "slos.kdl"]);
    assert!(
        validate.contains("processor \"slo\" (builtin:sli, generated) reads otlp and feeds prom"),
        "{validate}"
    );
}

#[test]
fn slo_mistakes_are_diagnostics_with_places() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = r#"receiver "otlp" type="otlp" { grpc "127.0.0.1:4317"; }
exporter "prom" type="remote-write" { from "slo"; endpoint "http://127.0.0.1:9090/api/v1/write"; }
slo "a" {
    service "a"
    objective 100
    sli "availability" { spans "otlp"; }
}
slo "b" {
    service "b"
    objective 99
    sli "availability" { spans "otpl"; }
}
"#;
    std::fs::write(dir.path().join("bad.kdl"), text).expect("write");
    for args in [
        &["validate", "bad.kdl"][..],
        &["slo", "rules", "bad.kdl"][..],
    ] {
        let out = weir_output(dir.path(), args);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("weir::config::invalid_value"), "{err}");
        assert!(err.contains("the objective 100% is out of range"), "{err}");
        assert!(err.contains("bad.kdl:5:15"), "{err}");
        assert!(err.contains("weir::config::unknown_source"), "{err}");
        assert!(err.contains("did you mean \"otlp\"?"), "{err}");
        assert!(err.contains("bad.kdl:11:32"), "{err}");
    }
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.to_string())
}

/// One request: 100 server spans of `query` on `/api/v1/query`, of which
/// spans 0..10 fail and spans 10..20 take 500 ms (the others 100 ms), plus
/// 20 failing, slow spans of another service that no SLO counts.
fn request(round: u64) -> ExportTraceServiceRequest {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let span = |i: u64, failed: bool, ms: u64| {
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&round.to_be_bytes());
        trace_id[8..].copy_from_slice(&i.to_be_bytes());
        Span {
            trace_id: trace_id.to_vec(),
            span_id: (round * 1000 + i + 1).to_be_bytes().to_vec(),
            name: "GET /api/v1/query".to_string(),
            kind: 2,
            start_time_unix_nano: now - ms * 1_000_000,
            end_time_unix_nano: now,
            attributes: vec![kv("http.route", s("/api/v1/query"))],
            status: Some(Status {
                code: if failed {
                    status::StatusCode::Error as i32
                } else {
                    status::StatusCode::Ok as i32
                },
                message: String::new(),
            }),
            ..Default::default()
        }
    };
    let resource = |service: &str, spans: Vec<Span>| ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", s(service))],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans,
            ..Default::default()
        }],
        ..Default::default()
    };
    let query = (0..100)
        .map(|i| span(i, i < 10, if (10..20).contains(&i) { 500 } else { 100 }))
        .collect();
    let other = (100..120).map(|i| span(i, true, 900)).collect();
    ExportTraceServiceRequest {
        resource_spans: vec![resource("query", query), resource("other", other)],
    }
}

fn one(r: &[QuerySample]) -> Option<f64> {
    match r {
        [(_, v)] => Some(*v),
        _ => None,
    }
}

fn near(r: &[QuerySample], want: f64) -> bool {
    one(r).is_some_and(|v| (v - want).abs() < 1e-6)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_error_ratio_gives_the_sli_burn_rates_and_alerts_in_prometheus() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addrs = Addrs::free();
    let prom_dir = dir.path().join("prom");
    std::fs::create_dir_all(&prom_dir).expect("mkdir");
    // Windows of seconds: counters every 1 s, rules evaluated every 1 s.
    // Availability: 10% bad against a 1% budget = burn rate 10, which
    // trips the 6x ticket and not the 14.4x page. Latency: 10% slow
    // against a 5% budget = burn rate 2: the 1.5x page, not the 3x ticket.
    let slos = r#"
slo "query-availability" {
    service "query"
    objective 99
    window "1m"
    sli "availability" { spans "otlp"; route "/api/v1/query"; kind "server"; }
    alerting {
        page { window long="20s" short="10s" burn-rate=14.4; }
        ticket { window long="30s" short="10s" burn-rate=6; }
    }
}
slo "query-latency" {
    service "query"
    objective 95
    window "1m"
    sli "latency" { spans "otlp"; threshold "300ms"; }
    alerting {
        page { window long="20s" short="10s" burn-rate=1.5; }
        ticket { window long="30s" short="10s" burn-rate=3; }
    }
}
"#;
    // Prometheus first, to know its port; the rules depend only on the SLOs.
    std::fs::write(dir.path().join("slos.kdl"), slos).expect("write");
    let _ = weir_ok(dir.path(), &["slo", "rules", "slos.kdl", "-o", "rules.yml"]);
    let prom = Prometheus::start_with_rules(
        &prom_dir,
        &dir.path().join("rules.yml"),
        Duration::from_secs(1),
    )
    .await;
    let pipeline = format!(
        r#"
settings {{ admin "{admin}"; sli-interval "1s"; }}
receiver "otlp" type="otlp" {{ grpc "{grpc}"; }}
exporter "prom" type="remote-write" {{
    from "slo"
    endpoint "{url}"
    retry {{ initial "50ms"; max "500ms"; max-elapsed "5s"; }}
}}
{slos}"#,
        admin = addrs.admin,
        grpc = addrs.grpc,
        url = prom.write_url(),
    );
    let mut weir = Weir::with_pipeline(dir.path(), &pipeline);
    weir.wait_ready(addrs.admin, &[addrs.grpc]).await;

    // Send a request every 200 ms while the checks run.
    let endpoint = format!("http://{}", addrs.grpc);
    let sender = tokio::spawn(async move {
        let channel = tonic::transport::Channel::from_shared(endpoint)
            .expect("an endpoint")
            .connect()
            .await
            .expect("connect to weir");
        let mut client = TraceServiceClient::new(channel);
        for round in 0.. {
            client
                .export(request(round))
                .await
                .expect("weir accepts the spans");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });

    let started = Instant::now();
    let q = |name: &str, slo: &str| format!("{name}{{slo=\"{slo}\"}}");
    // The raw counters: good and bad per SLO, the other service ignored.
    let raw = prom
        .wait_for("weir_sli_events_total", WAIT, |r| r.len() == 4)
        .await;
    assert!(
        raw.iter()
            .all(|(l, _)| l.get("service").map(String::as_str) == Some("query")),
        "{raw:?}"
    );
    for (slo, sli, burn_page, burn_ticket, budget) in [
        ("query-availability", 0.9, "20s", "30s", 1.0 - 0.1 / 0.01),
        ("query-latency", 0.9, "20s", "30s", 1.0 - 0.1 / 0.05),
    ] {
        let _ = prom
            .wait_for(&q("slo:sli:ratio_rate10s", slo), WAIT, |r| near(r, sli))
            .await;
        let _ = prom
            .wait_for(&q("slo:sli:ratio_rate1m", slo), WAIT, |r| near(r, sli))
            .await;
        let burn = (1.0 - sli)
            / if slo == "query-availability" {
                0.01
            } else {
                0.05
            };
        for w in ["10s", burn_page, burn_ticket, "1m"] {
            let _ = prom
                .wait_for(
                    &q(&format!("slo:burn_rate:ratio_rate{w}"), slo),
                    WAIT,
                    |r| near(r, burn),
                )
                .await;
        }
        let _ = prom
            .wait_for(&q("slo:error_budget:remaining_ratio", slo), WAIT, |r| {
                near(r, budget)
            })
            .await;
    }
    // The alerts the burn rates imply: availability tickets (10 > 6, not
    // 14.4), latency pages (2 > 1.5, not 3).
    let firing = "ALERTS{alertname=\"SLOErrorBudgetBurn\",alertstate=\"firing\"}";
    let alerts = prom.wait_for(firing, WAIT, |r| r.len() == 2).await;
    let mut got: Vec<(String, String, String)> = alerts
        .iter()
        .map(|(l, _)| {
            let g = |k: &str| l.get(k).cloned().unwrap_or_default();
            (g("slo"), g("severity"), g("long"))
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("query-availability".into(), "ticket".into(), "30s".into()),
            ("query-latency".into(), "page".into(), "20s".into()),
        ]
    );
    // A few more evaluations later, still only those two conditions were
    // ever pending or firing over the whole run (ALERTS keeps both states).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ever = prom
        .query("count by (slo, severity) (count_over_time(ALERTS{alertname=\"SLOErrorBudgetBurn\"}[5m]))")
        .await;
    assert_eq!(ever.len(), 2, "{ever:?}");
    eprintln!("SLO end to end checked in {:?}", started.elapsed());
    sender.abort();
    weir.stop(Duration::from_secs(15)).await;
}
