//! The `batch` resource: the host side of every `weir:pipeline/host`
//! function.
//!
//! A [`BatchState`] starts from what the batch has: its OTLP bytes when it
//! came from a receiver untouched, else its Arrow tables. The attribute
//! kernels (`delete-attributes`, `redact`, `hash-attributes`) and the
//! metadata calls work on the bytes directly (`weir_pdata::otlp::edit`):
//! a plugin that only uses them never makes the batch decode to Arrow nor
//! encode back. The first call that needs columns (a read, a write, a row
//! selection, sampling) decodes the bytes once; from then on everything
//! works on the tables. Writes and Arrow kernels replace whole columns
//! (Arrow arrays are immutable and shared, so a replaced column costs its
//! own rebuild and nothing else). When nothing was changed the node
//! forwards the original batch, OTLP bytes and all.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt32Type;
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow_buffer::{BooleanBuffer, Buffer};
use bytes::Bytes;
use wasmtime::component::Resource;
use weir_pdata::otlp::edit::{self, AttributeEditor, AttributeSet};
use weir_pdata::schema;
use weir_pdata::{Batch, Signal, SignalTables};

use crate::bindings::weir::pipeline::host::{Host, HostBatch};
use crate::bindings::weir::pipeline::types::{
    self as wit, AttributeColumn, AttributeScope, Column, HostError, LogLevel, MetricPoint,
};
use crate::host::attributes::MapView;
use crate::host::state::{HostState, MAX_LOGS_PER_CALL};
use crate::host::{columns, emit, kernels, sampling};

/// The batch a `process` call works on.
#[derive(Debug)]
pub struct BatchState {
    signal: Signal,
    /// The request bytes while no call needed columns (edited in place by
    /// the wire kernels), with the item count.
    wire: Option<(Bytes, usize)>,
    /// The tables, once decoded (or given); authoritative when present.
    decoded: Option<SignalTables>,
    changed: bool,
}

type HostResult<T> = wasmtime::Result<Result<T, HostError>>;

fn internal(e: impl std::fmt::Display) -> HostError {
    HostError::InvalidColumn(e.to_string())
}

/// What a `process` call left.
#[derive(Debug)]
pub enum Changed {
    /// Nothing: forward the original batch.
    Nothing,
    /// New request bytes (the wire kernels changed them), with the item
    /// count.
    Wire(Bytes, usize),
    /// New tables.
    Tables(SignalTables),
}

impl Changed {
    /// The batch to forward: `original` or a new one.
    pub fn into_batch(self, original: &Batch) -> Batch {
        match self {
            Changed::Nothing => original.clone(),
            Changed::Wire(bytes, items) => {
                Batch::from_otlp_unchecked(original.signal(), bytes, items)
            }
            Changed::Tables(t) => Batch::from_tables(original.signal(), t),
        }
    }
}

impl BatchState {
    /// The working copy of `tables` (an `Arc` clone of each array).
    pub fn new(signal: Signal, tables: &SignalTables) -> Self {
        BatchState {
            signal,
            wire: None,
            decoded: Some(tables.clone()),
            changed: false,
        }
    }

    /// Works on `batch` as it is: its bytes when it has them (decoded only
    /// if a call needs columns), else its tables.
    ///
    /// # Errors
    /// A batch with neither (a bug upstream).
    pub fn of(batch: &Batch) -> Result<Self, weir_pdata::PdataError> {
        if batch.has_otlp() {
            return Ok(BatchState {
                signal: batch.signal(),
                wire: Some((batch.otlp_bytes()?, batch.items())),
                decoded: None,
                changed: false,
            });
        }
        Ok(BatchState::new(batch.signal(), batch.tables()?.as_ref()))
    }

    /// What changed.
    pub fn into_changed(self) -> Changed {
        if !self.changed {
            return Changed::Nothing;
        }
        match (self.decoded, self.wire) {
            (Some(t), _) => Changed::Tables(t),
            (None, Some((bytes, items))) => Changed::Wire(bytes, items),
            (None, None) => Changed::Nothing,
        }
    }

    /// The tables, decoding the bytes on first use.
    fn tables(&mut self) -> Result<&mut SignalTables, HostError> {
        if self.decoded.is_none() {
            let (bytes, items) = self
                .wire
                .take()
                .ok_or_else(|| internal("the batch has no data"))?;
            match weir_pdata::otlp::decode(self.signal, &bytes) {
                Ok(t) => self.decoded = Some(t),
                Err(e) => {
                    self.wire = Some((bytes, items));
                    return Err(internal(format!("the batch does not decode: {e}")));
                }
            }
        }
        self.decoded
            .as_mut()
            .ok_or_else(|| internal("the batch has no data"))
    }

    /// The request bytes, while the batch is not decoded.
    fn wire_bytes(&self) -> Option<&Bytes> {
        match (&self.decoded, &self.wire) {
            (None, Some((b, _))) => Some(b),
            _ => None,
        }
    }

    /// Runs a wire edit while the batch is still bytes. `None` when the
    /// batch is decoded or the edit declined (unusual encodings): use the
    /// tables then.
    fn edit_wire(
        &mut self,
        scope: AttributeScope,
        editor: &mut dyn AttributeEditor,
    ) -> Option<edit::Edited> {
        let bytes = self.wire_bytes()?;
        let mut edited = edit::edit_attributes(self.signal, bytes, set_of(scope), editor).ok()?;
        if let (Some(new), Some((bytes, _))) = (edited.bytes.take(), self.wire.as_mut()) {
            *bytes = Bytes::from(new);
            self.changed = true;
        }
        Some(edited)
    }

    /// The number of records, without decoding when the count is known.
    fn rows(&mut self) -> usize {
        // Metrics count placeholder rows (metrics without points) as rows,
        // which only the tables know.
        if self.signal != Signal::Metrics
            && let Some((_, items)) = self.wire.as_ref().filter(|_| self.decoded.is_none())
        {
            return *items;
        }
        self.tables().map_or(0, |t| t.records.num_rows())
    }

    fn table_mut(&mut self, scope: AttributeScope) -> Result<&mut RecordBatch, HostError> {
        let t = self.tables()?;
        Ok(match scope {
            AttributeScope::Record => &mut t.records,
            AttributeScope::Resource => &mut t.resources,
            AttributeScope::Scope => &mut t.scopes,
        })
    }

    /// The attribute map column of a scope.
    fn attributes(&mut self, scope: AttributeScope) -> Result<ArrayRef, HostError> {
        self.table_mut(scope)?
            .column_by_name(schema::span::ATTRIBUTES)
            .cloned()
            .ok_or_else(|| internal("the table has no attributes column"))
    }

    /// `redact-body` on the tables: the new `body` column with its string
    /// bodies redacted, the number changed and the bytes written; `None`
    /// when nothing matched (or the signal has no body).
    fn redacted_body(
        &mut self,
        re: &regex::Regex,
        replacement: &str,
    ) -> Result<Option<(ArrayRef, u32, u64)>, HostError> {
        if self.signal != Signal::Logs {
            return Ok(None);
        }
        let t = self.tables()?;
        let Some(body) = t.records.column_by_name(schema::log::BODY) else {
            return Ok(None);
        };
        let body = body
            .as_struct_opt()
            .ok_or_else(|| internal("the body column is not a struct"))?;
        let types = body
            .column_by_name(schema::any_value::TYPE)
            .and_then(|c| c.as_primitive_opt::<arrow_array::types::UInt8Type>())
            .ok_or_else(|| internal("the body has no type column"))?;
        let strs = body
            .column_by_name(schema::any_value::STR)
            .and_then(|c| c.as_string_opt::<i32>())
            .ok_or_else(|| internal("the body has no str column"))?;
        let mut changes = Vec::new();
        let mut out = String::new();
        for row in 0..body.len() {
            if body.is_null(row)
                || strs.is_null(row)
                || types.value(row) != schema::ValueType::Str as u8
            {
                continue;
            }
            out.clear();
            if kernels::redact_value_into(re, replacement, strs.value(row), &mut out) {
                changes.push((row, out.clone()));
            }
        }
        if changes.is_empty() {
            return Ok(None);
        }
        let written = changes.iter().map(|(_, s)| s.len() as u64).sum();
        let n = u32::try_from(changes.len()).unwrap_or(u32::MAX);
        let str = Arc::new(crate::host::attributes::replace_strings(strs, &changes));
        let (fields, mut columns, nulls) = body.clone().into_parts();
        let i = fields
            .iter()
            .position(|f| f.name() == schema::any_value::STR)
            .ok_or_else(|| internal("the body has no str column"))?;
        columns[i] = str;
        let body = arrow_array::StructArray::try_new(fields, columns, nulls).map_err(internal)?;
        Ok(Some((Arc::new(body), n, written)))
    }

    /// Replaces the attribute map column of a scope.
    fn set_attributes(&mut self, scope: AttributeScope, map: ArrayRef) -> Result<(), HostError> {
        let table = self.table_mut(scope)?;
        *table = replace_column(table, schema::span::ATTRIBUTES, map)?;
        self.changed = true;
        Ok(())
    }

    /// For each record, the row of its scope.
    fn scope_rows(&mut self) -> Result<Vec<u32>, HostError> {
        let t = self.tables()?;
        let scope_ids = ids(&t.records, schema::span::SCOPE_ID)?;
        let index = row_index(ids(&t.scopes, schema::scope::ID)?);
        Ok(scope_ids
            .iter()
            .map(|id| index.get(id).copied().unwrap_or(u32::MAX))
            .collect())
    }

    /// For each record, the row of its resource.
    fn resource_rows(&mut self) -> Result<Vec<u32>, HostError> {
        let scope_rows = self.scope_rows()?;
        let t = self.tables()?;
        let scope_resources = ids(&t.scopes, schema::scope::RESOURCE_ID)?;
        let index = row_index(ids(&t.resources, schema::resource::ID)?);
        Ok(scope_rows
            .iter()
            .map(|&s| {
                scope_resources
                    .get(s as usize)
                    .and_then(|rid| index.get(rid).copied())
                    .unwrap_or(u32::MAX)
            })
            .collect())
    }

    /// Keeps the records set in `mask`; drops scopes and resources left
    /// without records by this (ones that had none before stay, so the
    /// batch stays lossless). Returns the number of records left.
    fn keep(&mut self, mask: &BooleanArray) -> Result<u32, HostError> {
        let t = self.tables()?;
        let rows = t.records.num_rows();
        let kept = mask.true_count();
        if kept == rows {
            return Ok(u32::try_from(rows).unwrap_or(u32::MAX));
        }
        let before: HashSet<u32> = ids(&t.records, schema::span::SCOPE_ID)?
            .iter()
            .copied()
            .collect();
        let records =
            arrow_select::filter::filter_record_batch(&t.records, mask).map_err(internal)?;
        let after: HashSet<u32> = ids(&records, schema::span::SCOPE_ID)?
            .iter()
            .copied()
            .collect();
        t.records = records;
        let emptied: HashSet<u32> = before.difference(&after).copied().collect();
        if !emptied.is_empty() {
            let scope_ids = ids(&t.scopes, schema::scope::ID)?;
            let resource_of = ids(&t.scopes, schema::scope::RESOURCE_ID)?;
            let resources_before: HashSet<u32> = resource_of.iter().copied().collect();
            let keep_scope: BooleanArray = scope_ids
                .iter()
                .map(|id| Some(!emptied.contains(id)))
                .collect();
            let scopes = arrow_select::filter::filter_record_batch(&t.scopes, &keep_scope)
                .map_err(internal)?;
            let resources_after: HashSet<u32> = ids(&scopes, schema::scope::RESOURCE_ID)?
                .iter()
                .copied()
                .collect();
            t.scopes = scopes;
            let gone: HashSet<u32> = resources_before
                .difference(&resources_after)
                .copied()
                .collect();
            if !gone.is_empty() {
                let keep_resource: BooleanArray = ids(&t.resources, schema::resource::ID)?
                    .iter()
                    .map(|id| Some(!gone.contains(id)))
                    .collect();
                t.resources =
                    arrow_select::filter::filter_record_batch(&t.resources, &keep_resource)
                        .map_err(internal)?;
            }
        }
        self.changed = true;
        Ok(u32::try_from(kept).unwrap_or(u32::MAX))
    }

    /// The consistent-probability sampling decision per record, and the
    /// new trace state of spans whose threshold rises.
    fn sample(&mut self, ratio: f64) -> Result<u32, HostError> {
        let signal = self.signal;
        let tb = self.tables()?;
        let t = sampling::threshold(ratio);
        let records = &tb.records;
        let rows = records.num_rows();
        let trace_ids = records
            .column_by_name(schema::span::TRACE_ID)
            .and_then(|c| c.as_fixed_size_binary_opt().cloned());
        let Some(trace_ids) = trace_ids else {
            // Metrics: no trace ids, nothing to sample.
            return Ok(u32::try_from(rows).unwrap_or(u32::MAX));
        };
        let trace_states: Option<StringArray> = (signal == Signal::Traces)
            .then(|| {
                records
                    .column_by_name(schema::span::TRACE_STATE)
                    .and_then(|c| c.as_string_opt::<i32>().cloned())
            })
            .flatten();
        let mut keep = Vec::with_capacity(rows);
        let mut new_states: Vec<(usize, String)> = Vec::new();
        for i in 0..rows {
            if trace_ids.is_null(i) {
                keep.push(true);
                continue;
            }
            let state = trace_states
                .as_ref()
                .filter(|s| s.is_valid(i))
                .map(|s| s.value(i));
            let r = state
                .and_then(sampling::explicit_randomness)
                .or_else(|| sampling::trace_randomness(trace_ids.value(i)));
            let kept = r.is_some_and(|r| r >= t);
            keep.push(kept);
            if kept
                && t > 0
                && trace_states.is_some()
                && let Some(s) = sampling::with_threshold(state.unwrap_or(""), t)
            {
                new_states.push((i, s));
            }
        }
        if !new_states.is_empty()
            && let Some(old) = &trace_states
        {
            let mut next = new_states.iter().peekable();
            let updated: StringArray = (0..rows)
                .map(|i| match next.peek() {
                    Some((j, s)) if *j == i => {
                        let _ = next.next();
                        Some(s.as_str())
                    }
                    _ => old.is_valid(i).then(|| old.value(i)),
                })
                .collect();
            tb.records = replace_column(&tb.records, schema::span::TRACE_STATE, Arc::new(updated))?;
            self.changed = true;
        }
        self.keep(&BooleanArray::from(keep))
    }
}

/// The `UInt32` ids of column `name`.
fn ids<'a>(table: &'a RecordBatch, name: &str) -> Result<&'a [u32], HostError> {
    table
        .column_by_name(name)
        .and_then(|c| c.as_primitive_opt::<UInt32Type>())
        .map(|a| a.values().as_ref())
        .ok_or_else(|| internal(format!("the table has no {name} column")))
}

fn row_index(ids: &[u32]) -> HashMap<u32, u32> {
    ids.iter()
        .enumerate()
        .map(|(row, &id)| (id, u32::try_from(row).unwrap_or(u32::MAX)))
        .collect()
}

fn replace_column(
    table: &RecordBatch,
    name: &str,
    array: ArrayRef,
) -> Result<RecordBatch, HostError> {
    let schema = table.schema();
    let (i, _) = schema
        .column_with_name(name)
        .ok_or_else(|| internal(format!("the table has no {name} column")))?;
    let mut columns = table.columns().to_vec();
    columns[i] = array;
    RecordBatch::try_new(schema, columns).map_err(internal)
}

fn set_of(scope: AttributeScope) -> AttributeSet {
    match scope {
        AttributeScope::Record => AttributeSet::Record,
        AttributeScope::Resource => AttributeSet::Resource,
        AttributeScope::Scope => AttributeSet::Scope,
    }
}

/// The ABI's name of `s`; `None` for profiles, which the plugin ABI does
/// not have (processor nodes pass profiles batches through unchanged).
fn to_wit_signal(s: Signal) -> Option<wit::Signal> {
    match s {
        Signal::Traces => Some(wit::Signal::Traces),
        Signal::Metrics => Some(wit::Signal::Metrics),
        Signal::Logs => Some(wit::Signal::Logs),
        Signal::Profiles => None,
    }
}

impl HostState {
    fn batch(&mut self, res: &Resource<BatchState>) -> wasmtime::Result<&mut BatchState> {
        Ok(self.table.get_mut(res)?)
    }

    /// The compiled `pattern` of a redaction kernel, from the cache.
    fn pattern(&mut self, pattern: &str) -> Result<regex::Regex, HostError> {
        self.regexes
            .get(pattern)
            .cloned()
            .map_err(HostError::InvalidPattern)
    }

    fn limit(&self, what: &str) -> HostError {
        HostError::LimitExceeded(format!(
            "{what}: the node's max-output of {} bytes is reached",
            self.limits.max_output
        ))
    }
}

impl HostBatch for HostState {
    fn signal(&mut self, res: Resource<BatchState>) -> wasmtime::Result<wit::Signal> {
        self.host_call()?;
        let signal = self.batch(&res)?.signal;
        to_wit_signal(signal)
            .ok_or_else(|| wasmtime::Error::msg(format!("{signal} are not part of the plugin ABI")))
    }

    fn len(&mut self, res: Resource<BatchState>) -> wasmtime::Result<u32> {
        self.host_call()?;
        let rows = self.batch(&res)?.rows();
        Ok(u32::try_from(rows).unwrap_or(u32::MAX))
    }

    fn column_names(&mut self, res: Resource<BatchState>) -> wasmtime::Result<Vec<String>> {
        self.host_call()?;
        let b = self.batch(&res)?;
        Ok(match &b.decoded {
            Some(t) => columns::names(&t.records),
            None => columns::names(&RecordBatch::new_empty(schema::records(b.signal))),
        })
    }

    fn attribute_keys(
        &mut self,
        res: Resource<BatchState>,
        scope: AttributeScope,
    ) -> wasmtime::Result<Vec<String>> {
        self.host_call()?;
        let b = self.batch(&res)?;
        if let Some(bytes) = b.wire_bytes()
            && let Ok(keys) = edit::attribute_keys(b.signal, bytes, set_of(scope))
        {
            return Ok(keys);
        }
        Ok(b.attributes(scope)
            .and_then(|a| MapView::new(&a).map(|m| m.keys()))
            .unwrap_or_default())
    }

    fn read_columns(
        &mut self,
        res: Resource<BatchState>,
        names: Vec<String>,
    ) -> HostResult<Vec<Column>> {
        self.host_call()?;
        let b = self.batch(&res)?;
        let t = match b.tables() {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        Ok(names.iter().map(|n| columns::read(&t.records, n)).collect())
    }

    fn read_attributes(
        &mut self,
        res: Resource<BatchState>,
        scope: AttributeScope,
        keys: Vec<String>,
    ) -> HostResult<Vec<AttributeColumn>> {
        self.host_call()?;
        let b = self.batch(&res)?;
        Ok(b.attributes(scope)
            .and_then(|a| MapView::new(&a).map(|m| m.read(&keys))))
    }

    fn resource_index(&mut self, res: Resource<BatchState>) -> wasmtime::Result<Vec<u32>> {
        self.host_call()?;
        Ok(self.batch(&res)?.resource_rows().unwrap_or_default())
    }

    fn scope_index(&mut self, res: Resource<BatchState>) -> wasmtime::Result<Vec<u32>> {
        self.host_call()?;
        Ok(self.batch(&res)?.scope_rows().unwrap_or_default())
    }

    fn set_column(&mut self, res: Resource<BatchState>, column: Column) -> HostResult<()> {
        self.host_call()?;
        if !self.take_output(columns::payload_size(&column)) {
            return Ok(Err(self.limit("set-column")));
        }
        let b = self.batch(&res)?;
        let t = match b.tables() {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        match columns::write(&t.records, column) {
            Ok(records) => {
                t.records = records;
                b.changed = true;
                Ok(Ok(()))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    fn set_attribute(
        &mut self,
        res: Resource<BatchState>,
        scope: AttributeScope,
        values: AttributeColumn,
    ) -> HostResult<()> {
        self.host_call()?;
        let size = (values.strings.data.len()
            + values.bytes.data.len()
            + values.kinds.len() * 17
            + values.key.len()) as u64;
        if !self.take_output(size) {
            return Ok(Err(self.limit("set-attribute")));
        }
        let b = self.batch(&res)?;
        Ok((|| {
            let map = MapView::new(&b.attributes(scope)?)?.set(&values)?;
            b.set_attributes(scope, Arc::new(map))
        })())
    }

    fn keep_rows(&mut self, res: Resource<BatchState>, selection: Vec<u8>) -> HostResult<u32> {
        self.host_call()?;
        let b = self.batch(&res)?;
        let rows = match b.tables() {
            Ok(t) => t.records.num_rows(),
            Err(e) => return Ok(Err(e)),
        };
        if selection.len() < rows.div_ceil(8) {
            return Ok(Err(HostError::InvalidColumn(format!(
                "selection of {} bytes for {rows} records",
                selection.len()
            ))));
        }
        let mask = BooleanArray::new(
            BooleanBuffer::new(Buffer::from_vec(selection), 0, rows),
            None,
        );
        Ok(b.keep(&mask))
    }

    fn emit_metrics(
        &mut self,
        res: Resource<BatchState>,
        points: Vec<MetricPoint>,
    ) -> HostResult<()> {
        self.host_call()?;
        let _ = self.batch(&res)?;
        if let Some(e) = points.iter().find_map(|p| emit::check(p).err()) {
            return Ok(Err(e));
        }
        let size: u64 = points.iter().map(emit::size).sum();
        if !self.take_output(size) {
            return Ok(Err(self.limit("emit-metrics")));
        }
        self.call.metrics.extend(points);
        Ok(Ok(()))
    }

    fn delete_attributes(
        &mut self,
        res: Resource<BatchState>,
        scope: AttributeScope,
        keys: Vec<String>,
    ) -> HostResult<u32> {
        self.host_call()?;
        let b = self.batch(&res)?;
        if keys.is_empty() {
            return Ok(Ok(0));
        }
        if let Some(e) = b.edit_wire(scope, &mut kernels::DeleteKeys(&keys)) {
            return Ok(Ok(e.deleted));
        }
        Ok((|| {
            let Some((map, n)) = MapView::new(&b.attributes(scope)?)?.delete(&keys)? else {
                return Ok(0);
            };
            b.set_attributes(scope, Arc::new(map))?;
            Ok(n)
        })())
    }

    fn redact(
        &mut self,
        res: Resource<BatchState>,
        scope: AttributeScope,
        keys: Vec<String>,
        pattern: String,
        replacement: String,
    ) -> HostResult<u32> {
        self.host_call()?;
        let re = match self.pattern(&pattern) {
            Ok(re) => re,
            Err(e) => return Ok(Err(e)),
        };
        let max_output =
            self.limits.max_output - self.call.output_bytes.min(self.limits.max_output);
        let b = self.batch(&res)?;
        let mut editor = kernels::RedactKeys {
            keys: &keys,
            re: &re,
            replacement: &replacement,
        };
        if let Some(e) = b.edit_wire(scope, &mut editor) {
            // The output budget is checked after the edit: a refused write
            // fails the batch whatever the plugin does next.
            if e.written > max_output {
                let _ = self.take_output(e.written);
                return Ok(Err(self.limit("redact")));
            }
            let _ = self.take_output(e.written);
            return Ok(Ok(e.replaced));
        }
        let changed = (|| MapView::new(&b.attributes(scope)?)?.redact(&keys, &re, &replacement))();
        let (map, n, written) = match changed {
            Err(e) => return Ok(Err(e)),
            Ok(None) => return Ok(Ok(0)),
            Ok(Some(c)) => c,
        };
        if !self.take_output(written) {
            return Ok(Err(self.limit("redact")));
        }
        let b = self.batch(&res)?;
        Ok(b.set_attributes(scope, Arc::new(map)).map(|()| n))
    }

    fn redact_body(
        &mut self,
        res: Resource<BatchState>,
        pattern: String,
        replacement: String,
    ) -> HostResult<u32> {
        self.host_call()?;
        let re = match self.pattern(&pattern) {
            Ok(re) => re,
            Err(e) => return Ok(Err(e)),
        };
        let b = self.batch(&res)?;
        // Bodies are redacted on the tables (the wire edit covers
        // attributes only): a batch still in bytes is decoded here.
        let (body, n, written) = match b.redacted_body(&re, &replacement) {
            Err(e) => return Ok(Err(e)),
            Ok(None) => return Ok(Ok(0)),
            Ok(Some(c)) => c,
        };
        if !self.take_output(written) {
            return Ok(Err(self.limit("redact-body")));
        }
        let b = self.batch(&res)?;
        let result = b.tables().and_then(|t| {
            t.records = replace_column(&t.records, schema::log::BODY, body)?;
            Ok(n)
        });
        if result.is_ok() {
            b.changed = true;
        }
        Ok(result)
    }

    fn hash_attributes(
        &mut self,
        res: Resource<BatchState>,
        scope: AttributeScope,
        keys: Vec<String>,
        salt: String,
    ) -> HostResult<u32> {
        self.host_call()?;
        let max_output =
            self.limits.max_output - self.call.output_bytes.min(self.limits.max_output);
        let b = self.batch(&res)?;
        if keys.is_empty() {
            return Ok(Ok(0));
        }
        let mut editor = kernels::HashKeys {
            keys: &keys,
            salt: &salt,
        };
        if let Some(e) = b.edit_wire(scope, &mut editor) {
            if e.written > max_output {
                let _ = self.take_output(e.written);
                return Ok(Err(self.limit("hash-attributes")));
            }
            let _ = self.take_output(e.written);
            return Ok(Ok(e.replaced));
        }
        let changed = (|| MapView::new(&b.attributes(scope)?)?.hash(&keys, &salt))();
        let (map, n, written) = match changed {
            Err(e) => return Ok(Err(e)),
            Ok(None) => return Ok(Ok(0)),
            Ok(Some(c)) => c,
        };
        if !self.take_output(written) {
            return Ok(Err(self.limit("hash-attributes")));
        }
        let b = self.batch(&res)?;
        Ok(b.set_attributes(scope, Arc::new(map)).map(|()| n))
    }

    fn keep_trace_id_ratio(&mut self, res: Resource<BatchState>, ratio: f64) -> HostResult<u32> {
        self.host_call()?;
        Ok(self.batch(&res)?.sample(ratio))
    }

    fn drop(&mut self, res: Resource<BatchState>) -> wasmtime::Result<()> {
        // The host lends batches (`borrow<batch>`) and takes them back
        // after `process`; a guest never owns one to drop.
        let _ = self.table.delete(res);
        Ok(())
    }
}

fn level_of(l: LogLevel) -> tracing::Level {
    match l {
        LogLevel::Trace => tracing::Level::TRACE,
        LogLevel::Debug => tracing::Level::DEBUG,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Warn => tracing::Level::WARN,
        LogLevel::Error => tracing::Level::ERROR,
    }
}

impl Host for HostState {
    fn log(
        &mut self,
        level: LogLevel,
        message: String,
        fields: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        self.host_call()?;
        if self.call.logs >= MAX_LOGS_PER_CALL {
            self.call.logs_dropped += 1;
            return Ok(());
        }
        self.call.logs += 1;
        let id = &self.identity;
        let message: String = message.chars().take(1024).collect();
        let fields: String = fields
            .iter()
            .take(16)
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect::<Vec<_>>()
            .join(" ");
        macro_rules! emit {
            ($lvl:expr) => {
                tracing::event!(
                    $lvl,
                    node = %id.node,
                    plugin = %id.plugin,
                    fields = %fields,
                    "{message}"
                )
            };
        }
        match level_of(level) {
            tracing::Level::TRACE => emit!(tracing::Level::TRACE),
            tracing::Level::DEBUG => emit!(tracing::Level::DEBUG),
            tracing::Level::INFO => emit!(tracing::Level::INFO),
            tracing::Level::WARN => emit!(tracing::Level::WARN),
            _ => emit!(tracing::Level::ERROR),
        }
        Ok(())
    }

    fn counter_add(
        &mut self,
        name: String,
        value: u64,
        labels: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        self.host_call()?;
        self.telemetry.counter_add(&name, value, labels);
        Ok(())
    }

    fn histogram_record(
        &mut self,
        name: String,
        value: f64,
        labels: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        self.host_call()?;
        self.telemetry.histogram_record(&name, value, labels);
        Ok(())
    }

    fn now(&mut self) -> wasmtime::Result<i64> {
        self.host_call()?;
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Ok(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }
}

impl crate::bindings::weir::pipeline::types::Host for HostState {}
