//! Log records on the wire: `LogRecord` messages straight into the logs
//! builder, and logs rows straight back to `LogRecord` messages.

use arrow_array::RecordBatch;
use bytes::Bytes;

use super::decode::{self, Records, any_value, attribute, merged};
use super::encode::{self, RecordWriter, attributes};
use super::read::Cursor;
use super::write::RevBuf;
use crate::otlp::arrow::columns::{Cols, append_id, ts_from_arrow, ts_to_arrow};
use crate::otlp::arrow::logs::{LogsBuilder, LogsReader};
use crate::schema::log as lg;
use crate::{PdataError, Signal, SignalTables};

/// Decodes an `ExportLogsServiceRequest`.
pub(crate) fn decode(bytes: &[u8]) -> Result<SignalTables, PdataError> {
    decode::decode::<LogsBuilder>(bytes)
}

/// Encodes logs tables as an `ExportLogsServiceRequest`.
pub(crate) fn encode(tables: &SignalTables) -> Result<Bytes, PdataError> {
    let cols = Cols::of_batch(Signal::Logs, "logs", &tables.records);
    let reader = LogsReader::new(&cols)?;
    encode::encode(Signal::Logs, tables, cols.ids(lg::SCOPE_ID)?, &reader)
}

impl Records for LogsBuilder {
    fn with_capacity(rows: usize) -> Self {
        LogsBuilder::with_capacity(rows)
    }

    /// Appends one `LogRecord` (attributes as they come, the rest once the
    /// message ends).
    fn append(&mut self, scope_id: u32, c: Cursor<'_>) -> Result<(), PdataError> {
        let start_of_record = c;
        let mut c = c;
        let (mut time, mut observed, mut severity) = (0u64, 0u64, 0i32);
        let (mut severity_text, mut event_name) = ("", "");
        let (mut dropped, mut flags) = (0u32, 0u32);
        let (mut trace_id, mut span_id): (&[u8], &[u8]) = (&[], &[]);
        let mut body = None;
        let mut bodies = 0u32;
        while let Some((n, wt)) = c.key()? {
            match n {
                1 => time = c.fixed64(wt)?,
                2 => severity = c.int32(wt)?,
                3 => severity_text = c.str(wt)?,
                5 => {
                    body = Some(c.message(wt)?);
                    bodies += 1;
                }
                6 => attribute(&mut self.attrs, &mut c, wt)?,
                7 => dropped = c.uint32(wt)?,
                8 => flags = c.fixed32(wt)?,
                9 => trace_id = c.bytes(wt)?,
                10 => span_id = c.bytes(wt)?,
                11 => observed = c.fixed64(wt)?,
                12 => event_name = c.str(wt)?,
                _ => c.skip(n, wt)?,
            }
        }
        // An error leaves the columns of unequal lengths: the caller drops
        // the whole builder.
        append_id(&mut self.trace_id, trace_id, 16, "LogRecord.trace_id")?;
        append_id(&mut self.span_id, span_id, 8, "LogRecord.span_id")?;
        match body {
            None => self.body.append_null(),
            Some(b) if bodies == 1 => any_value(&mut self.body, b)?,
            // Repeated body messages merge.
            Some(_) => self.body.append(Some(&merged(start_of_record, 5)?)),
        }
        self.scope_id.push(scope_id);
        self.time.push(ts_to_arrow(time));
        self.observed_time.push(ts_to_arrow(observed));
        self.severity_number.push(severity);
        self.severity_text.append_value(severity_text);
        self.attrs.close_row();
        self.dropped_attributes.push(dropped);
        self.flags.push(flags);
        self.event_name.append_value(event_name);
        Ok(())
    }

    fn finish(self) -> Result<RecordBatch, PdataError> {
        LogsBuilder::finish(self)
    }
}

impl RecordWriter for LogsReader<'_> {
    /// Writes one `LogRecord`, fields in descending number.
    fn write(&self, w: &mut RevBuf, i: usize) -> Result<(), PdataError> {
        w.str(12, self.event_name.get(i));
        w.fixed64(11, ts_from_arrow(self.observed_time.get(i)));
        w.bytes(10, self.span_id.slice(i));
        w.bytes(9, self.trace_id.slice(i));
        w.fixed32(8, self.flags.get(i));
        w.uint32(7, self.dropped_attributes.get(i));
        attributes(w, &self.attrs, i, 6)?;
        if let Some(body) = &self.body
            && let Some(value) = body.value_ref(i)?
        {
            let start = w.len();
            encode::any_value(w, value)?;
            w.message_end(5, start);
        }
        w.str(3, self.severity_text.get(i));
        w.int32(2, self.severity_number.get(i));
        w.fixed64(1, ts_from_arrow(self.time.get(i)));
        Ok(())
    }
}
