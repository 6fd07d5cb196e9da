//! Bad input keeps serving: against one running weir process, malformed,
//! oversized and compressed-bomb requests over gRPC and HTTP get their
//! errors, and afterwards the Python SDK's valid requests still go through.
//! The sink must end with exactly the valid data: nothing accepted before
//! the bad requests is lost and nothing from them leaks through.

use std::time::Duration;

use bytes::Bytes;
use tonic::Code;
use weir_tests::raw::{LOGS_SERVICE, METRICS_SERVICE, TRACE_SERVICE, grpc_export, gzip_bomb};
use weir_tests::{Addrs, Logs, Metrics, Protocol, SendPlan, Sink, Traces, Weir, assert_same};

const WAIT: Duration = Duration::from_secs(30);
/// The receiver's `max-request-size` in this test.
const LIMIT: usize = 1 << 20;

/// A gzip bomb smaller than [`LIMIT`] that inflates to 100 times it: only
/// the limit on the decompressed size can stop it.
fn bomb() -> Vec<u8> {
    let bomb = gzip_bomb(100 * LIMIT);
    assert!(
        bomb.len() < LIMIT,
        "the bomb is {} bytes, over the limit",
        bomb.len()
    );
    bomb
}

/// Bytes that are not a protobuf message: field number 0 is invalid.
fn garbage() -> Bytes {
    Bytes::from_static(b"\x00\xff\xff\xff\xffnot protobuf at all\x07")
}

async fn expect_grpc(a: &Addrs, service: &str, body: Bytes, gzip: bool, want: &[Code], what: &str) {
    match grpc_export(a.grpc, service, body, gzip).await {
        Ok(_) => panic!("{what}: weir accepted it"),
        Err(status) => assert!(
            want.contains(&status.code()),
            "{what}: weir answered {:?} ({}), expected one of {want:?}",
            status.code(),
            status.message()
        ),
    }
}

/// A gRPC message sent as is with HTTP/2 (no client-side framing help), so
/// a pre-compressed body can be flagged as compressed.
async fn grpc_precompressed(a: &Addrs, compressed: Vec<u8>) -> (u16, Option<String>) {
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP/2 client");
    let mut frame = Vec::with_capacity(compressed.len() + 5);
    frame.push(1); // compressed
    frame.extend_from_slice(&(compressed.len() as u32).to_be_bytes());
    frame.extend_from_slice(&compressed);
    let response = client
        .post(format!("http://{}/{TRACE_SERVICE}/Export", a.grpc))
        .header("content-type", "application/grpc")
        .header("grpc-encoding", "gzip")
        .header("te", "trailers")
        .body(frame)
        .send()
        .await
        .expect("weir answers an HTTP/2 gRPC request");
    let grpc_status = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (response.status().as_u16(), grpc_status)
}

async fn expect_http(
    a: &Addrs,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    want: u16,
    what: &str,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client");
    let mut request = client.post(format!("http://{}{path}", a.http)).body(body);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(status, want, "{what}: weir answered {status}: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_and_weir_keeps_serving() {
    let sink = Sink::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let a = Addrs::free();
    let pipeline = format!(
        r#"
settings {{ admin "{admin}"; shutdown-timeout "10s" }}
receiver "in" type="otlp" {{ grpc "{grpc}"; http "{http}"; max-request-size "{limit}" }}
processor "batch" type="batch" {{ from "in"; timeout "50ms" }}
exporter "out" type="otlp" {{ from "batch"; endpoint "{sink}"; protocol "grpc" }}
"#,
        admin = a.admin,
        grpc = a.grpc,
        http = a.http,
        limit = LIMIT,
        sink = sink.endpoint(),
    );
    let mut weir = Weir::with_pipeline(dir.path(), &pipeline);
    weir.wait_ready(a.admin, &[a.grpc, a.http]).await;

    // Valid data first: it must survive what follows.
    let before = SendPlan::new(Protocol::Grpc, a.grpc).spans(20).run().await;
    let _ = sink.wait_items::<Traces>(before.spans(), WAIT).await;

    // gRPC.
    for service in [TRACE_SERVICE, METRICS_SERVICE, LOGS_SERVICE] {
        let what = format!("gRPC garbage to {service}");
        expect_grpc(
            &a,
            service,
            garbage(),
            false,
            &[Code::InvalidArgument],
            &what,
        )
        .await;
    }
    expect_grpc(
        &a,
        TRACE_SERVICE,
        garbage(),
        true,
        &[Code::InvalidArgument],
        "gzipped gRPC garbage",
    )
    .await;
    let truncated = {
        let mut b = before.traces[0].clone();
        let bytes = prost::Message::encode_to_vec(&std::mem::take(&mut b));
        Bytes::from(bytes[..bytes.len() / 2].to_vec())
    };
    expect_grpc(
        &a,
        TRACE_SERVICE,
        truncated,
        false,
        &[Code::InvalidArgument],
        "truncated gRPC request",
    )
    .await;
    let oversized = Bytes::from(vec![0u8; LIMIT + 1024]);
    expect_grpc(
        &a,
        TRACE_SERVICE,
        oversized,
        false,
        &[Code::OutOfRange],
        "oversized gRPC request",
    )
    .await;
    let (http_status, grpc_status) = grpc_precompressed(&a, bomb()).await;
    assert_eq!(http_status, 200, "gRPC gzip bomb: HTTP status");
    assert_eq!(
        grpc_status.as_deref(),
        Some("8"),
        "gRPC gzip bomb: expected RESOURCE_EXHAUSTED (8)"
    );
    weir.assert_running();

    // HTTP.
    let proto = [("content-type", "application/x-protobuf")];
    let json = [("content-type", "application/json")];
    expect_http(
        &a,
        "/v1/traces",
        &proto,
        garbage().to_vec(),
        400,
        "HTTP protobuf garbage",
    )
    .await;
    expect_http(
        &a,
        "/v1/metrics",
        &proto,
        garbage().to_vec(),
        400,
        "HTTP protobuf garbage",
    )
    .await;
    expect_http(
        &a,
        "/v1/logs",
        &proto,
        garbage().to_vec(),
        400,
        "HTTP protobuf garbage",
    )
    .await;
    expect_http(
        &a,
        "/v1/traces",
        &json,
        b"{\"resourceSpans\": [".to_vec(),
        400,
        "invalid JSON",
    )
    .await;
    expect_http(
        &a,
        "/v1/logs",
        &json,
        b"[1, 2, 3]".to_vec(),
        400,
        "JSON of the wrong shape",
    )
    .await;
    expect_http(
        &a,
        "/v1/traces",
        &proto,
        vec![0u8; LIMIT + 1024],
        413,
        "oversized HTTP body",
    )
    .await;
    let gzip_proto = [
        ("content-type", "application/x-protobuf"),
        ("content-encoding", "gzip"),
    ];
    expect_http(&a, "/v1/traces", &gzip_proto, bomb(), 413, "HTTP gzip bomb").await;
    let mut corrupt = gzip_bomb(1000);
    let n = corrupt.len();
    corrupt[n - 8] ^= 0xff; // CRC mismatch
    expect_http(&a, "/v1/traces", &gzip_proto, corrupt, 400, "corrupt gzip").await;
    expect_http(
        &a,
        "/v1/traces",
        &[("content-type", "text/plain")],
        b"hello".to_vec(),
        415,
        "wrong content type",
    )
    .await;
    weir.assert_running();

    // Valid data after: the Python SDK over HTTP.
    let after = SendPlan::new(Protocol::Http, a.http)
        .gzip()
        .spans(20)
        .run()
        .await;
    let all = before.merge(after);
    let traces = sink.wait_items::<Traces>(all.spans(), WAIT).await;
    let metrics = sink.wait_items::<Metrics>(all.points(), WAIT).await;
    let logs = sink.wait_items::<Logs>(all.log_records(), WAIT).await;
    assert_same::<Traces>(&all.traces, &traces);
    assert_same::<Metrics>(&all.metrics, &metrics);
    assert_same::<Logs>(&all.logs, &logs);
    weir.stop(Duration::from_secs(15)).await;
}
