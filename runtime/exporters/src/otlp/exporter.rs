//! The running OTLP exporter: one batch at a time, retried on retryable
//! failures.

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use weir_engine::NodeError;
use weir_engine::node::BatchExporter;
use weir_pdata::{Batch, Signal};

use super::config::{OtlpExporterConfig, RetryConfig};
use super::grpc_client::GrpcClient;
use super::http_client::{HttpClient, HttpSetupError};
use crate::ExportError;
use crate::delivery::retry;

/// What a backend reported it rejected of an accepted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialSuccess {
    /// Items rejected (spans, data points, log records).
    pub rejected: i64,
    /// The backend's explanation (may be set with 0 rejected, as a warning).
    pub message: String,
}

/// An `Export*ServiceResponse`.
pub trait ExportResponse: prost::Message + Default + Send + Sync + 'static {
    /// Its `partial_success`, when it says something.
    fn partial_success(&self) -> Option<PartialSuccess>;
}

macro_rules! export_response {
    ($ty:ty, $field:ident) => {
        impl ExportResponse for $ty {
            fn partial_success(&self) -> Option<PartialSuccess> {
                let p = self.partial_success.as_ref()?;
                if p.$field == 0 && p.error_message.is_empty() {
                    return None;
                }
                Some(PartialSuccess {
                    rejected: p.$field,
                    message: p.error_message.clone(),
                })
            }
        }
    };
}

export_response!(ExportTraceServiceResponse, rejected_spans);
export_response!(ExportMetricsServiceResponse, rejected_data_points);
export_response!(ExportLogsServiceResponse, rejected_log_records);

/// Why the exporter could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The gRPC endpoint is not usable.
    #[error("invalid gRPC endpoint: {0}")]
    Grpc(#[source] tonic::transport::Error),
    /// The HTTP client could not be set up.
    #[error(transparent)]
    Http(#[from] HttpSetupError),
}

#[allow(clippy::large_enum_variant, reason = "one per exporter, built once")]
enum Client {
    Grpc(GrpcClient),
    Http(HttpClient),
}

/// Sends batches to an OTLP backend.
pub struct OtlpExporter {
    id: String,
    endpoint: String,
    client: Client,
    retry: RetryConfig,
}

impl OtlpExporter {
    /// An exporter named `id` for `config`. Does no I/O: the connection is
    /// made on the first export.
    ///
    /// # Errors
    /// [`SetupError`] when the endpoint or client settings are unusable.
    pub fn new(id: &str, config: OtlpExporterConfig) -> Result<Self, SetupError> {
        let client = match config.protocol {
            super::config::Protocol::Grpc => {
                Client::Grpc(GrpcClient::new(&config).map_err(SetupError::Grpc)?)
            }
            super::config::Protocol::Http => Client::Http(HttpClient::new(&config)?),
        };
        Ok(OtlpExporter {
            id: id.to_string(),
            endpoint: config.endpoint.value,
            client,
            retry: config.retry,
        })
    }

    /// Sends `bytes` (an `Export*ServiceRequest` of `signal`) with retries.
    ///
    /// # Errors
    /// The permanent failure, or the last one once retries are spent.
    pub async fn send(
        &self,
        signal: Signal,
        bytes: Bytes,
    ) -> Result<Option<PartialSuccess>, ExportError> {
        let id = &self.id;
        let on_retry = |e: &ExportError, attempt: u32, delay: std::time::Duration| {
            tracing::warn!(
                node = %id,
                %signal,
                attempt,
                delay_ms = delay.as_millis() as u64,
                error = %e,
                "Export failed; retrying."
            );
        };
        match &self.client {
            Client::Grpc(c) => {
                retry(self.retry, || c.export(signal, bytes.clone()), on_retry).await
            }
            Client::Http(c) => {
                let body = c.body(bytes)?;
                retry(self.retry, || c.export(signal, body.clone()), on_retry).await
            }
        }
    }
}

impl BatchExporter for OtlpExporter {
    async fn export(&mut self, batch: &Batch) -> Result<(), NodeError> {
        let signal = batch.signal();
        if !signal.has_otlp() {
            return Err(crate::delivery::node_error(
                format!(
                    "sending {} {} to {}",
                    batch.items(),
                    signal.item_name(),
                    self.endpoint
                ),
                ExportError::UnsupportedSignal {
                    exporter: "otlp",
                    signal,
                    hint: "profiles have no OTLP form in weir: send them to a `pyroscope` exporter (give it an ebpf receiver of its own with `signals \"profiles\"`)",
                },
            ));
        }
        let bytes = batch.otlp_bytes()?;
        match self.send(signal, bytes).await {
            Ok(None) => Ok(()),
            Ok(Some(p)) => {
                tracing::warn!(
                    node = %self.id,
                    %signal,
                    rejected = p.rejected,
                    message = %p.message,
                    "The backend accepted the batch only in part."
                );
                Ok(())
            }
            Err(e) => Err(crate::delivery::node_error(
                format!(
                    "sending {} {} to {}",
                    batch.items(),
                    signal.item_name(),
                    self.endpoint
                ),
                e,
            )),
        }
    }
}
