//! OTLP protobuf <-> Arrow without intermediate structs: the fast path of
//! [`super::decode`] and [`super::encode`] for traces and logs.
//!
//! **Decode** walks the request bytes with a bounds-checked [`read::Cursor`]
//! and appends each field straight into the Arrow builders (strings from
//! byte slices after UTF-8 validation). A shallow first walk counts
//! resources, scopes and records for the builders' capacities. It is safe
//! on any input: malformed bytes are a [`crate::PdataError::Protobuf`]
//! (offset and reason), never a panic. It follows prost's semantics so that
//! it yields the same tables as the prost path for every input prost
//! accepts: fields in any order, the last occurrence of a scalar wins,
//! repeated occurrences of a singular message merge, unknown fields
//! (groups included) are skipped, strings must be UTF-8. Per-envelope
//! messages (`Resource`, `InstrumentationScope`) and nested `AnyValue`
//! arrays and kvlists (stored as the canonical protobuf prost re-encodes)
//! go through prost: they are rare or once per request.
//!
//! One difference on hostile input: prost counts its recursion limit (100)
//! from the request, this decoder from each nested `AnyValue` it hands to
//! prost, so an `AnyValue` nested between ~95 and ~100 levels deep is
//! refused by the prost path only. The receivers' scan refuses anything
//! nested past 64 levels before either runs.
//!
//! **Encode** writes protobuf back to front ([`write::RevBuf`]), so every
//! nested message's length is known when its prefix is written: one pass
//! over the columns, no sizing pass, and the output is byte for byte prost's
//! canonical encoding of the message the prost path would build (tests
//! compare bytes).

mod decode;
pub(crate) mod edit;
mod encode;
pub(crate) mod logs;
mod read;
pub(crate) mod traces;
mod write;
