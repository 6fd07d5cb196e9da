//! The `batch` processor: groups small batches into larger ones by item
//! count, byte size and time.
//!
//! Batches of one signal are merged with [`Batch::concat`], which
//! concatenates OTLP bytes when every input still has them: batching never
//! decodes. A batch is flushed when it reaches `max-items` or `max-bytes`,
//! when its oldest part is `timeout` old, and when the input closes
//! (shutdown). An input larger than `max-items` passes through whole.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;
use weir_config::{ConfigError, NodeReader};
use weir_pdata::{Batch, Signal};

use crate::error::NodeError;
use crate::message::{Ack, Message};
use crate::node::{BoxFuture, Processor, ProcessorContext};
use crate::registry::{BuildContext, Builder, Built};

/// Configuration of the batch processor.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchConfig {
    /// Flush when this many items are buffered. Default 8192.
    pub max_items: usize,
    /// Flush when this many OTLP bytes are buffered. Default 8 MiB.
    pub max_bytes: usize,
    /// Flush a buffer this long after its first batch. Default 200 ms.
    pub timeout: Duration,
}

impl BatchConfig {
    /// Default `max-items`.
    pub const DEFAULT_MAX_ITEMS: usize = 8192;
    /// Default `max-bytes`.
    pub const DEFAULT_MAX_BYTES: usize = 8 << 20;
    /// Default `timeout`.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(200);
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_items: Self::DEFAULT_MAX_ITEMS,
            max_bytes: Self::DEFAULT_MAX_BYTES,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }
}

/// Reads a `processor type="batch"` block.
pub fn validate(r: &mut NodeReader<'_>) -> Option<Box<dyn Builder>> {
    let mut c = BatchConfig::default();
    if let Some(n) = r.u64_in("max-items", 1..=10_000_000) {
        c.max_items = n as usize;
    }
    if let Some(b) = r.byte_size("max-bytes") {
        c.max_bytes = usize::try_from(b.0).unwrap_or(usize::MAX).max(1);
    }
    if let Some(t) = r.duration("timeout") {
        c.timeout = t;
    }
    Some(Box::new(c))
}

impl Builder for BatchConfig {
    fn build(self: Box<Self>, _ctx: &BuildContext<'_>) -> Result<Built, ConfigError> {
        Ok(Built::Processor(Box::new(BatchProcessor { config: *self })))
    }
}

/// The running batch processor.
pub struct BatchProcessor {
    config: BatchConfig,
}

impl BatchProcessor {
    /// A processor with `config`.
    pub fn new(config: BatchConfig) -> Self {
        BatchProcessor { config }
    }
}

#[derive(Default)]
struct Pending {
    batches: Vec<Batch>,
    acks: Vec<Ack>,
    items: usize,
    bytes: usize,
    since: Option<Instant>,
}

impl Processor for BatchProcessor {
    fn run(self: Box<Self>, mut ctx: ProcessorContext) -> BoxFuture<Result<(), NodeError>> {
        let config = self.config;
        Box::pin(async move {
            let mut pending: BTreeMap<Signal, Pending> = BTreeMap::new();
            loop {
                let deadline = pending
                    .values()
                    .filter_map(|p| p.since)
                    .min()
                    .map(|s| s + config.timeout);
                let msg = match deadline {
                    Some(d) => match tokio::time::timeout_at(d, ctx.input.recv()).await {
                        Ok(m) => m,
                        Err(_) => {
                            let now = Instant::now();
                            let due: Vec<Signal> = pending
                                .iter()
                                .filter(|(_, p)| p.since.is_some_and(|s| s + config.timeout <= now))
                                .map(|(s, _)| *s)
                                .collect();
                            for s in due {
                                if let Some(p) = pending.remove(&s) {
                                    flush(&ctx, p).await?;
                                }
                            }
                            continue;
                        }
                    },
                    None => ctx.input.recv().await,
                };
                let Some(msg) = msg else { break };
                let signal = msg.batch.signal();
                let p = pending.entry(signal).or_default();
                p.items += msg.batch.items();
                p.bytes += msg.batch.otlp_len();
                p.since.get_or_insert_with(Instant::now);
                p.batches.push(msg.batch);
                p.acks.extend(msg.acks);
                if (p.items >= config.max_items || p.bytes >= config.max_bytes)
                    && let Some(p) = pending.remove(&signal)
                {
                    flush(&ctx, p).await?;
                }
            }
            for (_, p) in std::mem::take(&mut pending) {
                flush(&ctx, p).await?;
            }
            Ok(())
        })
    }
}

async fn flush(ctx: &ProcessorContext, p: Pending) -> Result<(), NodeError> {
    if p.batches.is_empty() {
        return Ok(());
    }
    let start = std::time::Instant::now();
    let merged = Batch::concat(&p.batches);
    ctx.metrics.record_latency(start.elapsed());
    match merged {
        Ok(batch) => {
            let msg = Message {
                batch,
                acks: p.acks,
            };
            // A closed output means the pipeline is being torn down.
            let _ = ctx.output.send(msg).await;
        }
        Err(e) => {
            ctx.metrics.record_error();
            ctx.metrics.record_failed(p.items);
            tracing::error!(node = %ctx.id, error = %e, items = p.items, "Could not merge batches.");
            for a in &p.acks {
                a.fail(format!("batch {}: {e}", ctx.id));
            }
        }
    }
    Ok(())
}
