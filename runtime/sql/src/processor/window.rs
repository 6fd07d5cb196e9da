//! Windowed aggregation: a GROUP BY query evaluated over event-time windows.
//!
//! The query's aggregate is split at plan time into the three stages
//! DataFusion uses for distributed aggregation:
//!
//! - **partial** (`AggregateMode::Partial`), run on the rows of each batch
//!   that fall into one *pane* (a slice of event time `hop` long): its
//!   output is one row of accumulator state per group;
//! - **reduce** (`PartialReduce`), which merges many state rows of a pane
//!   into one per group, so a pane's memory grows with its groups, not with
//!   the batches it saw;
//! - **final** (`Final`, with whatever the query does above its GROUP BY:
//!   projections, HAVING, ORDER BY), run once per window over the states of
//!   its panes when the window closes.
//!
//! Tumbling windows are one pane; a hopping window of `size` is `size/hop`
//! consecutive panes, so each row is aggregated once however many windows
//! it belongs to. Any aggregate DataFusion can split works (count, sum,
//! min, max, avg, `histogram`, approx_distinct, ...).
//!
//! Event time is a timestamp column of the table (`end_time` for spans,
//! `time` for logs and metrics by default). The watermark is the largest
//! event time seen minus `lateness`; a window closes once the watermark
//! passes its end. A row whose panes all belong to closed windows is late:
//! it is dropped and counted. When the state outgrows `max-memory` the
//! oldest window is closed early (and said so in the log); on shutdown and
//! after `idle-timeout` without input every window is closed.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{AsArray as _, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Int64Type, SchemaRef};
use datafusion::common::Result;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use weir_engine::Ack;
use weir_pdata::{Signal, SignalTables};

use crate::error::QueryError;
use crate::functions::histogram::{HISTOGRAM, histogram_bounds};
use crate::plan::{PlannedQuery, QueryPlanner, run};
use crate::source::{BatchesSource, Current, source_exec};
use crate::view::{build_view, view_schema};

/// When state rows of a pane are merged.
const COMPACT_AFTER: usize = 16;

/// The window settings, in nanoseconds of event time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSpec {
    /// Window length.
    pub size: i64,
    /// Distance between window starts (= `size` for tumbling windows).
    pub hop: i64,
    /// How far behind the largest event time a row may be and still count.
    pub lateness: i64,
    /// The event time column.
    pub time_column: String,
    /// Largest window state, in bytes.
    pub max_memory: usize,
}

/// The three stages of a windowed query (see the module docs).
#[derive(Debug)]
pub struct WindowPlan {
    /// The query, whose physical plan is the partial stage.
    pub query: PlannedQuery,
    reduce: Option<Arc<dyn ExecutionPlan>>,
    final_plan: Arc<dyn ExecutionPlan>,
    states: Arc<BatchesSource>,
    state_schema: SchemaRef,
    time_index: usize,
    /// The schema of a window's result.
    pub output_schema: SchemaRef,
}

fn as_aggregate(p: &Arc<dyn ExecutionPlan>) -> Option<&AggregateExec> {
    (p.as_ref() as &dyn std::any::Any).downcast_ref::<AggregateExec>()
}

fn contains_aggregate(p: &Arc<dyn ExecutionPlan>) -> bool {
    as_aggregate(p).is_some() || p.children().into_iter().any(contains_aggregate)
}

/// The default event time column of `signal`.
pub fn default_time_column(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => weir_pdata::schema::span::END_TIME,
        Signal::Logs => weir_pdata::schema::log::TIME,
        Signal::Metrics => weir_pdata::schema::metric::TIME,
        Signal::Profiles => weir_pdata::schema::profile::TIME,
    }
}

impl WindowPlan {
    /// Splits `logical` (which reads `signal`) into its window stages.
    ///
    /// # Errors
    /// [`QueryError::Result`] when the query is not one GROUP BY (with only
    /// projections, filters, sorts or limits above it) or the time column is
    /// not a timestamp of the table; [`QueryError::Plan`] when DataFusion
    /// cannot plan it.
    pub fn new(
        planner: &QueryPlanner,
        signal: Signal,
        logical: &LogicalPlan,
        time_column: &str,
    ) -> Result<Self, QueryError> {
        let view = view_schema(signal);
        let table = signal.table_name();
        let time_index = match view.column_with_name(time_column) {
            Some((i, f)) if matches!(f.data_type(), DataType::Timestamp(_, _)) => i,
            Some((_, f)) => {
                return Err(QueryError::Result(vec![format!(
                    "the window's time column `{time_column}` is {}, not a timestamp",
                    f.data_type()
                )]));
            }
            None => {
                return Err(QueryError::Result(vec![format!(
                    "the window's time column `{time_column}` is not a column of {table}"
                )]));
            }
        };
        let physical = planner.physical(signal, logical)?.physical;
        let mut upper: Vec<Arc<dyn ExecutionPlan>> = Vec::new();
        let mut node = physical;
        let aggregate = loop {
            if let Some(agg) = as_aggregate(&node) {
                break agg.clone();
            }
            let children = node.children();
            match children.as_slice() {
                [one] => {
                    let child = (*one).clone();
                    upper.push(node);
                    node = child;
                }
                _ => {
                    return Err(QueryError::Result(vec![
                        "a windowed query must aggregate with GROUP BY (joins and unions belong below the GROUP BY)".to_string(),
                    ]));
                }
            }
        };
        let partial = match aggregate.mode() {
            AggregateMode::Single | AggregateMode::SinglePartitioned => AggregateExec::try_new(
                AggregateMode::Partial,
                aggregate.group_expr().clone(),
                aggregate.aggr_expr().to_vec(),
                aggregate.filter_expr().to_vec(),
                aggregate.input().clone(),
                aggregate.input_schema(),
            )
            .map_err(QueryError::Plan)?,
            AggregateMode::Final | AggregateMode::FinalPartitioned => {
                match as_aggregate(aggregate.input()) {
                    Some(p) if *p.mode() == AggregateMode::Partial => p.clone(),
                    _ => {
                        return Err(QueryError::Result(vec![
                            "the query's aggregation cannot be split into windows".to_string(),
                        ]));
                    }
                }
            }
            _ => {
                return Err(QueryError::Result(vec![
                    "the query's aggregation cannot be split into windows".to_string(),
                ]));
            }
        };
        if contains_aggregate(partial.input()) {
            return Err(QueryError::Result(vec![
                "a windowed query has one GROUP BY: aggregate subqueries are not supported"
                    .to_string(),
            ]));
        }
        for agg in partial.aggr_expr() {
            if agg.fun().name() == HISTOGRAM {
                histogram_bounds(&agg.expressions()).map_err(QueryError::Plan)?;
            }
            if agg.is_distinct() {
                // DISTINCT aggregates split too (their state is the set of
                // values), but say what it costs.
                tracing::debug!(
                    aggregate = agg.name(),
                    "DISTINCT aggregate keeps its values per window."
                );
            }
        }
        let partial: Arc<AggregateExec> = Arc::new(partial);
        let state_schema = partial.schema();
        let states = BatchesSource::new(state_schema.clone());
        let states_exec = source_exec("window_state", states.clone()).map_err(QueryError::Plan)?;
        let stage = |mode| {
            AggregateExec::try_new(
                mode,
                partial.group_expr().as_final(),
                partial.aggr_expr().to_vec(),
                partial.filter_expr().to_vec(),
                states_exec.clone(),
                partial.input_schema(),
            )
        };
        let final_agg: Arc<dyn ExecutionPlan> =
            Arc::new(stage(AggregateMode::Final).map_err(QueryError::Plan)?);
        let reduce: Option<Arc<dyn ExecutionPlan>> = match stage(AggregateMode::PartialReduce) {
            Ok(r) if r.schema().fields() == state_schema.fields() => Some(Arc::new(r)),
            _ => None,
        };
        let mut final_plan = final_agg;
        for node in upper.into_iter().rev() {
            final_plan = node
                .replace_children(
                    vec![final_plan],
                    ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
                )
                .map_err(QueryError::Plan)?;
        }
        let query = planner.planned(signal, logical.schema().clone(), partial)?;
        Ok(WindowPlan {
            query,
            reduce,
            output_schema: final_plan.schema(),
            final_plan,
            states,
            state_schema,
            time_index,
        })
    }

    fn time_column(&self, tables: &SignalTables) -> Result<Vec<i64>, DataFusionError> {
        let view = build_view(self.query.signal, tables, &[self.time_index], None)?;
        let col = arrow::compute::cast(view.column(0), &DataType::Int64)?;
        Ok(col.as_primitive::<Int64Type>().values().to_vec())
    }

    async fn over_states(
        &self,
        plan: &Arc<dyn ExecutionPlan>,
        batches: Vec<RecordBatch>,
    ) -> Result<Vec<RecordBatch>, DataFusionError> {
        self.states.set(batches);
        let out = run(plan, true, self.query.task_ctx()).await;
        self.states.set(Vec::new());
        out
    }
}

/// The state of one pane.
#[derive(Default)]
struct Pane {
    states: Vec<RecordBatch>,
    bytes: usize,
    acks: Vec<Ack>,
}

/// A closed window's result.
pub struct Closed {
    /// Window start, ns.
    pub start: i64,
    /// Window end, ns.
    pub end: i64,
    /// The final stage's output.
    pub result: Vec<RecordBatch>,
    /// The acks of the input that went into it.
    pub acks: Vec<Ack>,
    /// Whether it closed before its time (memory limit).
    pub early: bool,
}

/// What absorbing one batch did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Absorbed {
    /// Rows aggregated.
    pub rows: usize,
    /// Rows dropped as late.
    pub late: usize,
}

/// The windows of one node.
pub struct WindowState {
    plan: WindowPlan,
    spec: WindowSpec,
    panes: BTreeMap<i64, Pane>,
    /// The start of the next window to close, once one has closed.
    next_start: Option<i64>,
    max_event: Option<i64>,
    bytes: usize,
    /// Tumbling windows closed early (memory limit) that may still take
    /// rows until the watermark passes their end.
    early: std::collections::BTreeSet<i64>,
}

impl WindowState {
    /// Empty windows for `plan`.
    pub fn new(plan: WindowPlan, spec: WindowSpec) -> Self {
        WindowState {
            plan,
            spec,
            panes: BTreeMap::new(),
            next_start: None,
            max_event: None,
            bytes: 0,
            early: std::collections::BTreeSet::new(),
        }
    }

    /// The plan.
    pub fn plan(&self) -> &WindowPlan {
        &self.plan
    }

    /// Whether any window holds data.
    pub fn is_empty(&self) -> bool {
        self.panes.is_empty()
    }

    /// Aggregates the rows of `tables` into their panes.
    ///
    /// # Errors
    /// The partial stage failed on this batch; the state is unchanged for
    /// the panes not yet absorbed.
    pub async fn absorb(
        &mut self,
        tables: &Arc<SignalTables>,
        acks: &[Ack],
    ) -> Result<Absorbed, DataFusionError> {
        let times = self.plan.time_column(tables)?;
        let hop = self.spec.hop;
        let mut by_pane: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
        for (row, t) in times.iter().enumerate() {
            let pane = t.div_euclid(hop) * hop;
            by_pane
                .entry(pane)
                .or_default()
                .push(u32::try_from(row).unwrap_or(u32::MAX));
        }
        let mut absorbed = Absorbed::default();
        let single = by_pane.len() == 1;
        for (pane, rows) in by_pane {
            if self.next_start.is_some_and(|s| pane < s) && !self.early.contains(&pane) {
                absorbed.late += rows.len();
                continue;
            }
            let n = rows.len();
            let current = Current {
                tables: tables.clone(),
                rows: (!single).then(|| UInt32Array::from(rows)),
            };
            let states = self.plan.query.execute(current).await?;
            let p = self.panes.entry(pane).or_default();
            for s in states.into_iter().filter(|s| s.num_rows() > 0) {
                let b = s.get_array_memory_size();
                p.bytes += b;
                self.bytes += b;
                p.states.push(s);
            }
            p.acks.extend(acks.iter().cloned());
            absorbed.rows += n;
            if p.states.len() >= COMPACT_AFTER {
                self.compact(pane).await?;
            }
        }
        let accepted_max = times.iter().copied().max();
        if absorbed.rows > 0 {
            self.max_event = self.max_event.max(accepted_max);
        }
        Ok(absorbed)
    }

    /// Merges the state rows of `pane`.
    async fn compact(&mut self, pane: i64) -> Result<(), DataFusionError> {
        let Some(reduce) = self.plan.reduce.clone() else {
            return Ok(());
        };
        let Some(p) = self.panes.get_mut(&pane) else {
            return Ok(());
        };
        let batches = std::mem::take(&mut p.states);
        let merged = self.plan.over_states(&reduce, batches).await?;
        let merged = arrow::compute::concat_batches(&self.plan.state_schema, &merged)?;
        let b = merged.get_array_memory_size();
        let Some(p) = self.panes.get_mut(&pane) else {
            return Ok(());
        };
        self.bytes = self.bytes - p.bytes + b;
        p.bytes = b;
        p.states = vec![merged];
        Ok(())
    }

    /// Merges the state rows of every pane (under memory pressure).
    async fn compact_all(&mut self) -> Result<(), DataFusionError> {
        let panes: Vec<i64> = self
            .panes
            .iter()
            .filter(|(_, p)| p.states.len() > 1)
            .map(|(k, _)| *k)
            .collect();
        for pane in panes {
            self.compact(pane).await?;
        }
        Ok(())
    }

    /// The start of the next window to close.
    fn next_window(&self) -> Option<i64> {
        let first = *self.panes.keys().next()?;
        if self.early.contains(&first) {
            // A tumbling window flushed early that took rows again.
            return Some(first);
        }
        let earliest = first - self.spec.size + self.spec.hop;
        Some(match self.next_start {
            Some(s) => s.max(earliest),
            None => earliest,
        })
    }

    /// Closes the window starting at `start`.
    async fn close(&mut self, start: i64, early: bool) -> Result<Closed, DataFusionError> {
        let end = start + self.spec.size;
        let mut states = Vec::new();
        let mut acks = Vec::new();
        for (_, p) in self.panes.range(start..end) {
            states.extend(p.states.iter().cloned());
            acks.extend(p.acks.iter().cloned());
        }
        // Panes no later window needs.
        let keep = self.panes.split_off(&(start + self.spec.hop));
        for (_, p) in std::mem::replace(&mut self.panes, keep) {
            self.bytes -= p.bytes;
        }
        let after = start + self.spec.hop;
        self.next_start = Some(self.next_start.map_or(after, |s| s.max(after)));
        let tumbling = self.spec.hop == self.spec.size;
        if early && tumbling {
            let _ = self.early.insert(start);
        } else {
            let _ = self.early.remove(&start);
        }
        let result = if states.is_empty() {
            Vec::new()
        } else {
            self.plan.over_states(&self.plan.final_plan, states).await?
        };
        Ok(Closed {
            start,
            end,
            result,
            acks,
            early,
        })
    }

    /// Closes every window the watermark has passed, then, while the state
    /// is over its memory limit, the oldest windows.
    ///
    /// # Errors
    /// The final stage failed: the window is gone, and the error comes with
    /// its acks so that the node fails them.
    pub async fn close_due(&mut self) -> Result<Vec<Closed>, (DataFusionError, Vec<Ack>)> {
        let mut out = Vec::new();
        let Some(max) = self.max_event else {
            return Ok(out);
        };
        let watermark = max.saturating_sub(self.spec.lateness);
        // Early-flushed windows the watermark has passed take no more rows.
        let size = self.spec.size;
        self.early.retain(|s| s + size > watermark);
        while let Some(start) = self.next_window() {
            if start + self.spec.size > watermark {
                break;
            }
            out.push(self.close_or_fail(start, false).await?);
        }
        if self.bytes > self.spec.max_memory {
            if let Err(e) = self.compact_all().await {
                return Err((e, Vec::new()));
            }
            while self.bytes > self.spec.max_memory {
                let Some(start) = self.next_window() else {
                    break;
                };
                out.push(self.close_or_fail(start, true).await?);
            }
        }
        Ok(out)
    }

    /// Closes every window that holds data (shutdown, idle input).
    ///
    /// # Errors
    /// As [`WindowState::close_due`].
    pub async fn close_all(&mut self) -> Result<Vec<Closed>, (DataFusionError, Vec<Ack>)> {
        let mut out = Vec::new();
        while let Some(start) = self.next_window() {
            out.push(self.close_or_fail(start, false).await?);
        }
        self.early.clear();
        Ok(out)
    }

    async fn close_or_fail(
        &mut self,
        start: i64,
        early: bool,
    ) -> Result<Closed, (DataFusionError, Vec<Ack>)> {
        let acks: Vec<Ack> = self
            .panes
            .range(start..start + self.spec.size)
            .flat_map(|(_, p)| p.acks.iter().cloned())
            .collect();
        self.close(start, early).await.map_err(|e| (e, acks))
    }
}

/// Checks a window spec against the time column's existence (done by
/// [`WindowPlan::new`]) and its durations.
///
/// # Errors
/// A message per problem.
pub fn check_spec(size: i64, hop: i64) -> Result<(), String> {
    if size <= 0 || hop <= 0 {
        return Err("window sizes must be positive".to_string());
    }
    if hop > size || size % hop != 0 {
        return Err(format!(
            "`hop` ({hop} ns) must divide `size` ({size} ns): a hopping window is whole panes of `hop`"
        ));
    }
    Ok(())
}
