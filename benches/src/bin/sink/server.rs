//! The blackhole OTLP gRPC services and their counters.
//!
//! One tower service per OTLP signal answers `Export` with an empty
//! response after counting the request's items; the bytes are never decoded
//! into messages (see [`super::count`]). Compressed requests (gzip, zstd)
//! are accepted so a peer's default settings work.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use tonic::codec::CompressionEncoding;
use tonic::codegen::{BoxFuture, Context, Poll, Service, StdError, http};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Code, Request, Response, Status};
use weir_pdata::Signal;

use crate::count::{CountMode, count_items};
use crate::raw_codec::RawCodec;

/// The largest request the sink accepts (a peer's merged batches can be big).
const MAX_REQUEST_BYTES: usize = 256 * 1024 * 1024;

/// Running totals of one signal.
#[derive(Debug, Default)]
pub struct SignalCounters {
    /// Requests counted.
    pub requests: AtomicU64,
    /// Items counted (spans, data points, log records).
    pub items: AtomicU64,
    /// Uncompressed request bytes counted.
    pub bytes: AtomicU64,
    /// Requests refused as invalid.
    pub rejected: AtomicU64,
}

/// Running totals of the sink, shared by the services and the status port.
#[derive(Debug)]
pub struct Counters {
    signals: [SignalCounters; 3],
    started: Instant,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            signals: Default::default(),
            started: Instant::now(),
        }
    }
}

impl Counters {
    /// The counters of one signal.
    pub fn signal(&self, signal: Signal) -> &SignalCounters {
        &self.signals[match signal {
            Signal::Traces => 0,
            Signal::Metrics => 1,
            // The sink takes OTLP only; profiles never arrive.
            Signal::Logs | Signal::Profiles => 2,
        }]
    }

    /// A JSON object with every total, by signal, and the sink's uptime.
    pub fn snapshot(&self) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        for signal in Signal::ALL {
            let c = self.signal(signal);
            let _ = out.insert(
                signal.as_str().to_string(),
                serde_json::json!({
                    "requests": c.requests.load(Ordering::Relaxed),
                    "items": c.items.load(Ordering::Relaxed),
                    "bytes": c.bytes.load(Ordering::Relaxed),
                    "rejected": c.rejected.load(Ordering::Relaxed),
                }),
            );
        }
        let _ = out.insert(
            "uptime_s".to_string(),
            serde_json::json!(self.started.elapsed().as_secs_f64()),
        );
        serde_json::Value::Object(out)
    }

    fn record(&self, mode: CountMode, signal: Signal, bytes: &[u8]) -> Result<(), Status> {
        let counters = self.signal(signal);
        match count_items(mode, signal, bytes) {
            Ok(items) => {
                let _ = counters.requests.fetch_add(1, Ordering::Relaxed);
                let _ = counters.items.fetch_add(items, Ordering::Relaxed);
                let _ = counters
                    .bytes
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                Ok(())
            }
            Err(error) => {
                let _ = counters.rejected.fetch_add(1, Ordering::Relaxed);
                Err(Status::invalid_argument(format!(
                    "{error}: {}",
                    std::error::Error::source(&error).map_or(String::new(), ToString::to_string)
                )))
            }
        }
    }
}

/// Names one OTLP collector service.
pub trait OtlpService: Send + Sync + 'static {
    /// The gRPC service name.
    const NAME: &'static str;
    /// The signal its `Export` method carries.
    const SIGNAL: Signal;
}

/// `opentelemetry.proto.collector.trace.v1.TraceService`.
#[derive(Debug)]
pub struct TraceService;
impl OtlpService for TraceService {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    const SIGNAL: Signal = Signal::Traces;
}

/// `opentelemetry.proto.collector.metrics.v1.MetricsService`.
#[derive(Debug)]
pub struct MetricsService;
impl OtlpService for MetricsService {
    const NAME: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
    const SIGNAL: Signal = Signal::Metrics;
}

/// `opentelemetry.proto.collector.logs.v1.LogsService`.
#[derive(Debug)]
pub struct LogsService;
impl OtlpService for LogsService {
    const NAME: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
    const SIGNAL: Signal = Signal::Logs;
}

/// A blackhole gRPC service for the OTLP service `S`.
#[derive(Debug)]
pub struct BlackholeService<S> {
    counters: Arc<Counters>,
    mode: CountMode,
    service: PhantomData<fn() -> S>,
}

impl<S> Clone for BlackholeService<S> {
    fn clone(&self) -> Self {
        Self {
            counters: Arc::clone(&self.counters),
            mode: self.mode,
            service: PhantomData,
        }
    }
}

impl<S: OtlpService> BlackholeService<S> {
    /// A service counting into `counters` with `mode`.
    pub fn new(counters: Arc<Counters>, mode: CountMode) -> Self {
        Self {
            counters,
            mode,
            service: PhantomData,
        }
    }
}

impl<S: OtlpService> NamedService for BlackholeService<S> {
    const NAME: &'static str = S::NAME;
}

impl<S: OtlpService> UnaryService<Bytes> for BlackholeService<S> {
    type Response = Bytes;
    type Future = Ready<Result<Response<Bytes>, Status>>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        // The empty message is a valid `Export*ServiceResponse`.
        ready(
            self.counters
                .record(self.mode, S::SIGNAL, request.get_ref())
                .map(|()| Response::new(Bytes::new())),
        )
    }
}

impl<S, B> Service<http::Request<B>> for BlackholeService<S>
where
    S: OtlpService,
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let is_export = request
            .uri()
            .path()
            .strip_prefix('/')
            .and_then(|path| path.strip_prefix(S::NAME))
            == Some("/Export");
        let service = self.clone();
        Box::pin(async move {
            if !is_export {
                return Ok(Status::new(Code::Unimplemented, "unknown method").into_http());
            }
            let mut grpc = Grpc::new(RawCodec)
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd)
                .max_decoding_message_size(MAX_REQUEST_BYTES);
            Ok(grpc.unary(service, request).await)
        })
    }
}

/// Serves the three blackhole services on `listener` until `shutdown`
/// completes.
///
/// # Errors
/// The transport error that stopped the server.
pub async fn serve(
    listener: tokio::net::TcpListener,
    counters: Arc<Counters>,
    mode: CountMode,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .initial_stream_window_size(8 * 1024 * 1024)
        .initial_connection_window_size(32 * 1024 * 1024)
        .add_service(BlackholeService::<TraceService>::new(
            Arc::clone(&counters),
            mode,
        ))
        .add_service(BlackholeService::<MetricsService>::new(
            Arc::clone(&counters),
            mode,
        ))
        .add_service(BlackholeService::<LogsService>::new(counters, mode))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
