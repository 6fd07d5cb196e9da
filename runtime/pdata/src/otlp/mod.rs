//! OTLP protobuf and JSON <-> Arrow.
//!
//! - [`scan`] validates the wire format of a request and counts its items in
//!   one pass without allocating: what a receiver runs on every request.
//! - [`decode`] turns request bytes into [`SignalTables`].
//! - [`encode`] turns [`SignalTables`] into request bytes.
//! - [`edit`] deletes or replaces attribute values in request bytes
//!   without decoding them (the redaction kernels' fast path).
//! - [`json_to_protobuf`] / [`protobuf_to_json`] implement the OTLP/JSON
//!   mapping (hex ids, enums as integers, 64-bit integers as strings).
//!
//! The conversions are lossless: `encode(decode(x))` equals `x` as a message
//! (field order and unknown fields aside), proved by property tests.

pub mod arrow;
mod json;

/// Attribute edits on OTLP request bytes, without decoding them.
pub mod edit {
    pub use super::arrow::wire::edit::{
        AttributeEditor, AttributeSet, Edit, Edited, WireValue, attribute_keys, edit_attributes,
    };
}
mod scan;

use bytes::Bytes;

use crate::{PdataError, Signal, SignalTables};

pub use json::{json_to_protobuf, protobuf_to_json};
pub use scan::scan;

/// Decodes the protobuf bytes of an `Export*ServiceRequest` into tables.
///
/// # Errors
/// [`PdataError`] when the bytes are not a valid request or carry values weir
/// refuses (ids of the wrong length).
pub fn decode(signal: Signal, bytes: &[u8]) -> Result<SignalTables, PdataError> {
    arrow::decode(signal, bytes)
}

/// Encodes tables as the protobuf bytes of an `Export*ServiceRequest`.
///
/// # Errors
/// [`PdataError::Schema`] when the tables do not follow the signal's schema.
pub fn encode(signal: Signal, tables: &SignalTables) -> Result<Bytes, PdataError> {
    arrow::encode(signal, tables)
}
