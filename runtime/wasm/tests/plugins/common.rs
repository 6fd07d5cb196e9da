//! Helpers shared by the plugin tests: crafted OTLP batches, the plugins
//! built from `plugins/` by the build script, and a real processor node
//! wired to real channels.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;
use tokio::sync::mpsc;
use weir_engine::channel::{Input, Output};
use weir_engine::message::Message;
use weir_engine::metrics::NodeMetrics;
use weir_engine::node::{Processor, ProcessorContext};
use weir_pdata::{Batch, Signal};
use weir_wasm::{PluginEngine, PluginSource, WasmConfig, WasmProcessor};

/// One engine for the whole test binary, caching compiled plugins under
/// cargo's target directory: compiling a plugin with a debug build of
/// Cranelift takes seconds, loading it from the cache milliseconds, so
/// only the first run after a plugin changes pays.
pub fn engine() -> &'static PluginEngine {
    static ENGINE: OnceLock<PluginEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasm-compile-cache");
        PluginEngine::new(Some(dir)).expect("engine")
    })
}

/// The component built from `plugins/` for crate `krate`
/// (`weir_test_plugin_spin`).
pub fn plugin_file(krate: &str) -> PluginSource {
    PluginSource::File(PathBuf::from(weir_wasm::PLUGIN_DIR).join(format!("{krate}.wasm")))
}

/// A node configuration for `source` with `config` pairs, and a call
/// deadline generous enough for a loaded CI machine running debug builds
/// (tests of the deadline set their own).
pub fn config(source: PluginSource, pairs: &[(&str, &str)]) -> WasmConfig {
    let mut c = WasmConfig::new(source);
    c.limits.timeout = std::time::Duration::from_secs(2);
    c.config = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    c
}

/// Builds the node.
pub fn build(c: &WasmConfig) -> WasmProcessor {
    c.build_processor("test", engine(), std::path::Path::new("/"))
        .expect("plugin builds")
}

/// A string attribute.
pub fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

/// An int attribute.
pub fn kv_int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

/// A trace id whose sampling randomness (last 7 bytes) is `r`.
pub fn trace_id(r: u64) -> Vec<u8> {
    let mut id = vec![0xabu8; 16];
    id[8..16].copy_from_slice(&r.to_be_bytes());
    id[8] = 0x42;
    id
}

/// A span named `name` with `attrs`.
pub fn span(name: &str, trace: Vec<u8>, attrs: Vec<KeyValue>) -> Span {
    Span {
        trace_id: trace,
        span_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
        name: name.to_string(),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_100_000_000,
        attributes: attrs,
        ..Default::default()
    }
}

/// A traces batch: one resource with `resource_attrs`, one scope, `spans`.
pub fn traces(resource_attrs: Vec<KeyValue>, spans: Vec<Span>) -> Batch {
    traces_of(vec![(resource_attrs, spans)])
}

/// A traces batch of several resources, one scope each.
pub fn traces_of(resources: Vec<(Vec<KeyValue>, Vec<Span>)>) -> Batch {
    let req = ExportTraceServiceRequest {
        resource_spans: resources
            .into_iter()
            .map(|(attrs, spans)| ResourceSpans {
                resource: Some(Resource {
                    attributes: attrs,
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "test".to_string(),
                        ..Default::default()
                    }),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            })
            .collect(),
    };
    Batch::from_otlp(Signal::Traces, Bytes::from(req.encode_to_vec())).expect("valid request")
}

/// A logs batch of `records`.
pub fn logs(records: Vec<LogRecord>) -> Batch {
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource::default()),
            scope_logs: vec![ScopeLogs {
                scope: None,
                log_records: records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    };
    Batch::from_otlp(Signal::Logs, Bytes::from(req.encode_to_vec())).expect("valid request")
}

/// The spans of a traces batch, decoded from its OTLP bytes.
pub fn decode_traces(batch: &Batch) -> ExportTraceServiceRequest {
    let bytes = batch.otlp_bytes().expect("encodes");
    ExportTraceServiceRequest::decode(bytes).expect("decodes")
}

/// Every span of a batch, in order.
pub fn all_spans(batch: &Batch) -> Vec<Span> {
    decode_traces(batch)
        .resource_spans
        .into_iter()
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .collect()
}

/// The string value of attribute `key`, if any.
pub fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

/// The string value of attribute `key`, if it is a string.
pub fn attr_str<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attr(attrs, key)? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

/// What a node run produced.
pub struct Run {
    /// Every message the node sent, in order.
    pub out: Vec<Message>,
    /// The node's engine counters.
    pub metrics: Arc<NodeMetrics>,
}

/// Runs `node` as a real processor task over `batches` (input closed
/// after the last) and collects its output.
pub async fn run(node: WasmProcessor, batches: Vec<Batch>) -> Run {
    run_with_dead_letter(node, batches, None).await
}

/// [`run`] with `dead_letter` as the node's dead-letter exporter input.
pub async fn run_with_dead_letter(
    node: WasmProcessor,
    batches: Vec<Batch>,
    dead_letter: Option<mpsc::Sender<Message>>,
) -> Run {
    let metrics = Arc::new(NodeMetrics::new("test", "processor", "wasm"));
    let (in_tx, in_rx) = mpsc::channel(batches.len().max(1));
    let (out_tx, mut out_rx) = mpsc::channel(1024);
    let ctx = ProcessorContext {
        dead_letter: dead_letter.map(|tx| {
            Output::new(
                vec![tx],
                Arc::new(NodeMetrics::new("test", "processor", "dead-letter")),
            )
        }),
        id: "test".to_string(),
        input: Input::new(in_rx, metrics.clone()),
        output: Output::new(vec![out_tx], metrics.clone()),
        metrics: metrics.clone(),
    };
    let task = tokio::spawn(Box::new(node).run(ctx));
    for b in batches {
        in_tx.send(Message::new(b)).await.expect("node alive");
    }
    drop(in_tx);
    task.await.expect("no panic").expect("node ok");
    let mut out = Vec::new();
    while let Ok(m) = out_rx.try_recv() {
        out.push(m);
    }
    Run { out, metrics }
}
