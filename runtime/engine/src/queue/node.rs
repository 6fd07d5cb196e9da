//! The running queue: a writer task appending to the log, a reader task
//! feeding the exporter from it; and the dead-letter wrapper.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use parking_lot::Mutex;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;
use weir_pdata::Batch;

use super::config::{Fsync, QueueConfig, WhenFull};
use super::wal::{self, AppendError, Recovery, Wal};
use crate::channel::{Input, Output};
use crate::error::NodeError;
use crate::message::{Ack, Delivery, Message};
use crate::metrics::{MetricsRegistry, NodeMetrics};
use crate::node::{BoxFuture, Exporter, ExporterContext};

/// Longest wait between two attempts at a record the exporter failed.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// First wait.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Counters of one queue.
#[derive(Debug, Default)]
pub struct QueueMetrics {
    written: AtomicU64,
    delivered: AtomicU64,
    rejected: AtomicU64,
    dropped_items: AtomicU64,
    retries: AtomicU64,
    replayed: AtomicU64,
}

impl QueueMetrics {
    /// Records delivered (or handed to the dead letter after a rejection).
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Relaxed)
    }
}

struct Shared {
    id: String,
    wal: Mutex<Wal>,
    metrics: QueueMetrics,
    /// A record was appended.
    new_data: Notify,
    /// A record was delivered (room may be free).
    freed: Notify,
    when_full: WhenFull,
    fsync: Fsync,
}

/// An exporter's persistent queue, opened (and replayed) at build time.
pub struct PersistentQueue {
    shared: Arc<Shared>,
}

impl PersistentQueue {
    /// Opens the queue of exporter `id` in `dir`, recovering what a
    /// previous run left, and registers its metrics.
    ///
    /// # Errors
    /// The directory or its files cannot be created, read or written.
    pub fn open(
        id: &str,
        dir: &Path,
        config: &QueueConfig,
        registry: &MetricsRegistry,
    ) -> Result<(PersistentQueue, Recovery), AppendError> {
        let (wal, recovery) = Wal::open(dir, config)?;
        if recovery.records > 0 || recovery.corrupted > 0 || recovery.truncated_bytes > 0 {
            tracing::info!(
                node = %id,
                dir = %dir.display(),
                records = recovery.records,
                items = recovery.items,
                corrupted = recovery.corrupted,
                truncated_bytes = recovery.truncated_bytes,
                "Persistent queue replays what a previous run left."
            );
        }
        if recovery.corrupted > 0 || recovery.truncated_bytes > 0 {
            tracing::error!(
                node = %id,
                dir = %dir.display(),
                corrupted = recovery.corrupted,
                truncated_bytes = recovery.truncated_bytes,
                "The persistent queue has damaged records; they are skipped."
            );
        }
        let shared = Arc::new(Shared {
            id: id.to_string(),
            wal: Mutex::new(wal),
            metrics: QueueMetrics::default(),
            new_data: Notify::new(),
            freed: Notify::new(),
            when_full: config.when_full,
            fsync: config.fsync,
        });
        shared.metrics.replayed.store(recovery.records, Relaxed);
        let for_metrics = shared.clone();
        registry.add_collector(
            &format!("queue:{id}"),
            Arc::new(move |out: &mut String| render(&for_metrics, out)),
        );
        Ok((PersistentQueue { shared }, recovery))
    }

    /// The exporter node: this queue in front of `inner`, rejected records
    /// going to `dead_letter` when set.
    pub fn into_exporter(
        self,
        inner: Box<dyn Exporter>,
        dead_letter: Option<Output>,
    ) -> Box<dyn Exporter> {
        Box::new(QueuedExporter {
            shared: self.shared,
            inner,
            dead_letter,
        })
    }
}

fn render(s: &Shared, out: &mut String) {
    let node = &s.id;
    let (bytes, corrupted) = {
        let w = s.wal.lock();
        (w.bytes(), w.damage().corrupted)
    };
    let m = &s.metrics;
    let series: [(&str, &str, &str, u64); 8] = [
        (
            "weir_queue_bytes",
            "gauge",
            "Bytes of the persistent queue on disk.",
            bytes,
        ),
        (
            "weir_queue_records_written_total",
            "counter",
            "Batches written to the persistent queue.",
            m.written.load(Relaxed),
        ),
        (
            "weir_queue_records_delivered_total",
            "counter",
            "Queued batches the exporter delivered.",
            m.delivered.load(Relaxed),
        ),
        (
            "weir_queue_records_rejected_total",
            "counter",
            "Queued batches the backend refused for good (sent to the dead letter if any).",
            m.rejected.load(Relaxed),
        ),
        (
            "weir_queue_dropped_items_total",
            "counter",
            "Items deleted unsent by when-full \"drop-oldest\".",
            m.dropped_items.load(Relaxed),
        ),
        (
            "weir_queue_retries_total",
            "counter",
            "Attempts at queued batches that failed and were retried.",
            m.retries.load(Relaxed),
        ),
        (
            "weir_queue_replayed_records",
            "gauge",
            "Batches found in the queue at start.",
            m.replayed.load(Relaxed),
        ),
        (
            "weir_queue_corrupted_records_total",
            "counter",
            "Damaged records found in the queue and skipped.",
            corrupted,
        ),
    ];
    for (name, ty, help, v) in series {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {ty}\n{name}{{node=\"{node}\"}} {v}"
        );
    }
}

struct QueuedExporter {
    shared: Arc<Shared>,
    inner: Box<dyn Exporter>,
    dead_letter: Option<Output>,
}

impl Exporter for QueuedExporter {
    fn run(self: Box<Self>, ctx: ExporterContext) -> BoxFuture<Result<(), NodeError>> {
        let QueuedExporter {
            shared,
            inner,
            dead_letter,
        } = *self;
        Box::pin(async move {
            let (tx, rx) = mpsc::channel(1);
            let mut tasks = JoinSet::new();
            // The inner exporter's input is counted by the queue's.
            let uncounted = Arc::new(NodeMetrics::new(&ctx.id, "exporter", "queue"));
            let _ = tasks.spawn(inner.run(ExporterContext {
                id: ctx.id.clone(),
                input: Input::new(rx, uncounted),
                metrics: ctx.metrics.clone(),
            }));
            let (closed_tx, closed_rx) = watch::channel(false);
            let syncer = match shared.fsync {
                Fsync::Every(d) => Some(tokio::spawn(sync_every(shared.clone(), d))),
                _ => None,
            };
            let writer = write_loop(shared.clone(), ctx.input, closed_tx);
            let reader = read_loop(shared.clone(), tx, dead_letter, closed_rx);
            let (written, ()) = tokio::join!(writer, reader);
            if let Some(s) = syncer {
                s.abort();
            }
            let sh = shared.clone();
            let _ = tokio::task::spawn_blocking(move || {
                let mut w = sh.wal.lock();
                let _ = w.flush_cursor();
                w.sync()
            })
            .await;
            // The reader dropped the inner input: the exporter drains.
            while let Some(r) = tasks.join_next().await {
                match r {
                    Ok(Err(e)) => return Err(e),
                    Err(e) => {
                        return Err(NodeError::Internal(format!("exporter task failed: {e}")));
                    }
                    Ok(Ok(())) => {}
                }
            }
            written
        })
    }
}

async fn sync_every(shared: Arc<Shared>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        let _ = tick.tick().await;
        let sh = shared.clone();
        let r = tokio::task::spawn_blocking(move || sh.wal.lock().sync()).await;
        if let Ok(Err(e)) = r {
            tracing::error!(node = %shared.id, error = %e, "Persistent queue sync failed.");
        }
    }
}

/// Appends every incoming batch, then drops its acks.
async fn write_loop(
    shared: Arc<Shared>,
    mut input: Input,
    closed: watch::Sender<bool>,
) -> Result<(), NodeError> {
    while let Some(msg) = input.recv().await {
        let signal = msg.batch.signal();
        let items = msg.batch.items();
        let encoded = if signal.has_otlp() {
            msg.batch
                .otlp_bytes()
                .ok()
                .and_then(|b| wal::encode(signal, u32::try_from(items).unwrap_or(u32::MAX), &b))
        } else {
            None
        };
        let Some(mut record) = encoded else {
            tracing::error!(node = %shared.id, %signal, items, "The persistent queue cannot hold this batch (profiles, or over 1 GiB); batch not delivered.");
            msg.reject(&format!(
                "exporter {}: the persistent queue holds traces, metrics and logs of at most 1 GiB per batch",
                shared.id
            ));
            continue;
        };
        loop {
            let sh = shared.clone();
            let (r, back) = tokio::task::spawn_blocking(move || {
                let r = sh.wal.lock().append(&record);
                (r, record)
            })
            .await
            .map_err(|e| NodeError::Internal(format!("queue write task failed: {e}")))?;
            record = back;
            match r {
                Ok(()) => {
                    let _ = shared.metrics.written.fetch_add(1, Relaxed);
                    shared.new_data.notify_one();
                    break;
                }
                Err(AppendError::Full) => match shared.when_full {
                    WhenFull::Block => {
                        // The reader frees room as it delivers; re-check
                        // now and then in case a notification raced.
                        let _ = tokio::time::timeout(
                            Duration::from_millis(200),
                            shared.freed.notified(),
                        )
                        .await;
                    }
                    WhenFull::DropOldest => {
                        let sh = shared.clone();
                        let dropped =
                            tokio::task::spawn_blocking(move || sh.wal.lock().drop_oldest())
                                .await
                                .map_err(|e| {
                                    NodeError::Internal(format!("queue task failed: {e}"))
                                })?;
                        match dropped {
                            Ok(Some(n)) => {
                                let _ = shared.metrics.dropped_items.fetch_add(n, Relaxed);
                                tracing::warn!(node = %shared.id, items = n, "Persistent queue full; dropped its oldest segment.");
                            }
                            Ok(None) => {
                                // One record larger than the queue: wait
                                // for the reader to take it.
                                let _ = tokio::time::timeout(
                                    Duration::from_millis(200),
                                    shared.freed.notified(),
                                )
                                .await;
                            }
                            Err(e) => {
                                tracing::error!(node = %shared.id, error = %e, "Persistent queue cannot drop a segment.");
                                msg.fail(&format!("exporter {}: {e}", shared.id));
                                break;
                            }
                        }
                    }
                },
                Err(e) => {
                    tracing::error!(node = %shared.id, error = %e, items, "Persistent queue write failed; batch not delivered.");
                    msg.fail(&format!("exporter {}: {e}", shared.id));
                    break;
                }
            }
        }
        // On disk (as `fsync` says): the acks settle here.
        drop(msg);
    }
    let _ = closed.send(true);
    Ok(())
}

/// Feeds the exporter from the log in order until the input is closed and
/// the log is drained (or the backend is down at shutdown: what is left
/// stays on disk for the next start).
async fn read_loop(
    shared: Arc<Shared>,
    tx: mpsc::Sender<Message>,
    dead_letter: Option<Output>,
    mut closed: watch::Receiver<bool>,
) {
    loop {
        let was_closed = *closed.borrow();
        let sh = shared.clone();
        let next = match tokio::task::spawn_blocking(move || sh.wal.lock().next_record()).await {
            Ok(n) => n,
            Err(_) => return,
        };
        let record = match next {
            Ok(Some(r)) => r,
            Ok(None) if was_closed => return,
            Ok(None) => {
                tokio::select! {
                    () = shared.new_data.notified() => {}
                    _ = closed.wait_for(|c| *c) => {}
                }
                continue;
            }
            Err(e) => {
                tracing::error!(node = %shared.id, error = %e, "Persistent queue read failed; retrying in 1 s.");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let batch =
            Batch::from_otlp_unchecked(record.signal, record.payload, record.items as usize);
        let mut attempt: u32 = 0;
        loop {
            let (ack, outcome) = Ack::new();
            if tx
                .send(Message::with_ack(batch.clone(), ack))
                .await
                .is_err()
            {
                return;
            }
            match outcome.await {
                Ok(Delivery::Delivered) | Err(_) => {
                    let _ = shared.metrics.delivered.fetch_add(1, Relaxed);
                    break;
                }
                Ok(Delivery::Rejected(reason)) => {
                    let _ = shared.metrics.rejected.fetch_add(1, Relaxed);
                    match &dead_letter {
                        Some(dl) => {
                            tracing::warn!(node = %shared.id, reason = %reason, items = record.items, "Backend rejected a queued batch; sending it to the dead-letter exporter.");
                            let _ = dl.send(Message::new(batch.clone())).await;
                        }
                        None => {
                            tracing::error!(node = %shared.id, reason = %reason, items = record.items, "Backend rejected a queued batch; it is dropped (configure `dead-letter` to keep such batches).");
                        }
                    }
                    break;
                }
                Ok(Delivery::Failed(reason)) => {
                    if *closed.borrow() && attempt > 0 {
                        tracing::warn!(node = %shared.id, reason = %reason, "Backend still failing at shutdown; the queue keeps the batch for the next start.");
                        return;
                    }
                    let _ = shared.metrics.retries.fetch_add(1, Relaxed);
                    let delay = backoff(attempt);
                    attempt = attempt.saturating_add(1);
                    tracing::warn!(node = %shared.id, reason = %reason, attempt, delay_ms = delay.as_millis() as u64, "Queued batch not delivered; retrying.");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        _ = closed.wait_for(|c| *c) => {}
                    }
                }
            }
        }
        let sh = shared.clone();
        let next = record.next;
        match tokio::task::spawn_blocking(move || sh.wal.lock().commit(next)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(node = %shared.id, error = %e, "Persistent queue cannot record a delivery; the batch may be sent again after a restart.")
            }
            Err(_) => return,
        }
        shared.freed.notify_one();
    }
}

/// Full jitter: uniformly random up to `min(MAX, FIRST * 2^attempt)`.
fn backoff(attempt: u32) -> Duration {
    let cap = FIRST_BACKOFF
        .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX))
        .min(MAX_BACKOFF);
    let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(fastrand::u64(nanos / 2..=nanos))
}

/// An exporter whose failed batches go to another exporter.
pub struct DeadLetter {
    inner: Box<dyn Exporter>,
    target: Output,
}

impl DeadLetter {
    /// `inner`, handing what it gives up on to `target`.
    pub fn wrap(inner: Box<dyn Exporter>, target: Output) -> Box<dyn Exporter> {
        Box::new(DeadLetter { inner, target })
    }
}

impl Exporter for DeadLetter {
    fn run(self: Box<Self>, mut ctx: ExporterContext) -> BoxFuture<Result<(), NodeError>> {
        let DeadLetter { inner, target } = *self;
        Box::pin(async move {
            let (tx, rx) = mpsc::channel(1);
            let mut tasks = JoinSet::new();
            let uncounted = Arc::new(NodeMetrics::new(&ctx.id, "exporter", "dead-letter"));
            let _ = tasks.spawn(inner.run(ExporterContext {
                id: ctx.id.clone(),
                input: Input::new(rx, uncounted),
                metrics: ctx.metrics.clone(),
            }));
            let mut pending = FuturesUnordered::new();
            let mut open = true;
            loop {
                tokio::select! {
                    m = ctx.input.recv(), if open => match m {
                        Some(msg) => {
                            let (ack, outcome) = Ack::new();
                            if tx.send(Message::with_ack(msg.batch.clone(), ack)).await.is_err() {
                                msg.fail(&format!("exporter {} stopped", ctx.id));
                                open = false;
                                continue;
                            }
                            pending.push(async move { (msg, outcome.await) });
                        }
                        None => open = false,
                    },
                    Some((msg, outcome)) = pending.next(), if !pending.is_empty() => {
                        if let Ok(Delivery::Failed(reason) | Delivery::Rejected(reason)) = outcome {
                            tracing::warn!(node = %ctx.id, reason = %reason, items = msg.batch.items(), "Export gave up; sending the batch to the dead-letter exporter.");
                            let _ = target.send(msg).await;
                        }
                    }
                    else => break,
                }
            }
            drop(tx);
            while let Some(r) = tasks.join_next().await {
                match r {
                    Ok(Err(e)) => return Err(e),
                    Err(e) => {
                        return Err(NodeError::Internal(format!("exporter task failed: {e}")));
                    }
                    Ok(Ok(())) => {}
                }
            }
            Ok(())
        })
    }
}
