//! The harness on a real plugin crate: `plugins/examples/rust/tag-slow`,
//! built from source by the harness, run through weir's plugin host. This
//! is the test a plugin author writes (with `env!("CARGO_MANIFEST_DIR")` in
//! place of the example's path).

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::json;
use weir_plugin_test::Harness;

fn example() -> &'static PathBuf {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let dir =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../plugins/examples/rust/tag-slow");
        weir_plugin_test::build_component(&dir).unwrap_or_else(|e| panic!("{e}"))
    })
}

fn span(id: u8, route: &str, millis: u64) -> serde_json::Value {
    json!({
        "traceId": format!("{:032x}", 0x5b8e_0000u64 + id as u64),
        "spanId": format!("{:016x}", 0xeee1_0000u64 + id as u64),
        "name": format!("GET {route}"),
        "kind": 2,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": (1_700_000_000_000_000_000u64 + millis * 1_000_000).to_string(),
        "attributes": [{"key": "http.route", "value": {"stringValue": route}}],
    })
}

fn request(spans: Vec<serde_json::Value>) -> String {
    json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]},
        "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}],
    }]})
    .to_string()
}

#[test]
fn tags_slow_spans_and_drops_the_route() {
    let mut plugin = Harness::from_file(example())
        .unwrap()
        .config("threshold-ms", "100")
        .config("drop-route", "/healthz")
        .instantiate()
        .unwrap();
    let out = plugin
        .process_json(&request(vec![
            span(1, "/cart", 250),
            span(2, "/cart", 20),
            span(3, "/healthz", 500),
            span(4, "/pay", 100),
        ]))
        .unwrap();

    let names: Vec<_> = out.records().iter().map(|s| s["name"].clone()).collect();
    assert_eq!(names, ["GET /cart", "GET /cart", "GET /pay"]);
    assert_eq!(out.attribute(0, "slow"), Some(&json!({"boolValue": true})));
    assert_eq!(out.attribute(1, "slow"), None);
    // Exactly at the threshold counts as slow.
    assert_eq!(out.attribute(2, "slow"), Some(&json!({"boolValue": true})));
    // Untouched fields come through.
    assert_eq!(
        out.attribute(0, "http.route"),
        Some(&json!({"stringValue": "/cart"}))
    );
    assert_eq!(
        out.json["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
        "shop"
    );
    // Tagged before the drop: spans 1, 3 and 4.
    assert!(
        out.plugin_metrics
            .lines()
            .any(|l| l.starts_with("weir_plugin_slow_spans_total") && l.ends_with(" 3")),
        "{}",
        out.plugin_metrics
    );
    assert!(out.metrics.is_none());

    // State persists across calls on one instance: the counter adds up.
    let out = plugin
        .process_json(&request(vec![span(5, "/cart", 300)]))
        .unwrap();
    assert_eq!(out.records().len(), 1);
    assert!(
        out.plugin_metrics
            .lines()
            .any(|l| l.starts_with("weir_plugin_slow_spans_total") && l.ends_with(" 4")),
        "{}",
        out.plugin_metrics
    );
}

#[test]
fn refuses_a_bad_config_with_the_plugins_message() {
    let harness = Harness::from_file(example())
        .unwrap()
        .config("treshold-ms", "1");
    let Err(e) = harness.instantiate() else {
        panic!("an unknown setting must be refused");
    };
    assert!(e.to_string().contains("treshold-ms"), "{e}");
}

#[test]
fn metrics_and_bad_input_are_handled() {
    let mut plugin = Harness::from_file(example())
        .unwrap()
        .instantiate()
        .unwrap();
    let metrics = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"up","gauge":{"dataPoints":[{"asInt":"1","timeUnixNano":"1"}]}}]}]}]}"#;
    let out = plugin.process_json(metrics).unwrap();
    assert_eq!(out.records().len(), 1);
    assert_eq!(out.records()[0]["name"], "up");

    let Err(e) = plugin.process_json(r#"{"spans": []}"#) else {
        panic!("not an export request");
    };
    assert!(
        e.to_string().contains("not an OTLP/JSON export request"),
        "{e}"
    );
}

#[test]
fn builtins_run_through_the_same_harness() {
    let mut redact = Harness::builtin("redact")
        .unwrap()
        .config("rule.pw.keys", "http.route")
        .config("rule.pw.pattern", "health.*")
        .config("rule.pw.replacement", "***")
        .instantiate()
        .unwrap();
    let out = redact
        .process_json(&request(vec![span(1, "/healthz", 1), span(2, "/cart", 1)]))
        .unwrap();
    assert_eq!(
        out.attribute(0, "http.route"),
        Some(&json!({"stringValue": "/***"}))
    );
    assert_eq!(
        out.attribute(1, "http.route"),
        Some(&json!({"stringValue": "/cart"}))
    );
    assert!(Harness::builtin("nope").is_err());
}
