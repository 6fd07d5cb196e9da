//! The `batch` resource: the host side of every `weir:pipeline/host`
//! function.
//!
//! A [`BatchState`] holds the three Arrow tables of the batch being
//! processed. Reads copy what is asked; writes and kernels replace whole
//! columns (Arrow arrays are immutable and shared, so a replaced column
//! costs its own rebuild and nothing else). When nothing was changed the
//! node forwards the original batch, OTLP bytes and all.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt32Type;
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow_buffer::{BooleanBuffer, Buffer};
use wasmtime::component::Resource;
use weir_pdata::schema;
use weir_pdata::{Signal, SignalTables};

use crate::bindings::weir::pipeline::host::{Host, HostBatch};
use crate::bindings::weir::pipeline::types::{
    self as wit, AttributeColumn, AttributeScope, Column, HostError, LogLevel, MetricPoint,
};
use crate::host::attributes::MapView;
use crate::host::state::{HostState, MAX_LOGS_PER_CALL};
use crate::host::{columns, emit, sampling};

/// The batch a `process` call works on.
#[derive(Debug)]
pub struct BatchState {
    signal: Signal,
    tables: SignalTables,
    changed: bool,
}

type HostResult<T> = wasmtime::Result<Result<T, HostError>>;

fn internal(e: impl std::fmt::Display) -> HostError {
    HostError::InvalidColumn(e.to_string())
}

impl BatchState {
    /// The working copy of `tables` (an `Arc` clone of each array).
    pub fn new(signal: Signal, tables: &SignalTables) -> Self {
        BatchState {
            signal,
            tables: tables.clone(),
            changed: false,
        }
    }

    /// The tables if anything changed, else `None` (forward the original).
    pub fn into_changed(self) -> Option<SignalTables> {
        self.changed.then_some(self.tables)
    }

    fn table(&self, scope: AttributeScope) -> &RecordBatch {
        match scope {
            AttributeScope::Record => &self.tables.records,
            AttributeScope::Resource => &self.tables.resources,
            AttributeScope::Scope => &self.tables.scopes,
        }
    }

    fn table_mut(&mut self, scope: AttributeScope) -> &mut RecordBatch {
        match scope {
            AttributeScope::Record => &mut self.tables.records,
            AttributeScope::Resource => &mut self.tables.resources,
            AttributeScope::Scope => &mut self.tables.scopes,
        }
    }

    /// The attribute map column of a scope.
    fn attributes(&self, scope: AttributeScope) -> Result<&ArrayRef, HostError> {
        self.table(scope)
            .column_by_name(schema::span::ATTRIBUTES)
            .ok_or_else(|| internal("the table has no attributes column"))
    }

    /// Replaces the attribute map column of a scope.
    fn set_attributes(&mut self, scope: AttributeScope, map: ArrayRef) -> Result<(), HostError> {
        let table = self.table_mut(scope);
        *table = replace_column(table, schema::span::ATTRIBUTES, map)?;
        self.changed = true;
        Ok(())
    }

    /// For each record, the row of its scope.
    fn scope_rows(&self) -> Result<Vec<u32>, HostError> {
        let scope_ids = ids(&self.tables.records, schema::span::SCOPE_ID)?;
        let index = row_index(ids(&self.tables.scopes, schema::scope::ID)?);
        Ok(scope_ids
            .iter()
            .map(|id| index.get(id).copied().unwrap_or(u32::MAX))
            .collect())
    }

    /// For each record, the row of its resource.
    fn resource_rows(&self) -> Result<Vec<u32>, HostError> {
        let scope_rows = self.scope_rows()?;
        let scope_resources = ids(&self.tables.scopes, schema::scope::RESOURCE_ID)?;
        let index = row_index(ids(&self.tables.resources, schema::resource::ID)?);
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
        let rows = self.tables.records.num_rows();
        let kept = mask.true_count();
        if kept == rows {
            return Ok(u32::try_from(rows).unwrap_or(u32::MAX));
        }
        let before: HashSet<u32> = ids(&self.tables.records, schema::span::SCOPE_ID)?
            .iter()
            .copied()
            .collect();
        let records = arrow_select::filter::filter_record_batch(&self.tables.records, mask)
            .map_err(internal)?;
        let after: HashSet<u32> = ids(&records, schema::span::SCOPE_ID)?
            .iter()
            .copied()
            .collect();
        self.tables.records = records;
        let emptied: HashSet<u32> = before.difference(&after).copied().collect();
        if !emptied.is_empty() {
            let scope_ids = ids(&self.tables.scopes, schema::scope::ID)?;
            let resource_of = ids(&self.tables.scopes, schema::scope::RESOURCE_ID)?;
            let resources_before: HashSet<u32> = resource_of.iter().copied().collect();
            let keep_scope: BooleanArray = scope_ids
                .iter()
                .map(|id| Some(!emptied.contains(id)))
                .collect();
            let scopes =
                arrow_select::filter::filter_record_batch(&self.tables.scopes, &keep_scope)
                    .map_err(internal)?;
            let resources_after: HashSet<u32> = ids(&scopes, schema::scope::RESOURCE_ID)?
                .iter()
                .copied()
                .collect();
            self.tables.scopes = scopes;
            let gone: HashSet<u32> = resources_before
                .difference(&resources_after)
                .copied()
                .collect();
            if !gone.is_empty() {
                let keep_resource: BooleanArray =
                    ids(&self.tables.resources, schema::resource::ID)?
                        .iter()
                        .map(|id| Some(!gone.contains(id)))
                        .collect();
                self.tables.resources = arrow_select::filter::filter_record_batch(
                    &self.tables.resources,
                    &keep_resource,
                )
                .map_err(internal)?;
            }
        }
        self.changed = true;
        Ok(u32::try_from(kept).unwrap_or(u32::MAX))
    }

    /// The consistent-probability sampling decision per record, and the
    /// new trace state of spans whose threshold rises.
    fn sample(&mut self, ratio: f64) -> Result<u32, HostError> {
        let t = sampling::threshold(ratio);
        let records = &self.tables.records;
        let rows = records.num_rows();
        let trace_ids = records
            .column_by_name(schema::span::TRACE_ID)
            .and_then(|c| c.as_fixed_size_binary_opt().cloned());
        let Some(trace_ids) = trace_ids else {
            // Metrics: no trace ids, nothing to sample.
            return Ok(u32::try_from(rows).unwrap_or(u32::MAX));
        };
        let trace_states: Option<StringArray> = (self.signal == Signal::Traces)
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
            self.tables.records = replace_column(
                &self.tables.records,
                schema::span::TRACE_STATE,
                Arc::new(updated),
            )?;
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
        let rows = self.batch(&res)?.tables.records.num_rows();
        Ok(u32::try_from(rows).unwrap_or(u32::MAX))
    }

    fn column_names(&mut self, res: Resource<BatchState>) -> wasmtime::Result<Vec<String>> {
        self.host_call()?;
        Ok(columns::names(&self.batch(&res)?.tables.records))
    }

    fn attribute_keys(
        &mut self,
        res: Resource<BatchState>,
        scope: AttributeScope,
    ) -> wasmtime::Result<Vec<String>> {
        self.host_call()?;
        let b = self.batch(&res)?;
        Ok(b.attributes(scope)
            .and_then(MapView::new)
            .map(|m| m.keys())
            .unwrap_or_default())
    }

    fn read_columns(
        &mut self,
        res: Resource<BatchState>,
        names: Vec<String>,
    ) -> HostResult<Vec<Column>> {
        self.host_call()?;
        let b = self.batch(&res)?;
        Ok(names
            .iter()
            .map(|n| columns::read(&b.tables.records, n))
            .collect())
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
            .and_then(MapView::new)
            .map(|m| m.read(&keys)))
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
        Ok(columns::write(&b.tables.records, column).map(|records| {
            b.tables.records = records;
            b.changed = true;
        }))
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
            let map = MapView::new(b.attributes(scope)?)?.set(&values)?;
            b.set_attributes(scope, Arc::new(map))
        })())
    }

    fn keep_rows(&mut self, res: Resource<BatchState>, selection: Vec<u8>) -> HostResult<u32> {
        self.host_call()?;
        let b = self.batch(&res)?;
        let rows = b.tables.records.num_rows();
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
        Ok((|| {
            let Some((map, n)) = MapView::new(b.attributes(scope)?)?.delete(&keys)? else {
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
        let re = match self.regexes.get(&pattern) {
            Ok(re) => re.clone(),
            Err(e) => return Ok(Err(HostError::InvalidPattern(e))),
        };
        let b = self.batch(&res)?;
        let changed = (|| MapView::new(b.attributes(scope)?)?.redact(&keys, &re, &replacement))();
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

    fn hash_attributes(
        &mut self,
        res: Resource<BatchState>,
        scope: AttributeScope,
        keys: Vec<String>,
        salt: String,
    ) -> HostResult<u32> {
        self.host_call()?;
        let b = self.batch(&res)?;
        let changed = (|| MapView::new(b.attributes(scope)?)?.hash(&keys, &salt))();
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
