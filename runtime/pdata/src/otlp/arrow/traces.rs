//! Traces: `ExportTraceServiceRequest` <-> the spans tables.

use std::sync::Arc;

use arrow_array::builder::{FixedSizeBinaryBuilder, StringBuilder, StringDictionaryBuilder};
use arrow_array::types::{Int32Type, TimestampNanosecondType, UInt32Type};
use arrow_array::{ArrayRef, Int32Array, RecordBatch, StructArray, UInt32Array};
use arrow_buffer::NullBufferBuilder;
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message;

use super::attrs::{AttrsBuilder, AttrsReader};
use super::columns::{
    Cols, IdCol, ListCol, OffsetsBuilder, Prim, StrCol, append_id, list_of_structs, timestamps,
    ts_from_arrow, ts_to_arrow,
};
use super::envelope::{Envelope, ResourcesBuilder, ScopesBuilder};
use crate::schema::{self, event as ev, link as lk, span as sp, status as st};
use crate::{PdataError, Signal, SignalTables};

/// Decodes an `ExportTraceServiceRequest`.
pub(crate) fn decode(bytes: &[u8]) -> Result<SignalTables, PdataError> {
    let request = ExportTraceServiceRequest::decode(bytes)?;
    let (mut scopes_n, mut spans_n) = (0, 0);
    for rs in &request.resource_spans {
        scopes_n += rs.scope_spans.len();
        spans_n += rs.scope_spans.iter().map(|s| s.spans.len()).sum::<usize>();
    }
    let mut resources = ResourcesBuilder::with_capacity(request.resource_spans.len());
    let mut scopes = ScopesBuilder::with_capacity(scopes_n);
    let mut records = SpansBuilder::with_capacity(spans_n);
    for rs in &request.resource_spans {
        let resource_id = resources.append(rs.resource.as_ref(), &rs.schema_url)?;
        for ss in &rs.scope_spans {
            let scope_id = scopes.append(resource_id, ss.scope.as_ref(), &ss.schema_url)?;
            for s in &ss.spans {
                records.append(scope_id, s)?;
            }
        }
    }
    Ok(SignalTables {
        resources: resources.finish()?,
        scopes: scopes.finish()?,
        records: records.finish()?,
    })
}

/// Encodes spans tables as an `ExportTraceServiceRequest`.
pub(crate) fn encode(tables: &SignalTables) -> Result<Bytes, PdataError> {
    let cols = Cols::of_batch(Signal::Traces, "spans", &tables.records);
    let reader = SpansReader::new(&cols)?;
    let env = Envelope::new(Signal::Traces, tables, cols.ids(sp::SCOPE_ID)?)?;
    let mut resource_spans = Vec::with_capacity(env.resources.len());
    for r in 0..env.resources.len() {
        let mut scope_spans = Vec::with_capacity(env.scopes_of(r).len());
        for &s in env.scopes_of(r) {
            let spans = env
                .records_of(s)
                .iter()
                .map(|&row| reader.span(row))
                .collect::<Result<Vec<_>, _>>()?;
            scope_spans.push(ScopeSpans {
                scope: env.scopes.scope(s)?,
                spans,
                schema_url: env.scopes.schema_url(s),
            });
        }
        resource_spans.push(ResourceSpans {
            resource: env.resources.resource(r)?,
            scope_spans,
            schema_url: env.resources.schema_url(r),
        });
    }
    Ok(ExportTraceServiceRequest { resource_spans }
        .encode_to_vec()
        .into())
}

/// Builds the `spans.events` column.
pub(super) struct EventsBuilder {
    pub(super) offsets: OffsetsBuilder,
    pub(super) time: Vec<i64>,
    pub(super) name: StringBuilder,
    pub(super) attrs: AttrsBuilder,
    pub(super) dropped: Vec<u32>,
}

impl EventsBuilder {
    fn with_capacity(rows: usize) -> Self {
        EventsBuilder {
            offsets: OffsetsBuilder::with_capacity(rows),
            time: Vec::new(),
            name: StringBuilder::new(),
            attrs: AttrsBuilder::with_capacity(0, 0),
            dropped: Vec::new(),
        }
    }

    fn append(&mut self, event: &span::Event) {
        self.time.push(ts_to_arrow(event.time_unix_nano));
        self.name.append_value(&event.name);
        self.attrs.append_row(&event.attributes);
        self.dropped.push(event.dropped_attributes_count);
    }

    pub(super) fn close_row(&mut self) {
        self.offsets.close(self.time.len());
    }

    fn finish(mut self) -> Result<ArrayRef, PdataError> {
        let len = self.time.len();
        let columns: Vec<ArrayRef> = vec![
            timestamps(self.time),
            Arc::new(self.name.finish()),
            Arc::new(self.attrs.finish()?),
            Arc::new(UInt32Array::from(self.dropped)),
        ];
        list_of_structs(schema::event_fields(), columns, self.offsets, len, None)
    }
}

/// Builds the `spans.links` column.
pub(super) struct LinksBuilder {
    pub(super) offsets: OffsetsBuilder,
    pub(super) trace_id: FixedSizeBinaryBuilder,
    pub(super) span_id: FixedSizeBinaryBuilder,
    pub(super) trace_state: StringBuilder,
    pub(super) attrs: AttrsBuilder,
    pub(super) dropped: Vec<u32>,
    pub(super) flags: Vec<u32>,
}

impl LinksBuilder {
    fn with_capacity(rows: usize) -> Self {
        LinksBuilder {
            offsets: OffsetsBuilder::with_capacity(rows),
            trace_id: FixedSizeBinaryBuilder::new(16),
            span_id: FixedSizeBinaryBuilder::new(8),
            trace_state: StringBuilder::new(),
            attrs: AttrsBuilder::with_capacity(0, 0),
            dropped: Vec::new(),
            flags: Vec::new(),
        }
    }

    fn append(&mut self, link: &span::Link) -> Result<(), PdataError> {
        append_id(&mut self.trace_id, &link.trace_id, 16, "Span.Link.trace_id")?;
        append_id(&mut self.span_id, &link.span_id, 8, "Span.Link.span_id")?;
        self.trace_state.append_value(&link.trace_state);
        self.attrs.append_row(&link.attributes);
        self.dropped.push(link.dropped_attributes_count);
        self.flags.push(link.flags);
        Ok(())
    }

    pub(super) fn close_row(&mut self) {
        self.offsets.close(self.flags.len());
    }

    fn finish(mut self) -> Result<ArrayRef, PdataError> {
        let len = self.flags.len();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.trace_id.finish()),
            Arc::new(self.span_id.finish()),
            Arc::new(self.trace_state.finish()),
            Arc::new(self.attrs.finish()?),
            Arc::new(UInt32Array::from(self.dropped)),
            Arc::new(UInt32Array::from(self.flags)),
        ];
        list_of_structs(schema::link_fields(), columns, self.offsets, len, None)
    }
}

/// Builds the spans records table, one span at a time.
pub(crate) struct SpansBuilder {
    pub(super) scope_id: Vec<u32>,
    pub(super) trace_id: FixedSizeBinaryBuilder,
    pub(super) span_id: FixedSizeBinaryBuilder,
    pub(super) trace_state: StringBuilder,
    pub(super) parent_span_id: FixedSizeBinaryBuilder,
    pub(super) flags: Vec<u32>,
    pub(super) name: StringDictionaryBuilder<UInt32Type>,
    pub(super) kind: Vec<i32>,
    pub(super) start_time: Vec<i64>,
    pub(super) end_time: Vec<i64>,
    pub(super) attrs: AttrsBuilder,
    pub(super) dropped_attributes: Vec<u32>,
    pub(super) events: EventsBuilder,
    pub(super) dropped_events: Vec<u32>,
    pub(super) links: LinksBuilder,
    pub(super) dropped_links: Vec<u32>,
    pub(super) status_code: Vec<i32>,
    pub(super) status_message: StringBuilder,
    pub(super) status_nulls: NullBufferBuilder,
}

impl SpansBuilder {
    /// A builder for `rows` spans.
    pub(crate) fn with_capacity(rows: usize) -> Self {
        SpansBuilder {
            scope_id: Vec::with_capacity(rows),
            trace_id: FixedSizeBinaryBuilder::with_capacity(rows, 16),
            span_id: FixedSizeBinaryBuilder::with_capacity(rows, 8),
            trace_state: StringBuilder::with_capacity(rows, 0),
            parent_span_id: FixedSizeBinaryBuilder::with_capacity(rows, 8),
            flags: Vec::with_capacity(rows),
            name: StringDictionaryBuilder::with_capacity(rows, 64, 1024),
            kind: Vec::with_capacity(rows),
            start_time: Vec::with_capacity(rows),
            end_time: Vec::with_capacity(rows),
            attrs: AttrsBuilder::with_capacity(rows, rows * 8),
            dropped_attributes: Vec::with_capacity(rows),
            events: EventsBuilder::with_capacity(rows),
            dropped_events: Vec::with_capacity(rows),
            links: LinksBuilder::with_capacity(rows),
            dropped_links: Vec::with_capacity(rows),
            status_code: Vec::with_capacity(rows),
            status_message: StringBuilder::with_capacity(rows, 0),
            status_nulls: NullBufferBuilder::new(rows),
        }
    }

    /// Appends one span of scope `scope_id`.
    ///
    /// # Errors
    /// [`PdataError::InvalidValue`] for ids of the wrong length.
    pub(crate) fn append(&mut self, scope_id: u32, s: &Span) -> Result<(), PdataError> {
        // An error leaves the columns of unequal lengths: the caller drops
        // the whole builder.
        append_id(&mut self.trace_id, &s.trace_id, 16, "Span.trace_id")?;
        append_id(&mut self.span_id, &s.span_id, 8, "Span.span_id")?;
        append_id(
            &mut self.parent_span_id,
            &s.parent_span_id,
            8,
            "Span.parent_span_id",
        )?;
        self.scope_id.push(scope_id);
        self.trace_state.append_value(&s.trace_state);
        self.flags.push(s.flags);
        self.name.append_value(&s.name);
        self.kind.push(s.kind);
        self.start_time.push(ts_to_arrow(s.start_time_unix_nano));
        self.end_time.push(ts_to_arrow(s.end_time_unix_nano));
        self.attrs.append_row(&s.attributes);
        self.dropped_attributes.push(s.dropped_attributes_count);
        for e in &s.events {
            self.events.append(e);
        }
        self.events.close_row();
        self.dropped_events.push(s.dropped_events_count);
        for l in &s.links {
            self.links.append(l)?;
        }
        self.links.close_row();
        self.dropped_links.push(s.dropped_links_count);
        match &s.status {
            Some(status) => {
                self.status_code.push(status.code);
                self.status_message.append_value(&status.message);
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

    /// The records table.
    pub(crate) fn finish(mut self) -> Result<RecordBatch, PdataError> {
        let status = StructArray::try_new(
            schema::status_fields(),
            vec![
                Arc::new(Int32Array::from(self.status_code)),
                Arc::new(self.status_message.finish()),
            ],
            self.status_nulls.finish(),
        )?;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from(self.scope_id)),
            Arc::new(self.trace_id.finish()),
            Arc::new(self.span_id.finish()),
            Arc::new(self.trace_state.finish()),
            Arc::new(self.parent_span_id.finish()),
            Arc::new(UInt32Array::from(self.flags)),
            Arc::new(self.name.finish()),
            Arc::new(Int32Array::from(self.kind)),
            timestamps(self.start_time),
            timestamps(self.end_time),
            Arc::new(self.attrs.finish()?),
            Arc::new(UInt32Array::from(self.dropped_attributes)),
            self.events.finish()?,
            Arc::new(UInt32Array::from(self.dropped_events)),
            self.links.finish()?,
            Arc::new(UInt32Array::from(self.dropped_links)),
            Arc::new(status),
        ];
        Ok(RecordBatch::try_new(schema::spans(), columns)?)
    }
}

/// Reads `spans.events`.
pub(super) struct EventsReader<'a> {
    pub(super) list: ListCol<'a>,
    pub(super) time: Prim<'a, TimestampNanosecondType>,
    pub(super) name: StrCol<'a>,
    pub(super) attrs: Option<AttrsReader<'a>>,
    pub(super) dropped: Prim<'a, UInt32Type>,
}

impl<'a> EventsReader<'a> {
    pub(super) fn new(cols: &Cols<'a>) -> Result<Self, PdataError> {
        let list = cols.list(sp::EVENTS)?;
        let mut reader = EventsReader {
            list,
            time: Prim(None),
            name: StrCol::Missing,
            attrs: None,
            dropped: Prim(None),
        };
        if let Some(values) = list.struct_values(cols, sp::EVENTS)? {
            let c = Cols::of_struct(cols.signal(), sp::EVENTS, values);
            reader.time = c.prim(ev::TIME)?;
            reader.name = c.str(ev::NAME)?;
            reader.attrs = Some(AttrsReader::new(&c, ev::ATTRIBUTES)?);
            reader.dropped = c.prim(ev::DROPPED_ATTRIBUTES_COUNT)?;
        }
        Ok(reader)
    }

    fn get(&self, row: usize) -> Result<Vec<span::Event>, PdataError> {
        let (Some(range), Some(attrs)) = (self.list.range(row), &self.attrs) else {
            return Ok(Vec::new());
        };
        range
            .map(|j| {
                Ok(span::Event {
                    time_unix_nano: ts_from_arrow(self.time.get(j)),
                    name: self.name.get(j).to_owned(),
                    attributes: attrs.get(j)?,
                    dropped_attributes_count: self.dropped.get(j),
                })
            })
            .collect()
    }
}

/// Reads `spans.links`.
pub(super) struct LinksReader<'a> {
    pub(super) list: ListCol<'a>,
    pub(super) trace_id: IdCol<'a>,
    pub(super) span_id: IdCol<'a>,
    pub(super) trace_state: StrCol<'a>,
    pub(super) attrs: Option<AttrsReader<'a>>,
    pub(super) dropped: Prim<'a, UInt32Type>,
    pub(super) flags: Prim<'a, UInt32Type>,
}

impl<'a> LinksReader<'a> {
    pub(super) fn new(cols: &Cols<'a>) -> Result<Self, PdataError> {
        let list = cols.list(sp::LINKS)?;
        let Some(values) = list.struct_values(cols, sp::LINKS)? else {
            return Ok(LinksReader {
                list,
                trace_id: IdCol::default(),
                span_id: IdCol::default(),
                trace_state: StrCol::Missing,
                attrs: None,
                dropped: Prim(None),
                flags: Prim(None),
            });
        };
        let c = Cols::of_struct(cols.signal(), sp::LINKS, values);
        Ok(LinksReader {
            list,
            trace_id: c.id_bytes(lk::TRACE_ID, 16)?,
            span_id: c.id_bytes(lk::SPAN_ID, 8)?,
            trace_state: c.str(lk::TRACE_STATE)?,
            attrs: Some(AttrsReader::new(&c, lk::ATTRIBUTES)?),
            dropped: c.prim(lk::DROPPED_ATTRIBUTES_COUNT)?,
            flags: c.prim(lk::FLAGS)?,
        })
    }

    fn get(&self, row: usize) -> Result<Vec<span::Link>, PdataError> {
        let (Some(range), Some(attrs)) = (self.list.range(row), &self.attrs) else {
            return Ok(Vec::new());
        };
        range
            .map(|j| {
                Ok(span::Link {
                    trace_id: self.trace_id.get(j),
                    span_id: self.span_id.get(j),
                    trace_state: self.trace_state.get(j).to_owned(),
                    attributes: attrs.get(j)?,
                    dropped_attributes_count: self.dropped.get(j),
                    flags: self.flags.get(j),
                })
            })
            .collect()
    }
}

/// Reads spans from the records table.
pub(super) struct SpansReader<'a> {
    pub(super) trace_id: IdCol<'a>,
    pub(super) span_id: IdCol<'a>,
    pub(super) trace_state: StrCol<'a>,
    pub(super) parent_span_id: IdCol<'a>,
    pub(super) flags: Prim<'a, UInt32Type>,
    pub(super) name: StrCol<'a>,
    pub(super) kind: Prim<'a, Int32Type>,
    pub(super) start_time: Prim<'a, TimestampNanosecondType>,
    pub(super) end_time: Prim<'a, TimestampNanosecondType>,
    pub(super) attrs: AttrsReader<'a>,
    pub(super) dropped_attributes: Prim<'a, UInt32Type>,
    pub(super) events: EventsReader<'a>,
    pub(super) dropped_events: Prim<'a, UInt32Type>,
    pub(super) links: LinksReader<'a>,
    pub(super) dropped_links: Prim<'a, UInt32Type>,
    pub(super) status: Option<(&'a StructArray, Prim<'a, Int32Type>, StrCol<'a>)>,
}

impl<'a> SpansReader<'a> {
    pub(super) fn new(cols: &Cols<'a>) -> Result<Self, PdataError> {
        let status = match cols.structure(sp::STATUS)? {
            None => None,
            Some(s) => {
                let c = Cols::of_struct(cols.signal(), sp::STATUS, s);
                Some((s, c.prim(st::CODE)?, c.str(st::MESSAGE)?))
            }
        };
        Ok(SpansReader {
            trace_id: cols.id_bytes(sp::TRACE_ID, 16)?,
            span_id: cols.id_bytes(sp::SPAN_ID, 8)?,
            trace_state: cols.str(sp::TRACE_STATE)?,
            parent_span_id: cols.id_bytes(sp::PARENT_SPAN_ID, 8)?,
            flags: cols.prim(sp::FLAGS)?,
            name: cols.str(sp::NAME)?,
            kind: cols.prim(sp::KIND)?,
            start_time: cols.prim(sp::START_TIME)?,
            end_time: cols.prim(sp::END_TIME)?,
            attrs: AttrsReader::new(cols, sp::ATTRIBUTES)?,
            dropped_attributes: cols.prim(sp::DROPPED_ATTRIBUTES_COUNT)?,
            events: EventsReader::new(cols)?,
            dropped_events: cols.prim(sp::DROPPED_EVENTS_COUNT)?,
            links: LinksReader::new(cols)?,
            dropped_links: cols.prim(sp::DROPPED_LINKS_COUNT)?,
            status,
        })
    }

    fn span(&self, i: usize) -> Result<Span, PdataError> {
        let status = match &self.status {
            Some((array, code, message)) if arrow_array::Array::is_valid(*array, i) => {
                Some(Status {
                    message: message.get(i).to_owned(),
                    code: code.get(i),
                })
            }
            _ => None,
        };
        Ok(Span {
            trace_id: self.trace_id.get(i),
            span_id: self.span_id.get(i),
            trace_state: self.trace_state.get(i).to_owned(),
            parent_span_id: self.parent_span_id.get(i),
            flags: self.flags.get(i),
            name: self.name.get(i).to_owned(),
            kind: self.kind.get(i),
            start_time_unix_nano: ts_from_arrow(self.start_time.get(i)),
            end_time_unix_nano: ts_from_arrow(self.end_time.get(i)),
            attributes: self.attrs.get(i)?,
            dropped_attributes_count: self.dropped_attributes.get(i),
            events: self.events.get(i)?,
            dropped_events_count: self.dropped_events.get(i),
            links: self.links.get(i)?,
            dropped_links_count: self.dropped_links.get(i),
            status,
        })
    }
}
