//! The Arrow tables of one batch: resources, scopes and records.

use arrow_array::RecordBatch;

use crate::{PdataError, Signal};

/// The Arrow form of one batch of one signal.
///
/// Three tables, following OTLP's nesting without repeating it per record:
/// `resources` (one row per `Resource*` message), `scopes` (one row per
/// `Scope*` message, with the `resource_id` it belongs to) and `records` (one
/// row per span, log record or metric data point, with its `scope_id`).
/// Schemas are in [`crate::schema`]; the reasoning in `docs/data-model.md`.
#[derive(Debug, Clone)]
pub struct SignalTables {
    /// One row per resource; column `id` (UInt32) is referenced by scopes.
    pub resources: RecordBatch,
    /// One row per instrumentation scope; column `id` (UInt32) is referenced
    /// by records, `resource_id` references `resources.id`.
    pub scopes: RecordBatch,
    /// One row per item (span, log record, metric data point).
    pub records: RecordBatch,
}

impl SignalTables {
    /// Rows of `records` that stand for a metric with no data points (kept so
    /// that conversion is lossless); always 0 for traces and logs.
    pub fn placeholder_rows(&self) -> usize {
        crate::otlp::arrow::placeholder_rows(&self.records)
    }

    /// Concatenates tables of one signal, renumbering resource and scope ids.
    ///
    /// # Errors
    /// [`PdataError`] when a table does not follow the signal's schema.
    pub fn concat(signal: Signal, parts: &[&SignalTables]) -> Result<SignalTables, PdataError> {
        crate::otlp::arrow::concat(signal, parts)
    }
}
