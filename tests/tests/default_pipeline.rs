//! `weir run` with no file runs the built-in default pipeline: OTLP on
//! 127.0.0.1:4317 (gRPC) and 4318 (HTTP), admin on 8888, a Parquet store in
//! `./weir-data`. Spans sent by the Python SDK are found by `weir query`
//! after weir stops.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use weir_tests::process::{parse_table, weir_output};
use weir_tests::{Protocol, SendPlan, Weir};

/// The default pipeline's fixed addresses.
const GRPC: &str = "127.0.0.1:4317";
const HTTP: &str = "127.0.0.1:4318";
const ADMIN: &str = "127.0.0.1:8888";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("a literal socket address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_pipeline_stores_what_it_receives() {
    for a in [GRPC, HTTP, ADMIN] {
        if let Err(e) = TcpListener::bind(a) {
            panic!(
                "{a} is not free ({e}): this test runs `weir run` with the default pipeline, \
                 which needs 127.0.0.1:4317, 4318 and 8888. Stop whatever listens there \
                 (`ss -ltnp`) and run the tests again."
            );
        }
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut weir = Weir::start(dir.path(), &[]);
    weir.wait_ready(addr(ADMIN), &[addr(GRPC), addr(HTTP)])
        .await;

    let traces = SendPlan::new(Protocol::Grpc, GRPC)
        .signals("traces")
        .spans(50)
        .run()
        .await;
    let logs = SendPlan::new(Protocol::Http, HTTP)
        .signals("logs")
        .run()
        .await;
    weir.stop(Duration::from_secs(15)).await;
    assert!(
        dir.path().join("weir-data").is_dir(),
        "no ./weir-data in weir's working directory after it stopped"
    );

    let count = |table: &str| -> u64 {
        let sql = format!("SELECT count(*) FROM {table}");
        let out = weir_output(dir.path(), &["query", &sql]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "weir query {sql:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        match parse_table(&stdout).as_slice() {
            [row] if row.len() == 1 => row[0].parse().expect("a count"),
            rows => panic!("weir query {sql:?} printed {rows:?}"),
        }
    };
    assert_eq!(count("spans"), traces.spans() as u64);
    assert_eq!(count("logs"), logs.log_records() as u64);
    // The span names the SDK used are there.
    let out = weir_output(
        dir.path(),
        &[
            "query",
            "SELECT DISTINCT name FROM spans WHERE name = 'remote-child'",
        ],
    );
    let rows = parse_table(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(rows, vec![vec!["remote-child".to_string()]]);
}
