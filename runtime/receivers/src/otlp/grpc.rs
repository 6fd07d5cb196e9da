//! OTLP/gRPC: the three collector services on tonic, without decoding.
//!
//! tonic's generated servers decode every request into prost structs. We
//! only need the bytes, so each service is a small hand-written tower
//! service that routes `/<service>/Export` to [`tonic::server::Grpc::unary`]
//! with [`RawCodec`], whose decoder yields the request's bytes as they came
//! off the wire (decompressed by tonic when the client used gzip or zstd)
//! and whose encoder encodes the prost response.
//!
//! Size limits are tonic's `max_decoding_message_size`: a message whose
//! length prefix exceeds `max-request-size` is refused with `OUT_OF_RANGE`
//! before its body is buffered, and a compressed message that inflates past
//! the limit with `RESOURCE_EXHAUSTED` (decompression stops at the limit).
//! Neither carries `RetryInfo`, so clients do not retry them.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use opentelemetry_proto::tonic::collector::{
    logs::v1::ExportLogsServiceResponse, metrics::v1::ExportMetricsServiceResponse,
    trace::v1::ExportTraceServiceResponse,
};
use tonic::body::Body;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::Service;
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::transport::server::TcpIncoming;
use weir_engine::node::{BoxFuture, Shutdown};
use weir_pdata::Signal;

use super::Ingest;
use super::status::grpc_status;

/// One of the three OTLP collector services.
pub(super) trait CollectorService: Send + Sync + 'static {
    /// The fully qualified gRPC service name.
    const NAME: &'static str;
    /// The path of its `Export` method.
    const EXPORT_PATH: &'static str;
    /// The signal its requests carry.
    const SIGNAL: Signal;
    /// The `Export*ServiceResponse` message.
    type Response: prost::Message + Default + Send + 'static;
}

/// `opentelemetry.proto.collector.trace.v1.TraceService`.
pub(super) struct TraceService;
/// `opentelemetry.proto.collector.metrics.v1.MetricsService`.
pub(super) struct MetricsService;
/// `opentelemetry.proto.collector.logs.v1.LogsService`.
pub(super) struct LogsService;

impl CollectorService for TraceService {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    const EXPORT_PATH: &'static str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    const SIGNAL: Signal = Signal::Traces;
    type Response = ExportTraceServiceResponse;
}

impl CollectorService for MetricsService {
    const NAME: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
    const EXPORT_PATH: &'static str =
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
    const SIGNAL: Signal = Signal::Metrics;
    type Response = ExportMetricsServiceResponse;
}

impl CollectorService for LogsService {
    const NAME: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
    const EXPORT_PATH: &'static str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
    const SIGNAL: Signal = Signal::Logs;
    type Response = ExportLogsServiceResponse;
}

/// A codec whose requests are raw bytes and whose responses are `R`.
pub(super) struct RawCodec<R>(PhantomData<fn() -> R>);

impl<R> Default for RawCodec<R> {
    fn default() -> Self {
        RawCodec(PhantomData)
    }
}

impl<R: prost::Message + Send + 'static> Codec for RawCodec<R> {
    type Encode = R;
    type Decode = Bytes;
    type Encoder = ResponseEncoder<R>;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        ResponseEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawDecoder
    }
}

/// Yields a message's bytes without copying them (tonic hands over a slice
/// of its receive buffer).
pub(super) struct RawDecoder;

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        let len = src.remaining();
        Ok(Some(src.copy_to_bytes(len)))
    }
}

/// Encodes a prost response.
pub(super) struct ResponseEncoder<R>(PhantomData<fn() -> R>);

impl<R: prost::Message> Encoder for ResponseEncoder<R> {
    type Item = R;
    type Error = tonic::Status;

    fn encode(&mut self, item: R, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        item.encode(dst)
            .map_err(|e| tonic::Status::internal(format!("encoding the response: {e}")))
    }
}

/// The tower service of one collector service.
pub(super) struct ExportService<K> {
    ingest: Arc<Ingest>,
    max_request_size: usize,
    kind: PhantomData<fn() -> K>,
}

impl<K> ExportService<K> {
    fn new(ingest: Arc<Ingest>, max_request_size: usize) -> Self {
        ExportService {
            ingest,
            max_request_size,
            kind: PhantomData,
        }
    }
}

impl<K> Clone for ExportService<K> {
    fn clone(&self) -> Self {
        ExportService {
            ingest: self.ingest.clone(),
            max_request_size: self.max_request_size,
            kind: PhantomData,
        }
    }
}

impl<K: CollectorService> NamedService for ExportService<K> {
    const NAME: &'static str = K::NAME;
}

impl<K: CollectorService> Service<http::Request<Body>> for ExportService<K> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        if req.uri().path() != K::EXPORT_PATH {
            let status = tonic::Status::unimplemented(format!(
                "{} has no method {}",
                K::NAME,
                req.uri().path()
            ));
            return Box::pin(async move { Ok(status.into_http()) });
        }
        // Checked when the request starts, so that requests already being
        // read when shutdown begins still complete.
        if self.ingest.is_shutting_down() {
            let status = grpc_status(&super::Refusal::ShuttingDown);
            return Box::pin(async move { Ok(status.into_http()) });
        }
        let mut grpc = Grpc::new(RawCodec::<K::Response>::default())
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(self.max_request_size);
        let export = Export::<K> {
            ingest: self.ingest.clone(),
            kind: PhantomData,
        };
        Box::pin(async move { Ok(grpc.unary(export, req).await) })
    }
}

/// The `Export` method of one service.
struct Export<K> {
    ingest: Arc<Ingest>,
    kind: PhantomData<fn() -> K>,
}

impl<K: CollectorService> UnaryService<Bytes> for Export<K> {
    type Response = K::Response;
    type Future = BoxFuture<Result<tonic::Response<K::Response>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let ingest = self.ingest.clone();
        Box::pin(async move {
            match ingest.accept(K::SIGNAL, request.into_inner()).await {
                // Full acceptance: `partial_success` stays empty.
                Ok(_items) => Ok(tonic::Response::new(K::Response::default())),
                Err(refusal) => Err(grpc_status(&refusal)),
            }
        })
    }
}

/// Serves the three collector services on `listener` until `shutdown`, then
/// stops accepting connections and waits for in-flight requests.
pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    ingest: Arc<Ingest>,
    max_request_size: usize,
    mut shutdown: Shutdown,
) -> Result<(), tonic::transport::Error> {
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_service(ExportService::<TraceService>::new(
            ingest.clone(),
            max_request_size,
        ))
        .add_service(ExportService::<MetricsService>::new(
            ingest.clone(),
            max_request_size,
        ))
        .add_service(ExportService::<LogsService>::new(ingest, max_request_size))
        .serve_with_incoming_shutdown(incoming, async move { shutdown.wait().await })
        .await
}
