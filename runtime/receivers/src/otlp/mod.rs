//! The `otlp` receiver: OTLP/gRPC and OTLP/HTTP servers feeding a pipeline.
//!
//! Requests are never decoded. Both front-ends hand the request's protobuf
//! bytes (OTLP/JSON bodies are first converted to protobuf) to `Ingest`,
//! which validates and counts them with one scan of the wire format
//! ([`Batch::from_otlp`]), sends them on with a bounded wait for room, and,
//! with `ack "delivered"`, waits for the data's [`Ack`] to settle.
//!
//! - [`config`]: the KDL properties, their defaults and `validate`.
//! - `receiver`: the node (bind at build time, serve at run time).
//! - `grpc`: the three collector services on tonic, with a codec that yields
//!   the raw request bytes.
//! - `http`: `POST /v1/{traces,metrics,logs}` on hyper, with bounded
//!   streaming decompression.
//! - `status`: the `google.rpc.Status` messages both front-ends answer
//!   errors with.
//!
//! Backpressure never buffers: a request waits at most `backpressure-wait`
//! for room in the engine's bounded channel, then is refused as retryable.

pub mod config;
mod grpc;
mod http;
mod receiver;
mod status;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use weir_engine::channel::{Output, SendError};
use weir_engine::metrics::NodeMetrics;
use weir_engine::node::{ReceiverContext, Shutdown};
use weir_engine::{Ack, Delivery, Message};
use weir_pdata::{Batch, PdataError, Signal};

pub use config::{AckMode, OtlpConfig, validate};
pub use receiver::OtlpReceiver;

/// How long clients are told to wait before retrying a refused request
/// (`Retry-After`, gRPC `RetryInfo`).
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Why a request was not accepted, as both front-ends report it.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    /// The body is not a valid request of the signal; retrying won't help.
    #[error("{0}")]
    Invalid(#[from] PdataError),
    /// The pipeline stayed full for `backpressure-wait`; retry later.
    #[error("the pipeline is full; retry later")]
    Full,
    /// The receiver is stopping; retry later (another instance may take it).
    #[error("the receiver is shutting down; retry later")]
    ShuttingDown,
    /// With `ack "delivered"`: some exporter gave up on the data.
    #[error("the data was not delivered: {0}")]
    NotDelivered(String),
    /// With `ack "delivered"`: a backend refused the data for good (an
    /// HTTP 400 from it); retrying the same request will not help.
    #[error("the data was rejected by a backend: {0}")]
    Rejected(String),
}

/// What both front-ends share: where data goes and how to push back.
struct Ingest {
    id: String,
    output: Output,
    metrics: Arc<NodeMetrics>,
    shutdown: Shutdown,
    ack: AckMode,
    wait: Duration,
}

impl Ingest {
    fn new(ctx: ReceiverContext, config: &OtlpConfig) -> Self {
        Ingest {
            id: ctx.id,
            output: ctx.output,
            metrics: ctx.metrics,
            shutdown: ctx.shutdown,
            ack: config.ack,
            wait: config.backpressure_wait,
        }
    }

    /// Whether new requests must be refused because the receiver is
    /// stopping. Checked when a request starts, so that requests already in
    /// flight at shutdown still complete.
    fn is_shutting_down(&self) -> bool {
        self.shutdown.is_triggered()
    }

    /// Counts a request refused before its data could be read (bad body,
    /// too large, wrong encoding).
    fn record_bad_request(&self) {
        self.metrics.record_error();
    }

    /// Validates `bytes` as an `Export*ServiceRequest` of `signal` and sends
    /// them on; returns the number of items.
    async fn accept(&self, signal: Signal, bytes: Bytes) -> Result<usize, Refusal> {
        let batch = match Batch::from_otlp(signal, bytes) {
            Ok(b) => b,
            Err(e) => {
                self.metrics.record_error();
                tracing::debug!(node = %self.id, %signal, error = %e, "Refused an invalid request.");
                return Err(Refusal::Invalid(e));
            }
        };
        let items = batch.items();
        if batch.otlp_len() == 0 {
            // An empty request carries nothing: acknowledge it, send nothing.
            return Ok(0);
        }
        let (msg, settled) = match self.ack {
            AckMode::Accepted => (Message::new(batch), None),
            AckMode::Delivered => {
                let (ack, rx) = Ack::new();
                (Message::with_ack(batch, ack), Some(rx))
            }
        };
        match self.output.try_send_for(msg, self.wait).await {
            Ok(()) => {}
            Err(SendError::Full(_)) => {
                // `try_send_for` counted the refused items.
                tracing::debug!(node = %self.id, %signal, items, "Refused a request: the pipeline is full.");
                return Err(Refusal::Full);
            }
            Err(SendError::Closed(_)) => {
                self.metrics.record_refused(items);
                tracing::debug!(node = %self.id, %signal, items, "Refused a request: the pipeline is shutting down.");
                return Err(Refusal::ShuttingDown);
            }
        }
        let Some(settled) = settled else {
            return Ok(items);
        };
        match settled.await {
            Ok(Delivery::Delivered) => Ok(items),
            Ok(Delivery::Failed(reason)) => {
                self.metrics.record_error();
                Err(Refusal::NotDelivered(reason))
            }
            Ok(Delivery::Rejected(reason)) => {
                self.metrics.record_error();
                Err(Refusal::Rejected(reason))
            }
            // The ack's state always reports before it goes away; this is
            // only reachable if that changes.
            Err(_) => Err(Refusal::NotDelivered("the outcome was lost".to_string())),
        }
    }
}
