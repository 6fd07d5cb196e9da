//! `builtin:sample` on crafted batches: the OpenTelemetry consistent
//! probability rule (randomness = last 56 bits of the trace id, or `rv`;
//! keep when randomness >= threshold; `th` recorded).

use opentelemetry_proto::tonic::logs::v1::LogRecord;
use weir_wasm::PluginSource;

use crate::common::*;

fn sample(ratio: &str) -> weir_wasm::WasmConfig {
    config(
        PluginSource::Builtin("sample".to_string()),
        &[("ratio", ratio)],
    )
}

const HALF: u64 = 1 << 55;

#[tokio::test]
async fn keeps_traces_whose_randomness_reaches_the_threshold_and_records_it() {
    let node = build(&sample("0.5"));
    let mut with_rv = span("rv-high", trace_id(0), vec![]);
    with_rv.trace_state = "vendor=a,ot=rv:ffffffffffffff".to_string();
    let mut higher_th = span("th-c", trace_id((1 << 56) - 1), vec![]);
    higher_th.trace_state = "ot=th:c".to_string();
    let batch = traces(
        vec![],
        vec![
            span("below", trace_id(HALF - 1), vec![]),
            span("at", trace_id(HALF), vec![]),
            span("zero", trace_id(0), vec![]),
            span("top-a", trace_id((1 << 56) - 1), vec![]),
            span("top-b", trace_id((1 << 56) - 1), vec![]),
            with_rv,
            higher_th,
        ],
    );
    let run = run(node, vec![batch]).await;
    assert_eq!(run.out.len(), 1);
    let spans = all_spans(&run.out[0].batch);
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["at", "top-a", "top-b", "rv-high", "th-c"]);
    let states: Vec<&str> = spans.iter().map(|s| s.trace_state.as_str()).collect();
    assert_eq!(
        states,
        [
            "ot=th:8",
            "ot=th:8",
            "ot=th:8",
            "ot=th:8;rv:ffffffffffffff,vendor=a",
            "ot=th:c"
        ],
        "th recorded, never lowered, ot entry first"
    );
    assert_eq!(run.metrics.items_dropped(), 2);
}

#[tokio::test]
async fn the_same_trace_gets_the_same_decision_and_the_ratio_holds() {
    let node = build(&sample("0.1"));
    let mut spans = Vec::new();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..2000 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let id = trace_id(seed >> 8);
        spans.push(span(&format!("a{i}"), id.clone(), vec![]));
        spans.push(span(&format!("b{i}"), id, vec![]));
    }
    let run = run(node, vec![traces(vec![], spans)]).await;
    let kept = all_spans(&run.out[0].batch);
    let mut by_trace = std::collections::HashMap::<Vec<u8>, usize>::new();
    for s in &kept {
        *by_trace.entry(s.trace_id.clone()).or_default() += 1;
    }
    assert!(by_trace.values().all(|&n| n == 2), "a trace was split");
    let traces_kept = by_trace.len();
    assert!(
        (140..=260).contains(&traces_kept),
        "kept {traces_kept} of 2000 traces at ratio 0.1"
    );
}

#[tokio::test]
async fn logs_follow_their_trace_and_records_without_one_are_kept() {
    let node = build(&sample("0.5"));
    let log = |body: &str, trace: Vec<u8>| LogRecord {
        trace_id: trace,
        body: Some(opentelemetry_proto::tonic::common::v1::AnyValue {
            value: Some(
                opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                    body.to_string(),
                ),
            ),
        }),
        ..Default::default()
    };
    let batch = logs(vec![
        log("dropped", trace_id(1)),
        log("kept", trace_id(HALF + 1)),
        log("no trace", Vec::new()),
    ]);
    let run = run(node, vec![batch]).await;
    let bytes = run.out[0].batch.otlp_bytes().unwrap();
    use prost::Message as _;
    let req =
        opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest::decode(bytes)
            .unwrap();
    let bodies: Vec<String> = req.resource_logs[0].scope_logs[0]
        .log_records
        .iter()
        .map(|l| format!("{:?}", l.body.as_ref().and_then(|b| b.value.as_ref())))
        .collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(
        bodies[0].contains("kept") && bodies[1].contains("no trace"),
        "{bodies:?}"
    );
}

#[tokio::test]
async fn resources_left_without_spans_are_dropped_and_an_empty_result_is_not_sent() {
    let node = build(&sample("0.5"));
    let batch = traces_of(vec![
        (
            vec![kv("service.name", "gone")],
            vec![span("x", trace_id(1), vec![])],
        ),
        (
            vec![kv("service.name", "kept")],
            vec![span("y", trace_id(HALF), vec![])],
        ),
    ]);
    let all_dropped = traces(vec![], vec![span("z", trace_id(3), vec![])]);
    let run = run(node, vec![batch, all_dropped]).await;
    assert_eq!(
        run.out.len(),
        1,
        "a batch sampled to nothing is not forwarded"
    );
    let req = decode_traces(&run.out[0].batch);
    assert_eq!(req.resource_spans.len(), 1);
    let resource = req.resource_spans[0].resource.as_ref().unwrap();
    assert_eq!(attr_str(&resource.attributes, "service.name"), Some("kept"));
    assert_eq!(run.metrics.items_dropped(), 2);
}

#[tokio::test]
async fn ratio_is_validated() {
    for bad in ["0", "1.5", "x", "-1"] {
        let err = sample(bad)
            .build_processor("t", engine(), std::path::Path::new("/"))
            .unwrap_err();
        assert!(err.to_string().contains("ratio"), "{bad}: {err}");
    }
    let missing = config(PluginSource::Builtin("sample".to_string()), &[]);
    let err = missing
        .build_processor("t", engine(), std::path::Path::new("/"))
        .unwrap_err();
    assert!(err.to_string().contains("`ratio` is required"), "{err}");
}
