//! Building, running and stopping a pipeline.
//!
//! [`validate`] reads every node's configuration through the [`Registry`]
//! (pure, all errors at once). [`start`] builds every node (binding sockets,
//! opening files — failures become diagnostics too), wires bounded channels
//! from each node to the nodes that name it in `from`, and spawns one task
//! per node. [`RunningPipeline::shutdown`] stops the receivers and waits, up
//! to a deadline, for everything downstream to drain.
//! [`RunningPipeline::reload`] applies a new validated pipeline to the
//! running one, touching only the nodes that differ (`apply.rs`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use weir_config::{ConfigError, ErrorCode, NodeDecl, NodeKind, Pipeline};

use crate::error::{EngineError, NodeError};
use crate::memory::MemoryLimit;
use crate::metrics::MetricsRegistry;
use crate::queue::{self, QueueConfig};
use crate::registry::{Builder, Registry};
use crate::reload::{NodeReload, Reloadable};

mod apply;

use apply::NodeHandle;

/// A pipeline whose every node configuration is valid.
pub struct ValidatedPipeline {
    /// The parsed pipeline.
    pub pipeline: Pipeline,
    /// Each node's builder and, for exporters, its persistent queue.
    builders: Vec<(Box<dyn Builder>, Option<QueueConfig>)>,
    registry: Registry,
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
    Ok(ValidatedPipeline {
        pipeline,
        builders,
        registry: registry.clone(),
    })
}

/// A running pipeline.
pub struct RunningPipeline {
    receivers: JoinSet<(String, Result<(), NodeError>)>,
    downstream: JoinSet<(String, Result<(), NodeError>)>,
    /// Every node's counters.
    pub metrics: MetricsRegistry,
    /// Settings of the pipeline (as started: settings apply at start only).
    pub settings: weir_config::Settings,
    /// The running nodes' declarations, in the order written.
    decls: Vec<NodeDecl>,
    /// The running nodes by name.
    nodes: HashMap<String, NodeHandle>,
    registry: Registry,
    base_dir: PathBuf,
    /// The pipeline's `memory-limit`, reserved by receivers' outputs.
    memory: Option<MemoryLimit>,
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
    let mut running = RunningPipeline {
        receivers: JoinSet::new(),
        downstream: JoinSet::new(),
        metrics: MetricsRegistry::default(),
        settings: validated.pipeline.settings.clone(),
        decls: Vec::new(),
        nodes: HashMap::new(),
        registry: validated.registry.clone(),
        base_dir,
        memory: None,
    };
    running.memory = running
        .settings
        .memory_limit
        .map(|l| MemoryLimit::new(usize::try_from(l).unwrap_or(usize::MAX)));
    if let Some(m) = running.memory.clone() {
        running
            .metrics
            .add_collector("memory", Arc::new(move |out: &mut String| m.render(out)));
    }
    let nodes = validated.pipeline.nodes.len();
    let mut plan = running.plan(validated)?;
    running.build_receivers(&mut plan, &[])?;
    let _ = running.commit(plan);
    tracing::info!(nodes, "Pipeline started.");
    Ok(running)
}

impl RunningPipeline {
    /// Waits until a node stops on its own (on an error, or a node a reload
    /// removed or replaced) and returns its name and result.
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

    /// The nodes that can swap their code while running, by name.
    pub fn reloadables(&self) -> Vec<(String, Arc<dyn Reloadable>)> {
        self.decls
            .iter()
            .filter_map(|d| {
                let h = self.nodes.get(&d.id.value)?;
                Some((d.id.value.clone(), h.reloader.clone()?))
            })
            .collect()
    }

    /// Asks every plugin node to re-read its code and swap it if it
    /// changed (see [`Reloadable`]).
    pub async fn reload_plugins(&self) -> Vec<NodeReload> {
        let mut out = Vec::new();
        for (node, r) in self.reloadables() {
            let outcome = r.reload().await;
            out.push(NodeReload { node, outcome });
        }
        out
    }

    /// The running declaration of the pipeline.
    pub fn declarations(&self) -> &[NodeDecl] {
        &self.decls
    }

    /// Stops the receivers, then waits up to `deadline` for every processor
    /// and exporter to drain its queue and flush.
    pub async fn shutdown(mut self, deadline: Duration) -> ShutdownReport {
        for h in self.nodes.values() {
            if let Some(stop) = &h.stop {
                let _ = stop.send(true);
            }
        }
        // The engine's handles must not keep anything open.
        self.nodes.clear();
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
