//! The running `wasm` processor: hands each batch to a plugin instance and
//! survives whatever the plugin does.
//!
//! # Lifecycle
//! Built once per node ([`WasmConfig`] + `build`): the component is
//! compiled (or loaded from the compile cache), checked, linked and
//! pre-instantiated; a probe instance runs `init` and one `process` on an
//! empty batch so that configuration errors stop the pipeline at start-up.
//! Running, each batch goes through [`Instance::process`] on the node's own
//! thread (bounded by the call deadline) while the node's task awaits it.
//!
//! # Errors
//! A trap, timeout, memory overrun, host-call storm or oversized output is
//! a failure of one batch, never of the node: it is counted
//! (`weir_plugin_failures_total{kind}` and the node's `errors`), logged with
//! the plugin's name and hash, the `on-error` policy is applied to the
//! batch, and a trapped instance is replaced from the pre-instantiated
//! component. After `circuit.failures` consecutive failures the plugin is
//! bypassed for a backoff.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use weir_config::{ConfigError, ErrorCode};
use weir_engine::NodeError;
use weir_engine::message::Message;
use weir_engine::node::{BoxFuture, Processor, ProcessorContext};
use weir_engine::registry::{BuildContext, Builder, Built};
use weir_pdata::{Batch, Signal, SignalTables, schema};

use crate::bindings::weir::pipeline::types::MetricPoint;
use crate::builtin;
use crate::engine::PluginEngine;
use crate::error::{CallError, WasmError};
use crate::host::emit;
use crate::plugin::{Instance, Plugin, Processed};
use crate::processor::breaker::{Breaker, Gate};
use crate::processor::config::{OnError, PluginSource, WasmConfig};
use crate::processor::reload::{Canary, Candidate, PluginReloader, ReloaderParts};
use crate::telemetry::{self, PluginStats, PluginTelemetry};
use weir_engine::reload::{PluginReload, Reloadable};

/// An empty batch of `signal` (for the start-up probe).
pub fn empty_batch(signal: Signal) -> Batch {
    let tables = SignalTables {
        resources: arrow_array::RecordBatch::new_empty(schema::resources()),
        scopes: arrow_array::RecordBatch::new_empty(schema::scopes()),
        records: arrow_array::RecordBatch::new_empty(schema::records(signal)),
    };
    Batch::from_tables(signal, tables)
}

/// Reads a plugin's component bytes.
///
/// # Errors
/// [`WasmError::Read`] / [`WasmError::UnknownBuiltin`].
pub fn load_bytes(source: &PluginSource, base_dir: &std::path::Path) -> Result<Vec<u8>, WasmError> {
    match source {
        PluginSource::Builtin(name) => builtin::get(name)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| WasmError::UnknownBuiltin(name.clone())),
        PluginSource::File(path) => {
            let path = base_dir.join(path);
            std::fs::read(&path).map_err(|source| WasmError::Read { path, source })
        }
    }
}

impl WasmConfig {
    /// Loads the plugin and makes the node: compile (or load from the
    /// cache), link, start a probe instance (`init` + an empty batch), and
    /// the instance that will serve.
    ///
    /// # Errors
    /// [`WasmError`]; [`WasmError::Start`] wraps a plugin that refused its
    /// configuration ([`CallError::InvalidConfig`]) or failed on the probe.
    pub fn build_processor(
        &self,
        node: &str,
        engine: &PluginEngine,
        base_dir: &std::path::Path,
    ) -> Result<WasmProcessor, WasmError> {
        let name = self.plugin.value.display_name();
        let bytes = load_bytes(&self.plugin.value, base_dir)?;
        let plugin = Plugin::new(engine, &name, &bytes)?;
        let hash: String = plugin.sha256().chars().take(12).collect();
        let telemetry = Arc::new(PluginTelemetry::default());
        let stats = Arc::new(PluginStats::new(node, &name, &hash));
        telemetry::register(&stats, &telemetry);
        let mut config = self.clone();
        for g in &mut config.grants {
            g.host = base_dir.join(&g.host);
            if !g.host.is_dir() {
                return Err(WasmError::Grant {
                    path: g.host.clone(),
                });
            }
        }
        let core = Core {
            node: node.to_string(),
            plugin: plugin.clone(),
            config: config.clone(),
            instance: None,
            breaker: Breaker::new(self.circuit),
            stats: stats.clone(),
            telemetry: telemetry.clone(),
            canary: None,
        };
        let worker = Worker::start(core).map_err(|e| WasmError::Start {
            plugin: name.clone(),
            source: e,
        })?;
        let reloader = PluginReloader::new(ReloaderParts {
            node: node.to_string(),
            base_dir: base_dir.to_path_buf(),
            config,
            jobs: worker.jobs.clone(),
            stats: stats.clone(),
            telemetry: telemetry.clone(),
        });
        tracing::info!(
            node,
            plugin = %name,
            hash = %hash,
            cached = plugin.compiled().from_cache,
            took_ms = plugin.compiled().took.as_millis() as u64,
            "Plugin loaded."
        );
        Ok(WasmProcessor {
            node: node.to_string(),
            plugin,
            on_error: self.on_error,
            tick: self.tick,
            forward: self.forward,
            worker,
            stats,
            telemetry,
            reloader,
        })
    }
}

impl Builder for WasmConfig {
    fn build(self: Box<Self>, ctx: &BuildContext<'_>) -> Result<Built, ConfigError> {
        let engine = PluginEngine::shared().map_err(|e| {
            ConfigError::new(ErrorCode::Build, format!("processor {:?}: {e}", ctx.id))
                .at(self.plugin.span, "this plugin cannot run here")
        })?;
        ctx.metrics
            .add_collector("wasm-plugins", std::sync::Arc::new(telemetry::render_into));
        match self.build_processor(ctx.id, engine, &ctx.base_dir) {
            Ok(p) => Ok(Built::Processor(Box::new(p))),
            Err(WasmError::Start {
                plugin,
                source: CallError::InvalidConfig(m),
            }) => Err(ConfigError::new(
                ErrorCode::InvalidValue,
                format!(
                    "processor {:?}: plugin {plugin} refused its configuration: {m}",
                    ctx.id
                ),
            )
            .at(self.config_span, m)
            .help("see the plugin's documentation in docs/plugins.md")),
            Err(e) => Err(ConfigError::new(
                ErrorCode::Build,
                format!("processor {:?}: {e}", ctx.id),
            )
            .at(self.plugin.span, "this plugin could not be loaded")),
        }
    }
}

/// The plugin side of a node: the instance and its failure handling. It
/// lives on the node's own thread ([`Worker`]).
pub(crate) struct Core {
    pub(crate) node: String,
    pub(crate) plugin: Plugin,
    pub(crate) config: WasmConfig,
    pub(crate) instance: Option<Instance>,
    pub(crate) breaker: Breaker,
    pub(crate) stats: Arc<PluginStats>,
    pub(crate) telemetry: Arc<PluginTelemetry>,
    /// A hot-reloaded version on probation, and the one it replaced.
    pub(crate) canary: Option<Canary>,
}

/// A serving instance of `plugin` for node `node`: first a probe — the
/// plugin's own validation, then one empty batch of each signal, so that
/// what it checks only when it uses the host (a pattern that does not
/// compile) is refused now rather than on every batch; its state is thrown
/// away — then the instance that will serve.
///
/// # Errors
/// The plugin refused its configuration or could not start.
pub(crate) fn prepare(
    plugin: &Plugin,
    node: &str,
    config: &WasmConfig,
    stats: &PluginStats,
    telemetry: &Arc<PluginTelemetry>,
) -> Result<Instance, CallError> {
    let mut probe = plugin.instantiate_granted(
        node,
        config.limits,
        Arc::new(PluginTelemetry::default()),
        &config.config,
        &config.grants,
    )?;
    for signal in Signal::ALL {
        match probe.process(&empty_batch(signal)) {
            Ok(_) => {}
            Err(e @ CallError::InvalidConfig(_)) => return Err(e),
            Err(e) => {
                tracing::warn!(node, plugin = %plugin.name(), hash = %stats.hash(), error = %e, "Plugin failed on an empty batch at start-up.");
                break;
            }
        }
    }
    drop(probe);
    plugin.instantiate_granted(
        node,
        config.limits,
        telemetry.clone(),
        &config.config,
        &config.grants,
    )
}

/// What became of one batch.
#[derive(Debug)]
pub enum Outcome {
    /// The plugin processed it.
    Processed(Processed),
    /// The plugin failed on it (or was bypassed: `error` is `None`); the
    /// `on-error` policy applies.
    Failed {
        /// What went wrong; `None` when the circuit was open.
        error: Option<CallError>,
    },
}

impl Core {
    /// The probe and the serving instance.
    fn start(&mut self) -> Result<(), CallError> {
        let instance = prepare(
            &self.plugin,
            &self.node,
            &self.config,
            &self.stats,
            &self.telemetry,
        )?;
        self.instance = Some(instance);
        Ok(())
    }

    fn fresh_instance(&mut self) -> Result<&mut Instance, CallError> {
        if self.instance.is_none() {
            let _ = self.stats.reinstantiations.fetch_add(1, Relaxed);
            let i = self.plugin.instantiate_granted(
                &self.node,
                self.config.limits,
                self.telemetry.clone(),
                &self.config.config,
                &self.config.grants,
            )?;
            self.instance = Some(i);
        }
        self.instance.as_mut().ok_or_else(|| CallError::Trap {
            message: "no instance".to_string(),
        })
    }

    /// Records a failure: counts it, drops a poisoned instance, feeds the
    /// breaker.
    fn failed(&mut self, e: &CallError, items: usize) {
        self.stats.failure(e.kind());
        tracing::warn!(
            node = %self.node,
            plugin = %self.plugin.name(),
            hash = %self.stats.hash(),
            kind = e.kind(),
            error = %e,
            items,
            "Plugin failed on a batch; applying on-error."
        );
        if e.poisons_instance() {
            // Replace it now, so the next batch does not wait for it; if
            // that fails too, the next call tries again.
            self.instance = None;
            let _ = self.fresh_instance();
        }
        if let Some(pause) = self.breaker.failure(Instant::now()) {
            let _ = self.stats.circuit_opened.fetch_add(1, Relaxed);
            self.stats.circuit_open.store(1, Relaxed);
            tracing::error!(
                node = %self.node,
                plugin = %self.plugin.name(),
                hash = %self.stats.hash(),
                pause_ms = pause.as_millis() as u64,
                "Plugin keeps failing; bypassing it for a while."
            );
        }
    }

    fn succeeded(&mut self) {
        if self.breaker.success() {
            self.stats.circuit_open.store(0, Relaxed);
            tracing::info!(
                node = %self.node,
                plugin = %self.plugin.name(),
                hash = %self.stats.hash(),
                "Plugin recovered; calling it again."
            );
        }
    }

    fn process(&mut self, batch: &Batch) -> Outcome {
        if self.breaker.gate(Instant::now()) == Gate::Open {
            let _ = self.stats.bypassed.fetch_add(1, Relaxed);
            return Outcome::Failed { error: None };
        }
        let _ = self.stats.calls.fetch_add(1, Relaxed);
        let result = self.fresh_instance().and_then(|i| i.process(batch));
        match result {
            Ok(p) => {
                if p.logs_dropped > 0 {
                    let _ = self
                        .stats
                        .logs_dropped
                        .fetch_add(u64::from(p.logs_dropped), Relaxed);
                }
                self.succeeded();
                self.canary_passed();
                Outcome::Processed(p)
            }
            Err(e @ CallError::Data(_)) => Outcome::Failed { error: Some(e) },
            Err(e) if self.roll_back(&e) => self.process(batch),
            Err(e) => {
                self.failed(&e, batch.items());
                Outcome::Failed { error: Some(e) }
            }
        }
    }

    fn tick(&mut self) -> Vec<MetricPoint> {
        if self.breaker.gate(Instant::now()) == Gate::Open {
            return Vec::new();
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let now = i64::try_from(now.as_nanos()).unwrap_or(i64::MAX);
        match self.fresh_instance().and_then(|i| i.tick(now)) {
            Ok(points) => {
                self.succeeded();
                points
            }
            Err(e) if self.roll_back(&e) => self.tick(),
            Err(e) => {
                self.failed(&e, 0);
                Vec::new()
            }
        }
    }
}

/// A job for the node's thread.
pub(crate) enum Job {
    Process(Batch, Box<dyn FnOnce(Outcome) + Send>),
    Tick(Box<dyn FnOnce(Vec<MetricPoint>) + Send>),
    /// A hot reload's new version, swapped in between two batches.
    Swap(Box<Candidate>, Box<dyn FnOnce(PluginReload) + Send>),
}

/// The node's own thread, where its plugin instance lives and runs.
///
/// Plugin calls are synchronous and may take up to the call's deadline:
/// they do not belong on a tokio worker, and wasmtime-wasi's synchronous
/// WASI (a plugin writing to stderr, as a panic does) must not run inside
/// a tokio runtime's worker. The thread enters a small current-thread
/// runtime of its own for that WASI.
struct Worker {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl Worker {
    /// Starts the thread and, on it, the plugin's instances.
    fn start(mut core: Core) -> Result<Worker, CallError> {
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let name = format!("weir-wasm-{}", core.node);
        let spawned = std::thread::Builder::new().name(name).spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = started_tx.send(Err(CallError::Trap {
                        message: format!("cannot start the plugin thread's runtime: {e}"),
                    }));
                    return;
                }
            };
            let _entered = runtime.enter();
            let started = core.start();
            let ok = started.is_ok();
            let _ = started_tx.send(started);
            if !ok {
                return;
            }
            while let Ok(job) = rx.recv() {
                match job {
                    Job::Process(batch, reply) => reply(core.process(&batch)),
                    Job::Tick(reply) => reply(core.tick()),
                    Job::Swap(candidate, reply) => reply(core.swap(*candidate)),
                }
            }
        });
        if let Err(e) = spawned {
            return Err(CallError::Trap {
                message: format!("cannot start the plugin thread: {e}"),
            });
        }
        match started_rx.recv() {
            Ok(Ok(())) => Ok(Worker { jobs }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(CallError::Trap {
                message: "the plugin thread ended while starting".to_string(),
            }),
        }
    }

    fn send(&self, job: Job) -> bool {
        self.jobs.send(job).is_ok()
    }
}

fn gone() -> Outcome {
    Outcome::Failed {
        error: Some(CallError::Trap {
            message: "the plugin thread is gone".to_string(),
        }),
    }
}

/// The running node.
pub struct WasmProcessor {
    node: String,
    plugin: Plugin,
    on_error: OnError,
    tick: Option<std::time::Duration>,
    /// Whether processed batches go on (else only emitted metric points).
    forward: bool,
    worker: Worker,
    stats: Arc<PluginStats>,
    telemetry: Arc<PluginTelemetry>,
    reloader: PluginReloader,
}

impl std::fmt::Debug for WasmProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmProcessor")
            .field("node", &self.node)
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

impl WasmProcessor {
    /// The node's plugin counters.
    pub fn stats(&self) -> &Arc<PluginStats> {
        &self.stats
    }

    /// The plugin's own counters and histograms.
    pub fn telemetry(&self) -> &Arc<PluginTelemetry> {
        &self.telemetry
    }

    /// The plugin it was built with.
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    /// The handle that hot-reloads its plugin.
    pub fn reloader(&self) -> &PluginReloader {
        &self.reloader
    }

    /// Hands one batch to the plugin and waits for the outcome (blocking
    /// the calling thread for at most the call's deadline).
    pub fn process(&mut self, batch: &Batch) -> Outcome {
        let (tx, rx) = std::sync::mpsc::channel();
        let reply = Box::new(move |o| {
            let _ = tx.send(o);
        });
        if !self.worker.send(Job::Process(batch.clone(), reply)) {
            return gone();
        }
        rx.recv().unwrap_or_else(|_| gone())
    }

    /// Hands one batch to the plugin without blocking the task.
    pub async fn process_async(&self, batch: &Batch) -> Outcome {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let reply = Box::new(move |o| {
            let _ = tx.send(o);
        });
        if !self.worker.send(Job::Process(batch.clone(), reply)) {
            return gone();
        }
        rx.await.unwrap_or_else(|_| gone())
    }

    /// Calls the plugin's `tick`; the points it returns.
    pub async fn tick_async(&self) -> Vec<MetricPoint> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let reply = Box::new(move |p| {
            let _ = tx.send(p);
        });
        if !self.worker.send(Job::Tick(reply)) {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// The metrics batch of points the plugin emitted, if any.
    fn metrics_batch(&self, ctx: &ProcessorContext, points: Vec<MetricPoint>) -> Option<Message> {
        if points.is_empty() {
            return None;
        }
        match emit::to_batch(&self.node, self.plugin.name(), points) {
            Ok(batch) => Some(Message::new(batch)),
            Err(e) => {
                ctx.metrics.record_error();
                tracing::error!(node = %self.node, error = %e, "Could not encode the plugin's metric points.");
                None
            }
        }
    }

    async fn handle(&self, ctx: &ProcessorContext, msg: Message) -> Result<(), ()> {
        if !msg.batch.signal().has_otlp() {
            // Profiles are not part of the plugin ABI (wit/): they pass
            // through unchanged (unless the node forwards nothing).
            if !self.forward {
                return Ok(());
            }
            return ctx.output.send(msg).await.map_err(|_| ());
        }
        let start = Instant::now();
        let items = msg.batch.items();
        let outcome = self.process_async(&msg.batch).await;
        ctx.metrics.record_latency(start.elapsed());
        match outcome {
            Outcome::Processed(p) => {
                let emitted = self.metrics_batch(ctx, p.metrics);
                if self.forward {
                    let kept = p.batch.items();
                    if kept < items {
                        ctx.metrics.record_dropped(items - kept);
                    }
                    if (kept > 0 || items == 0) && ctx.output.send(msg.map(p.batch)).await.is_err()
                    {
                        return Err(());
                    }
                }
                if let Some(m) = emitted {
                    let _ = ctx.output.send(m).await;
                }
            }
            Outcome::Failed {
                error: Some(CallError::Data(e)),
            } => {
                ctx.metrics.record_error();
                ctx.metrics.record_failed(items);
                tracing::warn!(node = %self.node, error = %e, items, "Batch failed in processor.");
                msg.fail(&format!("processor {}: {e}", self.node));
            }
            Outcome::Failed { error } => {
                if error.is_some() {
                    ctx.metrics.record_error();
                }
                match self.on_error {
                    OnError::Pass if !self.forward => {}
                    OnError::Pass => {
                        if ctx.output.send(msg).await.is_err() {
                            return Err(());
                        }
                    }
                    OnError::Drop => ctx.metrics.record_dropped(items),
                    OnError::DeadLetter => match &ctx.dead_letter {
                        Some(dl) => {
                            ctx.metrics.record_failed(items);
                            tracing::warn!(node = %self.node, items, "Plugin failed on a batch; sending it to the dead-letter exporter.");
                            if dl.send(msg).await.is_err() {
                                ctx.metrics.record_dropped(items);
                            }
                        }
                        None => {
                            // Validation requires a `dead-letter`; a node
                            // run without one (tests) drops.
                            ctx.metrics.record_dropped(items);
                        }
                    },
                }
            }
        }
        Ok(())
    }
}

impl Processor for WasmProcessor {
    fn reloader(&self) -> Option<Arc<dyn Reloadable>> {
        Some(Arc::new(self.reloader.clone()))
    }

    fn run(self: Box<Self>, mut ctx: ProcessorContext) -> BoxFuture<Result<(), NodeError>> {
        let node = *self;
        Box::pin(async move {
            let period = node.tick;
            let mut ticker = period.map(|p| {
                let mut t = tokio::time::interval_at(tokio::time::Instant::now() + p, p);
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                t
            });
            loop {
                let msg = match ticker.as_mut() {
                    Some(t) => tokio::select! {
                        m = ctx.input.recv() => m,
                        _ = t.tick() => {
                            let points = node.tick_async().await;
                            if let Some(m) = node.metrics_batch(&ctx, points) {
                                let _ = ctx.output.send(m).await;
                            }
                            continue;
                        }
                    },
                    None => ctx.input.recv().await,
                };
                let Some(msg) = msg else { break };
                if node.handle(&ctx, msg).await.is_err() {
                    break;
                }
            }
            if period.is_some() {
                // Flush what the plugin has windowed.
                let points = node.tick_async().await;
                if let Some(m) = node.metrics_batch(&ctx, points) {
                    let _ = ctx.output.send(m).await;
                }
            }
            Ok(())
        })
    }
}
