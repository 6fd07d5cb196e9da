//! Building, running and stopping a pipeline.
//!
//! [`validate`] reads every node's configuration through the [`Registry`]
//! (pure, all errors at once). [`start`] builds every node (binding sockets,
//! opening files — failures become diagnostics too), wires bounded channels
//! from each node to the nodes that name it in `from`, and spawns one task
//! per node. [`RunningPipeline::shutdown`] stops the receivers and waits, up
//! to a deadline, for everything downstream to drain.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use weir_config::{ConfigError, ErrorCode, NodeKind, Pipeline};

use crate::channel::{Input, Output};
use crate::error::{EngineError, NodeError};
use crate::message::Message;
use crate::metrics::MetricsRegistry;
use crate::node::{ExporterContext, ProcessorContext, ReceiverContext, Shutdown};
use crate::registry::{BuildContext, Builder, Built, Registry};

/// A pipeline whose every node configuration is valid.
pub struct ValidatedPipeline {
    /// The parsed pipeline.
    pub pipeline: Pipeline,
    builders: Vec<Box<dyn Builder>>,
}

impl std::fmt::Debug for ValidatedPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidatedPipeline")
            .field("nodes", &self.pipeline.nodes.len())
            .finish()
    }
}

/// Reads every node's configuration with its component.
///
/// # Errors
/// Every problem of every node (unknown types, bad properties) at once.
pub fn validate(
    pipeline: Pipeline,
    registry: &Registry,
) -> Result<ValidatedPipeline, weir_config::Diagnostics> {
    validate_with(pipeline, Vec::new(), registry)
}

/// [`validate`], adding the errors already found in the file's shape (from
/// [`weir_config::parse_partial`]) so that all are reported together.
///
/// # Errors
/// Every problem of the file at once.
pub fn validate_with(
    pipeline: Pipeline,
    prior: Vec<ConfigError>,
    registry: &Registry,
) -> Result<ValidatedPipeline, weir_config::Diagnostics> {
    let mut errors = prior;
    let mut builders = Vec::new();
    if !pipeline.nodes.iter().any(|n| n.kind == NodeKind::Receiver) {
        errors.push(
            ConfigError::new(ErrorCode::Unconnected, "the pipeline has no receiver")
                .help("add a `receiver \"name\" type=\"otlp\"` node"),
        );
    }
    for decl in &pipeline.nodes {
        let Some(component) = registry.get(decl.kind, &decl.type_name.value) else {
            let known = registry.names(decl.kind);
            errors.push(
                ConfigError::new(
                    ErrorCode::UnknownType,
                    format!(
                        "unknown {} type {:?}",
                        decl.kind.as_str(),
                        decl.type_name.value
                    ),
                )
                .at(decl.type_name.span, "no component has this type")
                .help(format!(
                    "{} types are: {}",
                    decl.kind.as_str(),
                    known.join(", ")
                )),
            );
            continue;
        };
        if decl.kind != NodeKind::Exporter && pipeline.consumers(&decl.id.value).next().is_none() {
            errors.push(
                ConfigError::new(
                    ErrorCode::Unconnected,
                    format!("nothing reads from {}", decl.context()),
                )
                .at(decl.id.span, "its output goes nowhere")
                .help(format!(
                    "add `from {:?}` to an exporter or processor",
                    decl.id.value
                )),
            );
        }
        let mut node_errors = Vec::new();
        let mut reader = decl.reader(&mut node_errors);
        let builder = (component.validate)(&mut reader);
        reader.finish();
        if node_errors.is_empty()
            && let Some(b) = builder
        {
            builders.push(b);
        }
        errors.extend(node_errors);
    }
    if !errors.is_empty() {
        return Err(pipeline.diagnostics(errors));
    }
    Ok(ValidatedPipeline { pipeline, builders })
}

/// A running pipeline.
pub struct RunningPipeline {
    shutdown_tx: watch::Sender<bool>,
    receivers: JoinSet<(String, Result<(), NodeError>)>,
    downstream: JoinSet<(String, Result<(), NodeError>)>,
    /// Every node's counters.
    pub metrics: MetricsRegistry,
    /// Settings of the pipeline.
    pub settings: weir_config::Settings,
}

/// How a shutdown went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Whether every node finished draining before the deadline.
    pub drained: bool,
    /// Nodes still running at the deadline (aborted).
    pub aborted: Vec<String>,
    /// Nodes that ended with an error, with the error.
    pub failed: Vec<(String, String)>,
}

/// Builds every node and starts the pipeline.
///
/// # Errors
/// [`EngineError::Config`] with a diagnostic per node that could not be built.
pub fn start(
    validated: ValidatedPipeline,
    base_dir: PathBuf,
) -> Result<RunningPipeline, EngineError> {
    let ValidatedPipeline { pipeline, builders } = validated;
    let metrics = MetricsRegistry::default();
    let capacity = pipeline.settings.channel_capacity;

    // Build everything first, so a failure leaves nothing running.
    let mut built = Vec::new();
    let mut errors = Vec::new();
    for (decl, builder) in pipeline.nodes.iter().zip(builders) {
        let ctx = BuildContext {
            id: &decl.id.value,
            metrics: &metrics,
            base_dir: base_dir.clone(),
        };
        match builder.build(&ctx) {
            Ok(b) => built.push((decl, b)),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(EngineError::Config(pipeline.diagnostics(errors)));
    }

    // One input channel per processor and exporter.
    let mut inputs: HashMap<&str, (mpsc::Sender<Message>, mpsc::Receiver<Message>)> =
        HashMap::new();
    for decl in &pipeline.nodes {
        if decl.kind != NodeKind::Receiver {
            let _ = inputs.insert(decl.id.value.as_str(), mpsc::channel(capacity));
        }
    }
    let senders_for = |id: &str| -> Vec<mpsc::Sender<Message>> {
        pipeline
            .consumers(id)
            .filter_map(|c| inputs.get(c.id.value.as_str()).map(|(tx, _)| tx.clone()))
            .collect()
    };
    let mut outputs: HashMap<String, Vec<mpsc::Sender<Message>>> = HashMap::new();
    for decl in &pipeline.nodes {
        if decl.kind != NodeKind::Exporter {
            let _ = outputs.insert(decl.id.value.clone(), senders_for(&decl.id.value));
        }
    }
    // Drop the engine's own senders so that channels close when upstream
    // nodes finish.
    let mut receivers_of_inputs: HashMap<String, mpsc::Receiver<Message>> = inputs
        .into_iter()
        .map(|(id, (_tx, rx))| (id.to_string(), rx))
        .collect();

    let (shutdown_tx, shutdown) = Shutdown::new();
    let mut receivers = JoinSet::new();
    let mut downstream = JoinSet::new();
    for (decl, node) in built {
        let id = decl.id.value.clone();
        let m = metrics.node(&id, decl.kind.as_str(), &decl.type_name.value);
        match node {
            Built::Receiver(r) => {
                let ctx = ReceiverContext {
                    id: id.clone(),
                    output: Output::new(outputs.remove(&id).unwrap_or_default(), m.clone()),
                    shutdown: shutdown.clone(),
                    metrics: m,
                };
                let _ = receivers.spawn(async move { (id, r.run(ctx).await) });
            }
            Built::Processor(p) => {
                let Some(rx) = receivers_of_inputs.remove(&id) else {
                    continue;
                };
                let ctx = ProcessorContext {
                    id: id.clone(),
                    input: Input::new(rx, m.clone()),
                    output: Output::new(outputs.remove(&id).unwrap_or_default(), m.clone()),
                    metrics: m,
                };
                let _ = downstream.spawn(async move { (id, p.run(ctx).await) });
            }
            Built::Exporter(e) => {
                let Some(rx) = receivers_of_inputs.remove(&id) else {
                    continue;
                };
                let ctx = ExporterContext {
                    id: id.clone(),
                    input: Input::new(rx, m.clone()),
                    metrics: m,
                };
                let _ = downstream.spawn(async move { (id, e.run(ctx).await) });
            }
        }
    }
    tracing::info!(nodes = pipeline.nodes.len(), "Pipeline started.");
    Ok(RunningPipeline {
        shutdown_tx,
        receivers,
        downstream,
        metrics,
        settings: pipeline.settings.clone(),
    })
}

impl RunningPipeline {
    /// Waits until a node stops on its own (which only happens on an error)
    /// and returns its name and result.
    pub async fn wait_node_exit(&mut self) -> (String, Result<(), NodeError>) {
        tokio::select! {
            Some(r) = self.receivers.join_next() => flatten(r),
            Some(r) = self.downstream.join_next() => flatten(r),
            else => std::future::pending().await,
        }
    }

    /// Receivers still running (a `generate` receiver with a `count` ends by
    /// itself; when none is left, nothing more can arrive).
    pub fn receivers_running(&self) -> usize {
        self.receivers.len()
    }

    /// Stops the receivers, then waits up to `deadline` for every processor
    /// and exporter to drain its queue and flush.
    pub async fn shutdown(mut self, deadline: Duration) -> ShutdownReport {
        let _ = self.shutdown_tx.send(true);
        let mut failed = Vec::new();
        let until = tokio::time::Instant::now() + deadline;
        let mut aborted = Vec::new();
        for set in [&mut self.receivers, &mut self.downstream] {
            loop {
                match tokio::time::timeout_at(until, set.join_next()).await {
                    Ok(Some(r)) => {
                        let (id, res) = flatten(r);
                        if let Err(e) = res {
                            failed.push((id, e.to_string()));
                        }
                    }
                    Ok(None) => break,
                    Err(_) => {
                        aborted.push(format!("{} node(s)", set.len()));
                        set.abort_all();
                        break;
                    }
                }
            }
        }
        ShutdownReport {
            drained: aborted.is_empty(),
            aborted,
            failed,
        }
    }
}

fn flatten(
    r: Result<(String, Result<(), NodeError>), tokio::task::JoinError>,
) -> (String, Result<(), NodeError>) {
    match r {
        Ok(x) => x,
        Err(e) => (
            "?".to_string(),
            Err(NodeError::Internal(format!("node task panicked: {e}"))),
        ),
    }
}

/// Shared readiness: set once the pipeline runs, cleared at shutdown.
#[derive(Clone, Default, Debug)]
pub struct Readiness(Arc<std::sync::atomic::AtomicBool>);

impl Readiness {
    /// Marks ready or not.
    pub fn set(&self, ready: bool) {
        self.0.store(ready, std::sync::atomic::Ordering::SeqCst);
    }
    /// Whether ready.
    pub fn get(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}
