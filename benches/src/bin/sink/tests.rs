//! The sink against a real gRPC client on a loopback socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric::Data,
};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tonic::client::Grpc;
use tonic::codec::CompressionEncoding;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use weir_pdata::Signal;

use crate::count::CountMode;
use crate::raw_codec::RawCodec;
use crate::server::{self, Counters};
use crate::traces::{TraceShape, encoded_pool};

const TRACES_EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const METRICS_PATH: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
const LOGS_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

struct RunningSink {
    addr: SocketAddr,
    counters: Arc<Counters>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl RunningSink {
    async fn start(mode: CountMode) -> RunningSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let counters = Arc::new(Counters::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(
            listener,
            Arc::clone(&counters),
            mode,
            async move {
                let _ = stopped.await;
            },
        ));
        RunningSink {
            addr,
            counters,
            stop: Some(stop),
            task,
        }
    }

    async fn client(&self) -> Grpc<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.addr))
            .expect("uri")
            .connect()
            .await
            .expect("connect");
        Grpc::new(channel)
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.expect("join").expect("server ran");
    }
}

async fn export(
    client: &mut Grpc<Channel>,
    path: &'static str,
    body: Bytes,
) -> Result<Bytes, tonic::Status> {
    client.ready().await.expect("ready");
    client
        .unary(
            tonic::Request::new(body),
            PathAndQuery::from_static(path),
            RawCodec,
        )
        .await
        .map(tonic::Response::into_inner)
}

fn metrics_request(points: usize) -> Bytes {
    let data_points = vec![NumberDataPoint::default(); points];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "queue.depth".to_string(),
                    data: Some(Data::Gauge(Gauge { data_points })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
    .into()
}

fn logs_request(records: usize) -> Bytes {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord::default(); records],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
    .into()
}

#[tokio::test]
async fn counts_every_signal_and_answers_empty_responses() {
    for mode in [CountMode::Prost, CountMode::Auto] {
        let sink = RunningSink::start(mode).await;
        let mut client = sink.client().await;
        let shape = TraceShape {
            spans: 30,
            attributes: 5,
        };
        for body in encoded_pool(shape, 3) {
            let response = export(&mut client, TRACES_EXPORT_PATH, body)
                .await
                .expect("traces accepted");
            assert!(response.is_empty(), "the response is an empty message");
        }
        let _ = export(&mut client, METRICS_PATH, metrics_request(7))
            .await
            .expect("metrics accepted");
        let _ = export(&mut client, LOGS_PATH, logs_request(11))
            .await
            .expect("logs accepted");

        let traces = sink.counters.signal(Signal::Traces);
        assert_eq!(traces.items.load(Ordering::Relaxed), 90, "{mode:?}");
        assert_eq!(traces.requests.load(Ordering::Relaxed), 3);
        let metrics = sink.counters.signal(Signal::Metrics);
        assert_eq!(metrics.items.load(Ordering::Relaxed), 7, "{mode:?}");
        let logs = sink.counters.signal(Signal::Logs);
        assert_eq!(logs.items.load(Ordering::Relaxed), 11, "{mode:?}");
        sink.stop().await;
    }
}

#[tokio::test]
async fn accepts_gzip_compressed_requests() {
    let sink = RunningSink::start(CountMode::Auto).await;
    let mut client = sink
        .client()
        .await
        .send_compressed(CompressionEncoding::Gzip);
    let body = encoded_pool(
        TraceShape {
            spans: 100,
            attributes: 5,
        },
        1,
    )
    .remove(0);
    let len = body.len() as u64;
    let _ = export(&mut client, TRACES_EXPORT_PATH, body)
        .await
        .expect("gzip accepted");
    let traces = sink.counters.signal(Signal::Traces);
    assert_eq!(traces.items.load(Ordering::Relaxed), 100);
    assert_eq!(
        traces.bytes.load(Ordering::Relaxed),
        len,
        "bytes are counted uncompressed"
    );
    sink.stop().await;
}

#[tokio::test]
async fn refuses_invalid_requests_and_unknown_methods() {
    let sink = RunningSink::start(CountMode::Prost).await;
    let mut client = sink.client().await;
    // Field 1 as a length-delimited value that claims more bytes than follow.
    let status = export(
        &mut client,
        TRACES_EXPORT_PATH,
        Bytes::from_static(&[0x0a, 0x7f, 1]),
    )
    .await
    .expect_err("garbage refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        sink.counters
            .signal(Signal::Traces)
            .rejected
            .load(Ordering::Relaxed),
        1
    );
    let status = export(
        &mut client,
        "/opentelemetry.proto.collector.trace.v1.TraceService/Nope",
        Bytes::new(),
    )
    .await
    .expect_err("unknown method refused");
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    sink.stop().await;
}

#[tokio::test]
async fn status_port_serves_the_totals_as_json() {
    let sink = RunningSink::start(CountMode::Prost).await;
    let mut client = sink.client().await;
    let _ = export(&mut client, LOGS_PATH, logs_request(4))
        .await
        .expect("logs accepted");

    let status_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let status_addr = status_listener.local_addr().expect("local addr");
    let status_task = tokio::spawn(crate::status::serve(
        status_listener,
        Arc::clone(&sink.counters),
    ));
    let mut stream = TcpStream::connect(status_addr).await.expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: sink\r\n\r\n")
        .await
        .expect("write");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response).await.expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("head and body");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    let totals: serde_json::Value = serde_json::from_str(body).expect("JSON body");
    assert_eq!(totals["logs"]["items"], 4);
    assert_eq!(totals["logs"]["requests"], 1);
    assert_eq!(totals["traces"]["items"], 0);
    status_task.abort();
    sink.stop().await;
}
