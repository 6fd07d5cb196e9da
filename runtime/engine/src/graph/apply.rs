//! Applying a validated pipeline to the running one: start (from nothing)
//! and reload share this code.
//!
//! 1. *Plan*: diff by node name ([`crate::reload::diff`]) and build every
//!    added or changed processor and exporter while the old pipeline keeps
//!    running. A build failure refuses the reload: nothing was touched.
//! 2. *Receivers*: receivers that are removed or changed are stopped first
//!    (a changed one may want its own port back), then added and changed
//!    receivers are built. If that fails, the stopped receivers are built
//!    again from their old declarations and the reload is refused.
//! 3. *Commit*: new input channels for added and changed nodes, every
//!    output's routing table rewired to the new consumers, new nodes
//!    spawned. A replaced node starts only once the old one has drained
//!    its queue (order is kept; the queue in between is bounded, so the
//!    upstream waits rather than anything being dropped). A removed node's
//!    input closes when no routing table points at it any more; it drains
//!    and ends by itself.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Weak};

use tokio::sync::{mpsc, watch};
use weir_config::{ConfigError, ErrorCode, NodeDecl, NodeKind, Pipeline};

use super::{RunningPipeline, ValidatedPipeline};
use crate::channel::{Input, Output, Routes};
use crate::error::EngineError;
use crate::message::Message;
use crate::metrics::NodeMetrics;
use crate::node::{Exporter, ExporterContext, ProcessorContext, ReceiverContext, Shutdown};
use crate::queue::{DeadLetter, PersistentQueue};
use crate::registry::{BuildContext, Builder, Built};
use crate::reload::{Diff, PipelineChanges, Reloadable, consumers_of, diff};

/// What the engine keeps of a running node: weak handles only, so that it
/// never holds a channel open.
pub(crate) struct NodeHandle {
    kind: NodeKind,
    /// The sending side of its input (processors and exporters).
    input: Option<mpsc::WeakSender<Message>>,
    /// Its output's routing table (receivers and processors).
    routes: Weak<Routes>,
    /// The sender each consumer is reached through (its input, or a
    /// forwarder in front of it).
    edges: HashMap<String, mpsc::WeakSender<Message>>,
    /// Its own stop signal (receivers).
    pub(super) stop: Option<watch::Sender<bool>>,
    /// Becomes `true` when its task has ended.
    done: watch::Receiver<bool>,
    /// Its code swap handle (plugins).
    pub(super) reloader: Option<Arc<dyn Reloadable>>,
    metrics: Arc<NodeMetrics>,
}

/// A reload prepared: every new node built, nothing running touched yet.
pub(super) struct Plan {
    pipeline: Pipeline,
    diff: Diff,
    built: Vec<(String, Built)>,
    /// Receivers to build after the old ones are stopped.
    receivers: Vec<(String, Box<dyn Builder>)>,
    /// Every running node's input, held open while the reload runs: a
    /// node whose upstream stops or is rewired must not see its input
    /// close in between.
    held: HashMap<String, mpsc::Sender<Message>>,
    /// The persistent queues of the new exporters, opened (and replayed).
    queues: HashMap<String, PersistentQueue>,
}

impl RunningPipeline {
    fn build(&self, id: &str, builder: Box<dyn Builder>) -> Result<Built, ConfigError> {
        let ctx = BuildContext {
            id,
            metrics: &self.metrics,
            base_dir: self.base_dir.clone(),
        };
        builder.build(&ctx)
    }

    /// Step 1: diff and build the new processors and exporters.
    pub(super) fn plan(&mut self, validated: ValidatedPipeline) -> Result<Plan, EngineError> {
        let ValidatedPipeline {
            pipeline, builders, ..
        } = validated;
        let diff = diff(&self.decls, &pipeline);
        let held = self
            .nodes
            .iter()
            .filter_map(|(id, h)| Some((id.clone(), h.input.as_ref()?.upgrade()?)))
            .collect();
        let mut built = Vec::new();
        let mut receivers = Vec::new();
        let mut errors = Vec::new();
        let mut queues = HashMap::new();
        for (decl, (builder, queue)) in pipeline.nodes.iter().zip(builders) {
            let id = &decl.id.value;
            if diff.unchanged.contains(id) {
                continue;
            }
            if decl.kind == NodeKind::Receiver {
                receivers.push((id.clone(), builder));
                continue;
            }
            if let Some(q) = &queue {
                // Two writers must never share a queue's directory: the
                // running exporter keeps it until it has drained, so a
                // changed exporter with a queue waits for a restart.
                if self.nodes.contains_key(id) {
                    errors.push(
                        ConfigError::new(
                            ErrorCode::Build,
                            format!(
                                "{} has a persistent queue and cannot be changed by a reload",
                                decl.context()
                            ),
                        )
                        .at(decl.id.span, "changed while running")
                        .help("restart weir to change an exporter that has a `queue`"),
                    );
                    continue;
                }
                let dir = q.dir(&self.base_dir, id);
                match PersistentQueue::open(id, &dir, q, &self.metrics) {
                    Ok((queue, _)) => {
                        let _ = queues.insert(id.clone(), queue);
                    }
                    Err(e) => {
                        let err = ConfigError::new(
                            ErrorCode::Build,
                            format!(
                                "cannot open the persistent queue of {}: {e}",
                                decl.context()
                            ),
                        );
                        let err = match &q.path {
                            Some(p) => err.at(p.span, "this directory"),
                            None => err.at(decl.id.span, format!("its queue is {}", dir.display())),
                        };
                        errors.push(err.help("give the queue a `path` weir can write to"));
                        continue;
                    }
                }
            }
            match self.build(id, builder) {
                Ok(b) => built.push((id.clone(), b)),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(EngineError::Config(pipeline.diagnostics(errors)));
        }
        Ok(Plan {
            pipeline,
            diff,
            built,
            receivers,
            held,
            queues,
        })
    }

    /// Receivers that the plan replaces or removes.
    fn receivers_to_stop(&self, plan: &Plan) -> Vec<String> {
        self.decls
            .iter()
            .filter(|d| d.kind == NodeKind::Receiver)
            .map(|d| d.id.value.clone())
            .filter(|id| plan.diff.removed.contains(id) || plan.diff.changed.contains(id))
            .collect()
    }

    /// Step 2: stop the receivers that go, build the ones that come; on a
    /// failure bring the stopped ones back and refuse.
    pub(super) async fn swap_receivers(&mut self, plan: &mut Plan) -> Result<(), EngineError> {
        let stopping = self.receivers_to_stop(plan);
        for id in &stopping {
            if let Some(stop) = self.nodes.get(id).and_then(|h| h.stop.as_ref()) {
                let _ = stop.send(true);
            }
        }
        for id in &stopping {
            let Some(mut done) = self.nodes.get(id).map(|h| h.done.clone()) else {
                continue;
            };
            let wait = done.wait_for(|d| *d);
            if tokio::time::timeout(self.settings.shutdown_timeout, wait)
                .await
                .is_err()
            {
                tracing::warn!(node = %id, "Receiver did not stop in time for the reload.");
            }
        }
        self.build_receivers(plan, &stopping)
    }

    /// Builds the plan's receivers (synchronously: at start nothing needs
    /// to stop first).
    pub(super) fn build_receivers(
        &mut self,
        plan: &mut Plan,
        stopped: &[String],
    ) -> Result<(), EngineError> {
        let mut errors = Vec::new();
        for (id, builder) in std::mem::take(&mut plan.receivers) {
            match self.build(&id, builder) {
                Ok(b) => plan.built.push((id, b)),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            return Ok(());
        }
        let diags = plan.pipeline.diagnostics(errors);
        self.restore_receivers(stopped, &plan.held);
        Err(EngineError::Config(diags))
    }

    /// Builds stopped receivers again from their running declarations.
    fn restore_receivers(
        &mut self,
        stopped: &[String],
        held: &HashMap<String, mpsc::Sender<Message>>,
    ) {
        for id in stopped {
            let Some(decl) = self.decls.iter().find(|d| &d.id.value == id).cloned() else {
                continue;
            };
            let Some(component) = self.registry.get(decl.kind, &decl.type_name.value) else {
                continue;
            };
            let mut errors = Vec::new();
            let mut reader = decl.reader(&mut errors);
            let builder = (component.validate)(&mut reader);
            reader.finish();
            let built = builder
                .ok_or(())
                .and_then(|b| self.build(id, b).map_err(|_| ()));
            match built {
                Ok(Built::Receiver(r)) => {
                    let senders = self.senders_for(&consumers_of(&self.decls, id), held);
                    let routes = Routes::new(senders);
                    let metrics = self.node_metrics(&decl, true);
                    self.spawn_receiver(id, r, routes, metrics);
                    tracing::info!(node = %id, "Receiver restored after a refused reload.");
                }
                _ => {
                    tracing::error!(node = %id, "Receiver could not be restored after a refused reload.")
                }
            }
        }
    }

    /// The input senders of `consumers` in `inputs` (new channels or the
    /// held inputs of running nodes).
    fn senders_for(
        &self,
        consumers: &[String],
        inputs: &HashMap<String, mpsc::Sender<Message>>,
    ) -> Vec<mpsc::Sender<Message>> {
        consumers
            .iter()
            .filter_map(|c| inputs.get(c).cloned())
            .collect()
    }

    /// The nodes a new edge `from -> to` must wait for: when `to` keeps
    /// running and some of its old upstream nodes are removed or replaced,
    /// what they still hold must reach `to` before anything on the new
    /// edge, or order would break (an upstream that used to go through a
    /// removed processor and now feeds its consumer directly).
    fn gates(&self, from: &str, to: &str, diff: &Diff) -> Vec<watch::Receiver<bool>> {
        if !diff.unchanged.contains(to) {
            return Vec::new();
        }
        let Some(old) = self.decls.iter().find(|d| d.id.value == to) else {
            return Vec::new();
        };
        if old.from.iter().any(|f| f.value == from) {
            return Vec::new();
        }
        old.from
            .iter()
            .filter(|f| diff.removed.contains(&f.value) || diff.changed.contains(&f.value))
            .filter_map(|f| self.nodes.get(&f.value).map(|h| h.done.clone()))
            .collect()
    }

    /// The node's counters: the running node's when it keeps its kind and
    /// type (counters stay monotonic across a replacement), else new ones.
    fn node_metrics(&self, decl: &NodeDecl, reuse: bool) -> Arc<NodeMetrics> {
        let id = &decl.id.value;
        if reuse
            && let Some(h) = self.nodes.get(id)
            && h.kind == decl.kind
            && h.metrics.type_name == decl.type_name.value
        {
            return h.metrics.clone();
        }
        if let Some(m) = self.metrics.get(id)
            && m.kind == decl.kind.as_str()
            && m.type_name == decl.type_name.value
        {
            return m;
        }
        self.metrics.remove(id);
        self.metrics
            .node(id, decl.kind.as_str(), &decl.type_name.value)
    }

    fn spawn_receiver(
        &mut self,
        id: &str,
        r: Box<dyn crate::node::Receiver>,
        routes: Arc<Routes>,
        metrics: Arc<NodeMetrics>,
    ) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let (done_tx, done) = watch::channel(false);
        let ctx = ReceiverContext {
            id: id.to_string(),
            output: Output::with_routes(routes.clone(), metrics.clone())
                .with_memory_limit(self.memory.clone()),
            shutdown: Shutdown::from_watch(stop_rx),
            metrics: metrics.clone(),
        };
        let name = id.to_string();
        let _ = self.receivers.spawn(async move {
            let r = r.run(ctx).await;
            let _ = done_tx.send(true);
            (name, r)
        });
        let _ = self.nodes.insert(
            id.to_string(),
            NodeHandle {
                kind: NodeKind::Receiver,
                input: None,
                routes: Arc::downgrade(&routes),
                edges: HashMap::new(),
                stop: Some(stop_tx),
                done,
                reloader: None,
                metrics,
            },
        );
    }

    /// Step 3: wire and spawn. Returns what changed.
    pub(super) fn commit(&mut self, plan: Plan) -> PipelineChanges {
        let Plan {
            pipeline,
            diff,
            built,
            held,
            mut queues,
            ..
        } = plan;
        let capacity = self.settings.channel_capacity;
        // New channels replace the held inputs of replaced nodes.
        let mut fresh_tx = held;
        let mut fresh_rx = HashMap::new();
        let mut fresh_weak: HashMap<String, mpsc::WeakSender<Message>> = HashMap::new();
        for (id, b) in &built {
            if !matches!(b, Built::Receiver(_)) {
                let (tx, rx) = mpsc::channel(capacity);
                let _ = fresh_weak.insert(id.clone(), tx.downgrade());
                let _ = fresh_tx.insert(id.clone(), tx);
                let _ = fresh_rx.insert(id.clone(), rx);
            }
        }
        // Rewire every output that stays.
        let mut rewired = BTreeSet::new();
        let mut fresh_routes = HashMap::new();
        let mut all_edges = HashMap::new();
        for decl in pipeline
            .nodes
            .iter()
            .filter(|d| d.kind != NodeKind::Exporter)
        {
            let id = &decl.id.value;
            let consumers = consumers_of(&pipeline.nodes, id);
            let mut senders = Vec::new();
            let mut edges = HashMap::new();
            for c in &consumers {
                // An edge that stays keeps its path (it may go through a
                // forwarder still holding batches): switching it would let
                // new batches overtake them.
                let kept = if fresh_weak.contains_key(c) {
                    None
                } else {
                    self.nodes
                        .get(id)
                        .and_then(|h| h.edges.get(c))
                        .and_then(mpsc::WeakSender::upgrade)
                };
                let tx = match kept {
                    Some(tx) => tx,
                    None => {
                        let gates = self.gates(id, c, &diff);
                        let Some(tx) = self.senders_for(std::slice::from_ref(c), &fresh_tx).pop()
                        else {
                            continue;
                        };
                        if gates.is_empty() {
                            tx
                        } else {
                            forwarder(tx, gates, capacity)
                        }
                    }
                };
                let _ = edges.insert(c.clone(), tx.downgrade());
                senders.push(tx);
            }
            let _ = all_edges.insert(id.clone(), edges);
            if diff.unchanged.contains(id) {
                let before = consumers_of(&self.decls, id);
                if before != consumers || consumers.iter().any(|c| fresh_weak.contains_key(c)) {
                    let _ = rewired.insert(id.clone());
                }
                if let Some(routes) = self.nodes.get(id).and_then(|h| h.routes.upgrade()) {
                    routes.set(senders);
                }
            } else {
                // A replaced node shares its predecessor's table (the old
                // one drains through it), else a new one.
                let routes = match self.nodes.get(id).and_then(|h| h.routes.upgrade()) {
                    Some(r) => {
                        r.set(senders);
                        r
                    }
                    None => Routes::new(senders),
                };
                let _ = fresh_routes.insert(id.clone(), routes);
            }
        }
        // Dead letters of the new exporters and processors: the input of
        // the exporter each names (new or running).
        let mut dead_letters: HashMap<String, mpsc::Sender<Message>> = HashMap::new();
        for (id, _) in &built {
            let target = pipeline
                .node(id)
                .and_then(|d| d.dead_letter.as_ref())
                .map(|t| t.value.clone());
            if let Some(tx) = target.and_then(|t| fresh_tx.get(&t).cloned()) {
                let _ = dead_letters.insert(id.clone(), tx);
            }
        }
        // The engine keeps only weak senders: the routing tables hold the
        // strong ones, so a node's input closes when nobody routes to it.
        drop(fresh_tx);
        // Spawn the new nodes.
        for (id, node) in built {
            let Some(decl) = pipeline.node(&id).cloned() else {
                continue;
            };
            let metrics = self.node_metrics(&decl, true);
            let previous = self
                .nodes
                .get(&id)
                .map(|h| h.done.clone())
                .filter(|_| diff.changed.contains(&id));
            let routes = fresh_routes
                .remove(&id)
                .unwrap_or_else(|| Routes::new(Vec::new()));
            match node {
                Built::Receiver(r) => self.spawn_receiver(&id, r, routes, metrics),
                Built::Processor(p) => {
                    let Some(rx) = fresh_rx.remove(&id) else {
                        continue;
                    };
                    let reloader = p.reloader();
                    let (input, done) = channel_ends(rx);
                    let ctx = ProcessorContext {
                        id: id.clone(),
                        input: Input::new(input, metrics.clone()),
                        output: Output::with_routes(routes.clone(), metrics.clone()),
                        // Dead-lettered batches are not counted as the
                        // node's output (it counts them as failed).
                        dead_letter: dead_letters.remove(&id).map(|tx| {
                            let uncounted =
                                Arc::new(NodeMetrics::new(&id, "processor", "dead-letter"));
                            Output::new(vec![tx], uncounted)
                        }),
                        metrics: metrics.clone(),
                    };
                    let name = id.clone();
                    let (done_tx, done_rx) = done;
                    let _ = self.downstream.spawn(async move {
                        after(previous).await;
                        let r = p.run(ctx).await;
                        let _ = done_tx.send(true);
                        (name, r)
                    });
                    let input = fresh_weak.remove(&id);
                    self.insert_downstream(
                        &id,
                        NodeKind::Processor,
                        input,
                        &routes,
                        done_rx,
                        reloader,
                        metrics,
                    );
                }
                Built::Exporter(e) => {
                    let Some(rx) = fresh_rx.remove(&id) else {
                        continue;
                    };
                    let dead_letter = dead_letters
                        .remove(&id)
                        .map(|tx| Output::new(vec![tx], metrics.clone()));
                    let e: Box<dyn Exporter> = match (queues.remove(&id), dead_letter) {
                        (Some(q), dl) => q.into_exporter(e, dl),
                        (None, Some(dl)) => DeadLetter::wrap(e, dl),
                        (None, None) => e,
                    };
                    let (input, done) = channel_ends(rx);
                    let ctx = ExporterContext {
                        id: id.clone(),
                        input: Input::new(input, metrics.clone()),
                        metrics: metrics.clone(),
                    };
                    let name = id.clone();
                    let (done_tx, done_rx) = done;
                    let _ = self.downstream.spawn(async move {
                        after(previous).await;
                        let r = e.run(ctx).await;
                        let _ = done_tx.send(true);
                        (name, r)
                    });
                    let input = fresh_weak.remove(&id);
                    self.insert_downstream(
                        &id,
                        NodeKind::Exporter,
                        input,
                        &routes,
                        done_rx,
                        None,
                        metrics,
                    );
                }
            }
        }
        for (id, edges) in all_edges {
            if let Some(h) = self.nodes.get_mut(&id) {
                h.edges = edges;
            }
        }
        for id in &diff.removed {
            let _ = self.nodes.remove(id);
            self.metrics.remove(id);
        }
        let restart_required = restart_required(&self.settings, &pipeline.settings);
        self.decls = pipeline.nodes;
        PipelineChanges {
            added: diff.added.into_iter().collect(),
            removed: diff.removed.into_iter().collect(),
            changed: diff.changed.into_iter().collect(),
            rewired: rewired.into_iter().collect(),
            unchanged: Vec::new(),
            restart_required,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn insert_downstream(
        &mut self,
        id: &str,
        kind: NodeKind,
        input: Option<mpsc::WeakSender<Message>>,
        routes: &Arc<Routes>,
        done: watch::Receiver<bool>,
        reloader: Option<Arc<dyn Reloadable>>,
        metrics: Arc<NodeMetrics>,
    ) {
        let _ = self.nodes.insert(
            id.to_string(),
            NodeHandle {
                kind,
                input,
                routes: if kind == NodeKind::Exporter {
                    Weak::new()
                } else {
                    Arc::downgrade(routes)
                },
                edges: HashMap::new(),
                stop: None,
                done,
                reloader,
                metrics,
            },
        );
    }

    /// Applies a new validated pipeline to the running one, touching only
    /// the nodes that differ.
    ///
    /// # Errors
    /// [`EngineError::Config`] when a new node cannot be built; the running
    /// pipeline is then as it was.
    pub async fn reload(
        &mut self,
        validated: ValidatedPipeline,
    ) -> Result<PipelineChanges, EngineError> {
        let mut plan = self.plan(validated)?;
        self.swap_receivers(&mut plan).await?;
        let unchanged: Vec<String> = plan.diff.unchanged.iter().cloned().collect();
        let mut changes = self.commit(plan);
        changes.unchanged = unchanged
            .into_iter()
            .filter(|u| !changes.rewired.contains(u))
            .collect();
        Ok(changes)
    }
}

type DoneSignal = (watch::Sender<bool>, watch::Receiver<bool>);

fn channel_ends(rx: mpsc::Receiver<Message>) -> (mpsc::Receiver<Message>, DoneSignal) {
    (rx, watch::channel(false))
}

/// A bounded channel in front of `to` that lets batches through once every
/// gate is done (see `RunningPipeline::gates`).
fn forwarder(
    to: mpsc::Sender<Message>,
    gates: Vec<watch::Receiver<bool>>,
    capacity: usize,
) -> mpsc::Sender<Message> {
    let (tx, mut rx) = mpsc::channel::<Message>(capacity);
    drop(tokio::spawn(async move {
        for g in gates {
            after(Some(g)).await;
        }
        while let Some(m) = rx.recv().await {
            if to.send(m).await.is_err() {
                break;
            }
        }
    }));
    tx
}

/// Waits for the node a new one replaces to finish draining.
async fn after(previous: Option<watch::Receiver<bool>>) {
    if let Some(mut done) = previous {
        let _ = done.wait_for(|d| *d).await;
    }
}

/// Settings that differ (they apply at the next start only).
fn restart_required(old: &weir_config::Settings, new: &weir_config::Settings) -> Vec<String> {
    let mut out = Vec::new();
    if old.admin.as_ref().map(|a| a.value) != new.admin.as_ref().map(|a| a.value) {
        out.push("settings.admin".to_string());
    }
    if old.channel_capacity != new.channel_capacity {
        out.push("settings.channel-capacity".to_string());
    }
    if old.threads != new.threads {
        out.push("settings.threads".to_string());
    }
    if old.shutdown_timeout != new.shutdown_timeout {
        out.push("settings.shutdown-timeout".to_string());
    }
    if old.watch != new.watch || old.watch_debounce != new.watch_debounce {
        out.push("settings.watch".to_string());
    }
    out
}
