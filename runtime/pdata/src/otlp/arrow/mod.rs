//! OTLP protobuf <-> Arrow tables, losslessly.
//!
//! [`decode`] turns the bytes of an `Export*ServiceRequest` into
//! [`SignalTables`] of the schemas in [`crate::schema`]; [`encode`] turns
//! tables back into request bytes; [`concat()`] merges tables of one signal.
//! `encode(decode(x))` decodes to the same message as `x` (unknown fields
//! aside), which `tests/roundtrip.rs` proves with property tests.
//!
//! Traces and logs are converted by `wire`: the decoder walks the
//! protobuf bytes and appends each field straight into the builders
//! (`SpansBuilder`, `AttrsBuilder::key` + `AnyValueBuilder::append_str`
//! ...), the encoder writes protobuf straight from the columns, with no
//! `opentelemetry_proto` structs in between. Metrics still go through prost
//! (decode into the structs, then the builders; the reverse on encode).
//! [`decode_via_prost`] and [`encode_via_prost`] keep the prost path of
//! every signal as the reference the wire path is tested against
//! (`tests/wire.rs`).
//!
//! Encoding reads columns by name and is lenient where that is free (a
//! missing column reads as OTLP's default, strings may be plain or
//! dictionary-encoded), so processors can hand back tables they built
//! themselves. Records need not be contiguous per scope, nor points per
//! metric: they are grouped by `scope_id` and `metric_id`, keeping table
//! order within each group.

pub(crate) mod attrs;
mod columns;
mod concat;
pub(crate) mod envelope;
mod logs;
mod metrics;
mod traces;
mod wire;

use arrow_array::RecordBatch;
use bytes::Bytes;

use crate::{PdataError, Signal, SignalTables};

/// Rows of a metrics records table that stand for a metric without data
/// points, kept so that conversion is lossless: rows whose point
/// `attributes` map is null. Always 0 for the records tables of traces and
/// logs (tables without a `metric_id` column).
pub fn placeholder_rows(records: &RecordBatch) -> usize {
    metrics::placeholder_rows(records)
}

/// Concatenates tables of one signal into one, renumbering ids: the
/// resource, scope (and metric) ids of each part are offset past the
/// largest id of the parts before it.
///
/// # Errors
/// [`PdataError::Empty`] for no parts; [`PdataError::Schema`] when id
/// columns are missing or parts have different columns.
pub fn concat(signal: Signal, parts: &[&SignalTables]) -> Result<SignalTables, PdataError> {
    concat::concat(signal, parts)
}

/// Decodes the protobuf bytes of an `Export*ServiceRequest` of `signal`
/// into tables (ids dense from 0, records of a scope contiguous, in request
/// order).
///
/// # Errors
/// [`PdataError::Protobuf`] (traces, logs: with the byte offset) or
/// [`PdataError::Decode`] (metrics, nested `AnyValue`s, resources and
/// scopes) for bytes that are not a valid request;
/// [`PdataError::InvalidValue`] for a trace id that is neither empty nor 16
/// bytes or a span id that is neither empty nor 8 bytes.
pub fn decode(signal: Signal, bytes: &[u8]) -> Result<SignalTables, PdataError> {
    match signal {
        Signal::Traces => wire::traces::decode(bytes),
        Signal::Metrics => metrics::decode(bytes),
        Signal::Logs => wire::logs::decode(bytes),
    }
}

/// [`decode`] through prost: the request is decoded into the
/// `opentelemetry-proto` structs, then appended to the builders. The
/// reference the wire decoder is tested against; same result, slower.
///
/// # Errors
/// As [`decode`] ([`PdataError::Decode`] for invalid bytes).
pub fn decode_via_prost(signal: Signal, bytes: &[u8]) -> Result<SignalTables, PdataError> {
    match signal {
        Signal::Traces => traces::decode(bytes),
        Signal::Metrics => metrics::decode(bytes),
        Signal::Logs => logs::decode(bytes),
    }
}

/// Encodes tables of `signal` as the protobuf bytes of an
/// `Export*ServiceRequest`.
///
/// Every resource and scope row is emitted, even without children (OTLP
/// allows empty `ScopeSpans` and `ResourceSpans`, and keeping them is what
/// makes the conversion lossless).
///
/// # Errors
/// [`PdataError::Schema`] when an id column is missing or has nulls, a
/// `scope_id` or `resource_id` references no row, ids repeat, or a column
/// has a type the schema does not allow; [`PdataError::Decode`] when a
/// nested `AnyValue` (array or kvlist) holds invalid protobuf.
pub fn encode(signal: Signal, tables: &SignalTables) -> Result<Bytes, PdataError> {
    match signal {
        Signal::Traces => wire::traces::encode(tables),
        Signal::Metrics => metrics::encode(tables),
        Signal::Logs => wire::logs::encode(tables),
    }
}

/// [`encode`] through prost: the tables are turned into the
/// `opentelemetry-proto` structs, then encoded. The reference the wire
/// encoder is tested against; same bytes, slower.
///
/// # Errors
/// As [`encode`].
pub fn encode_via_prost(signal: Signal, tables: &SignalTables) -> Result<Bytes, PdataError> {
    match signal {
        Signal::Traces => traces::encode(tables),
        Signal::Metrics => metrics::encode(tables),
        Signal::Logs => logs::encode(tables),
    }
}
