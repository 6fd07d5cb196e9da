//! The running Loki exporter: one push request per batch, retried.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use prost::Message as _;
use weir_engine::NodeError;
use weir_engine::metrics::MetricsRegistry;
use weir_engine::node::BatchExporter;
use weir_pdata::{Batch, Signal};

use super::config::{Encoding, LokiConfig};
use super::streams::{self, StreamBuilder};
use crate::ExportError;
use crate::delivery::{RetryConfig, node_error, retry};
use crate::otlp::parse_retry_after;

/// Why the exporter could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LokiSetupError {
    /// The endpoint is not a URL.
    #[error("{0:?} is not a valid URL")]
    Url(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Counters of one Loki exporter, for `/metrics`.
#[derive(Debug, Default)]
pub struct LokiMetrics {
    entries: AtomicU64,
    overflowed: AtomicU64,
    streams: AtomicU64,
}

/// Pushes log records to Loki.
///
/// # Lifecycle
/// Building creates the HTTP client (no I/O). Each batch is decoded from
/// its OTLP bytes, grouped into streams, encoded and pushed with retries.
///
/// # Errors
/// A batch fails when Loki refuses it for good (a 4xx other than 429: not
/// retried, logged with Loki's message) or the retries are spent.
pub struct LokiExporter {
    id: String,
    url: reqwest::Url,
    client: reqwest::Client,
    headers: http::HeaderMap,
    encoding: Encoding,
    retry: RetryConfig,
    streams: StreamBuilder,
    metrics: Arc<LokiMetrics>,
}

impl LokiExporter {
    /// An exporter named `id`; its series are added to `registry`.
    ///
    /// # Errors
    /// The endpoint is not a URL or the client cannot be built.
    pub fn new(
        id: &str,
        config: LokiConfig,
        registry: Option<&MetricsRegistry>,
    ) -> Result<Self, LokiSetupError> {
        let url = reqwest::Url::parse(&format!("{}/loki/api/v1/push", config.endpoint.value))
            .map_err(|_| LokiSetupError::Url(config.endpoint.value.clone()))?;
        let client = reqwest::Client::builder()
            .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")))
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .tcp_nodelay(true)
            .build()?;
        let metrics = Arc::new(LokiMetrics::default());
        if let Some(reg) = registry {
            let m = metrics.clone();
            let node = id.to_string();
            reg.add_collector(
                &format!("loki:{id}"),
                Arc::new(move |out: &mut String| {
                    use std::fmt::Write as _;
                    let _ = write!(
                        out,
                        "# HELP weir_loki_entries_total Log entries pushed to Loki.\n# TYPE weir_loki_entries_total counter\nweir_loki_entries_total{{node=\"{node}\"}} {}\n\
                         # HELP weir_loki_overflow_entries_total Entries put in the overflow stream by the cardinality guard (max-streams).\n# TYPE weir_loki_overflow_entries_total counter\nweir_loki_overflow_entries_total{{node=\"{node}\"}} {}\n\
                         # HELP weir_loki_streams Distinct label sets created.\n# TYPE weir_loki_streams gauge\nweir_loki_streams{{node=\"{node}\"}} {}\n",
                        m.entries.load(Relaxed),
                        m.overflowed.load(Relaxed),
                        m.streams.load(Relaxed)
                    );
                }),
            );
        }
        Ok(LokiExporter {
            id: id.to_string(),
            url,
            client,
            headers: config.headers,
            encoding: config.encoding,
            retry: config.retry,
            streams: StreamBuilder::new(config.labels),
            metrics,
        })
    }

    /// The request body of `batch` (compressed for protobuf) and its
    /// entry count.
    ///
    /// # Errors
    /// The batch is not logs or its bytes do not decode.
    pub fn body(&mut self, batch: &Batch) -> Result<(Bytes, usize), ExportError> {
        if batch.signal() != Signal::Logs {
            return Err(ExportError::UnsupportedSignal {
                exporter: "loki",
                signal: batch.signal(),
                hint: "feed the loki exporter from logs only; send traces to Tempo through an `otlp` exporter",
            });
        }
        let bytes = batch.otlp_bytes()?;
        let req = ExportLogsServiceRequest::decode(bytes)
            .map_err(|e| ExportError::Data(weir_pdata::PdataError::from(e)))?;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let (list, stats) = self.streams.convert(&req, now);
        let _ = self
            .metrics
            .entries
            .fetch_add(stats.entries as u64, Relaxed);
        if stats.overflowed > 0 {
            let _ = self
                .metrics
                .overflowed
                .fetch_add(stats.overflowed as u64, Relaxed);
            tracing::warn!(node = %self.id, entries = stats.overflowed, max_streams = self.streams.streams_seen(), "Loki stream limit reached; entries of new label sets go to the overflow stream.");
        }
        self.metrics
            .streams
            .store(self.streams.streams_seen() as u64, Relaxed);
        let body = match self.encoding {
            Encoding::Json => Bytes::from(streams::to_json(&list)),
            Encoding::Protobuf => {
                let raw = streams::to_proto(list).encode_to_vec();
                let compressed = snap::raw::Encoder::new()
                    .compress_vec(&raw)
                    .map_err(|e| ExportError::Compress(std::io::Error::other(e)))?;
                Bytes::from(compressed)
            }
        };
        Ok((body, stats.entries))
    }

    async fn attempt(&self, body: Bytes) -> Result<(), ExportError> {
        let mut req = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone());
        req = match self.encoding {
            Encoding::Protobuf => req
                .header(http::header::CONTENT_TYPE, "application/x-protobuf")
                .header(http::header::CONTENT_ENCODING, "snappy"),
            Encoding::Json => req.header(http::header::CONTENT_TYPE, "application/json"),
        };
        let resp = req
            .body(body)
            .send()
            .await
            .map_err(|source| ExportError::HttpTransport {
                url: self.url.to_string(),
                source,
            })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let text = resp.text().await.unwrap_or_default();
        Err(ExportError::HttpStatus {
            status,
            message: text.trim().chars().take(512).collect(),
            retry_after,
        })
    }
}

impl BatchExporter for LokiExporter {
    async fn export(&mut self, batch: &Batch) -> Result<(), NodeError> {
        let url = self.url.to_string();
        let what = || format!("pushing {} log records to {url}", batch.items());
        let (body, entries) = self.body(batch).map_err(|e| node_error(what(), e))?;
        if entries == 0 {
            return Ok(());
        }
        let id = &self.id;
        let on_retry = |e: &ExportError, attempt: u32, delay: Duration| {
            tracing::warn!(node = %id, attempt, delay_ms = delay.as_millis() as u64, error = %e, "Loki push failed; retrying.");
        };
        retry(self.retry, || self.attempt(body.clone()), on_retry)
            .await
            .map_err(|e| node_error(what(), e))
    }
}
