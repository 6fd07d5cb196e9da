//! Planning a query once, executing it per batch.
//!
//! [`QueryPlanner`] holds a DataFusion session whose tables are
//! [`crate::source`] tables: `spans`, `logs` and `metrics` (the batch being
//! processed) and the lookup tables of the node. [`QueryPlanner::plan`]
//! parses, checks, optimises and physically plans a query once;
//! [`PlannedQuery::execute`] then only puts a batch in the signal's source
//! and runs the physical plan. The session runs single-partition (a batch
//! is small; repartitioning would cost more than it saves) and without
//! dynamic filters (they make a plan single-use).

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchemaRef, Result};
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::execution_plan::reset_plan_states;
use datafusion::physical_plan::joins::{CrossJoinExec, HashJoinExec, NestedLoopJoinExec};
use datafusion::physical_plan::{ExecutionPlan, common::collect};
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use weir_pdata::Signal;

use crate::error::QueryError;
use crate::source::{Current, SignalSource, Source, SourceExec, SourceTable};

/// The session configuration of stream queries (see the module docs).
pub fn session_config() -> SessionConfig {
    let mut config = SessionConfig::new()
        .with_target_partitions(1)
        .with_batch_size(8192)
        .with_information_schema(false);
    let options = config.options_mut();
    options.optimizer.enable_dynamic_filter_pushdown = false;
    options.optimizer.enable_topk_dynamic_filter_pushdown = false;
    options.optimizer.enable_join_dynamic_filter_pushdown = false;
    options.optimizer.enable_aggregate_dynamic_filter_pushdown = false;
    options.execution.coalesce_batches = false;
    config
}

/// A session with the signal tables, weir's functions and lookup tables.
pub struct QueryPlanner {
    ctx: SessionContext,
    signals: Vec<Arc<SignalSource>>,
}

impl QueryPlanner {
    /// A planner with the three signal tables and `lookups` (name, source).
    ///
    /// # Errors
    /// A lookup table whose name is taken.
    pub fn new(lookups: &[(String, Arc<dyn Source>)]) -> Result<Self, QueryError> {
        let ctx = SessionContext::new_with_config(session_config());
        crate::functions::register(&ctx);
        let mut signals = Vec::new();
        for signal in Signal::ALL {
            let source = SignalSource::new(signal);
            let table = SourceTable::new(signal.table_name(), source.clone());
            let _ = ctx
                .register_table(signal.table_name(), Arc::new(table))
                .map_err(QueryError::Plan)?;
            signals.push(source);
        }
        for (name, source) in lookups {
            let table = SourceTable::new(name.clone(), source.clone());
            let _ = ctx
                .register_table(name.as_str(), Arc::new(table))
                .map_err(QueryError::Plan)?;
        }
        Ok(QueryPlanner { ctx, signals })
    }

    /// Parses and logically plans `sql`, and finds the signal it reads.
    ///
    /// # Errors
    /// [`QueryError`] for SQL that does not parse or plan, that is not a
    /// query, or that reads no signal table or several.
    pub fn logical(&self, sql: &str) -> Result<(Signal, LogicalPlan), QueryError> {
        let state = self.ctx.state();
        let plan = futures::executor::block_on(state.create_logical_plan(sql))
            .map_err(QueryError::Plan)?;
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|_| QueryError::NotAQuery)?;
        if matches!(
            plan,
            LogicalPlan::Explain(_) | LogicalPlan::Analyze(_) | LogicalPlan::DescribeTable(_)
        ) {
            return Err(QueryError::NotAQuery);
        }
        let signal = signal_of(&plan)?;
        Ok((signal, plan))
    }

    /// Optimises and physically plans `plan` (which reads `signal`).
    ///
    /// # Errors
    /// [`QueryError::Plan`] when DataFusion cannot plan it.
    pub fn physical(&self, signal: Signal, plan: &LogicalPlan) -> Result<PlannedQuery, QueryError> {
        let state = self.ctx.state();
        let physical = futures::executor::block_on(state.create_physical_plan(plan))
            .map_err(QueryError::Plan)?;
        self.planned(signal, plan.schema().clone(), physical)
    }

    /// A [`PlannedQuery`] over an already built physical plan.
    ///
    /// # Errors
    /// Never today; kept fallible for plan checks.
    pub fn planned(
        &self,
        signal: Signal,
        logical_schema: DFSchemaRef,
        physical: Arc<dyn ExecutionPlan>,
    ) -> Result<PlannedQuery, QueryError> {
        let source = self
            .signals
            .iter()
            .find(|s| s.signal() == signal)
            .cloned()
            .ok_or(QueryError::NoSignalTable)?;
        Ok(PlannedQuery {
            signal,
            reset_per_batch: needs_reset(&physical),
            schema: physical.schema(),
            logical_schema,
            physical,
            source,
            task_ctx: self.task_ctx(),
        })
    }

    /// The DataFusion session (for tests and tools that run ad-hoc SQL
    /// over the same tables and functions).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Shows `current` in the table of `signal` until changed (for tests
    /// and tools; the processor sets the table per execution).
    pub fn show(&self, signal: Signal, current: Option<Current>) {
        if let Some(s) = self.signals.iter().find(|s| s.signal() == signal) {
            s.set(current);
        }
    }

    /// The task context executions run with.
    pub fn task_ctx(&self) -> Arc<TaskContext> {
        self.ctx.task_ctx()
    }

    /// Parses and plans `sql` in one go.
    ///
    /// # Errors
    /// See [`QueryPlanner::logical`] and [`QueryPlanner::physical`].
    pub fn plan(&self, sql: &str) -> Result<PlannedQuery, QueryError> {
        let (signal, logical) = self.logical(sql)?;
        self.physical(signal, &logical)
    }
}

/// The one signal table `plan` reads.
fn signal_of(plan: &LogicalPlan) -> Result<Signal, QueryError> {
    let mut found: Vec<Signal> = Vec::new();
    let _ = plan
        .apply_with_subqueries(|node| {
            if let LogicalPlan::TableScan(scan) = node {
                let table = scan.table_name.table();
                if let Some(s) = Signal::ALL.iter().find(|s| s.table_name() == table)
                    && !found.contains(s)
                {
                    found.push(*s);
                }
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .map_err(QueryError::Plan)?;
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(QueryError::NoSignalTable),
        many => Err(QueryError::SeveralSignalTables(
            many.iter().map(|s| s.table_name()).collect(),
        )),
    }
}

/// Whether executing `plan` again needs its state reset first: a join that
/// caches its build side must not keep an old batch (a lookup table as the
/// build side is kept: that is the point), and nodes not known to be
/// stateless are reset to be safe.
fn needs_reset(plan: &Arc<dyn ExecutionPlan>) -> bool {
    let any = plan.as_ref() as &dyn std::any::Any;
    let reads_signal = |p: &Arc<dyn ExecutionPlan>| {
        let mut found = false;
        let _ = p.apply(|n| {
            if (n.as_ref() as &dyn std::any::Any)
                .downcast_ref::<SourceExec>()
                .is_some_and(SourceExec::is_signal)
            {
                found = true;
                return Ok(TreeNodeRecursion::Stop);
            }
            Ok(TreeNodeRecursion::Continue)
        });
        found
    };
    let here = if let Some(j) = any.downcast_ref::<HashJoinExec>() {
        reads_signal(j.left())
    } else if let Some(j) = any.downcast_ref::<CrossJoinExec>() {
        reads_signal(j.left())
    } else if let Some(j) = any.downcast_ref::<NestedLoopJoinExec>() {
        reads_signal(j.left())
    } else {
        !matches!(
            plan.name(),
            "SourceExec"
                | "ProjectionExec"
                | "FilterExec"
                | "CoalesceBatchesExec"
                | "AggregateExec"
                | "GlobalLimitExec"
                | "LocalLimitExec"
                | "UnionExec"
                | "EmptyExec"
                | "PlaceholderRowExec"
                | "CoalescePartitionsExec"
        )
    };
    here || plan.children().into_iter().any(needs_reset)
}

/// A query planned once, executed per batch.
#[derive(Debug)]
pub struct PlannedQuery {
    /// The signal it reads.
    pub signal: Signal,
    /// Whether each execution resets the plan's state first.
    pub reset_per_batch: bool,
    /// The schema of its result.
    pub schema: SchemaRef,
    /// The logical schema of its result (with column qualifiers).
    pub logical_schema: DFSchemaRef,
    /// The physical plan.
    pub physical: Arc<dyn ExecutionPlan>,
    source: Arc<SignalSource>,
    task_ctx: Arc<TaskContext>,
}

impl PlannedQuery {
    /// Runs the plan over `current` (the source is emptied afterwards, so no
    /// batch is kept alive by the node).
    ///
    /// # Errors
    /// The query failed on this batch (a cast overflow, a bad lookup).
    pub async fn execute(&self, current: Current) -> Result<Vec<RecordBatch>, DataFusionError> {
        self.execute_plan(&self.physical, current).await
    }

    /// Runs `plan` (this query's plan or one derived from it) over `current`.
    ///
    /// # Errors
    /// As [`PlannedQuery::execute`].
    pub async fn execute_plan(
        &self,
        plan: &Arc<dyn ExecutionPlan>,
        current: Current,
    ) -> Result<Vec<RecordBatch>, DataFusionError> {
        self.source.set(Some(current));
        let result = run(plan, self.reset_per_batch, &self.task_ctx).await;
        self.source.set(None);
        result
    }

    /// The task context.
    pub fn task_ctx(&self) -> &Arc<TaskContext> {
        &self.task_ctx
    }

    /// Resets cached state (after a lookup table changed).
    ///
    /// # Errors
    /// DataFusion could not rebuild a node.
    pub fn reset(&mut self) -> Result<(), DataFusionError> {
        self.physical = reset_plan_states(self.physical.clone())?;
        Ok(())
    }
}

/// Executes partition 0 of `plan` and collects it.
///
/// # Errors
/// The execution failed.
pub async fn run(
    plan: &Arc<dyn ExecutionPlan>,
    reset: bool,
    task_ctx: &Arc<TaskContext>,
) -> Result<Vec<RecordBatch>, DataFusionError> {
    let plan = if reset {
        reset_plan_states(plan.clone())?
    } else {
        plan.clone()
    };
    let stream = plan.execute(0, task_ctx.clone())?;
    collect(stream).await
}
