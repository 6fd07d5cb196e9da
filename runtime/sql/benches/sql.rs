//! The SQL processor's cost, on batches of 1000 spans of an HTTP service
//! (8 routes, 5 services, ~2% errors, 4 attributes a span).
//!
//! - `decode+encode` is the floor: a pipeline that reads columns at all
//!   decodes the OTLP bytes once and encodes once on export;
//! - `execute: SELECT * (1 span)` is the fixed cost of running a planned
//!   query on a batch (DataFusion's per-execution overhead);
//! - `per batch: filter` / `per batch: attr_set` are a whole per-batch
//!   transform (view, execution, result -> records) of 1000 spans, OTLP in
//!   and out, to compare with `decode+encode`;
//! - `re-plan per batch: filter` is the same query planned for every batch,
//!   which is what the processor avoids;
//! - `windowed RED: 100 batches` runs the spanmetrics-style query of
//!   `pipelines/red-metrics.kdl` through a running node: 100 000 spans per
//!   iteration (report spans/s with the throughput line).
//!
//! Run: `cargo bench -p weir-sql --bench sql`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_main};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message as _;
use tokio::sync::mpsc;
use weir_engine::Message;
use weir_engine::channel::{Input, Output};
use weir_engine::metrics::{MetricsRegistry, NodeMetrics};
use weir_engine::node::ProcessorContext;
use weir_engine::registry::{BuildContext, Builder as _, Built};
use weir_pdata::{Batch, Signal};
use weir_sql::output::RecordsMapping;
use weir_sql::plan::QueryPlanner;
use weir_sql::processor::SqlConfig;
use weir_sql::source::Current;

const SPANS: usize = 1000;
const ROUTES: [&str; 8] = [
    "/",
    "/cart",
    "/checkout",
    "/login",
    "/api/a",
    "/api/b",
    "/api/c",
    "/health",
];

fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

/// A batch of `n` spans whose end times start at `t0` (ns) and advance by
/// 10 µs a span.
fn batch(n: usize, t0: u64, seed: u64) -> Batch {
    let mut rng = fastrand_like(seed);
    let req = ExportTraceServiceRequest {
        resource_spans: (0..5)
            .map(|svc| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        kv(
                            "service.name",
                            any_value::Value::StringValue(format!("service-{svc}")),
                        ),
                        kv("host.name", any_value::Value::StringValue("host-1".into())),
                    ],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: (0..n / 5)
                        .map(|i| {
                            let r = rng();
                            let route = ROUTES[(r % 8) as usize];
                            let error = r.is_multiple_of(50);
                            let end = t0 + (i * 5 + svc) as u64 * 10_000;
                            Span {
                                trace_id: r.to_be_bytes().repeat(2),
                                span_id: r.to_le_bytes().to_vec(),
                                name: format!("GET {route}"),
                                kind: 2,
                                start_time_unix_nano: end - (r % 200_000_000),
                                end_time_unix_nano: end,
                                attributes: vec![
                                    kv("http.method", any_value::Value::StringValue("GET".into())),
                                    kv("http.route", any_value::Value::StringValue(route.into())),
                                    kv(
                                        "http.status_code",
                                        any_value::Value::IntValue(if error { 500 } else { 200 }),
                                    ),
                                    kv("url.scheme", any_value::Value::StringValue("https".into())),
                                ],
                                status: error.then(|| Status {
                                    code: 2,
                                    message: "boom".into(),
                                }),
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    };
    Batch::from_otlp(Signal::Traces, Bytes::from(req.encode_to_vec())).expect("valid")
}

/// A tiny xorshift, so the bench needs no RNG crate.
fn fastrand_like(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// Decodes `b` afresh (a batch caches its tables).
fn fresh(b: &Batch) -> Batch {
    Batch::from_otlp_unchecked(Signal::Traces, b.otlp_bytes().expect("bytes"), b.items())
}

fn per_batch(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("rt");
    let input = batch(SPANS, 1_700_000_000_000_000_000, 7);
    let planner = QueryPlanner::new(&[]).expect("planner");
    let mut g = c.benchmark_group("sql");
    g.throughput(Throughput::Elements(SPANS as u64));
    g.bench_function("decode+encode", |b| {
        b.iter(|| {
            let t = fresh(&input).tables().expect("decode");
            let out = Batch::from_tables(Signal::Traces, (*t).clone());
            black_box(out.otlp_bytes().expect("encode"))
        })
    });
    let mut run = |name: &str, sql: &str, input: &Batch| {
        let q = planner.plan(sql).expect("plans");
        let mapping = RecordsMapping::new(Signal::Traces, &q.logical_schema).expect("valid result");
        g.bench_function(name, |b| {
            b.iter(|| {
                let tables = fresh(input).tables().expect("decode");
                let result = rt
                    .block_on(q.execute(Current {
                        tables: tables.clone(),
                        rows: None,
                    }))
                    .expect("runs");
                let out = mapping.apply(&tables, &q.schema, &result).expect("fits");
                let out = out.map(|t| Batch::from_tables(Signal::Traces, t));
                black_box(out.map(|b| b.otlp_bytes().expect("encode")))
            })
        });
    };
    run(
        "per batch: filter",
        "SELECT * FROM spans WHERE status.code = 2 OR attr(attributes, 'http.route') = '/checkout'",
        &input,
    );
    run(
        "per batch: attr_set",
        "SELECT * REPLACE (attr_set(attr_delete(attributes, 'url.scheme'), 'duration.ms', duration_ms(start_time, end_time)) AS attributes) FROM spans",
        &input,
    );
    let filter =
        "SELECT * FROM spans WHERE status.code = 2 OR attr(attributes, 'http.route') = '/checkout'";
    g.bench_function("re-plan per batch: filter", |b| {
        b.iter(|| {
            let q = planner.plan(filter).expect("plans");
            let tables = fresh(&input).tables().expect("decode");
            let result = rt
                .block_on(q.execute(Current { tables, rows: None }))
                .expect("runs");
            black_box(result)
        })
    });
    g.throughput(Throughput::Elements(1));
    let one = batch(5, 1_700_000_000_000_000_000, 3);
    let tables = one.tables().expect("decode");
    let q = planner.plan("SELECT * FROM spans").expect("plans");
    g.bench_function("execute: SELECT * (1 span)", |b| {
        b.iter(|| {
            black_box(rt.block_on(q.execute(Current {
                tables: tables.clone(),
                rows: None,
            })))
        })
    });
    g.finish();
}

fn red_node() -> SqlConfig {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../pipelines/red-metrics.kdl"
    ))
    .expect("pipelines/red-metrics.kdl");
    let pipeline = weir_config::parse("red-metrics.kdl", &text).expect("valid KDL");
    let decl = pipeline.node("red").expect("node red");
    let mut errors = Vec::new();
    let mut r = decl.reader(&mut errors);
    let c = SqlConfig::read(&mut r).expect("valid");
    r.finish();
    c
}

fn windowed(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("rt");
    // 100 batches = 100 000 spans = 1 s of event time at 100K spans/s.
    let batches: Vec<Batch> = (0..100u64)
        .map(|i| batch(SPANS, 1_700_000_000_000_000_000 + i * 10_000_000, i + 1))
        .collect();
    let mut g = c.benchmark_group("sql");
    g.throughput(Throughput::Elements((SPANS * batches.len()) as u64));
    g.sample_size(10);
    g.bench_function("windowed RED: 100 batches", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let registry = MetricsRegistry::default();
                let ctx = BuildContext {
                    id: "red",
                    metrics: &registry,
                    base_dir: std::env::temp_dir(),
                };
                let Ok(Built::Processor(p)) = Box::new(red_node()).build(&ctx) else {
                    panic!("processor")
                };
                let inputs: Vec<Batch> = batches.iter().map(fresh).collect();
                let start = Instant::now();
                rt.block_on(async {
                    let metrics = Arc::new(NodeMetrics::new("red", "processor", "sql"));
                    let (tx, in_rx) = mpsc::channel(16);
                    let (out_tx, mut rx) = mpsc::channel(1024);
                    let pctx = ProcessorContext {
                        dead_letter: None,
                        id: "red".into(),
                        input: Input::new(in_rx, metrics.clone()),
                        output: Output::new(vec![out_tx], metrics.clone()),
                        metrics,
                    };
                    let node = tokio::spawn(p.run(pctx));
                    for b in inputs {
                        tx.send(Message::new(b)).await.expect("send");
                    }
                    drop(tx);
                    let mut points = 0;
                    while let Some(m) = rx.recv().await {
                        points += m.batch.items();
                    }
                    node.await.expect("joined").expect("ran");
                    black_box(points)
                });
                total += start.elapsed();
            }
            total
        })
    });
    g.finish();
}

/// The criterion group (its generated function has no docs of its own).
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::per_batch, super::windowed);
}

criterion_main!(group::benches);
