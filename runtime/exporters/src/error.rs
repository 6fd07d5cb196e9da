//! Errors of the exporters, classified by whether a retry can help.

use std::path::PathBuf;
use std::time::Duration;

/// What can go wrong sending or writing one batch.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The backend answered a gRPC request with an error status.
    #[error("the backend answered gRPC {code:?}: {message}", code = .0.code(), message = .0.message())]
    GrpcStatus(#[source] tonic::Status),
    /// The backend answered an HTTP request with an error status.
    #[error("the backend answered HTTP {status}: {message}")]
    HttpStatus {
        /// The status code.
        status: http::StatusCode,
        /// The `google.rpc.Status` message of the body, or its first bytes.
        message: String,
        /// How long the backend asked to wait (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// A Prometheus remote-write endpoint answered with an error status.
    #[error("the remote-write endpoint answered HTTP {status}: {message}")]
    RemoteWriteStatus {
        /// The status code.
        status: http::StatusCode,
        /// The first bytes of the body.
        message: String,
        /// How long the endpoint asked to wait (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// An HTTP request could not be sent or its answer could not be read
    /// (connection refused, reset, timed out).
    #[error("HTTP request to {url} failed: {source}")]
    HttpTransport {
        /// Where the request went.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// No answer within the configured `timeout`.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The request body could not be compressed.
    #[error("could not compress the request: {0}")]
    Compress(#[source] std::io::Error),
    /// The batch cannot be encoded or decoded (a bug upstream).
    #[error(transparent)]
    Data(#[from] weir_pdata::PdataError),
    /// A file could not be created, written or renamed.
    #[error("could not {what} {}: {source}", path.display())]
    Io {
        /// What was being done (`create`, `write`, `rename`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The Parquet writer failed.
    #[error("could not write Parquet file {}: {source}", path.display())]
    Parquet {
        /// The file being written.
        path: PathBuf,
        /// The cause.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// An Arrow kernel failed while shaping a batch for storage.
    #[error("could not shape the batch for storage: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// A batch of a signal this exporter does not carry.
    #[error("the {exporter} exporter does not export {signal}; {hint}")]
    UnsupportedSignal {
        /// The exporter type.
        exporter: &'static str,
        /// The batch's signal.
        signal: weir_pdata::Signal,
        /// What to do instead.
        hint: &'static str,
    },
    /// Every retry failed.
    #[error("gave up after {attempts} attempts in {elapsed:?}: {last}")]
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        elapsed: Duration,
        /// The error of the last attempt.
        #[source]
        last: Box<ExportError>,
    },
}

impl ExportError {
    /// Whether sending the same data again may succeed.
    ///
    /// Follows the OTLP specification: gRPC `CANCELLED`, `DEADLINE_EXCEEDED`,
    /// `RESOURCE_EXHAUSTED`, `ABORTED`, `OUT_OF_RANGE`, `UNAVAILABLE` and
    /// `DATA_LOSS`; HTTP 429, 502, 503 and 504; connection failures and
    /// timeouts. Everything else (`INVALID_ARGUMENT`, HTTP 400, ...) is
    /// permanent.
    pub fn is_retryable(&self) -> bool {
        use tonic::Code;
        match self {
            ExportError::GrpcStatus(s) => matches!(
                s.code(),
                Code::Cancelled
                    | Code::DeadlineExceeded
                    | Code::ResourceExhausted
                    | Code::Aborted
                    | Code::OutOfRange
                    | Code::Unavailable
                    | Code::DataLoss
            ),
            ExportError::HttpStatus { status, .. } => {
                matches!(status.as_u16(), 429 | 502 | 503 | 504)
            }
            ExportError::HttpTransport { source, .. } => {
                source.is_connect()
                    || source.is_timeout()
                    || source.is_request()
                    || source.is_body()
            }
            ExportError::Timeout(_) => true,
            // Prometheus' own rule for remote write: 5xx and 429 may pass
            // later, other 4xx never will.
            ExportError::RemoteWriteStatus { status, .. } => {
                status.is_server_error() || status.as_u16() == 429
            }
            _ => false,
        }
    }

    /// Whether the backend (or the exporter) refused the data for good: a
    /// retry, now or later, would fail the same way. Spent retries are not
    /// permanent: the backend may come back.
    pub fn is_permanent(&self) -> bool {
        match self {
            ExportError::GrpcStatus(_)
            | ExportError::HttpStatus { .. }
            | ExportError::RemoteWriteStatus { .. } => !self.is_retryable(),
            ExportError::Data(_)
            | ExportError::UnsupportedSignal { .. }
            | ExportError::Compress(_)
            | ExportError::Arrow(_) => true,
            _ => false,
        }
    }

    /// How long the backend asked to wait before retrying, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ExportError::HttpStatus { retry_after, .. }
            | ExportError::RemoteWriteStatus { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
