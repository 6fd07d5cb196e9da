//! Concatenation of tables of one signal, with ids renumbered so that the
//! ids of each part do not collide with those of the parts before it.

use std::sync::Arc;

use arrow_array::types::UInt32Type;
use arrow_array::{Array, ArrayRef, PrimitiveArray, RecordBatch, UInt32Array};
use arrow_schema::{Field, Schema, SchemaRef};

use super::columns::{Cols, schema_err};
use crate::schema::{metric as mt, resource as rc, scope as sc, span as sp};
use crate::{PdataError, Signal, SignalTables};

/// Concatenates `parts`: ids of each part are offset by one more than the
/// largest id of the parts before it.
pub(crate) fn concat(signal: Signal, parts: &[&SignalTables]) -> Result<SignalTables, PdataError> {
    let Some(first) = parts.first() else {
        return Err(PdataError::Empty);
    };
    if parts.len() == 1 {
        return Ok((*first).clone());
    }
    // The records table's reference to scopes has the same name in every
    // signal; metrics also number their metrics.
    let scope_ref = sp::SCOPE_ID;
    let metric_ref = (signal == Signal::Metrics).then_some(mt::METRIC_ID);

    let (mut resource_off, mut scope_off, mut metric_off) = (0u32, 0u32, 0u32);
    let mut resources = Vec::with_capacity(parts.len());
    let mut scopes = Vec::with_capacity(parts.len());
    let mut records = Vec::with_capacity(parts.len());
    for part in parts {
        let r = Cols::of_batch(signal, "resources", &part.resources);
        let s = Cols::of_batch(signal, "scopes", &part.scopes);
        let t = Cols::of_batch(signal, "records", &part.records);
        let resource_ids = r.ids(rc::ID)?;
        let scope_ids = s.ids(sc::ID)?;
        let scope_resource_ids = s.ids(sc::RESOURCE_ID)?;
        let record_scope_ids = t.ids(scope_ref)?;
        let record_metric_ids = metric_ref.map(|m| t.ids(m)).transpose()?;

        resources.push(replace(
            &part.resources,
            &[(rc::ID, shift(signal, resource_ids, resource_off)?)],
        )?);
        scopes.push(replace(
            &part.scopes,
            &[
                (sc::ID, shift(signal, scope_ids, scope_off)?),
                (
                    sc::RESOURCE_ID,
                    shift(signal, scope_resource_ids, resource_off)?,
                ),
            ],
        )?);
        let mut changed = vec![(scope_ref, shift(signal, record_scope_ids, scope_off)?)];
        if let (Some(name), Some(ids)) = (metric_ref, record_metric_ids) {
            changed.push((name, shift(signal, ids, metric_off)?));
            metric_off = next_offset(signal, metric_off, &[ids])?;
        }
        records.push(replace(&part.records, &changed)?);

        resource_off = next_offset(signal, resource_off, &[resource_ids, scope_resource_ids])?;
        scope_off = next_offset(signal, scope_off, &[scope_ids, record_scope_ids])?;
    }
    Ok(SignalTables {
        resources: concat_batches(signal, "resources", &resources)?,
        scopes: concat_batches(signal, "scopes", &scopes)?,
        records: concat_batches(signal, "records", &records)?,
    })
}

/// The offset for the next part: past the largest id any of `columns` uses.
fn next_offset(
    signal: Signal,
    offset: u32,
    columns: &[&PrimitiveArray<UInt32Type>],
) -> Result<u32, PdataError> {
    let max = columns
        .iter()
        .filter_map(|c| c.iter().flatten().max())
        .max();
    match max {
        None => Ok(offset),
        Some(m) => offset
            .checked_add(m)
            .and_then(|v| v.checked_add(1))
            .ok_or_else(|| schema_err(signal, "ids overflow u32 when concatenating")),
    }
}

fn shift(
    signal: Signal,
    ids: &PrimitiveArray<UInt32Type>,
    offset: u32,
) -> Result<ArrayRef, PdataError> {
    if ids.null_count() > 0 {
        return Err(schema_err(signal, "null ids cannot be concatenated"));
    }
    if offset == 0 {
        return Ok(Arc::new(ids.clone()));
    }
    let values = ids
        .values()
        .iter()
        .map(|&id| id.checked_add(offset))
        .collect::<Option<Vec<u32>>>()
        .ok_or_else(|| schema_err(signal, "ids overflow u32 when concatenating"))?;
    Ok(Arc::new(UInt32Array::new(
        values.into(),
        ids.nulls().cloned(),
    )))
}

/// `batch` with the named columns replaced.
fn replace(batch: &RecordBatch, columns: &[(&str, ArrayRef)]) -> Result<RecordBatch, PdataError> {
    let schema = batch.schema();
    let mut out = batch.columns().to_vec();
    for (name, column) in columns {
        if let Ok(i) = schema.index_of(name) {
            out[i] = column.clone();
        }
    }
    Ok(RecordBatch::try_new(schema, out)?)
}

/// Concatenates batches that have the same columns; a column is nullable
/// in the result if it is in any part.
fn concat_batches(
    signal: Signal,
    table: &str,
    batches: &[RecordBatch],
) -> Result<RecordBatch, PdataError> {
    let Some(first) = batches.first() else {
        return Err(PdataError::Empty);
    };
    let first_schema = first.schema();
    let mut fields: Vec<Field> = first_schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    for b in &batches[1..] {
        let schema = b.schema();
        if schema.fields().len() != fields.len() {
            return Err(schema_err(
                signal,
                format!("{table}: cannot concatenate tables with different columns"),
            ));
        }
        for (f, other) in fields.iter_mut().zip(schema.fields()) {
            if f.name() != other.name() || f.data_type() != other.data_type() {
                return Err(schema_err(
                    signal,
                    format!(
                        "{table}: cannot concatenate column {} ({}) with {} ({})",
                        f.name(),
                        f.data_type(),
                        other.name(),
                        other.data_type()
                    ),
                ));
            }
            if other.is_nullable() && !f.is_nullable() {
                *f = f.clone().with_nullable(true);
            }
        }
    }
    let schema: SchemaRef = Arc::new(Schema::new_with_metadata(
        fields,
        first_schema.metadata().clone(),
    ));
    Ok(arrow_select::concat::concat_batches(&schema, batches)?)
}
