//! Turning a per-batch query's result back into a batch of its signal.
//!
//! The result's columns are matched to the signal's records columns by
//! name ([`RecordsMapping`]):
//!
//! - a records column keeps the result's values, cast to the column's type
//!   when the types are compatible ([`crate::conform::compatible`]);
//! - a records column the result lacks gets OTLP's default (0, "", empty,
//!   absent), so a projection drops a field's value, not the field;
//! - the view's read-only columns (`service_name`, `resource_attributes`,
//!   `scope_*`) may be passed through (`SELECT *`) and are dropped: every
//!   row keeps the resource and scope its `scope_id` names;
//! - anything else is an error found when the query is planned, as are a
//!   missing `scope_id` (and `metric_id` for metrics), a computed read-only
//!   column and a type that cannot be stored.
//!
//! The output batch has the input's resources and scopes minus those no
//! output row references; a result without rows drops the batch.

use std::collections::HashSet;

use arrow::array::{AsArray as _, BooleanArray, RecordBatch, UInt32Array};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{SchemaRef, UInt32Type};
use datafusion::common::{DFSchema, Result, exec_err};
use weir_pdata::schema::{self, metric, resource, scope};
use weir_pdata::{Signal, SignalTables};

use crate::conform::{compatible, conform, default_array};
use crate::error::QueryError;
use crate::view::{DERIVED, scope_id_column};

/// Where each records column of the output comes from.
#[derive(Debug, Clone)]
pub struct RecordsMapping {
    signal: Signal,
    records: SchemaRef,
    /// Per records field: the result column holding it.
    sources: Vec<Option<usize>>,
}

impl RecordsMapping {
    /// Checks that a result of `result` schema can be records of `signal`.
    ///
    /// # Errors
    /// [`QueryError::Result`] with every reason it cannot.
    pub fn new(signal: Signal, result: &DFSchema) -> Result<Self, QueryError> {
        let records = schema::records(signal);
        let table = signal.table_name();
        let mut problems = Vec::new();
        let mut sources = vec![None; records.fields().len()];
        for (i, (qualifier, field)) in result.iter().enumerate() {
            let name = field.name();
            if let Some((j, target)) = records.column_with_name(name) {
                if compatible(field.data_type(), target.data_type()) {
                    sources[j] = Some(i);
                } else {
                    problems.push(format!(
                        "column `{name}` is {} but {table}.{name} is {}",
                        field.data_type(),
                        target.data_type()
                    ));
                }
            } else if DERIVED.contains(&name.as_str()) {
                if qualifier.is_none() {
                    problems.push(format!(
                        "column `{name}` is computed, but it is read-only: it comes from each row's scope and resource"
                    ));
                }
            } else {
                problems.push(format!("`{name}` is not a column of {table}"));
            }
        }
        let mut required = vec![scope_id_column(signal)];
        if signal == Signal::Metrics {
            required.push(metric::METRIC_ID);
        }
        for name in required {
            let present = records
                .column_with_name(name)
                .is_some_and(|(j, _)| sources[j].is_some());
            if !present && !problems.iter().any(|p| p.contains(&format!("`{name}`"))) {
                problems.push(format!(
                    "the result has no `{name}` column, which ties each row to its scope and resource"
                ));
            }
        }
        if problems.is_empty() {
            Ok(RecordsMapping {
                signal,
                records,
                sources,
            })
        } else {
            Err(QueryError::Result(problems))
        }
    }

    /// The output tables for `input` and the query's `result`; `None` when
    /// the result has no rows.
    ///
    /// # Errors
    /// A value that does not fit (an integer out of range) or a `scope_id`
    /// that names no scope of the batch.
    pub fn apply(
        &self,
        input: &SignalTables,
        result_schema: &SchemaRef,
        result: &[RecordBatch],
    ) -> Result<Option<SignalTables>> {
        let rows: usize = result.iter().map(RecordBatch::num_rows).sum();
        if rows == 0 {
            return Ok(None);
        }
        let result = arrow::compute::concat_batches(result_schema, result)?;
        let mut columns = Vec::with_capacity(self.sources.len());
        for (field, source) in self.records.fields().iter().zip(&self.sources) {
            columns.push(match source {
                Some(i) => conform(result.column(*i), field)?,
                None if field.is_nullable() => {
                    arrow::array::new_null_array(field.data_type(), rows)
                }
                None => default_array(field.data_type(), rows)?,
            });
        }
        let records = RecordBatch::try_new(self.records.clone(), columns)?;
        let (scopes, resources) = referenced(self.signal, input, &records)?;
        Ok(Some(SignalTables {
            resources,
            scopes,
            records,
        }))
    }
}

fn ids<'a>(batch: &'a RecordBatch, table: &str, name: &str) -> Result<&'a UInt32Array> {
    match batch
        .column_by_name(name)
        .and_then(|c| c.as_primitive_opt::<UInt32Type>())
    {
        Some(c) => Ok(c),
        None => exec_err!("the {table} table has no UInt32 column {name:?}"),
    }
}

/// The scopes and resources of `input` that `records` reference.
fn referenced(
    signal: Signal,
    input: &SignalTables,
    records: &RecordBatch,
) -> Result<(RecordBatch, RecordBatch)> {
    let used: HashSet<u32> = ids(records, "records", scope_id_column(signal))?
        .iter()
        .flatten()
        .collect();
    let scope_ids = ids(&input.scopes, "scopes", scope::ID)?;
    let known: HashSet<u32> = scope_ids.iter().flatten().collect();
    if let Some(missing) = used.iter().find(|id| !known.contains(id)) {
        return exec_err!(
            "the result has scope_id {missing}, which is no scope of the batch (scope_id must come from the input rows)"
        );
    }
    let keep_scope: BooleanArray = scope_ids
        .iter()
        .map(|id| Some(id.is_some_and(|id| used.contains(&id))))
        .collect();
    let scopes = if keep_scope.true_count() == scope_ids.len() {
        input.scopes.clone()
    } else {
        filter_record_batch(&input.scopes, &keep_scope)?
    };
    let used_res: HashSet<u32> = ids(&scopes, "scopes", scope::RESOURCE_ID)?
        .iter()
        .flatten()
        .collect();
    let res_ids = ids(&input.resources, "resources", resource::ID)?;
    let keep_res: BooleanArray = res_ids
        .iter()
        .map(|id| Some(id.is_some_and(|id| used_res.contains(&id))))
        .collect();
    let resources = if keep_res.true_count() == res_ids.len() {
        input.resources.clone()
    } else {
        filter_record_batch(&input.resources, &keep_res)?
    };
    Ok((scopes, resources))
}

/// The view's records schema fields for docs and checks.
pub fn records_schema(signal: Signal) -> SchemaRef {
    schema::records(signal)
}
