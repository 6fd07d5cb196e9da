//! `builtin:sli` on crafted batches: each span is one event of every SLO
//! whose filters it matches, good or bad by the SLO's rule; the counts go
//! out as cumulative `weir.sli.events` points and the spans pass unchanged.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point;
use opentelemetry_proto::tonic::trace::v1::{Span, Status, status::StatusCode};
use prost::Message as _;
use weir_pdata::Signal;
use weir_wasm::PluginSource;

use crate::common::*;

fn sli(pairs: &[(&str, &str)]) -> weir_wasm::WasmConfig {
    config(PluginSource::Builtin("sli".to_string()), pairs)
}

fn timed(
    name: &str,
    ms: u64,
    error: bool,
    attrs: Vec<opentelemetry_proto::tonic::common::v1::KeyValue>,
) -> Span {
    let mut s = span(name, trace_id(ms), attrs);
    s.end_time_unix_nano = s.start_time_unix_nano + ms * 1_000_000;
    s.kind = 2;
    if error {
        s.status = Some(Status {
            code: StatusCode::Error as i32,
            message: String::new(),
        });
    }
    s
}

/// `(slo, outcome) -> value` of the `weir.sli.events` points of `batch`.
fn counts(batch: &weir_pdata::Batch) -> Vec<(String, String, f64)> {
    let req = ExportMetricsServiceRequest::decode(batch.otlp_bytes().unwrap()).unwrap();
    let mut out = Vec::new();
    for m in req
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
    {
        assert_eq!(m.name, "weir.sli.events");
        let Some(Data::Sum(sum)) = &m.data else {
            panic!("not a sum: {m:?}")
        };
        assert!(sum.is_monotonic);
        for p in &sum.data_points {
            let get = |k: &str| attr_str(&p.attributes, k).unwrap_or_default().to_string();
            let v = match p.value {
                Some(number_data_point::Value::AsDouble(d)) => d,
                Some(number_data_point::Value::AsInt(i)) => i as f64,
                None => f64::NAN,
            };
            out.push((get("slo"), get("outcome"), v));
        }
    }
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    out
}

#[tokio::test]
async fn spans_are_counted_good_and_bad_per_slo_and_pass_unchanged() {
    let node = build(&sli(&[
        ("slo.avail.service", "checkout"),
        ("slo.avail.sli", "availability"),
        ("slo.fast.service", "checkout"),
        ("slo.fast.route", "/pay"),
        ("slo.fast.sli", "latency"),
        ("slo.fast.threshold", "300ms"),
        ("emit-every", "0s"),
    ]));
    let batch = traces_of(vec![
        (
            vec![kv("service.name", "checkout")],
            vec![
                timed("ok-fast", 100, false, vec![kv("http.route", "/pay")]),
                timed("err", 50, true, vec![kv("http.route", "/pay")]),
                timed("slow", 900, false, vec![kv("http.route", "/pay")]),
                timed(
                    "503",
                    10,
                    false,
                    vec![
                        kv("http.route", "/cart"),
                        kv_int("http.response.status_code", 503),
                    ],
                ),
            ],
        ),
        (
            vec![kv("service.name", "other")],
            vec![timed(
                "elsewhere",
                5000,
                true,
                vec![kv("http.route", "/pay")],
            )],
        ),
    ]);
    let original = batch.otlp_bytes().unwrap();
    let run = run(node, vec![batch]).await;
    let spans: Vec<_> = run
        .out
        .iter()
        .filter(|m| m.batch.signal() == Signal::Traces)
        .collect();
    assert_eq!(spans.len(), 1);
    assert_eq!(
        spans[0].batch.otlp_bytes().unwrap(),
        original,
        "spans pass unchanged"
    );
    let metrics: Vec<_> = run
        .out
        .iter()
        .filter(|m| m.batch.signal() == Signal::Metrics)
        .collect();
    assert_eq!(metrics.len(), 1, "one metrics batch");
    assert_eq!(
        counts(&metrics[0].batch),
        vec![
            // checkout: ok-fast good; err, 503 bad; slow good (availability).
            ("avail".into(), "bad".into(), 2.0),
            ("avail".into(), "good".into(), 2.0),
            // checkout /pay: ok-fast and err under 300 ms, slow over.
            ("fast".into(), "bad".into(), 1.0),
            ("fast".into(), "good".into(), 2.0),
        ]
    );
}

#[tokio::test]
async fn counts_are_cumulative_across_batches() {
    let node = build(&sli(&[
        ("slo.all.sli", "availability"),
        ("emit-every", "0s"),
    ]));
    let b = || {
        traces(
            vec![],
            vec![timed("a", 1, false, vec![]), timed("b", 1, true, vec![])],
        )
    };
    let run = run(node, vec![b(), b(), b()]).await;
    let last = run
        .out
        .iter()
        .rfind(|m| m.batch.signal() == Signal::Metrics)
        .expect("metrics");
    assert_eq!(
        counts(&last.batch),
        vec![
            ("all".into(), "bad".into(), 3.0),
            ("all".into(), "good".into(), 3.0)
        ]
    );
}

#[tokio::test]
async fn bad_slo_definitions_are_refused() {
    for (pairs, needle) in [
        (vec![], "no SLO"),
        (vec![("slo.x.sli", "latency")], "needs `threshold"),
        (vec![("slo.x.sli", "speed")], "unknown sli"),
        (vec![("slo.x.kind", "sideways")], "unknown span kind"),
        (vec![("slo.x.threshold", "1s")], "`threshold` is for"),
    ] {
        let err = sli(&pairs)
            .build_processor("test", engine(), std::path::Path::new("/"))
            .map(|_| ())
            .expect_err("refused");
        assert!(err.to_string().contains(needle), "{pairs:?}: {err}");
    }
}

#[tokio::test]
async fn signal_filter_and_forward_false_emit_only_the_counters() {
    let mut c = sli(&[
        ("slo.spans.sli", "availability"),
        ("slo.spans.signal", "spans"),
        ("slo.logs.sli", "availability"),
        ("slo.logs.signal", "logs"),
        ("emit-every", "0s"),
    ]);
    c.forward = false;
    let node = build(&c);
    let records = vec![
        opentelemetry_proto::tonic::logs::v1::LogRecord {
            severity_number: 17,
            ..Default::default()
        },
        opentelemetry_proto::tonic::logs::v1::LogRecord {
            severity_number: 9,
            ..Default::default()
        },
        opentelemetry_proto::tonic::logs::v1::LogRecord {
            severity_number: 9,
            ..Default::default()
        },
    ];
    let batches = vec![
        traces(vec![], vec![timed("a", 1, true, vec![])]),
        logs(records),
    ];
    let run = run(node, batches).await;
    assert!(
        run.out.iter().all(|m| m.batch.signal() == Signal::Metrics),
        "forward #false sends on only the counters"
    );
    let last = run.out.last().expect("metrics");
    assert_eq!(
        counts(&last.batch),
        vec![
            // Logs: one at ERROR, two below; the span is not a log event.
            ("logs".into(), "bad".into(), 1.0),
            ("logs".into(), "good".into(), 2.0),
            // Spans: the one failed span; the logs are not span events.
            ("spans".into(), "bad".into(), 1.0),
            ("spans".into(), "good".into(), 0.0),
        ]
    );
    let err = sli(&[("slo.x.signal", "metrics")])
        .build_processor("test", engine(), std::path::Path::new("/"))
        .map(|_| ())
        .expect_err("refused");
    assert!(err.to_string().contains("unknown signal"), "{err}");
}
