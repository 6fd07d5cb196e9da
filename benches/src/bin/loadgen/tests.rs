//! The load generator against the real sink on a loopback socket.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use weir_pdata::Signal;

use crate::count::CountMode;
use crate::run::{LoadError, LoadPlan, RequestPool, run};
use crate::server::{Counters, serve};
use crate::traces::{TraceShape, encoded_pool};

fn plan(endpoint: String) -> LoadPlan {
    LoadPlan {
        endpoint,
        concurrency: 4,
        connections: 2,
        duration: Duration::from_secs(10),
        requests: Some(20),
        requests_per_second: None,
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
    }
}

async fn start_sink() -> (String, Arc<Counters>, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let counters = Arc::new(Counters::default());
    let (stop, stopped) = oneshot::channel::<()>();
    drop(tokio::spawn(serve(
        listener,
        Arc::clone(&counters),
        CountMode::Auto,
        async move {
            let _ = stopped.await;
        },
    )));
    (format!("http://{addr}"), counters, stop)
}

fn pool(spans: usize, count: usize) -> RequestPool {
    let shape = TraceShape {
        spans,
        attributes: 5,
    };
    RequestPool {
        requests: encoded_pool(shape, count).into(),
        items_per_request: spans as u64,
    }
}

#[tokio::test]
async fn sends_exactly_the_requested_load_and_the_sink_counts_it() {
    let (endpoint, counters, stop) = start_sink().await;
    let mut stats = run(plan(endpoint), pool(50, 3)).await.expect("load ran");
    assert_eq!(stats.requests_ok, 20);
    assert_eq!(stats.items_ok, 1000);
    assert!(stats.errors.is_empty(), "{:?}", stats.errors);
    assert_eq!(stats.latencies_us.len(), 20);
    assert!(stats.latency_ms(0.5) <= stats.latency_ms(1.0));
    let traces = counters.signal(Signal::Traces);
    assert_eq!(traces.items.load(Ordering::Relaxed), 1000);
    assert_eq!(traces.requests.load(Ordering::Relaxed), 20);
    assert_eq!(counters.snapshot()["traces"]["items"], 1000);
    let _ = stop.send(());
}

#[tokio::test]
async fn a_rate_cap_spaces_the_requests() {
    let (endpoint, counters, stop) = start_sink().await;
    let mut load = plan(endpoint);
    // Ten requests at 40 requests/s: the last is due 225 ms after the first.
    load.requests = Some(10);
    load.requests_per_second = Some(40.0);
    let stats = run(load, pool(10, 2)).await.expect("load ran");
    assert_eq!(stats.requests_ok, 10);
    assert!(
        stats.elapsed >= Duration::from_millis(220),
        "{:?}",
        stats.elapsed
    );
    assert_eq!(
        counters
            .signal(Signal::Traces)
            .items
            .load(Ordering::Relaxed),
        100
    );
    let _ = stop.send(());
}

#[tokio::test]
async fn refused_requests_are_counted_by_status_code() {
    let (endpoint, counters, stop) = start_sink().await;
    let mut load = plan(endpoint);
    load.requests = Some(5);
    let garbage = RequestPool {
        requests: vec![Bytes::from_static(&[0x0a, 0x7f, 1])].into(),
        items_per_request: 1,
    };
    let stats = run(load, garbage).await.expect("load ran");
    assert_eq!(stats.requests_ok, 0);
    assert_eq!(stats.errors.get("InvalidArgument"), Some(&5));
    assert_eq!(
        counters
            .signal(Signal::Traces)
            .rejected
            .load(Ordering::Relaxed),
        5
    );
    let _ = stop.send(());
}

#[tokio::test]
async fn an_unreachable_endpoint_is_an_error() {
    // Bind then drop a listener: nothing listens on that port any more.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("local addr");
    let mut load = plan(format!("http://{addr}"));
    load.connect_timeout = Duration::from_millis(300);
    let error = run(load, pool(1, 1)).await.expect_err("nothing listens");
    assert!(matches!(error, LoadError::Connect { .. }), "{error:?}");
}
