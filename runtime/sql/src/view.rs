//! The table a query sees for one signal: the batch's records, each with
//! its scope's and resource's columns, named as in the store
//! (`docs/store.md`), so a query reads the same in `weir query` and in a
//! pipeline.
//!
//! Columns: every column of the signal's records table (`scope_id` and, for
//! metrics, `metric_id` included: they tie a result row back to its scope),
//! then [`DERIVED`]. Only the projected columns are built for each batch, so
//! a query that never reads `service_name` never pays for it. Metric
//! placeholder rows (metrics without data points) are not part of the view.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use arrow::array::{
    Array, ArrayRef, AsArray as _, BooleanArray, RecordBatch, RecordBatchOptions, StringArray,
    UInt32Array,
};
use arrow::compute::{filter_record_batch, take};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt32Type};
use datafusion::common::{DataFusionError, Result, exec_err};
use weir_pdata::schema::{self, metric, resource, scope};
use weir_pdata::{Signal, SignalTables};

use crate::conform::{conform, default_array};

/// Resource attribute `service.name` (string values).
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

/// The read-only columns a view adds to the records, from the record's
/// scope and resource.
pub const DERIVED: [&str; 6] = [
    SERVICE_NAME,
    RESOURCE_ATTRIBUTES,
    RESOURCE_SCHEMA_URL,
    SCOPE_NAME,
    SCOPE_VERSION,
    SCOPE_ATTRIBUTES,
];

fn derived_fields() -> Vec<Field> {
    vec![
        Field::new(SERVICE_NAME, DataType::Utf8, true),
        Field::new(RESOURCE_ATTRIBUTES, schema::attributes_type(), true),
        Field::new(RESOURCE_SCHEMA_URL, DataType::Utf8, true),
        Field::new(SCOPE_NAME, schema::dictionary_utf8(), true),
        Field::new(SCOPE_VERSION, DataType::Utf8, true),
        Field::new(SCOPE_ATTRIBUTES, schema::attributes_type(), true),
    ]
}

fn view_of(signal: Signal) -> SchemaRef {
    let records = schema::records(signal);
    let mut fields: Vec<Field> = records
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.extend(derived_fields());
    Arc::new(Schema::new(fields))
}

static VIEWS: LazyLock<[SchemaRef; 4]> = LazyLock::new(|| {
    [
        view_of(Signal::Traces),
        view_of(Signal::Metrics),
        view_of(Signal::Logs),
        view_of(Signal::Profiles),
    ]
});

/// The schema of the SQL table of `signal`.
pub fn view_schema(signal: Signal) -> SchemaRef {
    match signal {
        Signal::Traces => VIEWS[0].clone(),
        Signal::Metrics => VIEWS[1].clone(),
        Signal::Logs => VIEWS[2].clone(),
        Signal::Profiles => VIEWS[3].clone(),
    }
}

/// The name of the `scope_id` column of `signal`'s records.
pub fn scope_id_column(_signal: Signal) -> &'static str {
    // The same name in every records table.
    schema::span::SCOPE_ID
}

fn u32_column<'a>(batch: &'a RecordBatch, table: &str, name: &str) -> Result<&'a UInt32Array> {
    match batch
        .column_by_name(name)
        .and_then(|c| c.as_primitive_opt::<UInt32Type>())
    {
        Some(c) => Ok(c),
        None => exec_err!("the batch's {table} table has no UInt32 column {name:?}"),
    }
}

/// Row numbers in a table whose id column is `ids`, for each of `refs`.
pub(crate) fn rows_of(ids: &UInt32Array, refs: &UInt32Array, what: &str) -> Result<UInt32Array> {
    let n = ids.len();
    let dense = ids.null_count() == 0
        && ids
            .values()
            .iter()
            .enumerate()
            .all(|(i, id)| *id as usize == i);
    if dense {
        return refs
            .iter()
            .map(|r| match r {
                Some(r) if (r as usize) < n => Ok(Some(r)),
                Some(r) => exec_err!("{what} {r} does not exist in the batch"),
                None => Ok(None),
            })
            .collect();
    }
    let index: HashMap<u32, u32> = ids
        .iter()
        .enumerate()
        .filter_map(|(row, id)| Some((id?, u32::try_from(row).ok()?)))
        .collect();
    refs.iter()
        .map(|r| match r {
            Some(r) => match index.get(&r) {
                Some(row) => Ok(Some(*row)),
                None => exec_err!("{what} {r} does not exist in the batch"),
            },
            None => Ok(None),
        })
        .collect()
}

/// The records of `tables` that a view shows: all rows, or for metrics the
/// rows that are data points.
fn shown_records(signal: Signal, records: &RecordBatch) -> Result<RecordBatch> {
    if signal != Signal::Metrics {
        return Ok(records.clone());
    }
    let Some(attrs) = records.column_by_name(metric::ATTRIBUTES) else {
        return Ok(records.clone());
    };
    match attrs.logical_nulls().filter(|n| n.null_count() > 0) {
        None => Ok(records.clone()),
        Some(valid) => Ok(filter_record_batch(
            records,
            &BooleanArray::new(valid.into_inner(), None),
        )?),
    }
}

/// The value of string attribute `key` in each row of an attribute map.
fn string_attribute(map: &ArrayRef, key: &str) -> ArrayRef {
    let Some(map) = map.as_map_opt() else {
        return arrow::array::new_null_array(&DataType::Utf8, map.len());
    };
    let keys = map.keys().as_string_opt::<i32>();
    let strs = map
        .values()
        .as_struct_opt()
        .and_then(|v| v.column_by_name(schema::any_value::STR))
        .and_then(|c| c.as_string_opt::<i32>());
    let (Some(keys), Some(strs)) = (keys, strs) else {
        return arrow::array::new_null_array(&DataType::Utf8, map.len());
    };
    let offsets = map.value_offsets();
    let out: StringArray = (0..map.len())
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
        .collect();
    Arc::new(out)
}

/// Builds the projected view of one batch.
///
/// `projection` indexes [`view_schema`]; `rows`, when given, selects (and
/// orders) the records shown. Records columns are made to fit the view's
/// types (a processor upstream may have produced other string layouts or
/// left columns out).
///
/// # Errors
/// The batch does not follow its schema (a dangling scope or resource id, a
/// column that cannot be cast).
pub fn build_view(
    signal: Signal,
    tables: &SignalTables,
    projection: &[usize],
    rows: Option<&UInt32Array>,
) -> Result<RecordBatch> {
    let view = view_schema(signal);
    let records = shown_records(signal, &tables.records)?;
    let n = rows.map_or(records.num_rows(), Array::len);
    let n_records = schema::records(signal).fields().len();
    let needs_joins = projection.iter().any(|&i| i >= n_records);
    let select = |a: &ArrayRef| -> Result<ArrayRef> {
        match rows {
            Some(r) => Ok(take(a, r, None)?),
            None => Ok(a.clone()),
        }
    };
    // Record row -> scope row -> resource row, only when needed.
    let (scope_rows, resource_rows) = if needs_joins {
        let scope_ids = u32_column(&records, "records", scope_id_column(signal))?;
        let scope_ids = match rows {
            Some(r) => take(scope_ids, r, None)?
                .as_primitive::<UInt32Type>()
                .clone(),
            None => scope_ids.clone(),
        };
        let scope_rows = rows_of(
            u32_column(&tables.scopes, "scopes", scope::ID)?,
            &scope_ids,
            "scope",
        )?;
        let res_of_scope = rows_of(
            u32_column(&tables.resources, "resources", resource::ID)?,
            u32_column(&tables.scopes, "scopes", scope::RESOURCE_ID)?,
            "resource",
        )?;
        let resource_rows = take(&res_of_scope, &scope_rows, None)?
            .as_primitive::<UInt32Type>()
            .clone();
        (Some(scope_rows), Some(resource_rows))
    } else {
        (None, None)
    };
    let mut fields = Vec::with_capacity(projection.len());
    let mut columns = Vec::with_capacity(projection.len());
    for &i in projection {
        let field = view.field(i);
        let col = if i < n_records {
            match records.column_by_name(field.name()) {
                Some(c) => conform(&select(c)?, field)?,
                None => default_or_null(field, n)?,
            }
        } else {
            let (table, rows, name) = match field.name().as_str() {
                SERVICE_NAME | RESOURCE_ATTRIBUTES => {
                    (&tables.resources, &resource_rows, resource::ATTRIBUTES)
                }
                RESOURCE_SCHEMA_URL => (&tables.resources, &resource_rows, resource::SCHEMA_URL),
                SCOPE_NAME => (&tables.scopes, &scope_rows, scope::NAME),
                SCOPE_VERSION => (&tables.scopes, &scope_rows, scope::VERSION),
                SCOPE_ATTRIBUTES => (&tables.scopes, &scope_rows, scope::ATTRIBUTES),
                other => return exec_err!("unknown view column {other}"),
            };
            let Some(rows) = rows else {
                return exec_err!("view rows not computed");
            };
            let source = match table.column_by_name(name) {
                Some(c) => c.clone(),
                None => default_or_null(field, table.num_rows())?,
            };
            let source = if field.name() == SERVICE_NAME {
                string_attribute(&source, "service.name")
            } else {
                source
            };
            conform(&take(&source, rows, None)?, field)?
        };
        fields.push(Arc::new(field.clone()));
        columns.push(col);
    }
    let schema = Arc::new(Schema::new(fields));
    let options = RecordBatchOptions::new().with_row_count(Some(n));
    RecordBatch::try_new_with_options(schema, columns, &options).map_err(DataFusionError::from)
}

fn default_or_null(field: &Field, n: usize) -> Result<ArrayRef> {
    if field.is_nullable() {
        Ok(arrow::array::new_null_array(field.data_type(), n))
    } else {
        Ok(default_array(field.data_type(), n)?)
    }
}
