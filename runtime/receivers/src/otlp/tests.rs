//! Node-harness tests of the `otlp` receiver: real sockets on 127.0.0.1,
//! real gRPC and HTTP clients, the node's output read from a bounded
//! channel.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, logs_service_client::LogsServiceClient,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, metrics_service_client::MetricsServiceClient,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, trace_service_client::TraceServiceClient,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tonic::codec::CompressionEncoding;
use weir_config::ErrorCode;
use weir_engine::channel::Output;
use weir_engine::metrics::{MetricsRegistry, NodeMetrics};
use weir_engine::node::{Receiver as _, ReceiverContext, Shutdown};
use weir_engine::registry::BuildContext;
use weir_engine::{Message, NodeError};
use weir_pdata::Signal;

use super::status::{RETRY_INFO_TYPE, RetryInfo, RpcStatus};
use super::{AckMode, OtlpConfig, OtlpReceiver};

const WAIT: Duration = Duration::from_secs(10);

/// A running receiver, its output channel and its counters.
struct Harness {
    rx: mpsc::Receiver<Message>,
    shutdown: watch::Sender<bool>,
    registry: MetricsRegistry,
    metrics: Arc<NodeMetrics>,
    grpc: SocketAddr,
    http: SocketAddr,
    task: JoinHandle<Result<(), NodeError>>,
}

fn local() -> Option<SocketAddr> {
    Some(SocketAddr::from(([127, 0, 0, 1], 0)))
}

fn config() -> OtlpConfig {
    OtlpConfig::new(local(), local())
}

impl Harness {
    fn start(config: OtlpConfig, capacity: usize) -> Harness {
        let receiver = OtlpReceiver::bind(config).expect("binding 127.0.0.1:0");
        let grpc = receiver.grpc_addr().expect("gRPC address");
        let http = receiver.http_addr().expect("HTTP address");
        let (tx, rx) = mpsc::channel(capacity);
        let registry = MetricsRegistry::default();
        let metrics = registry.node("in", "receiver", "otlp");
        let (shutdown, signal) = Shutdown::new();
        let ctx = ReceiverContext {
            id: "in".to_string(),
            output: Output::new(vec![tx], metrics.clone()),
            shutdown: signal,
            metrics: metrics.clone(),
        };
        let task = tokio::spawn(Box::new(receiver).run(ctx));
        Harness {
            rx,
            shutdown,
            registry,
            metrics,
            grpc,
            http,
            task,
        }
    }

    async fn next(&mut self) -> Message {
        tokio::time::timeout(WAIT, self.rx.recv())
            .await
            .expect("a message within the timeout")
            .expect("the output is open")
    }

    fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc)
    }

    fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// A counter of the node, read from the Prometheus rendering.
    fn counter(&self, name: &str) -> u64 {
        let text = self.registry.render();
        let prefix = format!("{name}{{node=\"in\"");
        text.lines()
            .find(|l| l.starts_with(&prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
    }

    /// Sends a good request from a fresh client on both protocols and
    /// checks both arrive: the receiver is still healthy.
    async fn assert_still_accepts(&mut self) {
        let req = traces(1, 2);
        let mut client = TraceServiceClient::connect(self.grpc_url())
            .await
            .expect("connect");
        let _ = client
            .export(req.clone())
            .await
            .expect("gRPC export accepted");
        assert_eq!(
            self.next().await.batch.otlp_bytes().expect("bytes"),
            req.encode_to_vec()
        );
        let resp = reqwest::Client::new()
            .post(self.http_url("/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(req.encode_to_vec())
            .send()
            .await
            .expect("HTTP request");
        assert_eq!(resp.status(), 200);
        assert_eq!(self.next().await.batch.items(), 2);
    }

    async fn stop(self) {
        let _ = self.shutdown.send(true);
        let done = tokio::time::timeout(WAIT, self.task)
            .await
            .expect("stops in time");
        done.expect("no panic").expect("no error");
    }
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

fn resource(name: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv("service.name", name)],
        ..Default::default()
    })
}

/// A trace request with `resources` resources of `spans` spans each.
fn traces(resources: usize, spans: usize) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: (0..resources)
            .map(|r| ResourceSpans {
                resource: resource(&format!("svc-{r}")),
                scope_spans: vec![ScopeSpans {
                    spans: (0..spans)
                        .map(|s| Span {
                            trace_id: vec![r as u8 + 1; 16],
                            span_id: vec![(s % 250) as u8 + 1; 8],
                            name: format!("span {s}"),
                            kind: 2,
                            start_time_unix_nano: 1_700_000_000_000_000_000,
                            end_time_unix_nano: 1_700_000_000_100_000_000,
                            attributes: vec![kv("http.route", "/api/cart")],
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

fn logs(n: usize) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource("logger"),
            scope_logs: vec![ScopeLogs {
                log_records: (0..n)
                    .map(|i| LogRecord {
                        time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                        severity_number: 9,
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(format!("line {i}"))),
                        }),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn metrics(points: usize) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource("meter"),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "queue.depth".to_string(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: (0..points)
                            .map(|i| NumberDataPoint {
                                time_unix_nano: 1_700_000_000_000_000_000,
                                value: Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(
                                    i as i64,
                                )),
                                attributes: vec![kv("queue", &format!("q{i}"))],
                                ..Default::default()
                            })
                            .collect(),
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// A valid single-member gzip stream of `chunks` MiB of zeros, built by
/// compressing one MiB once (ending on a sync flush, so it is a run of
/// whole, byte-aligned deflate blocks) and repeating it; the CRC is
/// combined rather than computed over the whole. 1024 chunks, 1 GiB of
/// zeros, take about 1 MB.
fn gzip_bomb(chunks: usize) -> Vec<u8> {
    let zeros = vec![0u8; 1 << 20];
    let mut deflate = flate2::Compress::new(flate2::Compression::best(), false);
    let mut block = Vec::with_capacity(4096);
    let _ = deflate
        .compress_vec(&zeros, &mut block, flate2::FlushCompress::Sync)
        .expect("deflate");
    let mut finish = Vec::with_capacity(64);
    let _ = deflate
        .compress_vec(&[], &mut finish, flate2::FlushCompress::Finish)
        .expect("deflate");
    assert_eq!(
        deflate.total_in(),
        1 << 20,
        "the whole chunk was compressed"
    );
    let mut crc = flate2::Crc::new();
    crc.update(&zeros);
    let mut total = flate2::Crc::new();
    for _ in 0..chunks {
        total.combine(&crc);
    }
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    for _ in 0..chunks {
        out.extend_from_slice(&block);
    }
    out.extend_from_slice(&finish);
    out.put_u32_le(total.sum());
    out.put_u32_le(total.amount());
    out
}

/// Peak resident memory of this process, in bytes (Linux).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A gRPC client that sends raw bytes as the request message.
mod raw {
    use bytes::{Buf as _, BufMut as _, Bytes};
    use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

    #[derive(Default)]
    pub struct BytesCodec;
    pub struct Enc;
    pub struct Dec;

    impl Codec for BytesCodec {
        type Encode = Bytes;
        type Decode = Bytes;
        type Encoder = Enc;
        type Decoder = Dec;
        fn encoder(&mut self) -> Enc {
            Enc
        }
        fn decoder(&mut self) -> Dec {
            Dec
        }
    }

    impl Encoder for Enc {
        type Item = Bytes;
        type Error = tonic::Status;
        fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
            dst.put_slice(&item);
            Ok(())
        }
    }

    impl Decoder for Dec {
        type Item = Bytes;
        type Error = tonic::Status;
        fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
            let n = src.remaining();
            Ok(Some(src.copy_to_bytes(n)))
        }
    }

    /// Calls `path` with `body` as the request message.
    pub async fn call(
        url: &str,
        path: &'static str,
        body: Bytes,
        gzip: bool,
    ) -> Result<Bytes, tonic::Status> {
        let channel = tonic::transport::Endpoint::from_shared(url.to_string())
            .expect("url")
            .connect()
            .await
            .expect("connect");
        let mut grpc = tonic::client::Grpc::new(channel);
        if gzip {
            grpc = grpc.send_compressed(tonic::codec::CompressionEncoding::Gzip);
        }
        grpc.ready().await.expect("ready");
        grpc.unary(
            tonic::Request::new(body),
            http::uri::PathAndQuery::from_static(path),
            BytesCodec,
        )
        .await
        .map(tonic::Response::into_inner)
    }
}

const TRACE_EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_export_arrives_as_the_same_bytes_with_its_item_count() {
    let mut h = Harness::start(config(), 16);
    let req = traces(3, 4);
    let mut client = TraceServiceClient::connect(h.grpc_url())
        .await
        .expect("connect");
    let resp = client
        .export(req.clone())
        .await
        .expect("export")
        .into_inner();
    assert_eq!(
        resp.partial_success, None,
        "full acceptance has no partial_success"
    );
    let msg = h.next().await;
    assert_eq!(msg.batch.signal(), Signal::Traces);
    assert_eq!(msg.batch.items(), 12);
    assert_eq!(msg.batch.otlp_bytes().expect("bytes"), req.encode_to_vec());
    assert!(msg.acks.is_empty(), "ack \"accepted\" attaches no ack");

    let mut client = LogsServiceClient::connect(h.grpc_url())
        .await
        .expect("connect");
    let req = logs(5);
    let _ = client.export(req.clone()).await.expect("export logs");
    let msg = h.next().await;
    assert_eq!((msg.batch.signal(), msg.batch.items()), (Signal::Logs, 5));
    assert_eq!(msg.batch.otlp_bytes().expect("bytes"), req.encode_to_vec());

    let mut client = MetricsServiceClient::connect(h.grpc_url())
        .await
        .expect("connect");
    let req = metrics(3);
    let _ = client.export(req.clone()).await.expect("export metrics");
    let msg = h.next().await;
    assert_eq!(
        (msg.batch.signal(), msg.batch.items()),
        (Signal::Metrics, 3)
    );
    assert_eq!(msg.batch.otlp_bytes().expect("bytes"), req.encode_to_vec());
    assert_eq!(h.metrics.items_out(), 20);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_accepts_gzip_and_zstd() {
    let mut h = Harness::start(config(), 16);
    for encoding in [CompressionEncoding::Gzip, CompressionEncoding::Zstd] {
        let req = traces(2, 50);
        let mut client = TraceServiceClient::connect(h.grpc_url())
            .await
            .expect("connect")
            .send_compressed(encoding);
        let _ = client.export(req.clone()).await.expect("compressed export");
        let msg = h.next().await;
        assert_eq!(msg.batch.items(), 100, "{encoding:?}");
        assert_eq!(
            msg.batch.otlp_bytes().expect("bytes"),
            req.encode_to_vec(),
            "{encoding:?}"
        );
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_invalid_protobuf_is_invalid_argument() {
    let mut h = Harness::start(config(), 16);
    let good = traces(1, 3).encode_to_vec();
    let truncated = Bytes::copy_from_slice(&good[..good.len() - 3]);
    // Field 1 (resource_spans) claiming 2^35 bytes.
    let garbage = Bytes::from_static(&[0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00]);
    for body in [truncated, garbage] {
        let err = raw::call(&h.grpc_url(), TRACE_EXPORT, body, false)
            .await
            .expect_err("refused");
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
        assert!(err.message().contains("invalid OTLP protobuf"), "{err:?}");
    }
    assert!(h.counter("weir_node_errors_total") >= 2);
    assert!(h.rx.try_recv().is_err(), "nothing was sent on");
    h.assert_still_accepts().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_unknown_method_is_unimplemented() {
    let mut h = Harness::start(config(), 16);
    let err = raw::call(
        &h.grpc_url(),
        "/opentelemetry.proto.collector.trace.v1.TraceService/Import",
        Bytes::new(),
        false,
    )
    .await
    .expect_err("refused");
    assert_eq!(err.code(), tonic::Code::Unimplemented);
    let err = raw::call(&h.grpc_url(), "/nope.Service/Export", Bytes::new(), false)
        .await
        .expect_err("refused");
    assert_eq!(err.code(), tonic::Code::Unimplemented);
    h.assert_still_accepts().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_oversized_requests_are_refused() {
    let mut c = config();
    c.max_request_size = 64 << 10;
    let mut h = Harness::start(c, 16);
    // Uncompressed: refused from the length prefix.
    let big = traces(1, 2000).encode_to_vec();
    assert!(big.len() > 64 << 10);
    let err = raw::call(&h.grpc_url(), TRACE_EXPORT, Bytes::from(big.clone()), false)
        .await
        .expect_err("refused");
    assert_eq!(err.code(), tonic::Code::OutOfRange, "{err:?}");
    // Compressed below the limit, above it once inflated.
    assert!(gzip(&big).len() < 64 << 10);
    let err = raw::call(&h.grpc_url(), TRACE_EXPORT, Bytes::from(big), true)
        .await
        .expect_err("refused");
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    assert!(
        err.details().is_empty(),
        "no RetryInfo: retrying cannot help"
    );
    h.assert_still_accepts().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_gzip_bomb_is_refused_with_bounded_memory() {
    let mut h = Harness::start(config(), 16);
    let bomb = gzip_bomb(1024);
    assert!(
        bomb.len() < 2 << 20,
        "1 GiB of zeros in {} bytes",
        bomb.len()
    );
    // A gRPC frame of the bomb, sent as is over HTTP/2.
    let mut frame = Vec::with_capacity(bomb.len() + 5);
    frame.put_u8(1);
    frame.put_u32(u32::try_from(bomb.len()).expect("small"));
    frame.extend_from_slice(&bomb);
    let before = peak_rss();
    let started = Instant::now();
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("client");
    let resp = client
        .post(format!("{}{TRACE_EXPORT}", h.grpc_url()))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("grpc-encoding", "gzip")
        .body(frame)
        .send()
        .await
        .expect("response");
    let status = resp
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    assert_eq!(
        status.as_deref(),
        Some("8"),
        "RESOURCE_EXHAUSTED; headers: {:?}",
        resp.headers()
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    if let (Some(before), Some(after)) = (before, peak_rss()) {
        assert!(
            after < before + (256 << 20),
            "peak memory grew by {} MiB",
            (after - before) >> 20
        );
    }
    h.assert_still_accepts().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_full_pipeline_is_resource_exhausted_with_retry_info() {
    let mut c = config();
    c.backpressure_wait = Duration::from_millis(50);
    let mut h = Harness::start(c, 1);
    let mut client = TraceServiceClient::connect(h.grpc_url())
        .await
        .expect("connect");
    let _ = client
        .export(traces(1, 2))
        .await
        .expect("fills the channel");
    let started = Instant::now();
    let err = client.export(traces(1, 3)).await.expect_err("refused");
    assert!(
        started.elapsed() >= Duration::from_millis(50),
        "waited for room first"
    );
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    let details = RpcStatus::decode(err.details()).expect("google.rpc.Status details");
    let retry = details
        .details
        .iter()
        .find(|d| d.type_url == RETRY_INFO_TYPE)
        .expect("a RetryInfo detail");
    let delay = RetryInfo::decode(retry.value.as_slice())
        .expect("RetryInfo")
        .retry_delay
        .expect("a delay");
    assert_eq!(delay.seconds, 1);
    assert_eq!(h.counter("weir_node_items_refused_total"), 3);
    // Once there is room again, requests are accepted.
    assert_eq!(h.next().await.batch.items(), 2);
    h.assert_still_accepts().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_protobuf_arrives_as_the_same_bytes() {
    let mut h = Harness::start(config(), 16);
    let client = reqwest::Client::new();
    let req = traces(2, 3);
    let resp = client
        .post(h.http_url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(req.encode_to_vec())
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-protobuf");
    assert!(
        resp.bytes().await.expect("body").is_empty(),
        "an empty response message"
    );
    let msg = h.next().await;
    assert_eq!((msg.batch.signal(), msg.batch.items()), (Signal::Traces, 6));
    assert_eq!(msg.batch.otlp_bytes().expect("bytes"), req.encode_to_vec());

    for (path, signal, body, items) in [
        ("/v1/logs", Signal::Logs, logs(4).encode_to_vec(), 4),
        (
            "/v1/metrics",
            Signal::Metrics,
            metrics(7).encode_to_vec(),
            7,
        ),
    ] {
        let resp = client
            .post(h.http_url(path))
            .header("content-type", "application/x-protobuf")
            .body(body.clone())
            .send()
            .await
            .expect("response");
        assert_eq!(resp.status(), 200, "{path}");
        let msg = h.next().await;
        assert_eq!((msg.batch.signal(), msg.batch.items()), (signal, items));
        assert_eq!(msg.batch.otlp_bytes().expect("bytes"), body);
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_json_is_converted_to_protobuf() {
    let mut h = Harness::start(config(), 16);
    let json = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
        "scopeSpans":[{"scope":{"name":"manual"},"spans":[
          {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"GET /cart","kind":2,
           "startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000"},
          {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175","parentSpanId":"eee19b7ec3c1b174",
           "name":"SELECT","kind":3,"startTimeUnixNano":"1544712660100000000","endTimeUnixNano":"1544712660200000000"}]}]}]}"#;
    let resp = reqwest::Client::new()
        .post(h.http_url("/v1/traces"))
        .header("content-type", "application/json")
        .body(json)
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: serde_json::Value =
        serde_json::from_slice(&resp.bytes().await.expect("body")).expect("JSON response");
    assert_eq!(body, serde_json::json!({}));
    let msg = h.next().await;
    assert_eq!(msg.batch.items(), 2);
    let decoded = ExportTraceServiceRequest::decode(msg.batch.otlp_bytes().expect("bytes"))
        .expect("protobuf bytes");
    let spans = &decoded.resource_spans[0].scope_spans[0].spans;
    assert_eq!(spans[0].name, "GET /cart");
    assert_eq!(
        spans[0].trace_id,
        hex_bytes("5b8efff798038103d269b633813fc60c")
    );
    assert_eq!(spans[1].parent_span_id, hex_bytes("eee19b7ec3c1b174"));
    assert_eq!(spans[1].start_time_unix_nano, 1_544_712_660_100_000_000);
    h.stop().await;
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_accepts_gzip_and_zstd_bodies() {
    let mut h = Harness::start(config(), 16);
    let req = traces(3, 20).encode_to_vec();
    for (coding, body) in [
        ("gzip", gzip(&req)),
        ("zstd", zstd::encode_all(req.as_slice(), 3).expect("zstd")),
        ("identity", req.clone()),
    ] {
        let resp = reqwest::Client::new()
            .post(h.http_url("/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .header("content-encoding", coding)
            .body(body)
            .send()
            .await
            .expect("response");
        assert_eq!(resp.status(), 200, "{coding}");
        let msg = h.next().await;
        assert_eq!(msg.batch.items(), 60, "{coding}");
        assert_eq!(msg.batch.otlp_bytes().expect("bytes"), req, "{coding}");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_bad_bodies_are_400_with_a_status_message() {
    let mut h = Harness::start(config(), 16);
    let client = reqwest::Client::new();
    let good = traces(1, 3).encode_to_vec();

    // Truncated protobuf: a google.rpc.Status in protobuf.
    let resp = client
        .post(h.http_url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(good[..good.len() - 2].to_vec())
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["content-type"], "application/x-protobuf");
    let status = RpcStatus::decode(resp.bytes().await.expect("body")).expect("google.rpc.Status");
    assert_eq!(status.code, tonic::Code::InvalidArgument as i32);
    assert!(
        status.message.contains("invalid OTLP protobuf"),
        "{}",
        status.message
    );

    // Invalid JSON: a google.rpc.Status in JSON.
    let resp = client
        .post(h.http_url("/v1/logs"))
        .header("content-type", "application/json")
        .body(r#"{"resourceLogs": [ {"#)
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let status: serde_json::Value =
        serde_json::from_slice(&resp.bytes().await.expect("body")).expect("JSON");
    assert_eq!(status["code"], 3);
    assert!(!status["message"].as_str().unwrap_or_default().is_empty());

    // A body that is not gzip.
    let resp = client
        .post(h.http_url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(good.clone())
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status(), 400);
    let status = RpcStatus::decode(resp.bytes().await.expect("body")).expect("google.rpc.Status");
    assert!(status.message.contains("gzip"), "{}", status.message);

    assert!(h.rx.try_recv().is_err(), "nothing was sent on");
    assert!(h.counter("weir_node_errors_total") >= 3);
    h.assert_still_accepts().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_wrong_type_method_path_and_encoding() {
    let mut h = Harness::start(config(), 16);
    let client = reqwest::Client::new();
    let body = traces(1, 1).encode_to_vec();

    let resp = client
        .post(h.http_url("/v1/traces"))
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status(), 415);
    assert!(
        resp.text()
            .await
            .expect("body")
            .contains("application/x-protobuf")
    );

    let resp = client
        .post(h.http_url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "br")
        .body(body.clone())
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status(), 415);

    let resp = client
        .get(h.http_url("/v1/traces"))
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");

    let resp = client
        .post(h.http_url("/v1/spans"))
        .header("content-type", "application/x-protobuf")
        .body(body.clone())
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status(), 404);

    // Parameters of the media type are fine.
    let resp = client
        .post(h.http_url("/v1/traces"))
        .header("content-type", "application/x-protobuf; charset=binary")
        .body(body)
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status(), 200);
    assert_eq!(h.next().await.batch.items(), 1);
    h.assert_still_accepts().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_oversized_bodies_are_413() {
    let mut c = config();
    c.max_request_size = 64 << 10;
    let mut h = Harness::start(c, 16);
    let big = traces(1, 2000).encode_to_vec();
    assert!(big.len() > 64 << 10);
    let client = reqwest::Client::new();

    // Declared too large.
    let resp = client
        .post(h.http_url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(big.clone())
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status(), 413);

    // Small compressed, too large once inflated.
    let resp = client
        .post(h.http_url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "zstd")
        .body(zstd::encode_all(big.as_slice(), 3).expect("zstd"))
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status(), 413);
    let status = RpcStatus::decode(resp.bytes().await.expect("body")).expect("google.rpc.Status");
    assert!(status.message.contains("65536"), "{}", status.message);

    // Chunked, no Content-Length: refused while reading.
    let mut stream = tokio::net::TcpStream::connect(h.http)
        .await
        .expect("connect");
    let head = "POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\ntransfer-encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).await.expect("write");
    let chunk = vec![0u8; 16 << 10];
    let mut response = Vec::new();
    for _ in 0..8 {
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(&chunk);
        frame.extend_from_slice(b"\r\n");
        if stream.write_all(&frame).await.is_err() {
            break;
        }
    }
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");

    assert!(h.rx.try_recv().is_err(), "nothing was sent on");
    h.assert_still_accepts().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_gzip_bomb_is_413_quickly_with_bounded_memory() {
    let mut h = Harness::start(config(), 16);
    let bomb = gzip_bomb(1024);
    assert!(
        bomb.len() < 2 << 20,
        "1 GiB of zeros in {} bytes",
        bomb.len()
    );
    let before = peak_rss();
    let started = Instant::now();
    let resp = reqwest::Client::new()
        .post(h.http_url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(bomb)
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status(), 413);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    if let (Some(before), Some(after)) = (before, peak_rss()) {
        assert!(
            after < before + (256 << 20),
            "peak memory grew by {} MiB",
            (after - before) >> 20
        );
    }
    h.assert_still_accepts().await;
    h.stop().await;
}

#[test]
fn the_test_bomb_is_a_valid_gzip_stream() {
    use std::io::Read as _;
    let bomb = gzip_bomb(4);
    let mut out = Vec::new();
    let n = flate2::read::GzDecoder::new(bomb.as_slice())
        .read_to_end(&mut out)
        .expect("valid gzip, CRC and length included");
    assert_eq!(n, 4 << 20);
    assert!(out.iter().all(|b| *b == 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_full_pipeline_is_429_with_retry_after() {
    let mut c = config();
    c.backpressure_wait = Duration::from_millis(50);
    let mut h = Harness::start(c, 1);
    let client = reqwest::Client::new();
    let url = h.http_url("/v1/traces");
    let send = |req: ExportTraceServiceRequest| {
        client
            .post(&url)
            .header("content-type", "application/x-protobuf")
            .body(req.encode_to_vec())
            .send()
    };
    assert_eq!(send(traces(1, 2)).await.expect("response").status(), 200);
    let resp = send(traces(1, 4)).await.expect("response");
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    let status = RpcStatus::decode(resp.bytes().await.expect("body")).expect("google.rpc.Status");
    assert_eq!(status.code, tonic::Code::ResourceExhausted as i32);
    assert_eq!(h.counter("weir_node_items_refused_total"), 4);
    assert_eq!(h.next().await.batch.items(), 2);
    h.assert_still_accepts().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_delivered_answers_once_the_ack_settles() {
    let mut c = config();
    c.ack = AckMode::Delivered;
    let mut h = Harness::start(c, 16);

    // gRPC, delivered.
    let url = h.grpc_url();
    let pending = tokio::spawn(async move {
        let mut client = TraceServiceClient::connect(url).await.expect("connect");
        client.export(traces(1, 2)).await
    });
    let msg = h.next().await;
    assert_eq!(msg.acks.len(), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !pending.is_finished(),
        "answered before the data was delivered"
    );
    drop(msg);
    let resp = tokio::time::timeout(WAIT, pending)
        .await
        .expect("answered")
        .expect("no panic");
    assert!(resp.is_ok(), "{resp:?}");

    // gRPC, failed: UNAVAILABLE with the reason.
    let url = h.grpc_url();
    let pending = tokio::spawn(async move {
        let mut client = TraceServiceClient::connect(url).await.expect("connect");
        client.export(traces(1, 2)).await
    });
    let msg = h.next().await;
    msg.fail("backend down");
    drop(msg);
    let err = tokio::time::timeout(WAIT, pending)
        .await
        .expect("answered")
        .expect("no panic")
        .expect_err("failed");
    assert_eq!(err.code(), tonic::Code::Unavailable);
    assert!(err.message().contains("backend down"), "{err:?}");

    // HTTP, failed: 503 with Retry-After.
    let url = h.http_url("/v1/logs");
    let pending = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .header("content-type", "application/x-protobuf")
            .body(logs(1).encode_to_vec())
            .send()
            .await
    });
    let msg = h.next().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !pending.is_finished(),
        "answered before the data was delivered"
    );
    msg.fail("disk full");
    drop(msg);
    let resp = tokio::time::timeout(WAIT, pending)
        .await
        .expect("answered")
        .expect("no panic")
        .expect("response");
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");
    let status = RpcStatus::decode(resp.bytes().await.expect("body")).expect("google.rpc.Status");
    assert_eq!(status.code, tonic::Code::Unavailable as i32);
    assert!(status.message.contains("disk full"), "{}", status.message);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_in_flight_requests_finish_then_stops() {
    let mut c = config();
    c.ack = AckMode::Delivered;
    let mut h = Harness::start(c, 16);
    let url = h.http_url("/v1/traces");
    let pending = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .header("content-type", "application/x-protobuf")
            .body(traces(1, 3).encode_to_vec())
            .send()
            .await
    });
    let msg = h.next().await;
    let _ = h.shutdown.send(true);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!h.task.is_finished(), "stopped with a request in flight");
    // New connections are refused once the listener is closed.
    assert!(
        tokio::net::TcpStream::connect(h.http).await.is_err(),
        "still listening"
    );
    drop(msg);
    let resp = tokio::time::timeout(WAIT, pending)
        .await
        .expect("answered")
        .expect("no panic")
        .expect("response");
    assert_eq!(resp.status(), 200, "the in-flight request completed");
    let done = tokio::time::timeout(WAIT, h.task).await.expect("stopped");
    done.expect("no panic").expect("no error");
    // The receiver dropped its output: the channel is closed and drained.
    assert!(h.rx.recv().await.is_none());
}

#[test]
fn a_port_in_use_is_a_build_error_at_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let text = format!(
        "receiver \"in\" type=\"otlp\" {{\n    grpc \"127.0.0.1:0\"\n    http \"{addr}\"\n}}\nexporter \"out\" type=\"debug\" {{\n    from \"in\"\n}}\n"
    );
    let pipeline = weir_config::parse("test.kdl", &text).expect("valid shape");
    let decl = pipeline.node("in").expect("node");
    let mut errors = Vec::new();
    let mut reader = decl.reader(&mut errors);
    let builder = super::validate(&mut reader).expect("valid configuration");
    reader.finish();
    assert!(errors.is_empty(), "{errors:?}");
    let registry = MetricsRegistry::default();
    let ctx = BuildContext {
        id: "in",
        metrics: &registry,
        base_dir: std::env::temp_dir(),
    };
    let Err(err) = builder.build(&ctx) else {
        panic!("built on a port in use");
    };
    assert_eq!(err.code, ErrorCode::Build);
    assert!(err.message.contains(&addr.to_string()), "{}", err.message);
    let span = err.span.expect("a span");
    let pointed = &text[span.offset()..span.offset() + span.len()];
    assert!(pointed.contains(&addr.to_string()), "points at {pointed:?}");
}

fn read(text: &str) -> (Option<OtlpConfig>, Vec<weir_config::ConfigError>) {
    let text = format!(
        "receiver \"in\" type=\"otlp\" {{\n{text}\n}}\nexporter \"out\" type=\"debug\" {{\n    from \"in\"\n}}\n"
    );
    let pipeline = weir_config::parse("test.kdl", &text).expect("valid shape");
    let decl = pipeline.node("in").expect("node");
    let mut errors = Vec::new();
    let mut reader = decl.reader(&mut errors);
    let config = OtlpConfig::read(&mut reader);
    reader.finish();
    (config, errors)
}

#[test]
fn validation_reports_every_problem() {
    let (config, errors) = read("    grpc \"127.0.0.1:4317\"");
    assert!(errors.is_empty(), "{errors:?}");
    let config = config.expect("valid");
    assert_eq!(
        config.max_request_size,
        OtlpConfig::DEFAULT_MAX_REQUEST_SIZE
    );
    assert_eq!(
        config.backpressure_wait,
        OtlpConfig::DEFAULT_BACKPRESSURE_WAIT
    );
    assert_eq!(config.ack, AckMode::Accepted);

    let (config, errors) = read("    max-request-size \"8MiB\"");
    assert!(config.is_none());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].code, ErrorCode::Missing);

    let (config, errors) = read(
        "    grpc \"localhost\"\n    http \"127.0.0.1:4318\"\n    ack \"eventually\"\n    max-request-size \"12\"\n    backpressure-wait \"soon\"\n    max-requests 3",
    );
    assert!(config.is_none());
    let codes: Vec<ErrorCode> = errors.iter().map(|e| e.code).collect();
    assert_eq!(
        codes,
        [
            ErrorCode::InvalidValue,
            ErrorCode::InvalidValue,
            ErrorCode::InvalidValue,
            ErrorCode::InvalidValue,
            ErrorCode::UnknownProperty
        ],
        "{errors:?}"
    );

    let (config, errors) = read(
        "    http \"127.0.0.1:4318\"\n    ack \"delivered\"\n    max-request-size \"16MiB\"\n    backpressure-wait \"1s\"",
    );
    assert!(errors.is_empty(), "{errors:?}");
    let config = config.expect("valid");
    assert_eq!(config.ack, AckMode::Delivered);
    assert_eq!(config.max_request_size, 16 << 20);
    assert_eq!(config.backpressure_wait, Duration::from_secs(1));
}
