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
use crate::memory::MemoryLimit;
use crate::message::Message;
use crate::metrics::MetricsRegistry;
use crate::node::{Exporter, ExporterContext, ProcessorContext, ReceiverContext, Shutdown};
use crate::queue::{self, DeadLetter, PersistentQueue, QueueConfig};
use crate::registry::{BuildContext, Builder, Built, Registry};

/// A pipeline whose every node configuration is valid.
pub struct ValidatedPipeline {
    /// The parsed pipeline.
    pub pipeline: Pipeline,
    /// Each node's builder and, for exporters, its persistent queue.
    builders: Vec<(Box<dyn Builder>, Option<QueueConfig>)>,
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
        let queue = if decl.kind == NodeKind::Exporter {
            reader.block("queue", queue::read)
        } else {
            None
        };
        let builder = (component.validate)(&mut reader);
        reader.finish();
        if node_errors.is_empty()
            && let Some(b) = builder
        {
            builders.push((b, queue));
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
    for (decl, (builder, queue_config)) in pipeline.nodes.iter().zip(builders) {
        let ctx = BuildContext {
            id: &decl.id.value,
            metrics: &metrics,
            base_dir: base_dir.clone(),
        };
        let queue = match &queue_config {
            Some(q) => {
                let dir = q.dir(&base_dir, &decl.id.value);
                match PersistentQueue::open(&decl.id.value, &dir, q, &metrics) {
                    Ok((queue, _)) => Some(queue),
                    Err(e) => {
                        let mut err = ConfigError::new(
                            ErrorCode::Build,
                            format!(
                                "cannot open the persistent queue of {}: {e}",
                                decl.context()
                            ),
                        );
                        err = match &q.path {
                            Some(p) => err.at(p.span, "this directory"),
                            None => err.at(decl.id.span, format!("its queue is {}", dir.display())),
                        };
                        errors.push(err.help("give the queue a `path` weir can write to"));
                        continue;
                    }
                }
            }
            None => None,
        };
        match builder.build(&ctx) {
            Ok(b) => built.push((decl, b, queue)),
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
    let mut node_metrics: HashMap<String, Arc<crate::metrics::NodeMetrics>> = HashMap::new();
    for decl in &pipeline.nodes {
        let _ = node_metrics.insert(
            decl.id.value.clone(),
            metrics.node(&decl.id.value, decl.kind.as_str(), &decl.type_name.value),
        );
    }
    // Exporters that take another exporter's failures: senders of their
    // inputs, handed to the exporters that name them.
    let mut dead_letters: HashMap<String, Output> = HashMap::new();
    for decl in &pipeline.nodes {
        let Some(target) = &decl.dead_letter else {
            continue;
        };
        if let (Some((tx, _)), Some(m)) = (
            inputs.get(target.value.as_str()),
            node_metrics.get(&decl.id.value),
        ) {
            let _ = dead_letters.insert(
                decl.id.value.clone(),
                Output::new(vec![tx.clone()], m.clone()),
            );
        }
    }
    // Drop the engine's own senders so that channels close when upstream
    // nodes finish.
    let mut receivers_of_inputs: HashMap<String, mpsc::Receiver<Message>> = inputs
        .into_iter()
        .map(|(id, (_tx, rx))| (id.to_string(), rx))
        .collect();
    let memory = pipeline
        .settings
        .memory_limit
        .map(|l| MemoryLimit::new(usize::try_from(l).unwrap_or(usize::MAX)));
    if let Some(m) = &memory {
        let m = m.clone();
        metrics.add_collector("memory", Arc::new(move |out: &mut String| m.render(out)));
    }

    let (shutdown_tx, shutdown) = Shutdown::new();
    let mut receivers = JoinSet::new();
    let mut downstream = JoinSet::new();
    for (decl, node, queue) in built {
        let id = decl.id.value.clone();
        let Some(m) = node_metrics.get(&id).cloned() else {
            continue;
        };
        match node {
            Built::Receiver(r) => {
                let ctx = ReceiverContext {
                    id: id.clone(),
                    output: Output::new(outputs.remove(&id).unwrap_or_default(), m.clone())
                        .with_memory_limit(memory.clone()),
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
                let dead_letter = dead_letters.remove(&id);
                let e: Box<dyn Exporter> = match (queue, dead_letter) {
                    (Some(q), dl) => q.into_exporter(e, dl),
                    (None, Some(dl)) => DeadLetter::wrap(e, dl),
                    (None, None) => e,
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
