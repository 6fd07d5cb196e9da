//! What a plugin hot reload costs the stream.
//!
//! - `reload/steady`: 200 batches of 100 log records through a `wasm` node
//!   running the `tag-v1` test plugin (two attribute columns written per
//!   batch), nothing else happening.
//! - `reload/storm`: the same while another thread swaps the plugin between
//!   `tag-v1` and `tag-v2` back to back (each swap: read the file, load the
//!   compiled component from the compile cache, instantiate, `init`, probe,
//!   then the swap job with its state move on the node's thread).
//! - After the criterion groups, the storm runs once more for a fixed
//!   number of swaps and prints the pause each swap imposed on the stream
//!   (the swap job's time on the node's thread: p50, p99, max), the
//!   swaps per second, and the throughput ratio storm / steady measured in
//!   that same run.
//!
//! Run with `cargo bench -p weir-wasm --bench reload`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message as _;
use weir_engine::reload::PluginReload;
use weir_pdata::{Batch, Signal};
use weir_wasm::processor::Outcome;
use weir_wasm::{PluginEngine, PluginReloader, PluginSource, WasmConfig, WasmProcessor};

const BATCHES: usize = 200;
const RECORDS: usize = 100;

fn wasm(krate: &str) -> PathBuf {
    PathBuf::from(weir_wasm::PLUGIN_DIR).join(format!("{krate}.wasm"))
}

fn install(src: &Path, dst: &Path) {
    let tmp = dst.with_extension("tmp");
    std::fs::copy(src, &tmp).unwrap();
    std::fs::rename(&tmp, dst).unwrap();
}

fn batch() -> Batch {
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: (0..RECORDS)
                    .map(|i| LogRecord {
                        time_unix_nano: i as u64,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Batch::from_otlp(Signal::Logs, Bytes::from(req.encode_to_vec())).unwrap()
}

struct Bench {
    _dir: tempfile::TempDir,
    file: PathBuf,
    node: WasmProcessor,
    batch: Batch,
}

fn setup() -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tag.wasm");
    install(&wasm("weir_test_plugin_tag_v1"), &file);
    let mut c = WasmConfig::new(PluginSource::File(file.clone()));
    c.config = vec![("label".to_string(), "bench".to_string())];
    c.canary = 0;
    let engine = PluginEngine::shared().unwrap();
    let node = c.build_processor("bench", engine, Path::new("/")).unwrap();
    Bench {
        _dir: dir,
        file,
        node,
        batch: batch(),
    }
}

fn run_batches(b: &mut Bench) {
    for _ in 0..BATCHES {
        match b.node.process(&b.batch) {
            Outcome::Processed(p) => {
                std::hint::black_box(p);
            }
            Outcome::Failed { error } => panic!("{error:?}"),
        }
    }
}

/// Swaps v1/v2 back to back until stopped; returns each swap's pause (us).
fn storm(
    reloader: PluginReloader,
    file: PathBuf,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<u64>> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _entered = rt.enter();
        let versions = [
            wasm("weir_test_plugin_tag_v2"),
            wasm("weir_test_plugin_tag_v1"),
        ];
        let mut pauses = Vec::new();
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            install(&versions[i % 2], &file);
            i += 1;
            match reloader.reload_blocking() {
                PluginReload::Swapped { pause_us, .. } => pauses.push(pause_us),
                other => panic!("{other:?}"),
            }
        }
        pauses
    })
}

fn reload(c: &mut Criterion) {
    let mut b = setup();
    let mut g = c.benchmark_group("reload");
    let _ = g.throughput(Throughput::Elements((BATCHES * RECORDS) as u64));
    let _ = g.sample_size(10);
    let _ = g.bench_function("steady", |bench| bench.iter(|| run_batches(&mut b)));
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = storm(b.node.reloader().clone(), b.file.clone(), stop.clone());
    let _ = g.bench_function("storm", |bench| bench.iter(|| run_batches(&mut b)));
    stop.store(true, Ordering::Relaxed);
    let _ = swapper.join().unwrap();
    g.finish();
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One run of steady then storm, same process, same batches: the figures
/// for docs/benchmarks.md.
fn report(rounds: usize) {
    let mut b = setup();
    let start = Instant::now();
    for _ in 0..rounds {
        run_batches(&mut b);
    }
    let steady = start.elapsed();
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = storm(b.node.reloader().clone(), b.file.clone(), stop.clone());
    std::thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    for _ in 0..rounds {
        run_batches(&mut b);
    }
    let stormy = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut pauses = swapper.join().unwrap();
    pauses.sort_unstable();
    let records = (rounds * BATCHES * RECORDS) as f64;
    let steady_rate = records / steady.as_secs_f64();
    let storm_rate = records / stormy.as_secs_f64();
    println!(
        "reload report: steady {:.0} records/s, storm {:.0} records/s (ratio {:.3}); {} swaps ({:.0}/s) during the storm; pause per swap p50 {} us, p99 {} us, max {} us",
        steady_rate,
        storm_rate,
        storm_rate / steady_rate,
        pauses.len(),
        pauses.len() as f64 / stormy.as_secs_f64().max(1e-9),
        percentile(&pauses, 0.5),
        percentile(&pauses, 0.99),
        pauses.last().copied().unwrap_or_default(),
    );
}

criterion_group!(benches, reload);

fn main() {
    benches();
    // In test mode (`cargo test --benches`) one short round; else enough
    // for stable figures.
    let test_mode = std::env::args().any(|a| a == "--test");
    report(if test_mode { 1 } else { 25 });
    Criterion::default().configure_from_args().final_summary();
}
