//! The parts of the wire encoder every signal shares: the `Resource*` /
//! `Scope*` envelope, resources, scopes and attributes.
//!
//! Rows are grouped exactly as the prost path groups them
//! ([`Envelope`]: resources in row order, their scopes in row order, the
//! records of each scope in row order, wherever they sit in the table), and
//! written back to front into a [`RevBuf`], so the output is byte for byte
//! what prost would encode from the same tables.

use arrow_array::types::UInt32Type;
use arrow_array::{Array, PrimitiveArray};
use bytes::Bytes;
use opentelemetry_proto::tonic::common::v1::AnyValue;
use prost::Message;

use super::write::RevBuf;
use crate::otlp::arrow::attrs::{AttrsReader, ValueRef};
use crate::otlp::arrow::envelope::{Envelope, ResourcesReader, ScopesReader, StrList};
use crate::{PdataError, Signal, SignalTables};

/// Writes the records of one signal.
pub(super) trait RecordWriter {
    /// Writes the content of the record message of `row` (fields only, back
    /// to front; the caller closes the message).
    fn write(&self, w: &mut RevBuf, row: usize) -> Result<(), PdataError>;
}

/// Encodes `tables` as an `Export*ServiceRequest` whose records `records`
/// writes; `scope_ids` is the records' `scope_id` column.
pub(super) fn encode(
    signal: Signal,
    tables: &SignalTables,
    scope_ids: &PrimitiveArray<UInt32Type>,
    records: &impl RecordWriter,
) -> Result<Bytes, PdataError> {
    let env = Envelope::new(signal, tables, scope_ids)?;
    let mut w = RevBuf::with_capacity(estimate(tables));
    for r in (0..env.resources.len()).rev() {
        let start = w.len();
        w.str(3, env.resources.schema_url.get(r));
        for &s in env.scopes_of(r).iter().rev() {
            let scope_start = w.len();
            w.str(3, env.scopes.schema_url.get(s));
            for &row in env.records_of(s).iter().rev() {
                let record = w.len();
                records.write(&mut w, row)?;
                w.message_end(2, record);
            }
            scope(&mut w, &env.scopes, s)?;
            w.message_end(2, scope_start);
        }
        resource(&mut w, &env.resources, r)?;
        w.message_end(1, start);
    }
    Ok(w.finish())
}

/// A first guess of the encoded size: the bytes the records' columns use
/// (not their capacity), which for spans and logs is a little more than
/// their protobuf; the buffer grows if it is short.
fn estimate(tables: &SignalTables) -> usize {
    let records: usize = tables
        .records
        .columns()
        .iter()
        .map(|c| c.to_data().get_slice_memory_size().unwrap_or(0))
        .sum();
    records + 256 * (tables.scopes.num_rows() + 1)
}

/// Writes field 1 (`resource`) of a `Resource*` message, if present.
fn resource(w: &mut RevBuf, resources: &ResourcesReader<'_>, r: usize) -> Result<(), PdataError> {
    if resources.attrs.is_null(r) {
        return Ok(());
    }
    let start = w.len();
    let refs = &resources.entity_refs;
    if let (Some(range), Some((url, ty, ids, descs))) = (refs.list.range(r), &refs.fields) {
        for j in range.rev() {
            let entity = w.len();
            string_list(w, descs, j, 4);
            string_list(w, ids, j, 3);
            w.str(2, ty.get(j));
            w.str(1, url.get(j));
            w.message_end(3, entity);
        }
    }
    w.uint32(2, resources.dropped.get(r));
    attributes(w, &resources.attrs, r, 1)?;
    w.message_end(1, start);
    Ok(())
}

/// Writes row `j` of a list of strings as repeated `string` field `number`
/// (every item is written, empty ones included).
fn string_list(w: &mut RevBuf, list: &StrList<'_>, j: usize, number: u32) {
    if let Some(range) = list.list.range(j) {
        for k in range.rev() {
            w.bytes_always(number, list.values.get(k).as_bytes());
        }
    }
}

/// Writes field 1 (`scope`) of a `Scope*` message, if present.
fn scope(w: &mut RevBuf, scopes: &ScopesReader<'_>, s: usize) -> Result<(), PdataError> {
    if scopes.attrs.is_null(s) {
        return Ok(());
    }
    let start = w.len();
    w.uint32(4, scopes.dropped.get(s));
    attributes(w, &scopes.attrs, s, 3)?;
    w.str(2, scopes.version.get(s));
    w.str(1, scopes.name.get(s));
    w.message_end(1, start);
    Ok(())
}

/// Writes the attributes of row `i` as repeated `KeyValue` field `number`.
#[inline]
pub(super) fn attributes(
    w: &mut RevBuf,
    attrs: &AttrsReader<'_>,
    i: usize,
    number: u32,
) -> Result<(), PdataError> {
    let Some(range) = attrs.range(i) else {
        return Ok(());
    };
    for j in range.rev() {
        let start = w.len();
        if let Some(value) = attrs.value_ref(j)? {
            let value_start = w.len();
            any_value(w, value)?;
            w.message_end(2, value_start);
        }
        w.str(1, attrs.key(j));
        w.message_end(number, start);
    }
    Ok(())
}

/// Writes the content of an `AnyValue` message.
#[inline]
pub(super) fn any_value(w: &mut RevBuf, value: ValueRef<'_>) -> Result<(), PdataError> {
    match value {
        ValueRef::Empty => {}
        ValueRef::Str(s) => w.bytes_always(1, s.as_bytes()),
        ValueRef::Bool(b) => w.varint_always(2, u64::from(b)),
        ValueRef::Int(i) => w.varint_always(3, i.cast_unsigned()),
        ValueRef::Double(d) => w.fixed64_always(4, d.to_bits()),
        ValueRef::Bytes(b) => w.bytes_always(7, b),
        ValueRef::StrIndex(i) => w.varint_always(8, i64::from(i).cast_unsigned()),
        ValueRef::Encoded(bytes) => nested_value(w, bytes)?,
    }
    Ok(())
}

/// An array or kvlist: checked and re-encoded canonically through prost
/// (rare, and what the prost path does).
#[cold]
fn nested_value(w: &mut RevBuf, bytes: &[u8]) -> Result<(), PdataError> {
    let value = AnyValue::decode(bytes)?;
    w.raw(&value.encode_to_vec());
    Ok(())
}

/// Whether row `i` of a nullable struct column is present.
pub(super) fn is_valid(array: &dyn Array, i: usize) -> bool {
    array.is_valid(i)
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    use super::*;

    fn kv(key: &str, value: Value) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(value) }),
            key_strindex: 0,
        }
    }

    /// For spans of the usual shape the first guess covers the output
    /// (no growth) without being twice its size (no copy on finish).
    #[test]
    fn the_size_estimate_fits_typical_spans() {
        let span = |i: u8| Span {
            trace_id: vec![i; 16],
            span_id: vec![i; 8],
            name: "GET /api/v1/products/{id}".to_owned(),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_001_000_000,
            attributes: vec![
                kv("http.request.method", Value::StringValue("GET".to_owned())),
                kv(
                    "http.route",
                    Value::StringValue("/api/v1/products/{id}".to_owned()),
                ),
                kv("http.response.status_code", Value::IntValue(200)),
                kv(
                    "url.full",
                    Value::StringValue(format!("https://shop/p/{i}")),
                ),
                kv("user.id", Value::StringValue(format!("user-{i}"))),
            ],
            ..Span::default()
        };
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: (0..=255).map(span).collect(),
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        };
        let bytes = request.encode_to_vec();
        let tables = crate::otlp::arrow::decode(Signal::Traces, &bytes).expect("decode");
        let guess = estimate(&tables);
        assert!(guess >= bytes.len(), "{guess} < {}", bytes.len());
        assert!(guess <= 2 * bytes.len(), "{guess} > 2 x {}", bytes.len());
    }
}
