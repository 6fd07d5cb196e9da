//! Results as a text table for a terminal.
//!
//! Attribute maps and `AnyValue` columns (the log `body`) are shown in their
//! string form (`{http.route: /users, http.status_code: 200}`) rather than
//! as Arrow structs with one field per value type.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray as _, RecordBatch, StringBuilder, StructArray};
use arrow::datatypes::{DataType, Field, Schema};

use crate::any_value::{AnyValueReader, Strings, is_any_value};

/// Formats `batches` as a table (Arrow's pretty printer), with attribute
/// columns shown as `{key: value, ...}`.
pub fn format_table(batches: &[RecordBatch]) -> String {
    let readable: Vec<RecordBatch> = batches.iter().map(readable).collect();
    match arrow::util::pretty::pretty_format_batches(&readable) {
        Ok(table) => table.to_string(),
        Err(e) => format!("cannot format the result: {e}"),
    }
}

/// `batch` with its map and AnyValue columns turned into strings.
fn readable(batch: &RecordBatch) -> RecordBatch {
    let schema = batch.schema();
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (field, col) in schema.fields().iter().zip(batch.columns()) {
        match as_text(col) {
            Some(text) => {
                fields.push(Arc::new(Field::new(field.name(), DataType::Utf8, true)));
                columns.push(text);
            }
            None => {
                fields.push(field.clone());
                columns.push(col.clone());
            }
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap_or_else(|_| batch.clone())
}

fn as_text(col: &ArrayRef) -> Option<ArrayRef> {
    if let Some(s) = col.as_struct_opt().filter(|s| is_any_value(s)) {
        let r = AnyValueReader::new(s);
        let mut out = StringBuilder::new();
        for i in 0..s.len() {
            out.append_option(r.string(i));
        }
        return Some(Arc::new(out.finish()));
    }
    let map = col.as_map_opt()?;
    let keys = Strings::of(map.keys().as_ref())?;
    let values: &StructArray = map.values().as_struct_opt().filter(|s| is_any_value(s))?;
    let r = AnyValueReader::new(values);
    let offsets = map.value_offsets();
    let mut out = StringBuilder::new();
    for row in 0..map.len() {
        if map.is_null(row) {
            out.append_null();
            continue;
        }
        let entries: Vec<String> = (offsets[row] as usize..offsets[row + 1] as usize)
            .map(|i| {
                let k = keys.get(i).unwrap_or_default();
                format!("{k}: {}", r.string(i).unwrap_or_default())
            })
            .collect();
        out.append_value(format!("{{{}}}", entries.join(", ")));
    }
    Some(Arc::new(out.finish()))
}

/// Every cell of `batches` as text, row by row (NULL as `NULL`, the empty
/// string as `(empty)`, attributes as `{key: value, ...}`): the form
/// sqllogictest files compare.
pub fn format_rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for batch in batches {
        let batch = readable(batch);
        let options = arrow::util::display::FormatOptions::default().with_null("NULL");
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| arrow::util::display::ArrayFormatter::try_new(c.as_ref(), &options))
            .collect();
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| match f {
                        Ok(f) => {
                            let s = f.value(row).to_string();
                            if s.is_empty() {
                                "(empty)".to_string()
                            } else {
                                s
                            }
                        }
                        Err(e) => format!("<{e}>"),
                    })
                    .collect(),
            );
        }
    }
    rows
}
