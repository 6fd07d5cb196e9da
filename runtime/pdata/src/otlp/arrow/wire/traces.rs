//! Spans on the wire: `Span` messages straight into the spans builder, and
//! spans rows straight back to `Span` messages.

use arrow_array::RecordBatch;
use bytes::Bytes;

use super::decode::{self, Records, attribute};
use super::encode::{self, RecordWriter, attributes, is_valid};
use super::read::Cursor;
use super::write::RevBuf;
use crate::otlp::arrow::columns::{Cols, append_id, ts_from_arrow, ts_to_arrow};
use crate::otlp::arrow::traces::{EventsBuilder, LinksBuilder, SpansBuilder, SpansReader};
use crate::schema::span as sp;
use crate::{PdataError, Signal, SignalTables};

/// Decodes an `ExportTraceServiceRequest`.
pub(crate) fn decode(bytes: &[u8]) -> Result<SignalTables, PdataError> {
    decode::decode::<SpansBuilder>(bytes)
}

/// Encodes spans tables as an `ExportTraceServiceRequest`.
pub(crate) fn encode(tables: &SignalTables) -> Result<Bytes, PdataError> {
    let cols = Cols::of_batch(Signal::Traces, "spans", &tables.records);
    let reader = SpansReader::new(&cols)?;
    encode::encode(Signal::Traces, tables, cols.ids(sp::SCOPE_ID)?, &reader)
}

impl Records for SpansBuilder {
    fn with_capacity(rows: usize) -> Self {
        SpansBuilder::with_capacity(rows)
    }

    /// Appends one `Span`. Its repeated fields go into their builders as
    /// they come; scalars are kept until the message ends (fields may come
    /// in any order, and the last occurrence of a scalar wins).
    fn append(&mut self, scope_id: u32, mut c: Cursor<'_>) -> Result<(), PdataError> {
        let (mut trace_id, mut span_id, mut parent): (&[u8], &[u8], &[u8]) = (&[], &[], &[]);
        let (mut trace_state, mut name) = ("", "");
        let (mut flags, mut kind, mut start, mut end) = (0u32, 0i32, 0u64, 0u64);
        let (mut dropped_attributes, mut dropped_events, mut dropped_links) = (0u32, 0u32, 0u32);
        let mut status: Option<(i32, &str)> = None;
        while let Some((n, wt)) = c.key()? {
            match n {
                1 => trace_id = c.bytes(wt)?,
                2 => span_id = c.bytes(wt)?,
                3 => trace_state = c.str(wt)?,
                4 => parent = c.bytes(wt)?,
                5 => name = c.str(wt)?,
                6 => kind = c.int32(wt)?,
                7 => start = c.fixed64(wt)?,
                8 => end = c.fixed64(wt)?,
                9 => attribute(&mut self.attrs, &mut c, wt)?,
                10 => dropped_attributes = c.uint32(wt)?,
                11 => event(&mut self.events, c.message(wt)?)?,
                12 => dropped_events = c.uint32(wt)?,
                13 => link(&mut self.links, c.message(wt)?)?,
                14 => dropped_links = c.uint32(wt)?,
                15 => {
                    // Repeated occurrences merge: later fields win.
                    let (code, message) = status.get_or_insert((0, ""));
                    let mut s = c.message(wt)?;
                    while let Some((n, wt)) = s.key()? {
                        match n {
                            2 => *message = s.str(wt)?,
                            3 => *code = s.int32(wt)?,
                            _ => s.skip(n, wt)?,
                        }
                    }
                }
                16 => flags = c.fixed32(wt)?,
                _ => c.skip(n, wt)?,
            }
        }
        // An error leaves the columns of unequal lengths: the caller drops
        // the whole builder.
        append_id(&mut self.trace_id, trace_id, 16, "Span.trace_id")?;
        append_id(&mut self.span_id, span_id, 8, "Span.span_id")?;
        append_id(&mut self.parent_span_id, parent, 8, "Span.parent_span_id")?;
        self.scope_id.push(scope_id);
        self.trace_state.append_value(trace_state);
        self.flags.push(flags);
        self.name.append_value(name);
        self.kind.push(kind);
        self.start_time.push(ts_to_arrow(start));
        self.end_time.push(ts_to_arrow(end));
        self.attrs.close_row();
        self.dropped_attributes.push(dropped_attributes);
        self.events.close_row();
        self.dropped_events.push(dropped_events);
        self.links.close_row();
        self.dropped_links.push(dropped_links);
        match status {
            Some((code, message)) => {
                self.status_code.push(code);
                self.status_message.append_value(message);
                self.status_nulls.append_non_null();
            }
            None => {
                self.status_code.push(0);
                self.status_message.append_value("");
                self.status_nulls.append_null();
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<RecordBatch, PdataError> {
        SpansBuilder::finish(self)
    }
}

/// Appends one `Span.Event` to the current span's events.
fn event(b: &mut EventsBuilder, mut c: Cursor<'_>) -> Result<(), PdataError> {
    let (mut time, mut name, mut dropped) = (0u64, "", 0u32);
    while let Some((n, wt)) = c.key()? {
        match n {
            1 => time = c.fixed64(wt)?,
            2 => name = c.str(wt)?,
            3 => attribute(&mut b.attrs, &mut c, wt)?,
            4 => dropped = c.uint32(wt)?,
            _ => c.skip(n, wt)?,
        }
    }
    b.time.push(ts_to_arrow(time));
    b.name.append_value(name);
    b.attrs.close_row();
    b.dropped.push(dropped);
    Ok(())
}

/// Appends one `Span.Link` to the current span's links.
fn link(b: &mut LinksBuilder, mut c: Cursor<'_>) -> Result<(), PdataError> {
    let (mut trace_id, mut span_id): (&[u8], &[u8]) = (&[], &[]);
    let (mut trace_state, mut dropped, mut flags) = ("", 0u32, 0u32);
    while let Some((n, wt)) = c.key()? {
        match n {
            1 => trace_id = c.bytes(wt)?,
            2 => span_id = c.bytes(wt)?,
            3 => trace_state = c.str(wt)?,
            4 => attribute(&mut b.attrs, &mut c, wt)?,
            5 => dropped = c.uint32(wt)?,
            6 => flags = c.fixed32(wt)?,
            _ => c.skip(n, wt)?,
        }
    }
    append_id(&mut b.trace_id, trace_id, 16, "Span.Link.trace_id")?;
    append_id(&mut b.span_id, span_id, 8, "Span.Link.span_id")?;
    b.trace_state.append_value(trace_state);
    b.attrs.close_row();
    b.dropped.push(dropped);
    b.flags.push(flags);
    Ok(())
}

impl RecordWriter for SpansReader<'_> {
    /// Writes one `Span`, fields in descending number.
    fn write(&self, w: &mut RevBuf, i: usize) -> Result<(), PdataError> {
        w.fixed32(16, self.flags.get(i));
        if let Some((array, code, message)) = &self.status
            && is_valid(*array, i)
        {
            let start = w.len();
            w.int32(3, code.get(i));
            w.str(2, message.get(i));
            w.message_end(15, start);
        }
        w.uint32(14, self.dropped_links.get(i));
        self.write_links(w, i)?;
        w.uint32(12, self.dropped_events.get(i));
        self.write_events(w, i)?;
        w.uint32(10, self.dropped_attributes.get(i));
        attributes(w, &self.attrs, i, 9)?;
        w.fixed64(8, ts_from_arrow(self.end_time.get(i)));
        w.fixed64(7, ts_from_arrow(self.start_time.get(i)));
        w.int32(6, self.kind.get(i));
        w.str(5, self.name.get(i));
        w.bytes(4, self.parent_span_id.slice(i));
        w.str(3, self.trace_state.get(i));
        w.bytes(2, self.span_id.slice(i));
        w.bytes(1, self.trace_id.slice(i));
        Ok(())
    }
}

impl SpansReader<'_> {
    /// Writes the events of span `i` (field 11).
    fn write_events(&self, w: &mut RevBuf, i: usize) -> Result<(), PdataError> {
        let e = &self.events;
        let (Some(range), Some(attrs)) = (e.list.range(i), &e.attrs) else {
            return Ok(());
        };
        for j in range.rev() {
            let start = w.len();
            w.uint32(4, e.dropped.get(j));
            attributes(w, attrs, j, 3)?;
            w.str(2, e.name.get(j));
            w.fixed64(1, ts_from_arrow(e.time.get(j)));
            w.message_end(11, start);
        }
        Ok(())
    }

    /// Writes the links of span `i` (field 13).
    fn write_links(&self, w: &mut RevBuf, i: usize) -> Result<(), PdataError> {
        let l = &self.links;
        let (Some(range), Some(attrs)) = (l.list.range(i), &l.attrs) else {
            return Ok(());
        };
        for j in range.rev() {
            let start = w.len();
            w.fixed32(6, l.flags.get(j));
            w.uint32(5, l.dropped.get(j));
            attributes(w, attrs, j, 4)?;
            w.str(3, l.trace_state.get(j));
            w.bytes(2, l.span_id.slice(j));
            w.bytes(1, l.trace_id.slice(j));
            w.message_end(13, start);
        }
        Ok(())
    }
}
