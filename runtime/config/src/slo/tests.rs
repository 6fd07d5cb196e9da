use std::time::Duration;

use super::*;
use crate::{ErrorCode, parse, parse_partial};

const BASE: &str = r#"
receiver "otlp" type="otlp" { grpc "127.0.0.1:4317"; }
exporter "prom" type="remote-write" { from "slo"; endpoint "http://127.0.0.1:9090/api/v1/write"; }
"#;

fn with(slos: &str) -> String {
    format!("{BASE}{slos}")
}

/// The codes and messages of every error of `text`.
fn errors(text: &str) -> Vec<(ErrorCode, String)> {
    match parse_partial("t.kdl", text) {
        Ok((_, errs)) => errs.into_iter().map(|e| (e.code, e.message)).collect(),
        Err(d) => d.errors.into_iter().map(|e| (e.code, e.message)).collect(),
    }
}

#[test]
fn availability_from_spans_with_defaults() {
    let p = parse(
        "t.kdl",
        &with(
            r#"
slo "query-availability" {
    service "query"
    objective 99.9
    sli "availability" { spans "otlp"; route "/api/v1/query"; kind "server"; }
}
"#,
        ),
    )
    .expect("valid");
    assert_eq!(p.slos.len(), 1);
    let slo = &p.slos[0];
    assert_eq!(slo.name.value, "query-availability");
    assert_eq!(slo.service, "query");
    assert!((slo.objective - 0.999).abs() < 1e-12);
    assert!((slo.error_budget() - 0.001).abs() < 1e-12);
    assert_eq!(slo.window, Duration::from_secs(28 * 86_400));
    assert_eq!(slo.alerting, Alerting::default());
    let page: Vec<_> = slo
        .alerting
        .page
        .iter()
        .map(|w| {
            (
                prometheus_duration(w.long),
                prometheus_duration(w.short),
                w.burn_rate,
            )
        })
        .collect();
    assert_eq!(
        page,
        [
            ("1h".into(), "5m".into(), 14.4),
            ("6h".into(), "30m".into(), 6.0)
        ]
    );
    let ticket: Vec<_> = slo
        .alerting
        .ticket
        .iter()
        .map(|w| {
            (
                prometheus_duration(w.long),
                prometheus_duration(w.short),
                w.burn_rate,
            )
        })
        .collect();
    assert_eq!(
        ticket,
        [
            ("1d".into(), "2h".into(), 3.0),
            ("3d".into(), "6h".into(), 1.0)
        ]
    );
    assert_eq!(
        slo.windows()
            .into_iter()
            .map(prometheus_duration)
            .collect::<Vec<_>>(),
        ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "28d"]
    );
    match &slo.sli.source {
        SliSource::Stream {
            signal,
            from,
            route,
            span_kind,
        } => {
            assert_eq!(*signal, StreamSignal::Spans);
            assert_eq!(from.value, "otlp");
            assert_eq!(route.as_deref(), Some("/api/v1/query"));
            assert_eq!(span_kind.as_deref(), Some("server"));
        }
        other => panic!("{other:?}"),
    }
    // The wiring: one processor `slo` reading otlp, fed to the exporter.
    let sli: Vec<_> = p.sli_nodes().collect();
    assert_eq!(sli.len(), 1);
    assert_eq!(sli[0].id.value, "slo");
    assert_eq!(sli[0].from[0].value, "otlp");
    let text = sli[0].node.to_string();
    for want in [
        "from otlp",
        "plugin builtin:sli",
        "forward #false",
        "tick \"10s\"",
        "slo query-availability",
        "service query",
        "signal spans",
        "route \"/api/v1/query\"",
        "kind server",
    ] {
        assert!(text.contains(want), "{want} not in\n{text}");
    }
}

#[test]
fn latency_custom_alerting_labels_and_interval() {
    let p = parse(
        "t.kdl",
        &with(
            r#"
settings { sli-interval "1s"; }
slo "query-latency" {
    service "query"
    description "Queries answer within 300 ms."
    objective "99%"
    window "7d"
    sli "latency" { spans "otlp"; threshold "300ms"; }
    alerting {
        page { window long="1h" short="5m" burn-rate=14.4 for="2m"; }
    }
    labels { team "search"; }
}
"#,
        ),
    )
    .expect("valid");
    let slo = &p.slos[0];
    assert!((slo.objective - 0.99).abs() < 1e-12);
    assert_eq!(slo.window, Duration::from_secs(7 * 86_400));
    assert_eq!(
        slo.sli.kind,
        SliKind::Latency {
            threshold: Some(Duration::from_millis(300))
        }
    );
    assert!(slo.alerting.ticket.is_empty());
    assert_eq!(slo.alerting.page[0].for_, Some(Duration::from_secs(120)));
    assert_eq!(slo.labels, [("team".to_string(), "search".to_string())]);
    let text = p.sli_nodes().next().expect("a node").node.to_string();
    assert!(text.contains("threshold \"300ms\""), "{text}");
    assert!(text.contains("tick \"1s\""), "{text}");
}

#[test]
fn metrics_source_needs_no_processor() {
    let text = format!(
        "{BASE}{}",
        r#"
slo "api" {
    service "api"
    objective 99.5
    sli "availability" {
        metrics {
            total "http_requests_total{job=\"api\"}"
            bad "http_requests_total{job=\"api\",code=~\"5..\"}"
        }
    }
}
"#
    )
    .replace("from \"slo\"", "from \"otlp\"");
    let p = parse("t.kdl", &text).expect("valid");
    assert_eq!(p.sli_nodes().count(), 0);
    assert_eq!(
        p.slos[0].sli.source,
        SliSource::Metrics {
            total: "http_requests_total{job=\"api\"}".to_string(),
            count: MetricCount::Bad("http_requests_total{job=\"api\",code=~\"5..\"}".to_string()),
        }
    );
}

#[test]
fn two_sources_make_two_processors_and_from_slo_reads_both() {
    let text = format!(
        "{BASE}{}",
        r#"
receiver "gen" type="generate" { signals "logs"; }
slo "a" { service "a"; objective 99; sli "availability" { spans "otlp"; } }
slo "b" { service "b"; objective 99; sli "availability" { logs "gen"; } }
slo "c" { service "c"; objective 99; sli "latency" { spans "otlp"; threshold "1s"; } }
"#
    );
    let p = parse("t.kdl", &text).expect("valid");
    let ids: Vec<_> = p.sli_nodes().map(|n| n.id.value.clone()).collect();
    assert_eq!(ids, ["slo.otlp", "slo.gen"]);
    let prom = p.node("prom").expect("exporter");
    let from: Vec<_> = prom.from.iter().map(|f| f.value.clone()).collect();
    assert_eq!(from, ["slo.otlp", "slo.gen"]);
    let first = p.node("slo.otlp").expect("node").node.to_string();
    assert!(first.contains("slo a") && first.contains("slo c") && !first.contains("slo b"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let errs = errors(&with(
        r#"
slo "bad name!" { service "x"; objective 99; sli "availability" { spans "otlp"; } }
slo "range" { service "x"; objective 100; sli "availability" { spans "otlp"; } }
slo "kind" { service "x"; objective 99; sli "speed" { spans "otlp"; } }
slo "nosrc" { service "x"; objective 99; sli "availability" { } }
slo "unknown-src" { service "x"; objective 99; sli "availability" { spans "otpl"; } }
slo "logs-latency" { service "x"; objective 99; sli "latency" { logs "otlp"; threshold "1s"; } }
slo "no-threshold" { service "x"; objective 99; sli "latency" { spans "otlp"; } }
slo "windows" {
    service "x"; objective 99; window "1h"
    sli "availability" { spans "otlp"; }
    alerting { page { window long="2h" short="5m" burn-rate=2; } }
}
slo "short" {
    service "x"; objective 99
    sli "availability" { spans "otlp"; }
    alerting { page { window long="5m" short="10m" burn-rate=2; } }
}
slo "never" {
    service "x"; objective 90; window "1d"
    sli "availability" { spans "otlp"; }
    alerting { ticket { window long="1h" short="5m" burn-rate=14.4; } }
}
slo "typo" { service "x"; objectiv 99; sli "availability" { spans "otlp"; } }
slo "range" { service "x"; objective 99; sli "availability" { spans "otlp"; } }
"#,
    ));
    let has = |code: ErrorCode, needle: &str| {
        assert!(
            errs.iter().any(|(c, m)| *c == code && m.contains(needle)),
            "no {code:?} error containing {needle:?} in {errs:#?}"
        );
    };
    has(ErrorCode::InvalidValue, "an SLO name is letters");
    has(
        ErrorCode::InvalidValue,
        "the objective 100% is out of range",
    );
    has(ErrorCode::InvalidValue, "unknown SLI kind");
    has(ErrorCode::UnknownSource, "the SLI has no source");
    has(
        ErrorCode::UnknownSource,
        "reads from \"otpl\", which is not a node",
    );
    has(ErrorCode::InvalidValue, "log records have no latency");
    has(ErrorCode::Missing, "needs `threshold`");
    has(ErrorCode::InvalidValue, "longer than the SLO window");
    has(ErrorCode::InvalidValue, "the short window must be shorter");
    has(ErrorCode::InvalidValue, "can never be reached");
    has(ErrorCode::UnknownProperty, "unknown property `objectiv`");
    has(ErrorCode::Missing, "needs `objective`");
    // The SLOs' own errors have no consequences on the pipeline's shape:
    // their processor exists, and the exporter reading it is connected.
    assert!(
        !errs.iter().any(|(c, _)| *c == ErrorCode::Unconnected),
        "{errs:#?}"
    );
    assert!(
        !errs.iter().any(|(_, m)| m.contains("reads from \"slo")),
        "{errs:#?}"
    );
}

#[test]
fn reserved_name_and_duplicate_slo() {
    let errs = errors(&with(
        r#"
processor "slo" type="batch" { from "otlp"; }
slo "a" { service "a"; objective 99; sli "availability" { spans "otlp"; } }
slo "a" { service "a"; objective 99; sli "availability" { spans "otlp"; } }
"#,
    ));
    assert!(
        errs.iter()
            .any(|(c, m)| *c == ErrorCode::Duplicate && m.contains("reserved for the SLI counters")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|(c, m)| *c == ErrorCode::Duplicate && m.contains("two SLOs are called \"a\"")),
        "{errs:?}"
    );
}

#[test]
fn metrics_selectors_are_checked() {
    let errs = errors(&with(
        r#"
slo "m" {
    service "m"; objective 99
    sli "latency" { metrics { total "rate(x[5m])"; good "x_bucket{le=\"0.3\"}"; bad "y"; }; threshold "1s"; }
}
"#,
    ));
    assert!(
        errs.iter()
            .any(|(_, m)| m.contains("without a range or a function")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|(_, m)| m.contains("both `good` and `bad`")),
        "{errs:?}"
    );
}

#[test]
fn prometheus_durations() {
    let d = Duration::from_secs;
    assert_eq!(prometheus_duration(d(300)), "5m");
    assert_eq!(prometheus_duration(d(3600)), "1h");
    assert_eq!(prometheus_duration(d(28 * 86_400)), "28d");
    assert_eq!(prometheus_duration(d(90)), "90s");
    assert_eq!(prometheus_duration(d(5400)), "90m");
    assert_eq!(prometheus_duration(Duration::from_millis(1500)), "1500ms");
}
