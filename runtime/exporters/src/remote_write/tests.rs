//! The remote-write exporter against a fake write endpoint: the wire format
//! and headers, sharding that keeps each series in order, retries on 5xx
//! and 429 (with Retry-After), no retry on other 4xx.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message as _;
use weir_pdata::build::{MetricHeader, MetricTablesBuilder};
use weir_pdata::schema::MetricType;
use weir_pdata::{Batch, Signal};

use super::proto::WriteRequest;
use super::{RemoteWriteConfig, RemoteWriteExporter};
use crate::ExportError;

#[derive(Clone, Default)]
struct Endpoint(Arc<Mutex<Script>>);

#[derive(Default)]
struct Script {
    answers: VecDeque<(u16, Option<&'static str>)>,
    received: Vec<(Instant, http::HeaderMap, WriteRequest)>,
}

async fn endpoint() -> (Endpoint, SocketAddr) {
    use axum::extract::State;
    use axum::response::IntoResponse;
    let ep = Endpoint::default();
    async fn write(
        State(e): State<Endpoint>,
        headers: http::HeaderMap,
        body: Bytes,
    ) -> axum::response::Response {
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&body)
            .expect("snappy block format");
        let req = WriteRequest::decode(raw.as_slice()).expect("a WriteRequest");
        let mut s = e.0.lock().expect("lock");
        s.received.push((Instant::now(), headers, req));
        let (status, retry_after) = s.answers.pop_front().unwrap_or((204, None));
        let mut resp = (
            http::StatusCode::from_u16(status).expect("status"),
            "out of order sample",
        )
            .into_response();
        if let Some(ra) = retry_after {
            let _ = resp.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static(ra),
            );
        }
        resp
    }
    let app = axum::Router::new()
        .route("/api/v1/write", axum::routing::post(write))
        .with_state(ep.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let _server = tokio::spawn(async move { axum::serve(listener, app).await });
    (ep, addr)
}

impl Endpoint {
    fn answer(&self, status: u16, retry_after: Option<&'static str>) {
        self.0
            .lock()
            .expect("lock")
            .answers
            .push_back((status, retry_after));
    }
    fn received(&self) -> Vec<(Instant, http::HeaderMap, WriteRequest)> {
        let s = self.0.lock().expect("lock");
        s.received
            .iter()
            .map(|(t, h, r)| (*t, h.clone(), r.clone()))
            .collect()
    }
}

fn config(addr: SocketAddr) -> RemoteWriteConfig {
    let mut c = RemoteWriteConfig::new(format!("http://{addr}/api/v1/write"));
    c.retry.initial = Duration::from_millis(10);
    c.retry.max = Duration::from_millis(50);
    c.retry.max_elapsed = Duration::from_secs(10);
    c
}

/// `series` gauges `g{i="<n>"}` of `points` samples each, in time order.
fn batch(series: usize, points: usize) -> Batch {
    let mut b = MetricTablesBuilder::default();
    let r = b
        .resource(&[("service.name", "svc"), ("service.instance.id", "i-1")])
        .unwrap();
    let s = b.scope(r, "t", "").unwrap();
    b.metric(&MetricHeader {
        scope_id: s,
        name: "g",
        description: "",
        unit: "",
        metric_type: MetricType::Gauge,
        temporality: None,
        monotonic: None,
    })
    .unwrap();
    for p in 0..points {
        for i in 0..series {
            b.attr("i", &i.to_string());
            b.number(0, (p as u64 + 1) * 1_000_000, p as f64, 0)
                .unwrap();
        }
    }
    Batch::from_tables(Signal::Metrics, b.finish().unwrap())
}

fn samples(reqs: &[(Instant, http::HeaderMap, WriteRequest)]) -> BTreeMap<String, Vec<(i64, f64)>> {
    let mut out: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for (_, _, r) in reqs {
        for ts in &r.timeseries {
            let key: Vec<String> = ts
                .labels
                .iter()
                .map(|l| format!("{}={}", l.name, l.value))
                .collect();
            for s in &ts.samples {
                out.entry(key.join(","))
                    .or_default()
                    .push((s.timestamp, s.value));
            }
        }
    }
    out
}

#[tokio::test]
async fn sends_sharded_snappy_protobuf_with_the_version_headers() {
    let (ep, addr) = endpoint().await;
    let mut c = config(addr);
    c.shards = 3;
    c.max_samples_per_send = 7;
    let mut e = RemoteWriteExporter::new("rw", c).unwrap();
    let written = e.export(&batch(10, 5)).await.unwrap();
    assert_eq!(written, 50);
    let got = ep.received();
    assert!(
        got.len() >= 8,
        "{} requests for 50 samples of at most 7",
        got.len()
    );
    for (_, h, r) in &got {
        assert_eq!(h["content-encoding"], "snappy");
        assert_eq!(h["content-type"], "application/x-protobuf");
        assert_eq!(h["x-prometheus-remote-write-version"], "0.1.0");
        assert!(r.timeseries.iter().map(|t| t.samples.len()).sum::<usize>() <= 7);
        for t in &r.timeseries {
            let names: Vec<&str> = t.labels.iter().map(|l| l.name.as_str()).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            assert_eq!(names, sorted, "labels sorted");
        }
    }
    let series = samples(&got);
    assert_eq!(series.len(), 10);
    for (k, s) in &series {
        assert!(
            k.contains("__name__=g") && k.contains("job=svc") && k.contains("instance=i-1"),
            "{k}"
        );
        // Each series' samples arrive in time order: one shard per series.
        assert_eq!(
            s.iter().map(|x| x.0).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5],
            "{k}"
        );
    }
}

#[tokio::test]
async fn retries_5xx_and_429_honouring_retry_after() {
    let (ep, addr) = endpoint().await;
    ep.answer(503, None);
    ep.answer(429, Some("1"));
    let mut c = config(addr);
    c.shards = 1;
    let mut e = RemoteWriteExporter::new("rw", c).unwrap();
    assert_eq!(e.export(&batch(2, 1)).await.unwrap(), 2);
    let got = ep.received();
    assert_eq!(got.len(), 3);
    assert!(
        got[2].0 - got[1].0 >= Duration::from_millis(950),
        "Retry-After: 1 was not honoured"
    );
    assert_eq!(samples(&got[2..]).len(), 2);
}

#[tokio::test]
async fn other_4xx_fail_at_once() {
    let (ep, addr) = endpoint().await;
    ep.answer(400, None);
    let mut c = config(addr);
    c.shards = 1;
    let mut e = RemoteWriteExporter::new("rw", c).unwrap();
    let err = e.export(&batch(1, 1)).await.unwrap_err();
    assert!(
        matches!(err, ExportError::RemoteWriteStatus { status, .. } if status == 400),
        "{err}"
    );
    assert!(err.to_string().contains("out of order sample"), "{err}");
    assert_eq!(ep.received().len(), 1);
    assert!(!e.first_time_for_test(&err), "a cause is logged once");
}

#[tokio::test]
async fn a_dead_endpoint_exhausts_retries() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut c = config(addr);
    c.retry.max_elapsed = Duration::from_millis(200);
    let mut e = RemoteWriteExporter::new("rw", c).unwrap();
    let err = e.export(&batch(1, 1)).await.unwrap_err();
    assert!(matches!(err, ExportError::RetriesExhausted { .. }), "{err}");
}
