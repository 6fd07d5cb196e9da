//! The global memory limit: how many bytes of received data may be held
//! in the pipeline at once.
//!
//! A receiver reserves the size of each request before sending it on
//! ([`crate::channel::Output::try_send_for`] does it when the pipeline has
//! a limit). The [`Reservation`] travels with the data inside an ack
//! ([`crate::Ack`]), so it is released exactly when the last node holding
//! the data lets go of it: an exporter that sent it, a processor that
//! dropped it, a persistent queue once it is on disk. When the limit is
//! reached, receivers wait up to their `backpressure-wait` for room and
//! then refuse the request as retryable (gRPC `RESOURCE_EXHAUSTED`, HTTP
//! 429 with `Retry-After`): memory stays bounded and the client retries.
//!
//! The size of a request is its OTLP protobuf length (what a receiver got);
//! decoded batches (Arrow tables) are estimated at [`DECODED_ITEM_BYTES`]
//! per item. Decoding and processing can make the resident memory a small
//! multiple of this; `docs/delivery.md` gives the measured ratio.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use weir_pdata::Batch;

/// Bytes counted per item of a batch that has no OTLP bytes at hand.
pub const DECODED_ITEM_BYTES: usize = 256;

struct Inner {
    limit: usize,
    used: AtomicUsize,
    refused: AtomicU64,
    freed: Notify,
}

/// A shared byte budget; cloning shares it.
#[derive(Clone)]
pub struct MemoryLimit(Arc<Inner>);

impl std::fmt::Debug for MemoryLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryLimit")
            .field("limit", &self.0.limit)
            .field("used", &self.used())
            .finish()
    }
}

impl MemoryLimit {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        MemoryLimit(Arc::new(Inner {
            limit,
            used: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
            freed: Notify::new(),
        }))
    }

    /// The budget.
    pub fn limit(&self) -> usize {
        self.0.limit
    }

    /// Bytes reserved now.
    pub fn used(&self) -> usize {
        self.0.used.load(Ordering::Acquire)
    }

    /// Requests refused because the budget was spent.
    pub fn refused(&self) -> u64 {
        self.0.refused.load(Ordering::Relaxed)
    }

    /// The bytes a batch counts for.
    pub fn size_of(batch: &Batch) -> usize {
        match batch.otlp_len() {
            0 => batch.items().saturating_mul(DECODED_ITEM_BYTES),
            n => n,
        }
    }

    /// Reserves `bytes` if they fit. A request larger than the whole
    /// budget is admitted when nothing else is held, so that it cannot be
    /// refused forever.
    pub fn try_reserve(&self, bytes: usize) -> Option<Reservation> {
        let mut used = self.0.used.load(Ordering::Acquire);
        loop {
            let next = used.saturating_add(bytes);
            if next > self.0.limit && used > 0 {
                return None;
            }
            match self
                .0
                .used
                .compare_exchange_weak(used, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    return Some(Reservation {
                        limit: self.clone(),
                        bytes,
                    });
                }
                Err(now) => used = now,
            }
        }
    }

    /// Reserves `bytes`, waiting up to `wait` for others to release room.
    /// `None` (counted as refused) when there was none in time.
    pub async fn reserve_within(&self, bytes: usize, wait: Duration) -> Option<Reservation> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let freed = self.0.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(r) = self.try_reserve(bytes) {
                return Some(r);
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                let _ = self.0.refused.fetch_add(1, Ordering::Relaxed);
                return None;
            }
        }
    }

    /// Reserves `bytes`, waiting as long as it takes (receivers that pace
    /// themselves, like scrapes, slow down instead of refusing).
    pub async fn reserve(&self, bytes: usize) -> Reservation {
        loop {
            let freed = self.0.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(r) = self.try_reserve(bytes) {
                return r;
            }
            freed.await;
        }
    }

    /// Series for `/metrics`.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        let _ = write!(
            out,
            "# HELP weir_memory_limit_bytes The pipeline's memory limit (settings memory-limit).\n\
             # TYPE weir_memory_limit_bytes gauge\nweir_memory_limit_bytes {}\n\
             # HELP weir_memory_used_bytes Bytes of received data held in the pipeline.\n\
             # TYPE weir_memory_used_bytes gauge\nweir_memory_used_bytes {}\n\
             # HELP weir_memory_refused_total Requests refused because the memory limit was reached.\n\
             # TYPE weir_memory_refused_total counter\nweir_memory_refused_total {}\n",
            self.limit(),
            self.used(),
            self.refused()
        );
    }
}

/// Bytes held against a [`MemoryLimit`]; released on drop.
pub struct Reservation {
    limit: MemoryLimit,
    bytes: usize,
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reservation({} bytes)", self.bytes)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let _ = self.limit.0.used.fetch_sub(self.bytes, Ordering::AcqRel);
        self.limit.0.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserves_up_to_the_limit_and_releases_on_drop() {
        let m = MemoryLimit::new(100);
        let a = m.try_reserve(60);
        assert!(a.is_some());
        assert!(m.try_reserve(50).is_none(), "over the limit");
        let b = m.try_reserve(40);
        assert!(b.is_some());
        assert_eq!(m.used(), 100);
        drop(a);
        assert_eq!(m.used(), 40);
        drop(b);
        assert_eq!(m.used(), 0);
        // Larger than the budget: admitted alone only.
        let big = m.try_reserve(500);
        assert!(big.is_some());
        assert!(m.try_reserve(1).is_none());
    }

    #[tokio::test]
    async fn waits_for_room() {
        let m = MemoryLimit::new(10);
        let held = m.try_reserve(10);
        let m2 = m.clone();
        let waiter =
            tokio::spawn(
                async move { m2.reserve_within(5, Duration::from_secs(5)).await.is_some() },
            );
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        assert!(waiter.await.unwrap_or(false), "got room once it was freed");
        assert!(
            m.reserve_within(20, Duration::from_millis(10))
                .await
                .is_some(),
            "alone, anything fits"
        );
        let _x = m.try_reserve(10);
        assert!(
            m.reserve_within(5, Duration::from_millis(10))
                .await
                .is_none()
        );
        assert_eq!(m.refused(), 1);
    }
}
