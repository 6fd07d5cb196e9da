//! Delivery guarantees under faults, end to end: a real `weir` process, a
//! real gRPC OTLP client (tonic, the generated collector client) whose
//! every acknowledged record is remembered, and a real OTLP/gRPC backend
//! that is down, comes back, or is slow. Everything on loopback; every
//! wait bounded. See `docs/guarantees.md`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use weir_tests::process::metric_value;
use weir_tests::{Addrs, Logs, Sink, Weir, free_addr};

/// Records per request.
const PER_REQUEST: usize = 5;

fn request(first: usize, pad: usize) -> ExportLogsServiceRequest {
    let records = (first..first + PER_REQUEST)
        .map(|i| LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(format!(
                    "record-{i:08} {}",
                    "x".repeat(pad)
                ))),
            }),
            ..Default::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// The record numbers in what the backend got, with how often each came.
fn received(sink: &Sink) -> BTreeMap<usize, usize> {
    let mut out = BTreeMap::new();
    for req in sink.received::<Logs>() {
        for rl in req.resource_logs {
            for sl in rl.scope_logs {
                for r in sl.log_records {
                    if let Some(any_value::Value::StringValue(s)) = r.body.and_then(|b| b.value) {
                        let n: usize = s[7..15].parse().expect("a record number");
                        *out.entry(n).or_insert(0) += 1;
                    }
                }
            }
        }
    }
    out
}

/// Sends `requests` requests one after the other; returns the first
/// record number of each the server acknowledged.
async fn send(addr: SocketAddr, start: usize, requests: usize, pad: usize) -> Vec<usize> {
    let mut client = LogsServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connect to weir");
    let mut acked = Vec::new();
    for k in 0..requests {
        let first = start + k * PER_REQUEST;
        if client.export(request(first, pad)).await.is_ok() {
            acked.push(first);
        }
    }
    acked
}

fn pipeline(a: &Addrs, backend: SocketAddr, extra: &str) -> String {
    format!(
        r#"
settings {{ admin "{admin}"; shutdown-timeout "5s" }}
receiver "in" type="otlp" {{ grpc "{grpc}"; ack "delivered"; backpressure-wait "2s" }}
exporter "out" type="otlp" {{
    from "in"
    endpoint "http://{backend}"
    retry {{ initial "20ms"; max "200ms"; max-elapsed "500ms" }}
    queue {{ path "queue"; max-size "16MiB"; segment-size "64KiB"; fsync "always" }}
    {extra}
}}
"#,
        admin = a.admin,
        grpc = a.grpc,
    )
}

async fn wait_for(sink: &Sink, acked: &[usize], timeout: Duration) -> BTreeMap<usize, usize> {
    let deadline = Instant::now() + timeout;
    loop {
        let got = received(sink);
        let all = acked
            .iter()
            .all(|first| (*first..first + PER_REQUEST).all(|n| got.contains_key(&n)));
        if all {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "the backend has {} of {} acknowledged records after {timeout:?}",
            got.len(),
            acked.len() * PER_REQUEST
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn segments(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "wal"));
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_down_then_back_delivers_every_record_exactly_once() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let a = Addrs::free();
    let backend = free_addr(); // nothing listens yet: the backend is down
    let mut weir = Weir::with_pipeline(dir.path(), &pipeline(&a, backend, ""));
    weir.wait_ready(a.admin, &[a.grpc]).await;

    // Acknowledged while the backend is down: the queue has them on disk.
    let acked = send(a.grpc, 0, 100, 50).await;
    assert_eq!(
        acked.len(),
        100,
        "every request is acknowledged once queued"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    weir.assert_running();

    let sink = Sink::start_on(backend, Duration::ZERO).await;
    let got = wait_for(&sink, &acked, Duration::from_secs(60)).await;
    assert_eq!(got.len(), 500, "exactly the records sent");
    let dups: usize = got.values().map(|c| c - 1).sum();
    assert_eq!(dups, 0, "no duplicates without a crash");
    let metrics = weir.metrics(a.admin).await;
    let retries = metric_value(&metrics, "weir_queue_retries_total", &[("node", "out")]);
    assert!(
        retries.is_some_and(|r| r >= 1.0),
        "the queue retried:\n{metrics}"
    );
    weir.stop(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_a_half_full_queue_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let a = Addrs::free();
    let backend = free_addr();
    let text = pipeline(&a, backend, "");
    let mut weir = Weir::with_pipeline(dir.path(), &text);
    weir.wait_ready(a.admin, &[a.grpc]).await;
    // ~8 MiB of a 16 MiB queue.
    let acked = send(a.grpc, 0, 300, 5_500).await;
    assert_eq!(acked.len(), 300);
    let on_disk: u64 = segments(&dir.path().join("queue"))
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    assert!(
        on_disk > 6 << 20,
        "the queue is about half full: {on_disk} bytes"
    );
    weir.kill_hard();

    // Restart; the backend comes back.
    let mut weir = Weir::with_pipeline(dir.path(), &text);
    weir.wait_ready(a.admin, &[a.grpc]).await;
    let sink = Sink::start_on(backend, Duration::ZERO).await;
    let got = wait_for(&sink, &acked, Duration::from_secs(90)).await;
    let dups: usize = got.values().map(|c| c - 1).sum();
    let unacked = got.len() - acked.len() * PER_REQUEST;
    println!(
        "kill -9: {} acknowledged records, {} received, {dups} duplicates, {unacked} never acknowledged",
        acked.len() * PER_REQUEST,
        got.len()
    );
    assert_eq!(unacked, 0, "only acknowledged records were queued");
    let metrics = weir.metrics(a.admin).await;
    assert_eq!(
        metric_value(&metrics, "weir_queue_replayed_records", &[("node", "out")]),
        Some(300.0),
        "the restart found every queued batch:\n{metrics}"
    );
    weir.stop(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_segment_is_reported_and_skipped_and_the_rest_arrives() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let a = Addrs::free();
    let backend = free_addr();
    let text = pipeline(&a, backend, "");
    let mut weir = Weir::with_pipeline(dir.path(), &text);
    weir.wait_ready(a.admin, &[a.grpc]).await;
    let acked = send(a.grpc, 0, 40, 50).await;
    assert_eq!(acked.len(), 40);
    weir.kill_hard();

    // Flip a byte in the middle of the first segment (one record's
    // payload), and cut the last segment in the middle of its last record.
    let segs = segments(&dir.path().join("queue"));
    let first = &segs[0];
    let mut bytes = std::fs::read(first).expect("read a segment");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5a;
    std::fs::write(first, &bytes).expect("write a segment");
    let last = segs.last().expect("a segment");
    let len = std::fs::metadata(last).expect("a segment").len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(last)
        .expect("open");
    f.set_len(len - 20).expect("truncate");
    drop(f);

    let mut weir = Weir::with_pipeline(dir.path(), &text);
    weir.wait_ready(a.admin, &[a.grpc]).await;
    let sink = Sink::start_on(backend, Duration::ZERO).await;
    // 40 requests = 40 records in the log; two are damaged.
    let deadline = Instant::now() + Duration::from_secs(60);
    let got = loop {
        let got = received(&sink);
        if got.len() >= 38 * PER_REQUEST {
            break got;
        }
        assert!(
            Instant::now() < deadline,
            "only {} records arrived",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_after = received(&sink);
    assert_eq!(
        got_after.len(),
        38 * PER_REQUEST,
        "exactly the two damaged batches are lost: {got:?}"
    );
    let log = weir.log();
    assert!(
        log.contains("damaged records") || log.contains("Damaged record"),
        "the damage is reported:\n{log}"
    );
    let metrics = weir.metrics(a.admin).await;
    let corrupted = metric_value(
        &metrics,
        "weir_queue_corrupted_records_total",
        &[("node", "out")],
    );
    assert!(
        corrupted.is_some_and(|c| c >= 1.0),
        "and counted:\n{metrics}"
    );
    weir.stop(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_times_overload_keeps_memory_bounded_with_push_back_and_loses_nothing_acked() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let a = Addrs::free();
    // The backend takes 40 ms per request: it drains 25 requests/s.
    let sink = Sink::start_on(
        "127.0.0.1:0".parse().expect("addr"),
        Duration::from_millis(40),
    )
    .await;
    let limit_mib = 8;
    let text = format!(
        r#"
settings {{ admin "{admin}"; shutdown-timeout "30s"; memory-limit "{limit_mib}MiB"; channel-capacity 100000 }}
receiver "in" type="otlp" {{ grpc "{grpc}"; backpressure-wait "5ms"; max-request-size "8MiB" }}
exporter "out" type="otlp" {{ from "in"; endpoint "{sink}" }}
"#,
        admin = a.admin,
        grpc = a.grpc,
        sink = sink.endpoint(),
    );
    let mut weir = Weir::with_pipeline(dir.path(), &text);
    weir.wait_ready(a.admin, &[a.grpc]).await;
    let (_, idle) = weir.memory();

    // 75 requests/s of 5 x 50 KiB = 3x what the backend drains, for 4 s.
    let offered = 300;
    let mut tasks = Vec::new();
    for c in 0..3 {
        let addr = a.grpc;
        tasks.push(tokio::spawn(async move {
            let mut client = LogsServiceClient::connect(format!("http://{addr}"))
                .await
                .expect("connect");
            let mut acked = Vec::new();
            let mut refused = 0;
            let mut tick = tokio::time::interval(Duration::from_millis(40));
            for k in 0..offered / 3 {
                let _ = tick.tick().await;
                let first = (c * offered / 3 + k) * PER_REQUEST;
                match client.export(request(first, 50 << 10)).await {
                    Ok(_) => acked.push(first),
                    Err(s) => {
                        assert_eq!(s.code(), tonic::Code::ResourceExhausted, "{s:?}");
                        refused += 1;
                    }
                }
            }
            (acked, refused)
        }));
    }
    let mut peak = 0;
    let mut acked = Vec::new();
    let mut refused = 0;
    let sampler = async {
        loop {
            peak = peak.max(weir.memory().1);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let joined = async {
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("a client task"));
        }
        out
    };
    let results = tokio::select! {
        r = joined => r,
        () = sampler => unreachable!(),
    };
    for (a, r) in results {
        acked.extend(a);
        refused += r;
    }
    let growth = peak.saturating_sub(idle);
    println!(
        "overload: offered {offered}, acknowledged {}, refused {refused}; RSS idle {} MiB, peak {} MiB, growth {} MiB for a {limit_mib} MiB limit",
        acked.len(),
        idle >> 20,
        peak >> 20,
        growth >> 20
    );
    assert!(refused > 0, "clients were pushed back");
    assert!(
        growth < 3 * (limit_mib << 20),
        "RSS grew by {} MiB, more than 3x the {limit_mib} MiB limit",
        growth >> 20
    );
    // Nothing acknowledged is lost.
    let got = wait_for(&sink, &acked, Duration::from_secs(60)).await;
    assert_eq!(got.len(), acked.len() * PER_REQUEST);
    weir.stop(Duration::from_secs(30)).await;
}
