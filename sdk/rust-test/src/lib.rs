//! Test weir plugins on the host with plain `cargo test`.
//!
//! A plugin author adds this crate as a dev-dependency and writes ordinary
//! tests. [`Harness::build`] compiles the plugin crate to a
//! `wasm32-wasip2` component (a nested `cargo build --release`, in a
//! target directory of its own); [`Harness::instantiate`] loads it into
//! weir's real plugin host (the same sandbox, limits and host kernels as a
//! pipeline) and calls `init`; [`Runner::process_json`] sends an OTLP/JSON
//! export request through `process` and gives back what came out, as
//! JSON, with the metric points the plugin emitted and its own metrics.
//!
//! ```no_run
//! use weir_plugin_test::Harness;
//!
//! let harness = Harness::build(env!("CARGO_MANIFEST_DIR")).unwrap();
//! let mut plugin = harness.config("threshold-ms", "100").instantiate().unwrap();
//! let out = plugin
//!     .process_json(r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{
//!         "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
//!         "name":"GET /","startTimeUnixNano":"0","endTimeUnixNano":"200000000"}]}]}]}"#)
//!     .unwrap();
//! assert_eq!(out.records()[0]["attributes"][0]["key"], "slow");
//! ```
//!
//! Testing the component itself, not a mock of the host, means what passes
//! here behaves the same in a pipeline: the WIT bindings, the SDK, the
//! kernels and the limits are all the real ones. The price is a build of
//! the component per test binary (incremental after the first) and
//! wasmtime in the test's dependencies.

mod build;
mod output;

use std::path::Path;
use std::sync::Arc;

use weir_pdata::{Batch, Signal};
use weir_wasm::telemetry::PluginTelemetry;
use weir_wasm::{Limits, Plugin, PluginEngine};

pub use build::build_component;
pub use output::{NOT_A_REQUEST, Output, request_signal};

/// What went wrong, as a sentence: a test prints it when it fails.
#[derive(Debug)]
pub struct TestError(pub String);

impl std::fmt::Display for TestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TestError {}

fn err(e: impl std::fmt::Display) -> TestError {
    TestError(e.to_string())
}

/// A compiled plugin and the configuration its instances get.
pub struct Harness {
    plugin: Plugin,
    config: Vec<(String, String)>,
    limits: Limits,
}

impl Harness {
    /// Builds the plugin crate at `manifest_dir` (pass
    /// `env!("CARGO_MANIFEST_DIR")`) into a component and compiles it.
    pub fn build(manifest_dir: impl AsRef<Path>) -> Result<Harness, TestError> {
        let wasm = build_component(manifest_dir.as_ref())?;
        Harness::from_file(&wasm)
    }

    /// A component already built (any language).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Harness, TestError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| TestError(format!("cannot read {}: {e}", path.display())))?;
        Harness::from_bytes(&path.display().to_string(), &bytes)
    }

    /// A builtin plugin of weir (`"redact"`, `"sample"`, ...).
    pub fn builtin(name: &str) -> Result<Harness, TestError> {
        let bytes = weir_wasm::builtin::get(name)
            .ok_or_else(|| TestError(format!("weir has no builtin plugin {name:?}")))?;
        Harness::from_bytes(&format!("builtin:{name}"), bytes)
    }

    /// A component's bytes, named `name` in logs and errors.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Harness, TestError> {
        let engine = PluginEngine::shared().map_err(err)?;
        let plugin = Plugin::new(engine, name, bytes).map_err(err)?;
        let mut limits = Limits::default();
        // Interpreted guests (Python, JavaScript) need more than the
        // pipeline's defaults, and a test machine may be slow.
        limits.memory = limits.memory.max(256 << 20);
        limits.timeout = limits.timeout.max(std::time::Duration::from_secs(5));
        Ok(Harness {
            plugin,
            config: Vec::new(),
            limits,
        })
    }

    /// Adds a setting for `init`, as the flattened pair a pipeline's
    /// `config { ... }` block gives (`rule.pw.keys` = `db.statement`).
    pub fn config(mut self, key: &str, value: &str) -> Harness {
        self.config.push((key.to_string(), value.to_string()));
        self
    }

    /// Replaces the limits every call runs under.
    pub fn limits(mut self, limits: Limits) -> Harness {
        self.limits = limits;
        self
    }

    /// The plugin's content hash, as the pipeline's metrics show it.
    pub fn sha256(&self) -> &str {
        self.plugin.sha256()
    }

    /// A new instance, `init`ed with the settings given so far; an
    /// `invalid-config` refusal is the error.
    pub fn instantiate(&self) -> Result<Runner, TestError> {
        let telemetry = Arc::new(PluginTelemetry::default());
        let instance = self
            .plugin
            .instantiate("test", self.limits, telemetry.clone(), &self.config)
            .map_err(|e| TestError(format!("the plugin refused to start: {e}")))?;
        Ok(Runner {
            name: self.plugin.name().to_string(),
            instance,
            telemetry,
        })
    }
}

/// One live instance of the plugin: state persists across calls.
pub struct Runner {
    name: String,
    instance: weir_wasm::Instance,
    telemetry: Arc<PluginTelemetry>,
}

impl Runner {
    /// Runs `process` on an OTLP/JSON export request (traces, logs or
    /// metrics, as `weir plugin test --input` takes).
    pub fn process_json(&mut self, request: &str) -> Result<Output, TestError> {
        let signal = output::signal_of(request)?;
        let pb = weir_pdata::otlp::json_to_protobuf(signal, request.as_bytes())
            .map_err(|e| TestError(format!("the input request: {e}")))?;
        let batch = Batch::from_otlp(signal, pb.into())
            .map_err(|e| TestError(format!("the input request: {e}")))?;
        self.process(&batch)
    }

    /// Runs `process` on a batch.
    pub fn process(&mut self, batch: &Batch) -> Result<Output, TestError> {
        let processed = self
            .instance
            .process(batch)
            .map_err(|e| TestError(format!("the plugin failed on the batch: {e}")))?;
        let signal = processed.batch.signal();
        let bytes = processed
            .batch
            .otlp_bytes()
            .map_err(|e| TestError(format!("the plugin's output does not encode: {e}")))?;
        let json = output::to_json(signal, &bytes)?;
        let metrics = self.points(processed.metrics)?;
        Ok(Output {
            signal,
            json,
            metrics,
            plugin_metrics: self.telemetry.render_plain(),
        })
    }

    /// Calls `tick(now)` (Unix nanoseconds) and gives the metric points it
    /// returned as an OTLP/JSON metrics request (`None` when it returned
    /// none).
    pub fn tick(&mut self, now: i64) -> Result<Option<serde_json::Value>, TestError> {
        let points = self
            .instance
            .tick(now)
            .map_err(|e| TestError(format!("the plugin failed in tick: {e}")))?;
        self.points(points)
    }

    /// `snapshot-state` (empty when the plugin keeps none).
    pub fn snapshot_state(&mut self) -> Result<Vec<u8>, TestError> {
        self.instance
            .snapshot_state()
            .map_err(|e| TestError(format!("snapshot-state failed: {e}")))
    }

    /// `restore-state` with what an earlier snapshot returned.
    pub fn restore_state(&mut self, state: &[u8]) -> Result<(), TestError> {
        self.instance
            .restore_state(state)
            .map_err(|e| TestError(format!("restore-state failed: {e}")))
    }

    fn points(
        &self,
        points: Vec<weir_wasm::bindings::weir::pipeline::types::MetricPoint>,
    ) -> Result<Option<serde_json::Value>, TestError> {
        if points.is_empty() {
            return Ok(None);
        }
        let bytes = weir_wasm::host::emit::to_batch("test", &self.name, points)
            .and_then(|b| b.otlp_bytes())
            .map_err(|e| TestError(format!("the plugin's metric points: {e}")))?;
        output::to_json(Signal::Metrics, &bytes).map(Some)
    }
}
