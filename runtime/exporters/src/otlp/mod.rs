//! `exporter "x" type="otlp"`: sends batches to an OTLP backend.
//!
//! ```kdl
//! exporter "tempo" type="otlp" {
//!     from "batch"
//!     endpoint "http://127.0.0.1:4317"
//!     protocol "grpc"            // or "http": POST <endpoint>/v1/traces ...
//!     headers { "x-scope-orgid" "tenant-1" }
//!     timeout "10s"
//!     compression "none"         // or "gzip"
//!     retry { initial "100ms" max "5s" max-elapsed "60s" }
//! }
//! ```
//!
//! The request bytes a receiver got are sent as they are
//! ([`Batch::otlp_bytes`](weir_pdata::Batch::otlp_bytes)): over gRPC
//! through a pass-through codec on one lazily connected channel, over HTTP
//! as the request body. Retryable failures (gRPC `UNAVAILABLE`,
//! `RESOURCE_EXHAUSTED`, ...; HTTP 429/502/503/504 honouring `Retry-After`;
//! connection errors and timeouts) are retried with exponential backoff and
//! full jitter; permanent ones (gRPC `INVALID_ARGUMENT`, HTTP 400, ...) fail
//! the batch at once. A partial success is logged with the rejected count.

pub(crate) mod config;
mod exporter;
mod grpc_client;
mod http_client;
#[cfg(test)]
mod tests;

pub use crate::delivery::Backoff;
pub(crate) use crate::delivery::retry;
pub use config::{Compression, OtlpExporterConfig, Protocol, RetryConfig, validate};
pub(crate) use config::{read_headers, read_retry};
pub use exporter::{ExportResponse, OtlpExporter, PartialSuccess, SetupError};
pub use grpc_client::{RawCodec, method_path};
pub use http_client::{HttpSetupError, parse_retry_after, signal_path};
