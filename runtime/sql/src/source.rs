//! Tables whose data is swapped between executions of one physical plan.
//!
//! A query is planned once against a [`SourceTable`]; its physical plan has
//! a [`SourceExec`] leaf that, each time the plan is executed, asks its
//! [`Source`] for the current data. The SQL processor puts each batch in a
//! [`SignalSource`] before executing the plan, so per batch nothing is
//! parsed, planned or optimised again. Lookup tables are sources too
//! (`crate::lookup`): a reload swaps their data under the same plan.

use std::fmt;
use std::sync::Arc;

use arrow::array::{RecordBatch, UInt32Array};
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result, Statistics};
use datafusion::datasource::TableType;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};
use parking_lot::Mutex;
use weir_pdata::{Signal, SignalTables};

use crate::view::{build_view, view_schema};

/// Data for a [`SourceExec`], fetched at each execution.
pub trait Source: fmt::Debug + Send + Sync + 'static {
    /// The full schema (before projection).
    fn schema(&self) -> SchemaRef;
    /// The current data, projected; `None` is no rows.
    ///
    /// # Errors
    /// The data cannot be shaped to the schema.
    fn batch(&self, projection: &[usize]) -> Result<Option<RecordBatch>>;
    /// Exact statistics, if known (lookup tables), for join planning.
    fn statistics(&self) -> Option<Statistics> {
        None
    }
    /// Whether this is the stream's signal table (not a lookup).
    fn is_signal(&self) -> bool {
        false
    }
}

/// What a signal table shows during one execution: a batch and optionally
/// a selection of its records.
#[derive(Debug, Clone)]
pub struct Current {
    /// The batch's tables.
    pub tables: Arc<SignalTables>,
    /// The records shown (indexes into the view's rows), all if `None`.
    pub rows: Option<UInt32Array>,
}

/// The table of one signal: the batch being processed.
#[derive(Debug)]
pub struct SignalSource {
    signal: Signal,
    current: Mutex<Option<Current>>,
}

impl SignalSource {
    /// An empty source of `signal`.
    pub fn new(signal: Signal) -> Arc<Self> {
        Arc::new(SignalSource {
            signal,
            current: Mutex::new(None),
        })
    }

    /// The signal.
    pub fn signal(&self) -> Signal {
        self.signal
    }

    /// Shows `current` to the next executions (`None`: nothing).
    pub fn set(&self, current: Option<Current>) {
        *self.current.lock() = current;
    }
}

impl Source for SignalSource {
    fn schema(&self) -> SchemaRef {
        view_schema(self.signal)
    }

    fn batch(&self, projection: &[usize]) -> Result<Option<RecordBatch>> {
        let current = self.current.lock().clone();
        match current {
            None => Ok(None),
            Some(c) => Ok(Some(build_view(
                self.signal,
                &c.tables,
                projection,
                c.rows.as_ref(),
            )?)),
        }
    }

    fn is_signal(&self) -> bool {
        true
    }
}

/// A table over a [`Source`], for planning.
#[derive(Debug)]
pub struct SourceTable {
    name: String,
    source: Arc<dyn Source>,
}

impl SourceTable {
    /// The table `name` over `source`.
    pub fn new(name: impl Into<String>, source: Arc<dyn Source>) -> Self {
        SourceTable {
            name: name.into(),
            source,
        }
    }
}

#[async_trait]
impl TableProvider for SourceTable {
    fn schema(&self) -> SchemaRef {
        self.source.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let all: Vec<usize> = (0..self.source.schema().fields().len()).collect();
        let projection = projection.cloned().unwrap_or(all);
        Ok(Arc::new(SourceExec::try_new(
            self.name.clone(),
            self.source.clone(),
            projection,
        )?))
    }

    fn statistics(&self) -> Option<Statistics> {
        self.source.statistics()
    }
}

/// The leaf of a planned query: the current data of a [`Source`].
#[derive(Debug)]
pub struct SourceExec {
    name: String,
    source: Arc<dyn Source>,
    projection: Vec<usize>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl SourceExec {
    fn try_new(name: String, source: Arc<dyn Source>, projection: Vec<usize>) -> Result<Self> {
        let schema = Arc::new(source.schema().project(&projection)?);
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(SourceExec {
            name,
            source,
            projection,
            schema,
            properties: Arc::new(properties),
        })
    }

    /// Whether this reads the stream's signal (not a lookup table).
    pub fn is_signal(&self) -> bool {
        self.source.is_signal()
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.name
    }
}

impl DisplayAs for SourceExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "SourceExec: table={}, columns={}",
            self.name,
            self.projection.len()
        )
    }
}

impl ExecutionPlan for SourceExec {
    fn name(&self) -> &str {
        "SourceExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let data = self.source.batch(&self.projection)?;
        let stream = MemoryStream::try_new(data.into_iter().collect(), self.schema.clone(), None)?;
        Ok(Box::pin(stream))
    }

    fn partition_statistics(&self, _partition: Option<usize>) -> Result<Arc<Statistics>> {
        let stats = match self.source.statistics() {
            Some(s) => s.project(Some(&self.projection)),
            None => Statistics::new_unknown(&self.schema),
        };
        Ok(Arc::new(stats))
    }
}

/// A source of fixed batches (the window states of a windowed query).
#[derive(Debug)]
pub struct BatchesSource {
    schema: SchemaRef,
    batches: Mutex<Vec<RecordBatch>>,
}

impl BatchesSource {
    /// An empty source of `schema`.
    pub fn new(schema: SchemaRef) -> Arc<Self> {
        Arc::new(BatchesSource {
            schema,
            batches: Mutex::new(Vec::new()),
        })
    }

    /// Shows `batches` to the next executions.
    pub fn set(&self, batches: Vec<RecordBatch>) {
        *self.batches.lock() = batches;
    }
}

impl Source for BatchesSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn batch(&self, projection: &[usize]) -> Result<Option<RecordBatch>> {
        let batches = self.batches.lock();
        if batches.is_empty() {
            return Ok(None);
        }
        let all = arrow::compute::concat_batches(&self.schema, batches.iter())?;
        Ok(Some(all.project(projection)?))
    }
}

/// A [`SourceExec`] over `source` with every column.
///
/// # Errors
/// Never in practice (the projection is the whole schema).
pub fn source_exec(name: &str, source: Arc<dyn Source>) -> Result<Arc<dyn ExecutionPlan>> {
    let all = (0..source.schema().fields().len()).collect();
    Ok(Arc::new(SourceExec::try_new(
        name.to_string(),
        source,
        all,
    )?))
}
