//! Round trip through a real weir process: the OpenTelemetry Python SDK sends
//! traces, metrics and logs to weir's OTLP receiver (gRPC, then HTTP), weir
//! batches them and exports them over OTLP/gRPC to a sink and to its Parquet
//! store. What the sink received must equal what the SDK sent, field by
//! field; the store must hold every span, log record and data point.

use std::time::Duration;

use weir_tests::process::metric_value;
use weir_tests::{
    Addrs, Logs, Metrics, Protocol, SendPlan, Sink, Traces, Weir, assert_same, query_u64,
};

/// How long the sink may wait for weir's exports.
const WAIT: Duration = Duration::from_secs(30);
/// How long weir may take to drain and exit after SIGTERM.
const STOP: Duration = Duration::from_secs(15);

async fn round_trip(protocol: Protocol) {
    let sink = Sink::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = dir.path().join("weir-data");
    let a = Addrs::free();
    let pipeline = format!(
        r#"
settings {{ admin "{admin}"; shutdown-timeout "10s" }}
receiver "in" type="otlp" {{ grpc "{grpc}"; http "{http}" }}
processor "batch" type="batch" {{ from "in"; max-items 300; timeout "500ms" }}
exporter "out" type="otlp" {{ from "batch"; endpoint "{sink}"; protocol "grpc" }}
exporter "store" type="parquet" {{ from "batch"; path "{store}" }}
"#,
        admin = a.admin,
        grpc = a.grpc,
        http = a.http,
        sink = sink.endpoint(),
        store = store.display(),
    );
    let mut weir = Weir::with_pipeline(dir.path(), &pipeline);
    weir.wait_ready(a.admin, &[a.grpc, a.http]).await;

    let plan = match protocol {
        Protocol::Grpc => SendPlan::new(protocol, a.grpc),
        Protocol::Http => SendPlan::new(protocol, a.http).gzip(),
    };
    let sent = plan.run().await;
    assert!(sent.spans() >= 400 && sent.points() > 50 && sent.log_records() > 10);

    let traces = sink.wait_items::<Traces>(sent.spans(), WAIT).await;
    let metrics = sink.wait_items::<Metrics>(sent.points(), WAIT).await;
    let logs = sink.wait_items::<Logs>(sent.log_records(), WAIT).await;
    assert_same::<Traces>(&sent.traces, &traces);
    assert_same::<Metrics>(&sent.metrics, &metrics);
    assert_same::<Logs>(&sent.logs, &logs);
    // Batching merged the SDK's requests: fewer, larger requests came out.
    assert!(
        traces.len() < sent.traces.len(),
        "weir exported {} trace requests for the SDK's {}: the batch processor merged nothing",
        traces.len(),
        sent.traces.len()
    );

    // Self-metrics count every item: passed on by the receiver, taken in by
    // each exporter.
    let text = weir.metrics(a.admin).await;
    let total = (sent.spans() + sent.points() + sent.log_records()) as f64;
    for (series, node, kind) in [
        ("weir_node_items_out_total", "in", "receiver"),
        ("weir_node_items_in_total", "out", "exporter"),
        ("weir_node_items_in_total", "store", "exporter"),
    ] {
        let value = metric_value(&text, series, &[("node", node), ("kind", kind)]);
        assert_eq!(
            value,
            Some(total),
            "{series} of {node} in /metrics:\n{text}"
        );
    }

    weir.stop(STOP).await;
    // Nothing more (no duplicate) arrived while shutting down.
    assert_same::<Traces>(&sent.traces, &sink.received::<Traces>());
    assert_same::<Metrics>(&sent.metrics, &sink.received::<Metrics>());
    assert_same::<Logs>(&sent.logs, &sink.received::<Logs>());

    let stored = |table: &str| query_u64(&store, &format!("SELECT count(*) FROM {table}"));
    assert_eq!(
        stored("spans"),
        sent.spans() as u64,
        "spans in the Parquet store"
    );
    assert_eq!(
        stored("logs"),
        sent.log_records() as u64,
        "logs in the Parquet store"
    );
    assert_eq!(
        stored("metrics"),
        sent.points() as u64,
        "data points in the Parquet store"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_round_trip_over_grpc() {
    round_trip(Protocol::Grpc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_round_trip_over_http_protobuf_gzip() {
    round_trip(Protocol::Http).await;
}
