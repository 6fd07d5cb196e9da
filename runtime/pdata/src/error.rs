//! Errors of the data model.

use crate::Signal;

/// What can go wrong converting or combining telemetry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PdataError {
    /// Bytes that are not a valid OTLP request of the signal.
    #[error("invalid OTLP protobuf at byte {offset}: {reason}")]
    Protobuf {
        /// Byte offset in the request where the problem was found.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
    /// A protobuf message that prost could not decode.
    #[error("invalid OTLP protobuf: {0}")]
    Decode(#[from] prost::DecodeError),
    /// An OTLP/JSON body that is not valid for the signal's request.
    #[error("invalid OTLP JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A value that OTLP allows on the wire but weir refuses (e.g. a trace id
    /// that is neither empty nor 16 bytes).
    #[error("invalid {field}: {reason}")]
    InvalidValue {
        /// The field, as `Span.trace_id`.
        field: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// Tables that do not follow the signal's schema (a bug in a processor).
    #[error("tables do not follow the {signal} schema: {reason}")]
    Schema {
        /// The signal.
        signal: Signal,
        /// What was wrong.
        reason: String,
    },
    /// An Arrow kernel failed.
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),
    /// Batches of different signals were combined.
    #[error("cannot combine a {found} batch with a {expected} batch")]
    SignalMismatch {
        /// The signal of the first batch.
        expected: Signal,
        /// The other signal.
        found: Signal,
    },
    /// A batch with neither representation, or an empty list of batches.
    #[error("empty batch")]
    Empty,
    /// Valid protobuf that a wire-level edit leaves to the decoded path
    /// (see [`crate::otlp::edit`]).
    #[error("the wire edit does not handle {0}; decode the batch instead")]
    Unsupported(&'static str),
    /// A signal name that is not `traces`, `metrics`, `logs` or `profiles`.
    #[error("unknown signal {0:?} (expected traces, metrics, logs or profiles)")]
    UnknownSignal(String),
    /// OTLP bytes were asked of (or given for) a signal without an OTLP
    /// form in weir (profiles are Arrow-only).
    #[error(
        "{0} have no OTLP form in weir (they are Arrow tables only); export them with the pyroscope or debug exporter"
    )]
    NoOtlp(Signal),
}
