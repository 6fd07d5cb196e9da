//! OTLP/gRPC: request bytes sent as they are through a pass-through codec.
//!
//! [`RawCodec`] encodes a `Bytes` message by appending it to tonic's frame
//! buffer (the one copy any gRPC frame needs for its 5-byte header) and
//! decodes the backend's `Export*ServiceResponse` with prost. Nothing decodes
//! or re-encodes the request.

use std::marker::PhantomData;
use std::time::Duration;

use bytes::{BufMut, Bytes};
use http::uri::PathAndQuery;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use tonic::Status;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, Endpoint};
use weir_pdata::Signal;

use super::config::{Compression, OtlpExporterConfig};
use super::exporter::{ExportResponse, PartialSuccess};
use crate::ExportError;

/// A codec that sends `Bytes` as they are and decodes a prost response `R`.
pub struct RawCodec<R>(PhantomData<fn() -> R>);

impl<R> Default for RawCodec<R> {
    fn default() -> Self {
        RawCodec(PhantomData)
    }
}

impl<R: prost::Message + Default + Send + 'static> Codec for RawCodec<R> {
    type Encode = Bytes;
    type Decode = R;
    type Encoder = RawEncoder;
    type Decoder = ProstDecoder<R>;

    fn encoder(&mut self) -> Self::Encoder {
        RawEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstDecoder(PhantomData)
    }
}

/// Writes the message bytes into the frame unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawEncoder;

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.reserve(item.len());
        dst.put_slice(&item);
        Ok(())
    }
}

/// Decodes a prost message.
pub struct ProstDecoder<R>(PhantomData<fn() -> R>);

impl<R: prost::Message + Default> Decoder for ProstDecoder<R> {
    type Item = R;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<R>, Status> {
        R::decode(src)
            .map(Some)
            .map_err(|e| Status::internal(format!("cannot decode the backend's response: {e}")))
    }
}

/// The gRPC method path of `signal`'s `Export`.
pub fn method_path(signal: Signal) -> PathAndQuery {
    PathAndQuery::from_static(match signal {
        Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        // OTLP's (experimental) profiles service; weir never calls it (the
        // exporter refuses profiles, which have no OTLP form in weir).
        Signal::Profiles => {
            "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export"
        }
    })
}

/// One channel to the backend, connected on first use.
pub struct GrpcClient {
    endpoint: Endpoint,
    channel: std::sync::OnceLock<Channel>,
    headers: http::HeaderMap,
    timeout: Duration,
    compression: Compression,
}

impl GrpcClient {
    /// A client for `config` (no I/O: the channel connects lazily, so a
    /// backend that is down at start is not an error).
    ///
    /// # Errors
    /// The endpoint is not a valid URI.
    pub fn new(config: &OtlpExporterConfig) -> Result<Self, tonic::transport::Error> {
        let endpoint = Endpoint::from_shared(config.endpoint.value.clone())?
            .connect_timeout(config.timeout)
            .tcp_nodelay(true);
        Ok(GrpcClient {
            endpoint,
            channel: std::sync::OnceLock::new(),
            headers: config.headers.clone(),
            timeout: config.timeout,
            compression: config.compression,
        })
    }

    /// Sends one request, returning the backend's partial success if any.
    ///
    /// # Errors
    /// The backend's status, or [`ExportError::Timeout`].
    pub async fn export(
        &self,
        signal: Signal,
        body: Bytes,
    ) -> Result<Option<PartialSuccess>, ExportError> {
        match signal {
            Signal::Traces => self.call::<ExportTraceServiceResponse>(signal, body).await,
            Signal::Metrics => {
                self.call::<ExportMetricsServiceResponse>(signal, body)
                    .await
            }
            Signal::Logs => self.call::<ExportLogsServiceResponse>(signal, body).await,
            Signal::Profiles => Err(ExportError::UnsupportedSignal {
                exporter: "otlp",
                signal,
                hint: "profiles have no OTLP form in weir: send them to a `pyroscope` exporter",
            }),
        }
    }

    async fn call<R>(
        &self,
        signal: Signal,
        body: Bytes,
    ) -> Result<Option<PartialSuccess>, ExportError>
    where
        R: ExportResponse,
    {
        let channel = self
            .channel
            .get_or_init(|| self.endpoint.connect_lazy())
            .clone();
        let mut grpc = tonic::client::Grpc::new(channel);
        if self.compression == Compression::Gzip {
            grpc = grpc.send_compressed(CompressionEncoding::Gzip);
        }
        grpc = grpc.accept_compressed(CompressionEncoding::Gzip);
        let mut request = tonic::Request::from_parts(
            MetadataMap::from_headers(self.headers.clone()),
            http::Extensions::default(),
            body,
        );
        request.set_timeout(self.timeout);
        let call = async {
            grpc.ready()
                .await
                .map_err(|e| Status::unavailable(format!("the channel is not ready: {e}")))?;
            grpc.unary::<Bytes, R, RawCodec<R>>(request, method_path(signal), RawCodec::default())
                .await
        };
        match tokio::time::timeout(self.timeout, call).await {
            Err(_) => Err(ExportError::Timeout(self.timeout)),
            Ok(Err(status)) => Err(ExportError::GrpcStatus(status)),
            Ok(Ok(response)) => Ok(response.into_inner().partial_success()),
        }
    }
}
