//! The cost of an exporter's persistent queue: batches through an exporter
//! node with no queue, and with a queue under each fsync policy.
//!
//! `cargo bench -p weir-engine --bench queue`

#![allow(missing_docs, clippy::unwrap_used, reason = "a benchmark")]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::sync::mpsc;
use weir_engine::channel::Input;
use weir_engine::metrics::{MetricsRegistry, NodeMetrics};
use weir_engine::node::{BatchExporter, Exporter, ExporterContext, batch_exporter};
use weir_engine::queue::{Fsync, PersistentQueue, QueueConfig};
use weir_engine::{Ack, Message, NodeError};
use weir_pdata::{Batch, Signal};

const BATCHES: usize = 200;
const BATCH_BYTES: usize = 64 << 10;

struct Null;

impl BatchExporter for Null {
    async fn export(&mut self, _batch: &Batch) -> Result<(), NodeError> {
        Ok(())
    }
}

/// Sends `BATCHES` batches (each acked) through `node`, waits for the
/// last ack and for the node to finish.
async fn run(node: Box<dyn Exporter>, batch: &Batch) {
    let metrics = Arc::new(NodeMetrics::new("out", "exporter", "bench"));
    let (tx, rx) = mpsc::channel(64);
    let task = tokio::spawn(node.run(ExporterContext {
        id: "out".into(),
        input: Input::new(rx, metrics.clone()),
        metrics,
    }));
    let mut last = None;
    for _ in 0..BATCHES {
        let (ack, outcome) = Ack::new();
        tx.send(Message::with_ack(batch.clone(), ack))
            .await
            .unwrap();
        last = Some(outcome);
    }
    drop(tx);
    let _ = last.unwrap().await;
    task.await.unwrap().unwrap();
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let batch = Batch::from_otlp_unchecked(Signal::Logs, Bytes::from(vec![0x0a; BATCH_BYTES]), 100);
    let mut g = c.benchmark_group("exporter_queue");
    g.throughput(Throughput::Bytes((BATCHES * BATCH_BYTES) as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("no_queue", |b| {
        b.iter(|| rt.block_on(run(batch_exporter(Null), &batch)));
    });
    for (name, fsync) in [
        ("queue_fsync_never", Fsync::Never),
        ("queue_fsync_always", Fsync::Always),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let dir = tempfile::tempdir().unwrap();
                let config = QueueConfig {
                    fsync,
                    ..QueueConfig::new()
                };
                let (q, _) =
                    PersistentQueue::open("out", dir.path(), &config, &MetricsRegistry::default())
                        .unwrap();
                rt.block_on(run(q.into_exporter(batch_exporter(Null), None), &batch));
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
