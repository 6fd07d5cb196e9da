//! The load loop: concurrent workers sending pre-encoded requests.
//!
//! Requests are encoded once before the clock starts; each worker takes the
//! next request number from a shared counter, sends that pool entry as raw
//! bytes over one of the gRPC connections and records the outcome. With a
//! rate cap, request `k` is due at `start + k / requests_per_second`, which
//! keeps the offered load exact whatever the number of workers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tonic::client::Grpc;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};

use crate::raw_codec::RawCodec;

/// gRPC path of the OTLP traces export method.
pub const TRACES_EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// How long to wait after a failed request before the worker sends again.
const ERROR_BACKOFF: Duration = Duration::from_millis(5);

/// What to send and for how long.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// The OTLP gRPC endpoint (`http://host:port`).
    pub endpoint: String,
    /// Requests in flight at once (one worker each).
    pub concurrency: usize,
    /// gRPC connections the workers are spread over.
    pub connections: usize,
    /// Stop sending after this long.
    pub duration: Duration,
    /// Stop after this many requests, when set.
    pub requests: Option<u64>,
    /// Requests per second cap, when set.
    pub requests_per_second: Option<f64>,
    /// Give up on one request after this long.
    pub timeout: Duration,
    /// Keep retrying the first connection for this long.
    pub connect_timeout: Duration,
}

/// Why the load could not run.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The endpoint is not a valid URI.
    #[error("invalid endpoint {endpoint:?}")]
    Endpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What was wrong.
        #[source]
        source: tonic::transport::Error,
    },
    /// No connection could be made in time.
    #[error("cannot connect to {endpoint} within {timeout:?}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// How long connecting was tried.
        timeout: Duration,
        /// The last connection error.
        #[source]
        source: tonic::transport::Error,
    },
    /// A worker panicked or was cancelled.
    #[error("a load worker did not finish")]
    Worker(#[source] tokio::task::JoinError),
}

/// The outcome of a run.
#[derive(Debug, Default, Clone)]
pub struct LoadStats {
    /// Requests answered OK.
    pub requests_ok: u64,
    /// Items in the requests answered OK.
    pub items_ok: u64,
    /// Bytes (uncompressed protobuf) of the requests answered OK.
    pub bytes_ok: u64,
    /// Failed requests by gRPC status code name (`client timeout` for
    /// requests this client gave up on).
    pub errors: BTreeMap<String, u64>,
    /// Latency of each OK request, in microseconds.
    pub latencies_us: Vec<u32>,
    /// From the first send to the last answer.
    pub elapsed: Duration,
}

impl LoadStats {
    fn merge(&mut self, other: LoadStats) {
        self.requests_ok += other.requests_ok;
        self.items_ok += other.items_ok;
        self.bytes_ok += other.bytes_ok;
        for (code, n) in other.errors {
            *self.errors.entry(code).or_default() += n;
        }
        self.latencies_us.extend(other.latencies_us);
    }

    /// Failed requests, all codes together.
    pub fn requests_failed(&self) -> u64 {
        self.errors.values().sum()
    }

    /// The latency at quantile `q` (0..=1) in milliseconds, if any request
    /// succeeded. Sorts the recorded latencies.
    pub fn latency_ms(&mut self, q: f64) -> Option<f64> {
        if self.latencies_us.is_empty() {
            return None;
        }
        self.latencies_us.sort_unstable();
        let last = self.latencies_us.len() - 1;
        let index = ((last as f64) * q.clamp(0.0, 1.0)).round() as usize;
        Some(f64::from(self.latencies_us[index.min(last)]) / 1000.0)
    }
}

/// A pool of pre-encoded requests and the items each holds.
#[derive(Debug, Clone)]
pub struct RequestPool {
    /// Encoded `ExportTraceServiceRequest`s.
    pub requests: Arc<[Bytes]>,
    /// Spans per request (every request of the pool has the same number).
    pub items_per_request: u64,
}

struct Shared {
    pool: RequestPool,
    next: AtomicU64,
    start: Instant,
    deadline: Instant,
    plan: LoadPlan,
}

/// Connects, sends the plan's load and returns what happened.
///
/// # Errors
/// [`LoadError`] when the endpoint is invalid or unreachable; failed requests
/// are counted in the stats, not returned as errors.
pub async fn run(plan: LoadPlan, pool: RequestPool) -> Result<LoadStats, LoadError> {
    let endpoint = Endpoint::from_shared(plan.endpoint.clone())
        .map_err(|source| LoadError::Endpoint {
            endpoint: plan.endpoint.clone(),
            source,
        })?
        .tcp_nodelay(true)
        .initial_stream_window_size(8 * 1024 * 1024)
        .initial_connection_window_size(32 * 1024 * 1024)
        .timeout(plan.timeout);
    let mut channels = Vec::with_capacity(plan.connections.max(1));
    for _ in 0..plan.connections.max(1) {
        channels.push(connect(&endpoint, &plan).await?);
    }
    let start = Instant::now();
    let shared = Arc::new(Shared {
        pool,
        next: AtomicU64::new(0),
        start,
        deadline: start + plan.duration,
        plan,
    });
    let workers: Vec<_> = (0..shared.plan.concurrency.max(1))
        .map(|i| {
            let client = Grpc::new(channels[i % channels.len()].clone());
            tokio::spawn(worker(client, Arc::clone(&shared)))
        })
        .collect();
    let mut stats = LoadStats::default();
    for worker in workers {
        stats.merge(worker.await.map_err(LoadError::Worker)?);
    }
    stats.elapsed = start.elapsed();
    Ok(stats)
}

async fn connect(endpoint: &Endpoint, plan: &LoadPlan) -> Result<Channel, LoadError> {
    let give_up = Instant::now() + plan.connect_timeout;
    loop {
        match endpoint.connect().await {
            Ok(channel) => return Ok(channel),
            Err(source) if Instant::now() >= give_up => {
                return Err(LoadError::Connect {
                    endpoint: plan.endpoint.clone(),
                    timeout: plan.connect_timeout,
                    source,
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn worker(mut client: Grpc<Channel>, shared: Arc<Shared>) -> LoadStats {
    let mut stats = LoadStats::default();
    let path = PathAndQuery::from_static(TRACES_EXPORT_PATH);
    loop {
        let k = shared.next.fetch_add(1, Ordering::Relaxed);
        if shared.plan.requests.is_some_and(|limit| k >= limit) {
            break;
        }
        if let Some(rps) = shared.plan.requests_per_second {
            let due = shared.start + Duration::from_secs_f64(k as f64 / rps);
            if due >= shared.deadline {
                break;
            }
            tokio::time::sleep_until(due.into()).await;
        }
        if Instant::now() >= shared.deadline {
            break;
        }
        let requests = &shared.pool.requests;
        let body = requests[(k % requests.len() as u64) as usize].clone();
        let len = body.len() as u64;
        let sent = Instant::now();
        let outcome = match client.ready().await {
            Ok(()) => client
                .unary::<Bytes, Bytes, _>(tonic::Request::new(body), path.clone(), RawCodec)
                .await
                .map(drop),
            Err(error) => Err(tonic::Status::unavailable(error.to_string())),
        };
        match outcome {
            Ok(()) => {
                stats.requests_ok += 1;
                stats.items_ok += shared.pool.items_per_request;
                stats.bytes_ok += len;
                let us = sent.elapsed().as_micros();
                stats
                    .latencies_us
                    .push(u32::try_from(us).unwrap_or(u32::MAX));
            }
            Err(status) => {
                let label = if status.code() == tonic::Code::Cancelled
                    && sent.elapsed() >= shared.plan.timeout
                {
                    "client timeout".to_string()
                } else {
                    format!("{:?}", status.code())
                };
                *stats.errors.entry(label).or_default() += 1;
                tokio::time::sleep(ERROR_BACKOFF).await;
            }
        }
    }
    stats
}
