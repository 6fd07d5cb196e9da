//! The log on real files: replay, commit, damage, size cap; and the queue
//! node in front of an exporter that fails, then recovers.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use weir_pdata::{Batch, Signal};

use super::config::{Fsync, QueueConfig, WhenFull};
use super::node::PersistentQueue;
use super::wal::{self, Wal};
use crate::channel::{Input, Output};
use crate::error::NodeError;
use crate::message::{Delivery, Message};
use crate::metrics::{MetricsRegistry, NodeMetrics};
use crate::node::{BatchExporter, ExporterContext, batch_exporter};

fn config() -> QueueConfig {
    QueueConfig {
        path: None,
        max_size: 1 << 20,
        when_full: WhenFull::Block,
        fsync: Fsync::Never,
        segment_size: 4096,
    }
}

fn payload(i: u32) -> Vec<u8> {
    format!("record-{i:04}-").repeat(20).into_bytes()
}

fn append(w: &mut Wal, i: u32) {
    let rec = wal::encode(Signal::Logs, i, &payload(i)).unwrap();
    w.append(&rec).unwrap();
}

/// Reads every record left, committing each; returns their item counts.
fn drain(w: &mut Wal) -> Vec<u32> {
    let mut out = Vec::new();
    while let Some(r) = w.next_record().unwrap() {
        assert_eq!(&r.payload[..], &payload(r.items)[..], "payload intact");
        out.push(r.items);
        w.commit(r.next).unwrap();
    }
    out
}

#[test]
fn replays_what_was_not_committed_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, rec) = Wal::open(dir.path(), &config()).unwrap();
    assert_eq!(rec.records, 0);
    for i in 0..50 {
        append(&mut w, i);
    }
    // Deliver 20, then "crash" (drop without anything else).
    for _ in 0..20 {
        let r = w.next_record().unwrap().unwrap();
        w.commit(r.next).unwrap();
    }
    drop(w);
    let segments = std::fs::read_dir(dir.path()).unwrap().count();
    assert!(
        segments > 3,
        "records spread over segments ({segments} files)"
    );
    let (mut w, rec) = Wal::open(dir.path(), &config()).unwrap();
    assert_eq!(rec.records, 30);
    assert_eq!(rec.items, (20..50).sum::<u32>() as u64);
    assert_eq!(drain(&mut w), (20..50).collect::<Vec<_>>());
    // Appends after a replay go on in order.
    append(&mut w, 99);
    assert_eq!(drain(&mut w), vec![99]);
    drop(w);
    let (_, rec) = Wal::open(dir.path(), &config()).unwrap();
    assert_eq!(rec.records, 0, "everything delivered");
}

#[test]
fn a_corrupted_record_is_reported_and_skipped_and_nothing_else_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config();
    c.segment_size = 1 << 20;
    let (mut w, _) = Wal::open(dir.path(), &c).unwrap();
    for i in 0..10 {
        append(&mut w, i);
    }
    drop(w);
    let seg = dir.path().join(format!("{:020}.wal", 0));
    let mut bytes = std::fs::read(&seg).unwrap();
    let rec_len = wal::HEADER + payload(0).len();
    bytes[3 * rec_len + wal::HEADER + 5] ^= 0xff; // payload of record 3
    bytes[6 * rec_len + 5] ^= 0xff; // length field of record 6
    std::fs::write(&seg, &bytes).unwrap();
    let (mut w, rec) = Wal::open(dir.path(), &c).unwrap();
    assert_eq!(rec.records, 8, "open counts the good records");
    assert_eq!(rec.corrupted, 2, "and finds the damaged ones");
    assert_eq!(drain(&mut w), vec![0, 1, 2, 4, 5, 7, 8, 9]);
    assert_eq!(w.damage().corrupted, 2, "each damaged record counted once");
}

#[test]
fn a_record_cut_short_is_cut_off_and_appends_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config();
    c.segment_size = 1 << 20;
    let (mut w, _) = Wal::open(dir.path(), &c).unwrap();
    for i in 0..5 {
        append(&mut w, i);
    }
    drop(w);
    let seg = dir.path().join(format!("{:020}.wal", 0));
    let len = std::fs::metadata(&seg).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(len - 30).unwrap(); // a torn write of record 4
    drop(f);
    let (mut w, rec) = Wal::open(dir.path(), &c).unwrap();
    assert_eq!(rec.records, 4);
    assert!(rec.truncated_bytes > 0);
    append(&mut w, 5);
    assert_eq!(drain(&mut w), vec![0, 1, 2, 3, 5]);
}

#[test]
fn a_truncated_older_segment_is_skipped_past() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, _) = Wal::open(dir.path(), &config()).unwrap();
    for i in 0..30 {
        append(&mut w, i);
    }
    drop(w);
    let first = dir.path().join(format!("{:020}.wal", 0));
    let len = std::fs::metadata(&first).unwrap().len();
    let rec_len = (wal::HEADER + payload(0).len()) as u64;
    let per_segment = len / rec_len;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&first)
        .unwrap();
    f.set_len(len - 10).unwrap();
    drop(f);
    let (mut w, rec) = Wal::open(dir.path(), &config()).unwrap();
    assert_eq!(rec.corrupted, 1);
    let got = drain(&mut w);
    let lost = (per_segment - 1) as u32;
    let want: Vec<u32> = (0..30).filter(|i| *i != lost).collect();
    assert_eq!(got, want, "only the cut record is lost");
}

#[test]
fn the_size_cap_blocks_or_drops_the_oldest_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config();
    c.max_size = 64 << 10;
    c.segment_size = 8 << 10;
    let (mut w, _) = Wal::open(dir.path(), &c).unwrap();
    let mut n = 0;
    loop {
        let rec = wal::encode(Signal::Logs, n, &payload(n)).unwrap();
        match w.append(&rec) {
            Ok(()) => n += 1,
            Err(wal::AppendError::Full) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(w.bytes() <= c.max_size);
    let dropped = w.drop_oldest().unwrap().unwrap();
    assert!(dropped > 0);
    let rec = wal::encode(Signal::Logs, n, &payload(n)).unwrap();
    w.append(&rec).unwrap();
    let left: u64 = drain(&mut w).iter().map(|i| u64::from(*i)).sum();
    assert_eq!(
        left + dropped,
        (0..=u64::from(n)).sum::<u64>(),
        "dropped + delivered = written"
    );
}

/// An exporter that fails (retryably) its first `fail` calls, rejects
/// batches whose items are 13, and counts what it delivered.
struct Flaky {
    fail: Arc<AtomicUsize>,
    delivered: Arc<std::sync::Mutex<Vec<usize>>>,
}

impl BatchExporter for Flaky {
    async fn export(&mut self, batch: &Batch) -> Result<(), NodeError> {
        if batch.items() == 13 {
            return Err(NodeError::rejected("sending", "HTTP 400"));
        }
        if self.fail.load(Ordering::SeqCst) > 0 {
            let _ = self.fail.fetch_sub(1, Ordering::SeqCst);
            return Err(NodeError::external("sending", "connection refused"));
        }
        self.delivered.lock().unwrap().push(batch.items());
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_acks_on_write_retries_failures_and_dead_letters_rejections() {
    let dir = tempfile::tempdir().unwrap();
    let registry = MetricsRegistry::default();
    let mut c = config();
    c.fsync = Fsync::Always;
    let (queue, _) = PersistentQueue::open("out", dir.path(), &c, &registry).unwrap();
    let fail = Arc::new(AtomicUsize::new(3));
    let delivered = Arc::new(std::sync::Mutex::new(Vec::new()));
    let inner = batch_exporter(Flaky {
        fail: fail.clone(),
        delivered: delivered.clone(),
    });
    let metrics = Arc::new(NodeMetrics::new("out", "exporter", "test"));
    let (dl_tx, mut dl_rx) = mpsc::channel(8);
    let node = queue.into_exporter(inner, Some(Output::new(vec![dl_tx], metrics.clone())));
    let (tx, rx) = mpsc::channel(4);
    let task = tokio::spawn(node.run(ExporterContext {
        id: "out".into(),
        input: Input::new(rx, metrics.clone()),
        metrics,
    }));
    let mut outcomes = Vec::new();
    for items in [1usize, 2, 13, 4] {
        let (ack, outcome) = crate::Ack::new();
        let batch = Batch::from_otlp_unchecked(Signal::Logs, Bytes::from(vec![0x0a; 4]), items);
        tx.send(Message::with_ack(batch, ack)).await.unwrap();
        outcomes.push(outcome);
    }
    // Acked once on disk, while the exporter is still failing.
    for o in outcomes {
        let d = tokio::time::timeout(Duration::from_secs(5), o)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d, Delivery::Delivered);
    }
    // The exporter recovers: everything arrives, then the input closes.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while delivered.lock().unwrap().len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "not delivered in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(tx);
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        *delivered.lock().unwrap(),
        vec![1, 2, 4],
        "in order, each once"
    );
    assert_eq!(fail.load(Ordering::SeqCst), 0);
    let dead = dl_rx.recv().await.unwrap();
    assert_eq!(
        dead.batch.items(),
        13,
        "the rejected batch went to the dead letter"
    );
    let text = registry.render();
    assert!(
        text.contains("weir_queue_records_delivered_total{node=\"out\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("weir_queue_records_rejected_total{node=\"out\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("weir_queue_retries_total{node=\"out\"} 3"),
        "{text}"
    );
    // Everything delivered: a restart replays nothing.
    let (_, rec) = Wal::open(dir.path(), &c).unwrap();
    assert_eq!(rec.records, 0);
}
