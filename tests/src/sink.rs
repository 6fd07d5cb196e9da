//! An OTLP/gRPC sink: a real tonic server implementing the three collector
//! services on 127.0.0.1, keeping every request it receives, so a test can
//! check what weir exported.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

use crate::otlp::{Logs, Metrics, OtlpSignal, Traces};

/// Largest request the sink accepts (tonic's default is 4 MiB; weir's batches
/// can be larger).
const MAX_MESSAGE: usize = 256 << 20;

/// Everything the sink received, per signal, in arrival order.
#[derive(Debug, Default)]
pub struct Received {
    traces: Mutex<Vec<ExportTraceServiceRequest>>,
    metrics: Mutex<Vec<ExportMetricsServiceRequest>>,
    logs: Mutex<Vec<ExportLogsServiceRequest>>,
}

/// Where a signal's requests are kept in [`Received`].
pub trait SinkSignal: OtlpSignal {
    /// The signal's store.
    fn store(received: &Received) -> &Mutex<Vec<Self::Request>>;
}

impl SinkSignal for Traces {
    fn store(received: &Received) -> &Mutex<Vec<Self::Request>> {
        &received.traces
    }
}

impl SinkSignal for Metrics {
    fn store(received: &Received) -> &Mutex<Vec<Self::Request>> {
        &received.metrics
    }
}

impl SinkSignal for Logs {
    fn store(received: &Received) -> &Mutex<Vec<Self::Request>> {
        &received.logs
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread may poison the lock; the data is still whole.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Clone)]
struct Service(Arc<Received>, Duration);

#[tonic::async_trait]
impl TraceService for Service {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        lock(&self.0.traces).push(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Service {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        lock(&self.0.metrics).push(request.into_inner());
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Service {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        if !self.1.is_zero() {
            tokio::time::sleep(self.1).await;
        }
        lock(&self.0.logs).push(request.into_inner());
        Ok(Response::new(ExportLogsServiceResponse::default()))
    }
}

/// A running OTLP/gRPC sink; stops when dropped.
#[derive(Debug)]
pub struct Sink {
    addr: SocketAddr,
    received: Arc<Received>,
    task: tokio::task::JoinHandle<()>,
}

impl Sink {
    /// Starts a sink on 127.0.0.1 with an OS-chosen port, on the current
    /// tokio runtime. Accepts gzip- and zstd-compressed requests.
    ///
    /// # Panics
    /// When the socket cannot be bound.
    pub async fn start() -> Sink {
        Sink::start_on("127.0.0.1:0".parse().expect("an address"), Duration::ZERO).await
    }

    /// Starts a sink on `addr` (a backend coming back on its old port)
    /// that takes `delay` to answer each logs request (a slow backend).
    ///
    /// # Panics
    /// When the socket cannot be bound.
    pub async fn start_on(addr: SocketAddr, delay: Duration) -> Sink {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("bind the OTLP sink on {addr}: {e}"));
        let addr = listener.local_addr().expect("the OTLP sink's address");
        let received = Arc::new(Received::default());
        let svc = Service(received.clone(), delay);
        let traces = TraceServiceServer::new(svc.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(MAX_MESSAGE);
        let metrics = MetricsServiceServer::new(svc.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(MAX_MESSAGE);
        let logs = LogsServiceServer::new(svc)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(MAX_MESSAGE);
        let router = tonic::transport::Server::builder()
            .add_service(traces)
            .add_service(metrics)
            .add_service(logs);
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let task = tokio::spawn(async move {
            if let Err(e) = router.serve_with_incoming(incoming).await {
                eprintln!("OTLP sink stopped: {e}");
            }
        });
        Sink {
            addr,
            received,
            task,
        }
    }

    /// The sink's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The sink's endpoint URL, for an OTLP exporter's `endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A copy of the requests of signal `S` received so far.
    pub fn received<S: SinkSignal>(&self) -> Vec<S::Request> {
        lock(S::store(&self.received)).clone()
    }

    /// Items of signal `S` received so far.
    pub fn items<S: SinkSignal>(&self) -> usize {
        lock(S::store(&self.received)).iter().map(S::items).sum()
    }

    /// Waits until at least `n` items of signal `S` arrived and returns every
    /// request received.
    ///
    /// # Panics
    /// After `timeout`, saying how many items arrived.
    pub async fn wait_items<S: SinkSignal>(&self, n: usize, timeout: Duration) -> Vec<S::Request> {
        let deadline = Instant::now() + timeout;
        loop {
            let have = self.items::<S>();
            if have >= n {
                return self.received::<S>();
            }
            assert!(
                Instant::now() < deadline,
                "the sink received {have} of {n} expected {} items within {timeout:?}",
                S::NAME
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}
