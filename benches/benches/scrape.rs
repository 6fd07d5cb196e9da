//! Cost per sample of weir's Prometheus path, on one target's body of
//! 10,000 series (100 families of counters and gauges, five labels each:
//! the body `promtargets` serves to the scrape benchmark):
//!
//! - `parse`: the exposition-format parser alone;
//! - `ingest`: parse + staleness bookkeeping + Arrow tables (what one scrape
//!   costs the receiver, without HTTP);
//! - `remote-write encode`: tables -> sorted labels -> `WriteRequest`
//!   protobuf, 4 shards, without snappy;
//! - `snappy`: compressing the encoded requests.
//!
//! Run: `cargo bench -p weir-benches --bench scrape`.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_main};
use weir_exporters::prom_mapping::{self, Family, Options, SeriesSink};
use weir_exporters::remote_write::proto::WriteRequestEncoder;
use weir_pdata::build::MetricTablesBuilder;
use weir_receivers::prometheus::ingest::{Ingest, Pass, SeriesSet, TargetLabels, ingest};
use weir_receivers::prometheus::parser::{Format, Parser};

const SERIES: usize = 10_000;

fn body() -> String {
    let mut out = String::new();
    for f in 0..SERIES / 100 {
        let counter = f % 2 == 0;
        let name = if counter {
            format!("bench_requests_{f}_total")
        } else {
            format!("bench_inflight_{f}")
        };
        let _ = writeln!(out, "# HELP {name} Benchmark series of family {f}.");
        let _ = writeln!(
            out,
            "# TYPE {name} {}",
            if counter { "counter" } else { "gauge" }
        );
        for s in 0..100 {
            let _ = writeln!(
                out,
                "{name}{{method=\"{}\",path=\"/api/v1/items/{}\",code=\"{}\",region=\"region-{}\",series=\"{s}\"}} {}",
                ["GET", "POST", "PUT", "DELETE"][s % 4],
                s % 25,
                [200, 201, 404, 500, 503][s % 5],
                s % 3,
                1000 + s * 7,
            );
        }
    }
    out
}

fn target() -> TargetLabels {
    TargetLabels {
        job: "bench".into(),
        instance: "127.0.0.1:21000".into(),
        extra: Vec::new(),
        honor_labels: false,
        honor_timestamps: true,
    }
}

fn tables(
    body: &str,
    target: &TargetLabels,
    previous: &SeriesSet,
    current: &mut SeriesSet,
) -> weir_pdata::SignalTables {
    let hasher = foldhash::fast::FixedState::with_seed(0x5eed);
    let mut b = MetricTablesBuilder::with_capacity(SERIES + 8);
    let r = b
        .resource(&[
            ("service.name", "bench"),
            ("service.instance.id", "127.0.0.1:21000"),
        ])
        .expect("resource");
    let scope_id = b.scope(r, "weir.prometheus", "").expect("scope");
    let ing = Ingest {
        target,
        metric_relabel: &[],
        scrape_ms: 1_700_000_000_000,
        scope_id,
        sample_limit: 0,
        hasher: &hasher,
    };
    current.clear();
    let _ = ingest(
        &ing,
        body,
        Format::Text,
        Pass::Live { current, previous },
        &mut b,
    )
    .expect("valid body");
    b.finish().expect("tables")
}

struct Encode(Vec<WriteRequestEncoder>, foldhash::fast::FixedState);

impl SeriesSink for Encode {
    fn sample(&mut self, _f: &Family<'_>, labels: &[(&str, &str)], value: f64, ts: i64) {
        use std::hash::{BuildHasher as _, Hasher as _};
        let mut h = self.1.build_hasher();
        for (n, v) in labels {
            h.write(n.as_bytes());
            h.write(v.as_bytes());
        }
        let n = self.0.len() as u64;
        self.0[(h.finish() % n) as usize].series(labels, value, ts);
    }
}

fn benches() {
    let mut c = Criterion::default().configure_from_args();
    let body = body();
    let target = target();
    let mut group = c.benchmark_group(format!("scrape/{SERIES} series"));
    group.throughput(Throughput::Elements(SERIES as u64));
    group.bench_function("parse", |b| {
        b.iter(|| {
            let mut p = Parser::new(black_box(&body), Format::Text);
            let mut n = 0usize;
            while let Some(e) = p.next() {
                let _ = black_box(e.expect("valid"));
                n += p.labels().len();
            }
            n
        });
    });
    let mut previous = SeriesSet::default();
    let mut current = SeriesSet::default();
    let _ = tables(&body, &target, &SeriesSet::default(), &mut previous);
    group.bench_function("ingest", |b| {
        b.iter(|| black_box(tables(black_box(&body), &target, &previous, &mut current)));
    });
    let t = tables(&body, &target, &previous, &mut current);
    let mut raw = Vec::new();
    group.bench_function("remote-write encode", |b| {
        b.iter(|| {
            let mut sink = Encode(
                (0..4).map(|_| WriteRequestEncoder::new()).collect(),
                foldhash::fast::FixedState::with_seed(7),
            );
            let stats = prom_mapping::convert(black_box(&t), &Options::default(), &mut sink)
                .expect("convert");
            raw = sink
                .0
                .iter_mut()
                .map(WriteRequestEncoder::take)
                .collect::<Vec<_>>();
            stats.samples
        });
    });
    group.bench_function("snappy", |b| {
        let mut enc = snap::raw::Encoder::new();
        b.iter(|| {
            raw.iter()
                .map(|r| enc.compress_vec(black_box(r)).map_or(0, |c| c.len()))
                .sum::<usize>()
        });
    });
    group.finish();
}

criterion_main!(benches);
