//! The running remote-write exporter: tables -> series -> sharded,
//! snappy-compressed `WriteRequest`s, sent concurrently with retries.

use std::collections::HashSet;
use std::hash::{BuildHasher as _, Hasher as _};
use std::time::{Duration, Instant};

use bytes::Bytes;
use weir_engine::NodeError;
use weir_engine::node::{BoxFuture, Exporter, ExporterContext};
use weir_pdata::{Batch, Signal};

use super::config::RemoteWriteConfig;
use super::proto::WriteRequestEncoder;
use crate::ExportError;
use crate::delivery::retry;
use crate::otlp::RetryConfig;
use crate::otlp::parse_retry_after;
use crate::prom_mapping::{self, Family, Options, SeriesSink};

/// How many distinct permanent-failure causes are remembered for
/// logging each once.
const MAX_CAUSES: usize = 256;

/// Why the exporter could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The HTTP client could not be created.
    #[error("cannot create the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// The endpoint is not a URL.
    #[error("{0:?} is not a valid URL")]
    Url(String),
}

/// Sends metrics batches to a Prometheus remote-write endpoint.
///
/// # Lifecycle
/// Building creates the HTTP client (no I/O). Running converts each batch
/// to series (see [`crate::prom_mapping`]), spreads them over `shards` by a
/// hash of their labels, cuts each shard's series into requests of at most
/// `max-samples-per-send` samples, and sends the shards concurrently (each
/// shard's requests in order). The batch is acknowledged once every request
/// is accepted.
///
/// # Errors
/// A batch fails when a request fails permanently (a 4xx other than 429:
/// logged once per distinct cause, not retried) or its retries are spent
/// (5xx, 429 honouring `Retry-After`, connection errors, timeouts).
pub struct RemoteWriteExporter {
    id: String,
    url: reqwest::Url,
    client: reqwest::Client,
    headers: http::HeaderMap,
    shards: usize,
    max_samples: usize,
    mapping: Options,
    retry: RetryConfig,
    logged_causes: HashSet<String>,
    logged_delta: HashSet<String>,
}

impl RemoteWriteExporter {
    /// An exporter named `id` for `config`.
    ///
    /// # Errors
    /// The endpoint is not a URL or the client cannot be built.
    pub fn new(id: &str, config: RemoteWriteConfig) -> Result<Self, SetupError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")))
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(SetupError::Client)?;
        let url = reqwest::Url::parse(&config.endpoint.value)
            .map_err(|_| SetupError::Url(config.endpoint.value.clone()))?;
        Ok(RemoteWriteExporter {
            id: id.to_string(),
            url,
            client,
            headers: config.headers,
            shards: config.shards.max(1),
            max_samples: config.max_samples_per_send.max(1),
            mapping: config.mapping,
            retry: config.retry,
            logged_causes: HashSet::new(),
            logged_delta: HashSet::new(),
        })
    }

    /// Converts `batch` into compressed requests, one list per shard.
    ///
    /// # Errors
    /// The batch is not metrics, or its tables do not follow the schema.
    pub fn requests(
        &mut self,
        batch: &Batch,
    ) -> Result<(Vec<Vec<Bytes>>, prom_mapping::Stats), ExportError> {
        if batch.signal() != Signal::Metrics {
            return Ok((Vec::new(), prom_mapping::Stats::default()));
        }
        let tables = batch.tables()?;
        let mut sink = Shards::new(self.shards, self.max_samples);
        let stats = prom_mapping::convert(&tables, &self.mapping, &mut sink)?;
        for name in &stats.delta {
            if self.logged_delta.len() < MAX_CAUSES && self.logged_delta.insert(name.clone()) {
                tracing::warn!(node = %self.id, metric = %name, "Delta temporality cannot be written to Prometheus; dropping the metric's points (convert it to cumulative upstream).");
            }
        }
        Ok((sink.finish(), stats))
    }

    async fn send(&self, body: Bytes) -> Result<(), ExportError> {
        let id = &self.id;
        let on_retry = |e: &ExportError, attempt: u32, delay: Duration| {
            tracing::warn!(node = %id, attempt, delay_ms = delay.as_millis() as u64, error = %e, "Remote write failed; retrying.");
        };
        retry(self.retry, || self.attempt(body.clone()), on_retry).await
    }

    async fn attempt(&self, body: Bytes) -> Result<(), ExportError> {
        let transport = |source| ExportError::HttpTransport {
            url: self.url.to_string(),
            source,
        };
        let resp = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .header(http::header::CONTENT_ENCODING, "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = resp.bytes().await.unwrap_or_default();
        let text = String::from_utf8_lossy(&body[..body.len().min(512)])
            .trim()
            .to_string();
        Err(ExportError::RemoteWriteStatus {
            status,
            message: text,
            retry_after,
        })
    }

    /// Sends one batch: every shard concurrently, each shard in order.
    ///
    /// # Errors
    /// The first failure of any shard.
    pub async fn export(&mut self, batch: &Batch) -> Result<usize, ExportError> {
        let (shards, stats) = self.requests(batch)?;
        let this = &*self;
        let sends = shards
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(|requests| async move {
                for body in requests {
                    this.send(body).await?;
                }
                Ok::<(), ExportError>(())
            });
        for r in futures::future::join_all(sends).await {
            r?;
        }
        Ok(stats.samples)
    }

    /// Whether `err` is a cause not logged yet (permanent failures are logged
    /// once per cause).
    fn first_time(&mut self, err: &ExportError) -> bool {
        let cause = match err {
            ExportError::RemoteWriteStatus {
                status, message, ..
            } => {
                let m: String = message.chars().take(120).collect();
                format!("{status} {m}")
            }
            ExportError::RetriesExhausted { .. } => return true,
            other => other.to_string(),
        };
        if self.logged_causes.contains(&cause) {
            return false;
        }
        if self.logged_causes.len() >= MAX_CAUSES {
            self.logged_causes.clear();
        }
        self.logged_causes.insert(cause)
    }
}

#[cfg(test)]
impl RemoteWriteExporter {
    /// [`Self::first_time`] for tests (after a failed export, whose
    /// cause the exporter records when its node logs it).
    pub(crate) fn first_time_for_test(&mut self, err: &ExportError) -> bool {
        let _ = self.first_time(err);
        self.first_time(err)
    }
}

impl Exporter for RemoteWriteExporter {
    fn run(mut self: Box<Self>, mut ctx: ExporterContext) -> BoxFuture<Result<(), NodeError>> {
        Box::pin(async move {
            while let Some(msg) = ctx.input.recv().await {
                let start = Instant::now();
                let items = msg.batch.items();
                let result = self.export(&msg.batch).await;
                ctx.metrics.record_latency(start.elapsed());
                match result {
                    Ok(_) => ctx.metrics.record_out(items),
                    Err(e) => {
                        ctx.metrics.record_error();
                        ctx.metrics.record_failed(items);
                        if self.first_time(&e) {
                            tracing::error!(node = %ctx.id, error = %e, items, "Remote write failed; batch not delivered.");
                        } else {
                            tracing::debug!(node = %ctx.id, error = %e, items, "Remote write failed again for the same cause; batch not delivered.");
                        }
                        if e.is_permanent() {
                            msg.reject(&format!("exporter {}: {e}", ctx.id));
                        } else {
                            msg.fail(&format!("exporter {}: {e}", ctx.id));
                        }
                    }
                }
            }
            Ok(())
        })
    }
}

/// Spreads series over shards and cuts each shard into requests.
struct Shards {
    hasher: foldhash::fast::FixedState,
    max: usize,
    encoders: Vec<WriteRequestEncoder>,
    done: Vec<Vec<Bytes>>,
    snappy: snap::raw::Encoder,
}

impl Shards {
    fn new(n: usize, max: usize) -> Self {
        Shards {
            hasher: foldhash::fast::FixedState::with_seed(7),
            max,
            encoders: (0..n).map(|_| WriteRequestEncoder::new()).collect(),
            done: vec![Vec::new(); n],
            snappy: snap::raw::Encoder::new(),
        }
    }

    fn cut(&mut self, shard: usize) {
        let raw = self.encoders[shard].take();
        match self.snappy.compress_vec(&raw) {
            Ok(c) => self.done[shard].push(Bytes::from(c)),
            // Only inputs over ~4 GB fail; a request is far smaller.
            Err(e) => tracing::error!(error = %e, "Cannot compress a remote-write request."),
        }
    }

    fn finish(mut self) -> Vec<Vec<Bytes>> {
        for s in 0..self.encoders.len() {
            if !self.encoders[s].is_empty() {
                self.cut(s);
            }
        }
        self.done
    }
}

impl SeriesSink for Shards {
    fn sample(
        &mut self,
        _family: &Family<'_>,
        labels: &[(&str, &str)],
        value: f64,
        timestamp_ms: i64,
    ) {
        let shard = if self.encoders.len() == 1 {
            0
        } else {
            let mut h = self.hasher.build_hasher();
            for (n, v) in labels {
                h.write(n.as_bytes());
                h.write_u8(0xff);
                h.write(v.as_bytes());
                h.write_u8(0xfe);
            }
            (h.finish() % self.encoders.len() as u64) as usize
        };
        self.encoders[shard].series(labels, value, timestamp_ms);
        if self.encoders[shard].samples() >= self.max {
            self.cut(shard);
        }
    }
}
