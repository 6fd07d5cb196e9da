//! The pull exporter as a node: batches in, a real HTTP scrape out.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use weir_engine::Message;
use weir_engine::channel::Input;
use weir_engine::metrics::NodeMetrics;
use weir_engine::node::ExporterContext;
use weir_engine::registry::{BuildContext, Builder as _, Built};
use weir_pdata::build::{MetricHeader, MetricTablesBuilder};
use weir_pdata::schema::MetricType;
use weir_pdata::{Batch, Signal};

use super::PrometheusExporterConfig;
use crate::prom_mapping::Options;

fn batch(value: f64, flags: u32) -> Batch {
    let mut b = MetricTablesBuilder::default();
    let r = b.resource(&[("service.name", "svc")]).unwrap();
    let s = b.scope(r, "t", "").unwrap();
    b.metric(&MetricHeader {
        scope_id: s,
        name: "orders",
        description: "Orders.",
        unit: "",
        metric_type: MetricType::Sum,
        temporality: Some(2),
        monotonic: Some(true),
    })
    .unwrap();
    b.attr("method", "card");
    b.number(0, 1_000_000, value, flags).unwrap();
    Batch::from_tables(Signal::Metrics, b.finish().unwrap())
}

#[tokio::test]
async fn serves_the_latest_values_and_forgets_stale_series() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = PrometheusExporterConfig {
        listen: weir_config::Spanned::new(port, (0, 0).into()),
        path: "/metrics".into(),
        expiration: Duration::from_secs(60),
        mapping: Options::default(),
    };
    let registry = weir_engine::metrics::MetricsRegistry::default();
    let ctx = BuildContext {
        id: "pull",
        metrics: &registry,
        base_dir: std::path::PathBuf::new(),
    };
    let Ok(Built::Exporter(exporter)) = Box::new(config).build(&ctx) else {
        panic!("build");
    };
    let (tx, rx) = mpsc::channel(8);
    let metrics = Arc::new(NodeMetrics::new("pull", "exporter", "prometheus"));
    let task = tokio::spawn(exporter.run(ExporterContext {
        id: "pull".into(),
        input: Input::new(rx, metrics.clone()),
        metrics,
    }));
    let url = format!("http://{port}/metrics");
    let scrape = || async {
        reqwest::get(&url)
            .await
            .expect("scrape")
            .text()
            .await
            .expect("body")
    };
    tx.send(Message::new(batch(3.0, 0))).await.unwrap();
    tx.send(Message::new(batch(5.0, 0))).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let text = loop {
        let t = scrape().await;
        if t.contains("orders_total{job=\"svc\",method=\"card\"} 5") {
            break t;
        }
        assert!(tokio::time::Instant::now() < deadline, "{t}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(text.contains("# TYPE orders_total counter\n"), "{text}");
    assert!(text.contains("# HELP orders_total Orders.\n"), "{text}");
    tx.send(Message::new(batch(0.0, 1))).await.unwrap();
    loop {
        let t = scrape().await;
        if !t.contains("orders_total{") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{t}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(tx);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
