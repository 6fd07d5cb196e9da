//! Shutdown drains: data acknowledged to the client and still held in a
//! batch processor is exported when weir gets SIGTERM, and weir exits 0
//! within its shutdown timeout.

use std::time::{Duration, Instant};

use weir_tests::{Addrs, Logs, Metrics, Protocol, SendPlan, Sink, Traces, Weir, assert_same};

/// The pipeline's `shutdown-timeout`.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_batch_processor_and_exits_zero() {
    let sink = Sink::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let a = Addrs::free();
    let pipeline = format!(
        r#"
settings {{ admin "{admin}"; shutdown-timeout "{timeout}s" }}
receiver "in" type="otlp" {{ grpc "{grpc}"; http "{http}" }}
processor "batch" type="batch" {{ from "in"; max-items 1000000; max-bytes "256MiB"; timeout "30s" }}
exporter "out" type="otlp" {{ from "batch"; endpoint "{sink}"; protocol "grpc" }}
"#,
        admin = a.admin,
        timeout = SHUTDOWN_TIMEOUT.as_secs(),
        grpc = a.grpc,
        http = a.http,
        sink = sink.endpoint(),
    );
    let mut weir = Weir::with_pipeline(dir.path(), &pipeline);
    weir.wait_ready(a.admin, &[a.grpc, a.http]).await;

    // Acknowledged by weir (the script fails on any refused export).
    let sent = SendPlan::new(Protocol::Grpc, a.grpc).run().await.merge(
        SendPlan::new(Protocol::Http, a.http)
            .signals("traces,logs")
            .spans(20)
            .run()
            .await,
    );

    // The batch processor holds everything: its timeout is 30 s.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let early = sink.items::<Traces>() + sink.items::<Metrics>() + sink.items::<Logs>();
    assert_eq!(
        early, 0,
        "the sink got {early} items before shutdown: nothing was held"
    );

    let asked = Instant::now();
    weir.terminate();
    let status = weir
        .wait_exit(SHUTDOWN_TIMEOUT + Duration::from_secs(5))
        .await;
    let took = asked.elapsed();
    assert!(
        status.success(),
        "weir exited with {status} after SIGTERM:\n{}",
        weir.log()
    );
    assert!(
        took < SHUTDOWN_TIMEOUT,
        "weir took {took:?} to drain, more than its shutdown timeout {SHUTDOWN_TIMEOUT:?}"
    );

    // Exported before weir exited: the sink already has everything.
    assert_same::<Traces>(&sent.traces, &sink.received::<Traces>());
    assert_same::<Metrics>(&sent.metrics, &sink.received::<Metrics>());
    assert_same::<Logs>(&sent.logs, &sink.received::<Logs>());
}
