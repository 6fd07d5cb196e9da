//! What a WASM plugin costs in the path of 1000-span batches.
//!
//! - `batch/*`: one 1000-span batch (12 attributes per span, a quarter of
//!   them with a password in `db.statement`) through a native no-op
//!   processor (forwarding the batch), the `noop` plugin, and the `redact`
//!   plugin with one rule, on already-decoded tables: the plugin's own cost.
//! - `pipeline/*`: the same from OTLP bytes to OTLP bytes, as a pipeline
//!   with an OTLP receiver and exporter pays it: the native no-op forwards
//!   the bytes untouched, `decode_encode_only` is the Arrow round trip any
//!   column-reading processor pays, `wasm_redact` edits the bytes in place
//!   (the kernels' wire path), `wasm_redact_via_arrow` forces the Arrow path
//!   (decode, kernels on Arrow, encode).
//! - `peer/wasm_redact`: the peer harness's `wasm-redact` row without the
//!   network: the load generator's 1000-span request (5 attributes) through
//!   the harness's two rules (a regex mask of every `url.full`, a salted
//!   hash of every `user.id`), bytes in, bytes out.
//! - `node/redact`: through the node's thread (the hand-off included).
//! - `call/*`: per-call overhead on a 1-span batch.
//! - `cold/*`: compile without cache, load from the compile cache,
//!   instantiate from the pre-instantiated component.
//!
//! Run with `cargo bench -p weir-wasm --bench redact`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;
use weir_pdata::{Batch, Signal};
use weir_wasm::processor::Outcome;
use weir_wasm::telemetry::PluginTelemetry;
use weir_wasm::{Limits, Plugin, PluginEngine, PluginSource, WasmConfig};

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

fn request(spans: usize) -> Bytes {
    let spans = (0..spans)
        .map(|i| {
            let mut attrs = vec![
                kv("http.method", "GET"),
                kv("http.route", "/api/users/{id}"),
                kv("http.status_code", "200"),
                kv("net.peer.name", "db.internal"),
                kv("db.system", "postgresql"),
                kv("user.agent", "Mozilla/5.0 (X11; Linux x86_64)"),
                kv("thread.name", "worker-3"),
                kv("code.function", "handle_request"),
                kv("code.namespace", "api::users"),
                kv("deployment.region", "eu-west-1"),
                kv("request.id", &format!("req-{i:08}")),
            ];
            attrs.push(kv(
                "db.statement",
                if i % 4 == 0 {
                    "SELECT * FROM users WHERE name='ada' AND password=hunter2"
                } else {
                    "SELECT * FROM users WHERE id=$1"
                },
            ));
            Span {
                trace_id: (0..16).map(|b| (b * 7 + i) as u8).collect(),
                span_id: (0..8).map(|b| (b * 3 + i) as u8).collect(),
                name: "GET /api/users/{id}".to_string(),
                start_time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                end_time_unix_nano: 1_700_000_000_001_000_000 + i as u64,
                attributes: attrs,
                ..Default::default()
            }
        })
        .collect();
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "api")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    };
    Bytes::from(req.encode_to_vec())
}

fn redact_config() -> Vec<(String, String)> {
    [
        ("rule.pw.keys", "db.statement"),
        ("rule.pw.pattern", r"password=[^&\s']*"),
        ("rule.pw.replacement", "password=***"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn bench(c: &mut Criterion) {
    let cache = tempfile::tempdir().unwrap();
    let engine = PluginEngine::new(Some(cache.path().to_path_buf())).unwrap();
    let noop = Plugin::new(&engine, "noop", weir_wasm::builtin::get("noop").unwrap()).unwrap();
    let redact = Plugin::new(
        &engine,
        "redact",
        weir_wasm::builtin::get("redact").unwrap(),
    )
    .unwrap();
    let limits = Limits::default();
    let telemetry = Arc::new(PluginTelemetry::default());
    let mut noop_i = noop
        .instantiate("bench", limits, telemetry.clone(), &[])
        .unwrap();
    let mut redact_i = redact
        .instantiate("bench", limits, telemetry.clone(), &redact_config())
        .unwrap();

    let bytes = request(1000);
    // Arrow tables only: the plugin's kernels run on Arrow.
    let decoded = {
        let b = Batch::from_otlp(Signal::Traces, bytes.clone()).unwrap();
        Batch::from_tables(Signal::Traces, (*b.tables().unwrap()).clone())
    };

    let mut g = c.benchmark_group("batch");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("native_noop", |b| {
        b.iter(|| black_box(Some(black_box(&decoded).clone())))
    });
    g.bench_function("wasm_noop", |b| {
        b.iter(|| black_box(noop_i.process(black_box(&decoded)).unwrap()))
    });
    g.bench_function("wasm_redact", |b| {
        b.iter(|| black_box(redact_i.process(black_box(&decoded)).unwrap()))
    });
    g.finish();

    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("native_noop", |b| {
        b.iter_batched(
            || bytes.clone(),
            |bytes| {
                let batch = Batch::from_otlp(Signal::Traces, bytes).unwrap();
                black_box(batch.otlp_bytes().unwrap())
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("decode_encode_only", |b| {
        b.iter_batched(
            || bytes.clone(),
            |bytes| {
                let batch = Batch::from_otlp(Signal::Traces, bytes).unwrap();
                let tables = batch.tables().unwrap();
                let out = Batch::from_tables(Signal::Traces, (*tables).clone());
                black_box(out.otlp_bytes().unwrap())
            },
            BatchSize::SmallInput,
        )
    });
    // The batch stays bytes: the redact kernels edit the request in place.
    g.bench_function("wasm_redact", |b| {
        b.iter_batched(
            || bytes.clone(),
            |bytes| {
                let batch = Batch::from_otlp(Signal::Traces, bytes).unwrap();
                let out = redact_i.process(&batch).unwrap();
                black_box(out.batch.otlp_bytes().unwrap())
            },
            BatchSize::SmallInput,
        )
    });
    // The same through Arrow (what a batch another processor decoded pays):
    // decode, redact on Arrow, encode.
    g.bench_function("wasm_redact_via_arrow", |b| {
        b.iter_batched(
            || bytes.clone(),
            |bytes| {
                let batch = Batch::from_otlp(Signal::Traces, bytes).unwrap();
                let tables = batch.tables().unwrap();
                let batch = Batch::from_tables(Signal::Traces, (*tables).clone());
                let out = redact_i.process(&batch).unwrap();
                black_box(out.batch.otlp_bytes().unwrap())
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();

    // The peer harness's `wasm-redact` row (benches/harness/pipelines/
    // wasm-redact.kdl) without the network.
    let peer_bytes = Bytes::from(weir_benches::trace_request(1000, 5).encode_to_vec());
    let peer_config: Vec<(String, String)> = [
        ("rule.session.keys", "url.full"),
        ("rule.session.pattern", "session=[0-9a-f]+"),
        ("rule.session.replacement", "session=***"),
        ("rule.user.keys", "user.id"),
        ("rule.user.action", "hash"),
        ("rule.user.salt", "bench"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut peer_i = redact
        .instantiate("bench", limits, telemetry.clone(), &peer_config)
        .unwrap();
    {
        // Every span changes (both rules match each one).
        let out = peer_i
            .process(&Batch::from_otlp(Signal::Traces, peer_bytes.clone()).unwrap())
            .unwrap();
        assert_ne!(out.batch.otlp_bytes().unwrap(), peer_bytes);
    }
    let mut g = c.benchmark_group("peer");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("wasm_redact", |b| {
        b.iter_batched(
            || peer_bytes.clone(),
            |bytes| {
                let batch = Batch::from_otlp(Signal::Traces, bytes).unwrap();
                let out = peer_i.process(&batch).unwrap();
                black_box(out.batch.otlp_bytes().unwrap())
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();

    let mut config = WasmConfig::new(PluginSource::Builtin("redact".to_string()));
    config.config = redact_config();
    let mut node = config
        .build_processor("bench", &engine, std::path::Path::new("/"))
        .unwrap();
    let mut g = c.benchmark_group("node");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("wasm_redact", |b| {
        b.iter(|| match node.process(black_box(&decoded)) {
            Outcome::Processed(p) => black_box(p),
            Outcome::Failed { error } => panic!("{error:?}"),
        })
    });
    g.finish();

    let one = {
        let b = Batch::from_otlp(Signal::Traces, request(1)).unwrap();
        Batch::from_tables(Signal::Traces, (*b.tables().unwrap()).clone())
    };
    let mut g = c.benchmark_group("call");
    g.bench_function("native_noop", |b| {
        b.iter(|| black_box(Some(black_box(&one).clone())))
    });
    g.bench_function("wasm_noop", |b| {
        b.iter(|| black_box(noop_i.process(black_box(&one)).unwrap()))
    });
    g.finish();

    let redact_bytes = weir_wasm::builtin::get("redact").unwrap();
    let mut g = c.benchmark_group("cold");
    g.sample_size(10);
    g.bench_function("compile_no_cache", |b| {
        let engine = PluginEngine::new(None).unwrap();
        b.iter(|| black_box(Plugin::new(&engine, "redact", redact_bytes).unwrap()))
    });
    g.bench_function("load_from_cache", |b| {
        b.iter(|| black_box(Plugin::new(&engine, "redact", redact_bytes).unwrap()))
    });
    g.bench_function("instantiate_and_init", |b| {
        let cfg = redact_config();
        b.iter(|| {
            black_box(
                redact
                    .instantiate("bench", limits, telemetry.clone(), &cfg)
                    .unwrap(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
