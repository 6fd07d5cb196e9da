//! The OTLP exporter against real gRPC and HTTP servers on 127.0.0.1.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;
use tonic::codec::CompressionEncoding;
use tonic::{Code, Status};
use weir_engine::node::BatchExporter as _;
use weir_pdata::{Batch, Signal};

use super::config::{Compression, OtlpExporterConfig, Protocol, RetryConfig, read};
use super::exporter::{OtlpExporter, PartialSuccess};
use crate::ExportError;

fn request(spans: usize) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("checkout".into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: (0..spans)
                    .map(|i| Span {
                        trace_id: vec![1; 16],
                        span_id: vec![i as u8 + 1; 8],
                        name: format!("span {i}"),
                        start_time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                        end_time_unix_nano: 1_700_000_000_000_000_100 + i as u64,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn bytes_of(spans: usize) -> Bytes {
    Bytes::from(request(spans).encode_to_vec())
}

fn fast_retry() -> RetryConfig {
    RetryConfig {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(50),
        max_elapsed: Duration::from_secs(5),
    }
}

fn config(protocol: Protocol, addr: SocketAddr) -> OtlpExporterConfig {
    let mut c = OtlpExporterConfig::new(protocol, format!("http://{addr}"));
    c.retry = fast_retry();
    c.timeout = Duration::from_secs(5);
    c
}

/// What the fake gRPC backend answers, call after call (then OK).
#[derive(Default)]
struct Script {
    answers: VecDeque<Result<i64, Status>>,
    received: Vec<(Vec<u8>, tonic::metadata::MetadataMap)>,
}

#[derive(Clone, Default)]
struct FakeTraceBackend(Arc<Mutex<Script>>);

impl FakeTraceBackend {
    fn answer(&self, a: Result<i64, Status>) {
        self.0.lock().expect("lock").answers.push_back(a);
    }

    fn received(&self) -> Vec<(Vec<u8>, tonic::metadata::MetadataMap)> {
        self.0.lock().expect("lock").received.clone()
    }
}

#[tonic::async_trait]
impl TraceService for FakeTraceBackend {
    async fn export(
        &self,
        req: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, Status> {
        let mut s = self.0.lock().expect("lock");
        let metadata = req.metadata().clone();
        s.received
            .push((req.into_inner().encode_to_vec(), metadata));
        match s.answers.pop_front().unwrap_or(Ok(0)) {
            Ok(0) => Ok(tonic::Response::new(ExportTraceServiceResponse::default())),
            Ok(rejected) => Ok(tonic::Response::new(ExportTraceServiceResponse {
                partial_success: Some(ExportTracePartialSuccess {
                    rejected_spans: rejected,
                    error_message: "spans too old".into(),
                }),
            })),
            Err(status) => Err(status),
        }
    }
}

async fn grpc_backend() -> (FakeTraceBackend, SocketAddr) {
    let backend = FakeTraceBackend::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let svc = TraceServiceServer::new(backend.clone()).accept_compressed(CompressionEncoding::Gzip);
    let _server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    (backend, addr)
}

#[tokio::test]
async fn grpc_bytes_arrive_intact_with_headers() {
    let (backend, addr) = grpc_backend().await;
    let mut c = config(Protocol::Grpc, addr);
    c.headers
        .insert("x-scope-orgid", http::HeaderValue::from_static("tenant-1"));
    let mut exporter = OtlpExporter::new("otlp", c).expect("exporter");
    let bytes = bytes_of(3);
    let batch = Batch::from_otlp_unchecked(Signal::Traces, bytes.clone(), 3);
    exporter.export(&batch).await.expect("export");
    let got = backend.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, bytes.to_vec(), "the request changed on the way");
    assert_eq!(
        got[0].1.get("x-scope-orgid").and_then(|v| v.to_str().ok()),
        Some("tenant-1")
    );
}

#[tokio::test]
async fn grpc_gzip_is_decompressed_by_the_backend() {
    let (backend, addr) = grpc_backend().await;
    let mut c = config(Protocol::Grpc, addr);
    c.compression = Compression::Gzip;
    let exporter = OtlpExporter::new("otlp", c).expect("exporter");
    let bytes = bytes_of(50);
    exporter
        .send(Signal::Traces, bytes.clone())
        .await
        .expect("send");
    let got = backend.received();
    assert_eq!(got[0].0, bytes.to_vec());
    assert_eq!(
        got[0].1.get("grpc-encoding").and_then(|v| v.to_str().ok()),
        Some("gzip")
    );
}

#[tokio::test]
async fn grpc_retries_unavailable_then_succeeds() {
    let (backend, addr) = grpc_backend().await;
    backend.answer(Err(Status::unavailable("warming up")));
    backend.answer(Err(Status::unavailable("still warming up")));
    let exporter = OtlpExporter::new("otlp", config(Protocol::Grpc, addr)).expect("exporter");
    let bytes = bytes_of(2);
    let out = exporter
        .send(Signal::Traces, bytes.clone())
        .await
        .expect("delivered on the third attempt");
    assert_eq!(out, None);
    let got = backend.received();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|(b, _)| *b == bytes.to_vec()));
}

#[tokio::test]
async fn grpc_invalid_argument_is_not_retried() {
    let (backend, addr) = grpc_backend().await;
    backend.answer(Err(Status::invalid_argument("bad span")));
    let mut exporter = OtlpExporter::new("otlp", config(Protocol::Grpc, addr)).expect("exporter");
    let batch = Batch::from_otlp_unchecked(Signal::Traces, bytes_of(1), 1);
    let err = exporter
        .export(&batch)
        .await
        .expect_err("permanent failure");
    let text = err.to_string();
    assert!(
        text.contains("InvalidArgument") && text.contains("bad span"),
        "{text}"
    );
    assert_eq!(
        backend.received().len(),
        1,
        "a permanent failure was retried"
    );
}

#[tokio::test]
async fn grpc_partial_success_is_reported() {
    let (backend, addr) = grpc_backend().await;
    backend.answer(Ok(2));
    let exporter = OtlpExporter::new("otlp", config(Protocol::Grpc, addr)).expect("exporter");
    let out = exporter
        .send(Signal::Traces, bytes_of(5))
        .await
        .expect("accepted");
    assert_eq!(
        out,
        Some(PartialSuccess {
            rejected: 2,
            message: "spans too old".into()
        })
    );
}

#[tokio::test]
async fn grpc_backend_down_at_start_builds_then_gives_up() {
    // A port nobody listens on.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let mut c = config(Protocol::Grpc, addr);
    c.retry.max_elapsed = Duration::from_millis(300);
    let exporter = OtlpExporter::new("otlp", c).expect("building does not connect");
    let err = exporter
        .send(Signal::Traces, bytes_of(1))
        .await
        .expect_err("nobody listens");
    match &err {
        ExportError::RetriesExhausted { attempts, last, .. } => {
            assert!(*attempts >= 2, "{err}");
            assert!(
                matches!(**last, ExportError::GrpcStatus(ref s) if s.code() == Code::Unavailable),
                "{err}"
            );
        }
        other => panic!("expected retries to run out, got {other}"),
    }
}

/// The fake HTTP backend: answers from a script, records bodies and headers.
#[derive(Clone, Default)]
struct FakeHttpBackend(Arc<Mutex<HttpScript>>);

#[derive(Default)]
struct HttpScript {
    answers: VecDeque<(u16, Option<&'static str>)>,
    received: Vec<(Instant, http::HeaderMap, Bytes)>,
}

async fn http_backend() -> (FakeHttpBackend, SocketAddr) {
    use axum::extract::State;
    use axum::response::IntoResponse;
    let backend = FakeHttpBackend::default();
    async fn traces(
        State(b): State<FakeHttpBackend>,
        headers: http::HeaderMap,
        body: Bytes,
    ) -> axum::response::Response {
        let mut s = b.0.lock().expect("lock");
        s.received.push((Instant::now(), headers, body));
        let (status, retry_after) = s.answers.pop_front().unwrap_or((200, None));
        let status = http::StatusCode::from_u16(status).expect("status");
        if status.is_success() {
            let body = ExportTraceServiceResponse::default().encode_to_vec();
            return (
                status,
                [(http::header::CONTENT_TYPE, "application/x-protobuf")],
                body,
            )
                .into_response();
        }
        let mut resp = (status, "slow down").into_response();
        if let Some(ra) = retry_after {
            resp.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static(ra),
            );
        }
        resp
    }
    let app = axum::Router::new()
        .route("/v1/traces", axum::routing::post(traces))
        .with_state(backend.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let _server = tokio::spawn(async move { axum::serve(listener, app).await });
    (backend, addr)
}

impl FakeHttpBackend {
    fn answer(&self, status: u16, retry_after: Option<&'static str>) {
        self.0
            .lock()
            .expect("lock")
            .answers
            .push_back((status, retry_after));
    }

    fn received(&self) -> Vec<(Instant, http::HeaderMap, Bytes)> {
        self.0.lock().expect("lock").received.clone()
    }
}

#[tokio::test]
async fn http_honours_retry_after_then_succeeds() {
    let (backend, addr) = http_backend().await;
    backend.answer(429, Some("1"));
    let mut c = config(Protocol::Http, addr);
    c.headers.insert(
        "authorization",
        http::HeaderValue::from_static("Bearer t0ken"),
    );
    let exporter = OtlpExporter::new("otlp", c).expect("exporter");
    let bytes = bytes_of(4);
    exporter
        .send(Signal::Traces, bytes.clone())
        .await
        .expect("delivered after the wait");
    let got = backend.received();
    assert_eq!(got.len(), 2);
    let waited = got[1].0 - got[0].0;
    assert!(
        waited >= Duration::from_millis(950),
        "Retry-After not honoured: {waited:?}"
    );
    for (_, headers, body) in &got {
        assert_eq!(*body, bytes);
        assert_eq!(
            headers[http::header::CONTENT_TYPE],
            "application/x-protobuf"
        );
        assert_eq!(headers[http::header::AUTHORIZATION], "Bearer t0ken");
    }
}

#[tokio::test]
async fn http_bad_request_is_not_retried() {
    let (backend, addr) = http_backend().await;
    backend.answer(400, None);
    let exporter = OtlpExporter::new("otlp", config(Protocol::Http, addr)).expect("exporter");
    let err = exporter
        .send(Signal::Traces, bytes_of(1))
        .await
        .expect_err("permanent");
    assert!(
        matches!(err, ExportError::HttpStatus { status, .. } if status == 400),
        "{err}"
    );
    assert!(
        err.to_string().contains("slow down"),
        "the body's message is kept: {err}"
    );
    assert_eq!(backend.received().len(), 1);
}

#[tokio::test]
async fn http_gzip_body() {
    let (backend, addr) = http_backend().await;
    let mut c = config(Protocol::Http, addr);
    c.compression = Compression::Gzip;
    let exporter = OtlpExporter::new("otlp", c).expect("exporter");
    let bytes = bytes_of(20);
    exporter
        .send(Signal::Traces, bytes.clone())
        .await
        .expect("send");
    let got = backend.received();
    assert_eq!(got[0].1[http::header::CONTENT_ENCODING], "gzip");
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&got[0].2[..]), &mut plain)
        .expect("gunzip");
    assert_eq!(plain, bytes.to_vec());
}

fn read_kdl(body: &str) -> (OtlpExporterConfig, Vec<String>) {
    let text = format!(
        "receiver \"in\" type=\"otlp\"\nexporter \"x\" type=\"otlp\" {{\n from \"in\"\n{body}\n}}\n"
    );
    let pipeline = weir_config::parse("test.kdl", &text).expect("valid KDL");
    let decl = pipeline.node("x").expect("node x");
    let mut errors = Vec::new();
    let mut r = decl.reader(&mut errors);
    let c = read(&mut r);
    r.finish();
    (c, errors.into_iter().map(|e| e.message).collect())
}

#[test]
fn config_reads_every_setting() {
    let (c, errors) = read_kdl(
        r#"endpoint "http://tempo:4318/"
           protocol "http"
           headers { "X-Scope-OrgID" "tenant-1"; authorization "Bearer x" }
           timeout "3s"
           compression "gzip"
           retry { initial "50ms"; max "2s"; max-elapsed "30s" }"#,
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(c.endpoint.value, "http://tempo:4318");
    assert_eq!(c.protocol, Protocol::Http);
    assert_eq!(c.headers["x-scope-orgid"], "tenant-1");
    assert_eq!(c.headers["authorization"], "Bearer x");
    assert_eq!(c.timeout, Duration::from_secs(3));
    assert_eq!(c.compression, Compression::Gzip);
    assert_eq!(
        c.retry,
        RetryConfig {
            initial: Duration::from_millis(50),
            max: Duration::from_secs(2),
            max_elapsed: Duration::from_secs(30)
        }
    );
}

#[test]
fn config_defaults() {
    let (c, errors) = read_kdl("");
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(c.endpoint.value, "http://127.0.0.1:4317");
    assert_eq!(c.protocol, Protocol::Grpc);
    assert_eq!(c.retry, RetryConfig::default());
    assert_eq!(c.compression, Compression::None);
}

#[test]
fn config_reports_every_problem() {
    let (_, errors) = read_kdl(
        r#"endpoint "https://tempo:4317"
           protocol "thrift"
           compression "brotli"
           headers { "bad header" "x" }
           retry { initial "10s"; max "1s"; maxelapsed "1s" }"#,
    );
    assert_eq!(errors.len(), 6, "{errors:#?}");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("unknown property `maxelapsed`")),
        "{errors:#?}"
    );
}
