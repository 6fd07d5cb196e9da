//! Logs: `ExportLogsServiceRequest` <-> the logs tables.

use std::sync::Arc;

use arrow_array::builder::{FixedSizeBinaryBuilder, StringDictionaryBuilder};
use arrow_array::types::{Int32Type, TimestampNanosecondType, UInt32Type};
use arrow_array::{ArrayRef, Int32Array, RecordBatch, UInt32Array};
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message;

use super::attrs::{AnyValueBuilder, AnyValueReader, AttrsBuilder, AttrsReader};
use super::columns::{
    Cols, IdCol, Prim, StrCol, append_id, timestamps, ts_from_arrow, ts_to_arrow,
};
use super::envelope::{Envelope, ResourcesBuilder, ScopesBuilder};
use crate::schema::{self, log as lg};
use crate::{PdataError, Signal, SignalTables};

/// Decodes an `ExportLogsServiceRequest`.
pub(crate) fn decode(bytes: &[u8]) -> Result<SignalTables, PdataError> {
    let request = ExportLogsServiceRequest::decode(bytes)?;
    let (mut scopes_n, mut logs_n) = (0, 0);
    for rl in &request.resource_logs {
        scopes_n += rl.scope_logs.len();
        logs_n += rl
            .scope_logs
            .iter()
            .map(|s| s.log_records.len())
            .sum::<usize>();
    }
    let mut resources = ResourcesBuilder::with_capacity(request.resource_logs.len());
    let mut scopes = ScopesBuilder::with_capacity(scopes_n);
    let mut records = LogsBuilder::with_capacity(logs_n);
    for rl in &request.resource_logs {
        let resource_id = resources.append(rl.resource.as_ref(), &rl.schema_url)?;
        for sl in &rl.scope_logs {
            let scope_id = scopes.append(resource_id, sl.scope.as_ref(), &sl.schema_url)?;
            for l in &sl.log_records {
                records.append(scope_id, l)?;
            }
        }
    }
    Ok(SignalTables {
        resources: resources.finish()?,
        scopes: scopes.finish()?,
        records: records.finish()?,
    })
}

/// Encodes logs tables as an `ExportLogsServiceRequest`.
pub(crate) fn encode(tables: &SignalTables) -> Result<Bytes, PdataError> {
    let cols = Cols::of_batch(Signal::Logs, "logs", &tables.records);
    let reader = LogsReader::new(&cols)?;
    let env = Envelope::new(Signal::Logs, tables, cols.ids(lg::SCOPE_ID)?)?;
    let mut resource_logs = Vec::with_capacity(env.resources.len());
    for r in 0..env.resources.len() {
        let mut scope_logs = Vec::with_capacity(env.scopes_of(r).len());
        for &s in env.scopes_of(r) {
            let log_records = env
                .records_of(s)
                .iter()
                .map(|&row| reader.log(row))
                .collect::<Result<Vec<_>, _>>()?;
            scope_logs.push(ScopeLogs {
                scope: env.scopes.scope(s)?,
                log_records,
                schema_url: env.scopes.schema_url(s),
            });
        }
        resource_logs.push(ResourceLogs {
            resource: env.resources.resource(r)?,
            scope_logs,
            schema_url: env.resources.schema_url(r),
        });
    }
    Ok(ExportLogsServiceRequest { resource_logs }
        .encode_to_vec()
        .into())
}

/// Builds the logs records table, one log record at a time.
pub(crate) struct LogsBuilder {
    pub(super) scope_id: Vec<u32>,
    pub(super) time: Vec<i64>,
    pub(super) observed_time: Vec<i64>,
    pub(super) severity_number: Vec<i32>,
    pub(super) severity_text: StringDictionaryBuilder<UInt32Type>,
    pub(super) body: AnyValueBuilder,
    pub(super) attrs: AttrsBuilder,
    pub(super) dropped_attributes: Vec<u32>,
    pub(super) flags: Vec<u32>,
    pub(super) trace_id: FixedSizeBinaryBuilder,
    pub(super) span_id: FixedSizeBinaryBuilder,
    pub(super) event_name: StringDictionaryBuilder<UInt32Type>,
}

impl LogsBuilder {
    /// A builder for `rows` log records.
    pub(crate) fn with_capacity(rows: usize) -> Self {
        LogsBuilder {
            scope_id: Vec::with_capacity(rows),
            time: Vec::with_capacity(rows),
            observed_time: Vec::with_capacity(rows),
            severity_number: Vec::with_capacity(rows),
            severity_text: StringDictionaryBuilder::with_capacity(rows, 32, 256),
            body: AnyValueBuilder::with_capacity(rows),
            attrs: AttrsBuilder::with_capacity(rows, rows * 8),
            dropped_attributes: Vec::with_capacity(rows),
            flags: Vec::with_capacity(rows),
            trace_id: FixedSizeBinaryBuilder::with_capacity(rows, 16),
            span_id: FixedSizeBinaryBuilder::with_capacity(rows, 8),
            event_name: StringDictionaryBuilder::with_capacity(rows, 16, 256),
        }
    }

    /// Appends one log record of scope `scope_id`.
    ///
    /// # Errors
    /// [`PdataError::InvalidValue`] for ids of the wrong length.
    pub(crate) fn append(&mut self, scope_id: u32, l: &LogRecord) -> Result<(), PdataError> {
        append_id(&mut self.trace_id, &l.trace_id, 16, "LogRecord.trace_id")?;
        append_id(&mut self.span_id, &l.span_id, 8, "LogRecord.span_id")?;
        self.scope_id.push(scope_id);
        self.time.push(ts_to_arrow(l.time_unix_nano));
        self.observed_time
            .push(ts_to_arrow(l.observed_time_unix_nano));
        self.severity_number.push(l.severity_number);
        self.severity_text.append_value(&l.severity_text);
        self.body.append(l.body.as_ref());
        self.attrs.append_row(&l.attributes);
        self.dropped_attributes.push(l.dropped_attributes_count);
        self.flags.push(l.flags);
        self.event_name.append_value(&l.event_name);
        Ok(())
    }

    /// The records table.
    pub(crate) fn finish(mut self) -> Result<RecordBatch, PdataError> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from(self.scope_id)),
            timestamps(self.time),
            timestamps(self.observed_time),
            Arc::new(Int32Array::from(self.severity_number)),
            Arc::new(self.severity_text.finish()),
            Arc::new(self.body.finish()?),
            Arc::new(self.attrs.finish()?),
            Arc::new(UInt32Array::from(self.dropped_attributes)),
            Arc::new(UInt32Array::from(self.flags)),
            Arc::new(self.trace_id.finish()),
            Arc::new(self.span_id.finish()),
            Arc::new(self.event_name.finish()),
        ];
        Ok(RecordBatch::try_new(schema::logs(), columns)?)
    }
}

/// Reads log records from the records table.
pub(super) struct LogsReader<'a> {
    pub(super) time: Prim<'a, TimestampNanosecondType>,
    pub(super) observed_time: Prim<'a, TimestampNanosecondType>,
    pub(super) severity_number: Prim<'a, Int32Type>,
    pub(super) severity_text: StrCol<'a>,
    pub(super) body: Option<AnyValueReader<'a>>,
    pub(super) attrs: AttrsReader<'a>,
    pub(super) dropped_attributes: Prim<'a, UInt32Type>,
    pub(super) flags: Prim<'a, UInt32Type>,
    pub(super) trace_id: IdCol<'a>,
    pub(super) span_id: IdCol<'a>,
    pub(super) event_name: StrCol<'a>,
}

impl<'a> LogsReader<'a> {
    pub(super) fn new(cols: &Cols<'a>) -> Result<Self, PdataError> {
        let body = match cols.get(lg::BODY) {
            None => None,
            Some(a) => Some(AnyValueReader::new(cols, lg::BODY, a.as_ref())?),
        };
        Ok(LogsReader {
            time: cols.prim(lg::TIME)?,
            observed_time: cols.prim(lg::OBSERVED_TIME)?,
            severity_number: cols.prim(lg::SEVERITY_NUMBER)?,
            severity_text: cols.str(lg::SEVERITY_TEXT)?,
            body,
            attrs: AttrsReader::new(cols, lg::ATTRIBUTES)?,
            dropped_attributes: cols.prim(lg::DROPPED_ATTRIBUTES_COUNT)?,
            flags: cols.prim(lg::FLAGS)?,
            trace_id: cols.id_bytes(lg::TRACE_ID, 16)?,
            span_id: cols.id_bytes(lg::SPAN_ID, 8)?,
            event_name: cols.str(lg::EVENT_NAME)?,
        })
    }

    fn log(&self, i: usize) -> Result<LogRecord, PdataError> {
        let body = match &self.body {
            Some(b) => b.get(i)?,
            None => None,
        };
        Ok(LogRecord {
            time_unix_nano: ts_from_arrow(self.time.get(i)),
            observed_time_unix_nano: ts_from_arrow(self.observed_time.get(i)),
            severity_number: self.severity_number.get(i),
            severity_text: self.severity_text.get(i).to_owned(),
            body,
            attributes: self.attrs.get(i)?,
            dropped_attributes_count: self.dropped_attributes.get(i),
            flags: self.flags.get(i),
            trace_id: self.trace_id.get(i),
            span_id: self.span_id.get(i),
            event_name: self.event_name.get(i).to_owned(),
        })
    }
}
