//! OTLP/JSON: the JSON encoding of the export requests, to and from protobuf.
//!
//! The mapping is the one the OTLP specification defines
//! (<https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding>), which
//! is proto3 JSON with these differences:
//!
//! - field names are `lowerCamelCase`; on input the `.proto` `snake_case`
//!   names are accepted too, and unknown fields are ignored;
//! - trace and span ids are hex strings (not base64); on input upper case is
//!   accepted and ids of a length weir refuses (see [`super::scan`]) are
//!   reported with their JSON position;
//! - enums are integers (on input their names are accepted too);
//! - 64-bit integers are decimal strings (on input numbers are accepted too),
//!   `bytes` values base64 (standard alphabet with padding; URL-safe and
//!   unpadded accepted on input);
//! - doubles are numbers, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
//!
//! Both directions are driven by the message tables of
//! [`super::scan::proto`], without going through the generated structs:
//! JSON is parsed as a stream and written straight to protobuf, and protobuf
//! is checked by [`super::scan`] and written straight to JSON.
//!
//! # Why not the `with-serde` impls of `opentelemetry-proto`
//!
//! They get ids (hex), 64-bit integers (strings out, strings or numbers in),
//! enums (integers) and `bytesValue` (base64) right, but, as of 0.33:
//! `snake_case` names are refused; non-finite doubles are written as `null`
//! (only `ValueAtQuantile` handles `"NaN"`); `KeyValue.key`,
//! `ArrayValue.values` and `KeyValueList.values` are required although proto3
//! JSON omits empty fields; absent messages and optionals are written as
//! `null`; `stringValueStrindex` is dropped; and the `oneof`s of `Metric`,
//! `NumberDataPoint` and `Exemplar` are `#[serde(flatten)] Option<_>`, which
//! turns an error inside, say, a `"sum"` object into a metric silently without
//! data. Doubles are parsed with `serde_json`'s `float_roundtrip` (exact, not
//! best-effort), so a double survives protobuf -> JSON -> protobuf bit for
//! bit. Tests check that the
//! JSON written here reads back identically through those impls where they
//! are right, and the other way round.

mod base64;
mod de;
mod ser;
#[cfg(test)]
mod tests;

use crate::{PdataError, Signal};

/// Converts an OTLP/JSON export request of `signal` to its protobuf bytes.
///
/// The result is what a prost encoder would write for the same message
/// (fields in JSON order, proto3 defaults omitted).
///
/// # Errors
/// [`PdataError::Json`] when the body is not JSON, or not a request of
/// `signal`; the message names the field and the line and column.
pub fn json_to_protobuf(signal: Signal, json: &[u8]) -> Result<Vec<u8>, PdataError> {
    de::json_to_protobuf(signal, json)
}

/// Converts the protobuf bytes of an export request of `signal` to
/// OTLP/JSON.
///
/// Unknown fields are dropped (JSON cannot name them); a field given several
/// times is merged as protobuf decoders do (last value wins, messages merge,
/// repeated fields concatenate).
///
/// # Errors
/// What [`super::scan`] reports for invalid bytes.
pub fn protobuf_to_json(signal: Signal, protobuf: &[u8]) -> Result<String, PdataError> {
    ser::protobuf_to_json(signal, protobuf)
}
