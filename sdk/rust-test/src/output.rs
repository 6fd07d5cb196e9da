//! What a call gave back, as OTLP/JSON.

use serde_json::Value;
use weir_pdata::Signal;

use crate::TestError;

/// The batch a `process` call forwarded, with what the plugin emitted.
#[derive(Debug, Clone)]
pub struct Output {
    /// The batch's signal.
    pub signal: Signal,
    /// The batch as an OTLP/JSON export request (the OTLP JSON mapping:
    /// hex ids, int64 as strings).
    pub json: Value,
    /// The metric points the plugin emitted, as an OTLP/JSON metrics
    /// request (`None` when it emitted none).
    pub metrics: Option<Value>,
    /// The plugin's own counters and histograms in Prometheus text.
    pub plugin_metrics: String,
}

fn each<'a>(v: &'a Value, key: &str) -> Vec<&'a Value> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

impl Output {
    /// Every record in order: spans, log records, or metrics (each metric,
    /// not each point), across resources and scopes.
    pub fn records(&self) -> Vec<&Value> {
        let (outer, inner, leaf) = match self.signal {
            Signal::Traces => ("resourceSpans", "scopeSpans", "spans"),
            Signal::Logs => ("resourceLogs", "scopeLogs", "logRecords"),
            _ => ("resourceMetrics", "scopeMetrics", "metrics"),
        };
        let mut out = Vec::new();
        for r in each(&self.json, outer) {
            for s in each(r, inner) {
                out.extend(each(s, leaf));
            }
        }
        out
    }

    /// The value of attribute `key` of record `i` as OTLP/JSON
    /// (`{"stringValue": "..."}`), if it has one.
    pub fn attribute(&self, i: usize, key: &str) -> Option<&Value> {
        self.records()
            .get(i)?
            .get("attributes")?
            .as_array()?
            .iter()
            .find(|kv| kv["key"] == key)
            .map(|kv| &kv["value"])
    }
}

/// The signal of an OTLP/JSON export request, by its top-level key.
pub fn request_signal(json: &Value) -> Option<Signal> {
    [
        ("resourceSpans", Signal::Traces),
        ("resourceLogs", Signal::Logs),
        ("resourceMetrics", Signal::Metrics),
    ]
    .into_iter()
    .find(|(key, _)| json.get(key).is_some())
    .map(|(_, signal)| signal)
}

/// The message when [`request_signal`] finds none.
pub const NOT_A_REQUEST: &str = "the input is not an OTLP/JSON export request (no resourceSpans, resourceLogs or resourceMetrics)";

pub(crate) fn signal_of(request: &str) -> Result<Signal, TestError> {
    let json: Value = serde_json::from_str(request)
        .map_err(|e| TestError(format!("the input is not JSON: {e}")))?;
    request_signal(&json).ok_or_else(|| TestError(NOT_A_REQUEST.into()))
}

pub(crate) fn to_json(signal: Signal, protobuf: &[u8]) -> Result<Value, TestError> {
    let text = weir_pdata::otlp::protobuf_to_json(signal, protobuf)
        .map_err(|e| TestError(format!("the plugin's output: {e}")))?;
    serde_json::from_str(&text).map_err(|e| TestError(format!("the plugin's output: {e}")))
}
