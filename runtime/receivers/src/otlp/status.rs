//! The `google.rpc` messages the receiver answers errors with, and how each
//! [`Refusal`] maps to a gRPC status.
//!
//! OTLP/HTTP error bodies are a `google.rpc.Status` in the request's
//! encoding; gRPC errors carry one in `grpc-status-details-bin` when they
//! have details (a `google.rpc.RetryInfo` for retryable refusals).

use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;
use tonic::Code;

use super::{RETRY_AFTER, Refusal};

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct RpcStatus {
    /// A `google.rpc.Code`.
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// The developer-facing message.
    #[prost(string, tag = "2")]
    pub message: String,
    /// Details such as `RetryInfo`.
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<Any>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct Any {
    /// The type of `value`.
    #[prost(string, tag = "1")]
    pub type_url: String,
    /// The encoded message.
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct RetryInfo {
    /// How long to wait before retrying.
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct ProtoDuration {
    /// Whole seconds.
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Nanoseconds beyond `seconds`.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// The `type_url` of a packed `RetryInfo`.
pub(super) const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// A `RetryInfo` detail asking the client to wait `delay`.
pub(super) fn retry_info(delay: Duration) -> Any {
    let info = RetryInfo {
        retry_delay: Some(ProtoDuration {
            seconds: i64::try_from(delay.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(delay.subsec_nanos()).unwrap_or(0),
        }),
    };
    Any {
        type_url: RETRY_INFO_TYPE.to_string(),
        value: info.encode_to_vec(),
    }
}

/// The gRPC status of a refused request.
///
/// - Invalid data: `INVALID_ARGUMENT` (not retryable) with the scan's
///   message.
/// - Pipeline full: `RESOURCE_EXHAUSTED` **with** a `RetryInfo` detail. The
///   OTLP specification makes `RESOURCE_EXHAUSTED` retryable only when the
///   server can recover and says so with `RetryInfo`, and some SDKs (Go)
///   retry it only then: the detail is what makes every client retry rather
///   than drop. We keep `RESOURCE_EXHAUSTED` rather than `UNAVAILABLE`
///   because it names the precise cause (the pipeline is saturated, not
///   down), matches the HTTP 429 of the OTLP/HTTP side, and lets operators
///   tell overload from outages in client-side metrics.
/// - Rejected for good by a backend with `ack "delivered"`:
///   `INVALID_ARGUMENT` (not retryable: the same data would be refused again).
/// - Shutting down, or not delivered with `ack "delivered"`: `UNAVAILABLE`
///   (always retryable), with `RetryInfo` too.
pub(super) fn grpc_status(refusal: &Refusal) -> tonic::Status {
    let message = refusal.to_string();
    match refusal {
        Refusal::Invalid(_) | Refusal::Rejected(_) => tonic::Status::invalid_argument(message),
        Refusal::Full => with_retry(Code::ResourceExhausted, message),
        Refusal::ShuttingDown | Refusal::NotDelivered(_) => with_retry(Code::Unavailable, message),
    }
}

fn with_retry(code: Code, message: String) -> tonic::Status {
    let details = RpcStatus {
        code: code as i32,
        message: message.clone(),
        details: vec![retry_info(RETRY_AFTER)],
    };
    tonic::Status::with_details(code, message, Bytes::from(details.encode_to_vec()))
}
