//! weir against a real Prometheus server (its remote-write receiver):
//!
//! - a real `prometheus_client` application, scraped by weir's `prometheus`
//!   receiver and remote-written: values, labels, `up` and the health series
//!   as Prometheus' query API returns them, with a dead target beside it;
//! - OTLP metrics from the OpenTelemetry Python SDK -> weir -> remote write:
//!   the compatibility-spec names, cumulative values, `target_info`, and
//!   delta metrics refused.

use std::time::Duration;

use weir_tests::prometheus::{PromApp, Prometheus, QuerySample};
use weir_tests::{Addrs, Protocol, SendPlan, Weir, free_addr};

const WAIT: Duration = Duration::from_secs(60);

fn value_of(r: &[QuerySample], label: &str, want: &str) -> Option<f64> {
    r.iter()
        .find(|(l, _)| l.get(label).map(String::as_str) == Some(want))
        .map(|(_, v)| *v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scraped_app_lands_in_prometheus_with_up_and_health() {
    let dir = tempfile::tempdir().expect("tempdir");
    let prom_dir = dir.path().join("prom");
    std::fs::create_dir_all(&prom_dir).expect("mkdir");
    let prom = Prometheus::start(&prom_dir).await;
    let app = PromApp::start().await;
    let dead = free_addr();
    let addrs = Addrs::free();
    let pipeline = format!(
        r#"
settings {{ admin "{admin}"; }}
receiver "scrape" type="prometheus" {{
    interval "1s"
    job "pyapp" {{
        targets "{app}"
        labels {{ env "test"; }}
    }}
    job "dead" {{
        targets "{dead}"
    }}
}}
exporter "prom" type="remote-write" {{
    from "scrape"
    endpoint "{url}"
    retry {{ initial "50ms"; max "500ms"; max-elapsed "5s"; }}
}}
"#,
        admin = addrs.admin,
        app = app.addr,
        url = prom.write_url(),
    );
    let mut weir = Weir::with_pipeline(dir.path(), &pipeline);
    weir.wait_ready(addrs.admin, &[]).await;

    let instance = app.addr.to_string();
    let orders = prom
        .wait_for("shop_orders_total", WAIT, |r| r.len() == 2)
        .await;
    assert_eq!(value_of(&orders, "method", "card"), Some(3.0));
    assert_eq!(value_of(&orders, "method", "cash"), Some(5.0));
    let (labels, _) = &orders[0];
    assert_eq!(labels.get("job").map(String::as_str), Some("pyapp"));
    assert_eq!(labels.get("instance"), Some(&instance));
    assert_eq!(labels.get("env").map(String::as_str), Some("test"));

    let up = prom.wait_for("up", WAIT, |r| r.len() == 2).await;
    assert_eq!(value_of(&up, "job", "pyapp"), Some(1.0), "{up:?}");
    assert_eq!(value_of(&up, "job", "dead"), Some(0.0), "{up:?}");
    let scraped = prom.query("scrape_samples_scraped{job=\"pyapp\"}").await;
    assert!(
        scraped.first().is_some_and(|(_, v)| *v >= 10.0),
        "{scraped:?}"
    );
    assert_eq!(prom.query("scrape_duration_seconds").await.len(), 2);

    let temp = prom.query("shop_temperature_celsius").await;
    assert_eq!(temp.first().map(|(_, v)| *v), Some(21.5));
    // The histogram: cumulative buckets (0.05, 0.3 <= 0.5), sum, count.
    let le = prom.query("shop_latency_seconds_bucket{le=\"0.5\"}").await;
    assert_eq!(le.first().map(|(_, v)| *v), Some(2.0), "{le:?}");
    let inf = prom.query("shop_latency_seconds_bucket{le=\"+Inf\"}").await;
    assert_eq!(inf.first().map(|(_, v)| *v), Some(4.0));
    let count = prom.query("shop_latency_seconds_count").await;
    assert_eq!(count.first().map(|(_, v)| *v), Some(4.0));
    let sum = prom.query("shop_latency_seconds_sum").await;
    assert!(
        sum.first().is_some_and(|(_, v)| (*v - 3.05).abs() < 1e-9),
        "{sum:?}"
    );
    // The summary.
    let bsum = prom.query("shop_basket_bytes_sum").await;
    assert_eq!(bsum.first().map(|(_, v)| *v), Some(400.0));
    assert_eq!(
        prom.query("shop_basket_bytes_count")
            .await
            .first()
            .map(|(_, v)| *v),
        Some(2.0)
    );
    // The resource's other attributes are in target_info.
    let info = prom.query("target_info{job=\"pyapp\"}").await;
    assert_eq!(info.len(), 1, "{info:?}");
    assert_eq!(
        info[0].0.get("url_scheme").map(String::as_str),
        Some("http")
    );

    // The dead target's reason is in weir's log.
    let log = weir.log();
    assert!(
        log.contains("Scrape failed") && log.contains(&dead.to_string()),
        "{log}"
    );
    weir.stop(Duration::from_secs(15)).await;
    drop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_metrics_from_the_python_sdk_land_in_prometheus() {
    let dir = tempfile::tempdir().expect("tempdir");
    let prom_dir = dir.path().join("prom");
    std::fs::create_dir_all(&prom_dir).expect("mkdir");
    let prom = Prometheus::start(&prom_dir).await;
    let addrs = Addrs::free();
    let pipeline = format!(
        r#"
settings {{ admin "{admin}"; }}
receiver "otlp" type="otlp" {{
    grpc "{grpc}"
}}
exporter "prom" type="remote-write" {{
    from "otlp"
    endpoint "{url}"
}}
"#,
        admin = addrs.admin,
        grpc = addrs.grpc,
        url = prom.write_url(),
    );
    let mut weir = Weir::with_pipeline(dir.path(), &pipeline);
    weir.wait_ready(addrs.admin, &[addrs.grpc]).await;
    let _sent = SendPlan::new(Protocol::Grpc, addrs.grpc)
        .signals("metrics")
        .run()
        .await;

    // requests: a monotonic cumulative counter, unit "1" -> `_total` only.
    // Route /r0, ok, code 200: i in {0, 6, 12, 18} adds 40 per round, twice.
    let q = "requests_total{job=\"metrics-cumulative\",route=\"/r0\",ok=\"true\",code=\"200\"}";
    let r = prom
        .wait_for(q, WAIT, |r| r.first().is_some_and(|(_, v)| *v == 80.0))
        .await;
    assert_eq!(
        r[0].0.get("m").map(String::as_str),
        None,
        "scope attributes are not labels"
    );
    // An up-down counter: a gauge, cumulative 5 per round.
    let depth = prom
        .wait_for("queue_depth{job=\"metrics-cumulative\"}", WAIT, |r| {
            !r.is_empty()
        })
        .await;
    assert_eq!(depth[0].1, 10.0);
    // A gauge with unit Cel.
    let t = prom
        .query("temperature_celsius{job=\"metrics-cumulative\",room=\"r0\"}")
        .await;
    assert_eq!(t.first().map(|(_, v)| *v), Some(38.5));
    // An explicit histogram in ms: buckets [0, 5, 10, 100].
    let b = prom
        .query("latency_explicit_milliseconds_bucket{job=\"metrics-cumulative\",le=\"+Inf\"}")
        .await;
    assert_eq!(b.iter().map(|(_, v)| v).sum::<f64>(), 40.0, "{b:?}");
    // An exponential histogram, converted to buckets: 20 zeros per round.
    let z = prom
        .query("latency_exponential_milliseconds_count{job=\"metrics-cumulative\",route=\"/zero\"}")
        .await;
    assert_eq!(z.first().map(|(_, v)| *v), Some(40.0), "{z:?}");
    // Resource attributes -> target_info.
    let info = prom.query("target_info{job=\"metrics-cumulative\"}").await;
    assert_eq!(
        info.first()
            .and_then(|(l, _)| l.get("host_name"))
            .map(String::as_str),
        Some("test-host")
    );
    // Delta sums and histograms are refused, not mangled; cumulative ones of
    // the delta provider (up-down counters) still arrive.
    assert!(
        prom.query("requests_total{job=\"metrics-delta\"}")
            .await
            .is_empty()
    );
    assert!(
        !prom
            .query("queue_depth{job=\"metrics-delta\"}")
            .await
            .is_empty()
    );
    let log = weir.log();
    assert!(log.contains("Delta temporality"), "{log}");
    weir.stop(Duration::from_secs(15)).await;
}
