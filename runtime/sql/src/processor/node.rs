//! The running `sql` processor.
//!
//! # Lifecycle
//! Building acquires nothing more (the query was planned and the lookup
//! tables loaded at validation). Running: each batch of the query's signal
//! is executed through the planned query; batches of other signals pass
//! through untouched. A windowed node emits a metrics batch per closed
//! window; when its input closes it closes every window, emits them and
//! returns.
//!
//! # Errors
//! A batch the query fails on is counted, its acks failed, and the node
//! goes on; the node itself only stops when its output closes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message as _;
use weir_engine::node::{BoxFuture, Processor, ProcessorContext};
use weir_engine::{Ack, Message, NodeError};
use weir_pdata::{Batch, Signal};

use super::points::PointsLayout;
use super::window::{Closed, WindowPlan, WindowSpec, WindowState};
use crate::lookup::{LookupSource, Reload};
use crate::output::RecordsMapping;
use crate::plan::PlannedQuery;
use crate::source::Current;

/// The instrumentation scope of emitted metrics.
const SCOPE_NAME: &str = "weir.sql";

/// What the node does with a batch.
pub(crate) enum Mode {
    /// The result replaces the batch.
    PerBatch {
        query: PlannedQuery,
        mapping: RecordsMapping,
    },
    /// Rows are aggregated into windows emitted as metric points.
    Windowed {
        plan: Box<WindowPlan>,
        spec: WindowSpec,
        layout: PointsLayout,
        idle_timeout: Duration,
    },
}

/// A built `sql` processor.
pub struct SqlProcessor {
    id: String,
    mode: Mode,
    lookups: Vec<Arc<LookupSource>>,
    reload_interval: Duration,
}

impl SqlProcessor {
    pub(crate) fn new(
        id: String,
        mode: Mode,
        lookups: Vec<Arc<LookupSource>>,
        reload_interval: Duration,
    ) -> Self {
        SqlProcessor {
            id,
            mode,
            lookups,
            reload_interval,
        }
    }
}

impl Processor for SqlProcessor {
    fn run(self: Box<Self>, ctx: ProcessorContext) -> BoxFuture<Result<(), NodeError>> {
        let node = *self;
        Box::pin(async move {
            let reloader = Reloader {
                lookups: node.lookups,
                interval: node.reload_interval,
                last: Instant::now(),
            };
            match node.mode {
                Mode::PerBatch { query, mapping } => {
                    per_batch(node.id, ctx, query, mapping, reloader).await
                }
                Mode::Windowed {
                    plan,
                    spec,
                    layout,
                    idle_timeout,
                } => {
                    let state = WindowState::new(*plan, spec);
                    windowed(node.id, ctx, state, layout, idle_timeout, reloader).await
                }
            }
        })
    }
}

/// Checks lookup files now and then.
struct Reloader {
    lookups: Vec<Arc<LookupSource>>,
    interval: Duration,
    last: Instant,
}

impl Reloader {
    /// Reloads changed lookup files; true when a table changed.
    fn check(&mut self, id: &str) -> bool {
        if self.lookups.is_empty() || self.last.elapsed() < self.interval {
            return false;
        }
        self.last = Instant::now();
        let mut changed = false;
        for l in &self.lookups {
            match l.reload_if_changed() {
                Ok(Reload::Unchanged) => {}
                Ok(Reload::Reloaded(rows)) => {
                    tracing::info!(node = %id, table = l.name(), rows, "Lookup table reloaded.");
                    changed = true;
                }
                Err(e) => {
                    tracing::warn!(node = %id, table = l.name(), error = %e, "Lookup table not reloaded; the previous one stays.");
                }
            }
        }
        changed
    }
}

async fn per_batch(
    id: String,
    mut ctx: ProcessorContext,
    mut query: PlannedQuery,
    mapping: RecordsMapping,
    mut reloader: Reloader,
) -> Result<(), NodeError> {
    while let Some(msg) = ctx.input.recv().await {
        if msg.batch.signal() != query.signal {
            if ctx.output.send(msg).await.is_err() {
                break;
            }
            continue;
        }
        if reloader.check(&id)
            && let Err(e) = query.reset()
        {
            tracing::error!(node = %id, error = %e, "Could not reset the query after a lookup reload.");
        }
        let start = Instant::now();
        let items = msg.batch.items();
        let result = transform(&query, &mapping, &msg.batch).await;
        ctx.metrics.record_latency(start.elapsed());
        match result {
            Ok(Some(out)) => {
                let dropped = items.saturating_sub(out.items());
                if dropped > 0 {
                    ctx.metrics.record_dropped(dropped);
                }
                if ctx.output.send(msg.map(out)).await.is_err() {
                    break;
                }
            }
            Ok(None) => ctx.metrics.record_dropped(items),
            Err(e) => {
                ctx.metrics.record_error();
                ctx.metrics.record_failed(items);
                tracing::warn!(node = %id, error = %e, items, "SQL query failed on a batch.");
                msg.fail(&format!("processor {id}: {e}"));
            }
        }
    }
    Ok(())
}

/// Runs the query over `batch`; `None` when no row is left.
async fn transform(
    query: &PlannedQuery,
    mapping: &RecordsMapping,
    batch: &Batch,
) -> Result<Option<Batch>, NodeError> {
    let tables = batch.tables()?;
    let result = query
        .execute(Current {
            tables: tables.clone(),
            rows: None,
        })
        .await
        .map_err(|e| NodeError::external("SQL query", e))?;
    let out = mapping
        .apply(&tables, &query.schema, &result)
        .map_err(|e| NodeError::external("SQL result", e))?;
    Ok(out.map(|t| Batch::from_tables(query.signal, t)))
}

async fn windowed(
    id: String,
    mut ctx: ProcessorContext,
    mut state: WindowState,
    layout: PointsLayout,
    idle_timeout: Duration,
    mut reloader: Reloader,
) -> Result<(), NodeError> {
    let signal = state.plan().query.signal;
    loop {
        let msg = if state.is_empty() {
            ctx.input.recv().await
        } else {
            match tokio::time::timeout(idle_timeout, ctx.input.recv()).await {
                Ok(m) => m,
                Err(_) => {
                    tracing::debug!(node = %id, "Input idle; closing every window.");
                    let closed = state.close_all().await;
                    if !emit(&id, &ctx, &layout, closed).await {
                        return Ok(());
                    }
                    continue;
                }
            }
        };
        let Some(msg) = msg else { break };
        if msg.batch.signal() != signal {
            if ctx.output.send(msg).await.is_err() {
                return Ok(());
            }
            continue;
        }
        let _ = reloader.check(&id);
        let start = Instant::now();
        let items = msg.batch.items();
        let absorbed = match msg.batch.tables() {
            Ok(tables) => state
                .absorb(&tables, &msg.acks)
                .await
                .map_err(|e| NodeError::external("SQL window", e)),
            Err(e) => Err(NodeError::from(e)),
        };
        ctx.metrics.record_latency(start.elapsed());
        match absorbed {
            Ok(a) => {
                if a.late > 0 {
                    ctx.metrics.record_dropped(a.late);
                    tracing::debug!(node = %id, rows = a.late, "Late rows dropped.");
                }
            }
            Err(e) => {
                ctx.metrics.record_error();
                ctx.metrics.record_failed(items);
                tracing::warn!(node = %id, error = %e, items, "SQL window failed on a batch.");
                msg.fail(&format!("processor {id}: {e}"));
            }
        }
        // The input's acks now live in the panes (see docs/sql.md).
        drop(msg);
        let closed = state.close_due().await;
        if !emit(&id, &ctx, &layout, closed).await {
            return Ok(());
        }
    }
    let closed = state.close_all().await;
    let _ = emit(&id, &ctx, &layout, closed).await;
    Ok(())
}

/// Sends closed windows as metrics batches; false when the output closed.
async fn emit(
    id: &str,
    ctx: &ProcessorContext,
    layout: &PointsLayout,
    closed: Result<Vec<Closed>, (datafusion::error::DataFusionError, Vec<Ack>)>,
) -> bool {
    let closed = match closed {
        Ok(c) => c,
        Err((e, acks)) => {
            ctx.metrics.record_error();
            tracing::error!(node = %id, error = %e, "A window could not be computed; its data is lost.");
            for a in &acks {
                a.fail(format!("processor {id}: {e}"));
            }
            return true;
        }
    };
    for w in closed {
        if w.early {
            tracing::warn!(node = %id, start = w.start, end = w.end, "Window closed early: the window state reached max-memory.");
        }
        let batch = layout
            .request(&w.result, w.start, w.end, SCOPE_NAME)
            .map(|(req, points)| {
                Batch::from_otlp_unchecked(
                    Signal::Metrics,
                    Bytes::from(req.encode_to_vec()),
                    points,
                )
            });
        match batch {
            Ok(batch) if batch.items() == 0 => {}
            Ok(batch) => {
                let msg = Message {
                    batch,
                    acks: w.acks,
                };
                if ctx.output.send(msg).await.is_err() {
                    return false;
                }
            }
            Err(e) => {
                ctx.metrics.record_error();
                tracing::error!(node = %id, error = %e, "A window's points could not be built.");
                for a in &w.acks {
                    a.fail(format!("processor {id}: {e}"));
                }
            }
        }
    }
    true
}
