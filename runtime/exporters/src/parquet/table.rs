//! The stored form of a batch: records joined with their scope and resource.
//!
//! A batch's `records` table references `scopes` and `resources` by ids that
//! mean nothing outside the batch. For storage each record row gets its
//! resource's and scope's columns (gathered with `take` by those ids) and the
//! ids are dropped, so every row of a Parquet file stands alone. The columns
//! are documented in `docs/store.md`.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::cast::AsArray as _;
use arrow_array::types::UInt32Type;
use arrow_array::{Array, ArrayRef, MapArray, RecordBatch, StringArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema};
use arrow_select::filter::filter_record_batch;
use arrow_select::take::take;
use weir_pdata::schema::{any_value, log, metric, resource, scope, span};
use weir_pdata::{PdataError, Signal, SignalTables};

use crate::ExportError;

/// The `service_name` column: resource attribute `service.name`.
pub const SERVICE_NAME: &str = "service_name";
/// The resource's attributes.
pub const RESOURCE_ATTRIBUTES: &str = "resource_attributes";
/// The `Resource*` message's schema URL.
pub const RESOURCE_SCHEMA_URL: &str = "resource_schema_url";
/// The instrumentation scope's name.
pub const SCOPE_NAME: &str = "scope_name";
/// The instrumentation scope's version.
pub const SCOPE_VERSION: &str = "scope_version";
/// The instrumentation scope's attributes.
pub const SCOPE_ATTRIBUTES: &str = "scope_attributes";

/// Record columns that are ids local to a batch, not stored.
const INTERNAL_COLUMNS: [&str; 2] = [span::SCOPE_ID, metric::METRIC_ID];

/// The resource attribute copied to [`SERVICE_NAME`].
const SERVICE_NAME_KEY: &str = "service.name";

fn schema_error(signal: Signal, reason: impl Into<String>) -> ExportError {
    ExportError::Data(PdataError::Schema {
        signal,
        reason: reason.into(),
    })
}

fn column<'a>(
    signal: Signal,
    batch: &'a RecordBatch,
    table: &str,
    name: &str,
) -> Result<&'a ArrayRef, ExportError> {
    batch
        .column_by_name(name)
        .ok_or_else(|| schema_error(signal, format!("{table} has no column {name:?}")))
}

fn u32_column<'a>(
    signal: Signal,
    batch: &'a RecordBatch,
    table: &str,
    name: &str,
) -> Result<&'a UInt32Array, ExportError> {
    column(signal, batch, table, name)?
        .as_primitive_opt::<UInt32Type>()
        .ok_or_else(|| schema_error(signal, format!("{table}.{name} is not UInt32")))
}

/// Row numbers in a table whose `id` column is `ids` for each reference in
/// `refs`. Dense ids (`ids[i] == i`, the decoded case) map to themselves.
fn rows_of(
    signal: Signal,
    ids: &UInt32Array,
    refs: &UInt32Array,
    what: &str,
) -> Result<UInt32Array, ExportError> {
    let n = ids.len();
    let dense = ids.null_count() == 0
        && ids
            .values()
            .iter()
            .enumerate()
            .all(|(i, id)| *id as usize == i);
    let rows: Result<UInt32Array, ExportError> = if dense {
        refs.iter()
            .map(|r| match r {
                Some(r) if (r as usize) < n => Ok(Some(r)),
                Some(r) => Err(schema_error(signal, format!("{what} {r} does not exist"))),
                None => Ok(None),
            })
            .collect()
    } else {
        let index: HashMap<u32, u32> = ids
            .iter()
            .enumerate()
            .filter_map(|(row, id)| Some((id?, u32::try_from(row).ok()?)))
            .collect();
        refs.iter()
            .map(|r| match r {
                Some(r) => index
                    .get(&r)
                    .copied()
                    .map(Some)
                    .ok_or_else(|| schema_error(signal, format!("{what} {r} does not exist"))),
                None => Ok(None),
            })
            .collect()
    };
    rows
}

/// The value of string attribute `key` in each row of a `Map<Utf8,
/// AnyValue>` column (null when absent or not a string).
pub fn string_attribute(map: &MapArray, key: &str) -> StringArray {
    let keys = map.keys().as_string_opt::<i32>();
    let strs = map
        .values()
        .as_struct_opt()
        .and_then(|v| v.column_by_name(any_value::STR))
        .and_then(|c| c.as_string_opt::<i32>());
    let (Some(keys), Some(strs)) = (keys, strs) else {
        return StringArray::new_null(map.len());
    };
    let offsets = map.value_offsets();
    (0..map.len())
        .map(|row| {
            if map.is_null(row) {
                return None;
            }
            let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
            (start..end)
                .find(|&i| keys.is_valid(i) && keys.value(i) == key)
                .filter(|&i| strs.is_valid(i))
                .map(|i| strs.value(i))
        })
        .collect()
}

/// `records` without the rows that stand for a metric with no data points
/// (null `attributes`): they carry no value to query.
fn without_placeholders(signal: Signal, records: &RecordBatch) -> Result<RecordBatch, ExportError> {
    if signal != Signal::Metrics {
        return Ok(records.clone());
    }
    let attrs = column(signal, records, "records", metric::ATTRIBUTES)?;
    let Some(valid) = attrs.logical_nulls().filter(|n| n.null_count() > 0) else {
        return Ok(records.clone());
    };
    let keep = arrow_array::BooleanArray::new(valid.into_inner(), None);
    Ok(filter_record_batch(records, &keep)?)
}

/// Joins each record of `tables` with its scope and resource (see the
/// module docs).
///
/// # Errors
/// [`ExportError::Data`] when the tables do not follow the signal's schema
/// (a reference to a scope or resource that does not exist).
pub fn stored_batch(signal: Signal, tables: &SignalTables) -> Result<RecordBatch, ExportError> {
    let SignalTables {
        resources,
        scopes,
        records,
    } = tables;
    let records = &without_placeholders(signal, records)?;
    let scope_id = match signal {
        Signal::Traces => span::SCOPE_ID,
        Signal::Logs => log::SCOPE_ID,
        Signal::Metrics => metric::SCOPE_ID,
        Signal::Profiles => weir_pdata::schema::profile::SCOPE_ID,
    };
    let scope_ids = u32_column(signal, records, "records", scope_id)?;
    let scope_rows = rows_of(
        signal,
        u32_column(signal, scopes, "scopes", scope::ID)?,
        scope_ids,
        "scope",
    )?;
    let resource_rows_of_scopes = rows_of(
        signal,
        u32_column(signal, resources, "resources", resource::ID)?,
        u32_column(signal, scopes, "scopes", scope::RESOURCE_ID)?,
        "resource",
    )?;
    let resource_rows = take(&resource_rows_of_scopes, &scope_rows, None)?;
    let resource_rows = resource_rows.as_primitive::<UInt32Type>();

    let resource_attrs = column(signal, resources, "resources", resource::ATTRIBUTES)?;
    let service_names: ArrayRef = match resource_attrs.as_map_opt() {
        Some(map) => Arc::new(string_attribute(map, SERVICE_NAME_KEY)),
        None => return Err(schema_error(signal, "resources.attributes is not a Map")),
    };

    let mut fields: Vec<Arc<Field>> = Vec::with_capacity(records.num_columns() + 6);
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(records.num_columns() + 6);
    fields.push(Arc::new(Field::new(SERVICE_NAME, DataType::Utf8, true)));
    columns.push(take(&service_names, resource_rows, None)?);
    for (field, col) in records.schema().fields().iter().zip(records.columns()) {
        if !INTERNAL_COLUMNS.contains(&field.name().as_str()) {
            fields.push(field.clone());
            columns.push(col.clone());
        }
    }
    let mut joined =
        |table: &RecordBatch, table_name: &str, name: &str, as_name: &str, rows: &UInt32Array| {
            let (i, field) = table
                .schema()
                .column_with_name(name)
                .map(|(i, f)| (i, f.clone()))
                .ok_or_else(|| {
                    schema_error(signal, format!("{table_name} has no column {name:?}"))
                })?;
            // Every record has a resource and a scope, but their columns may be
            // null there; the stored column is nullable either way.
            fields.push(Arc::new(field.with_name(as_name).with_nullable(true)));
            columns.push(take(table.column(i), rows, None)?);
            Ok::<(), ExportError>(())
        };
    joined(
        resources,
        "resources",
        resource::ATTRIBUTES,
        RESOURCE_ATTRIBUTES,
        resource_rows,
    )?;
    joined(
        resources,
        "resources",
        resource::SCHEMA_URL,
        RESOURCE_SCHEMA_URL,
        resource_rows,
    )?;
    joined(scopes, "scopes", scope::NAME, SCOPE_NAME, &scope_rows)?;
    joined(scopes, "scopes", scope::VERSION, SCOPE_VERSION, &scope_rows)?;
    joined(
        scopes,
        "scopes",
        scope::ATTRIBUTES,
        SCOPE_ATTRIBUTES,
        &scope_rows,
    )?;
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}
