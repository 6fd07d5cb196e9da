//! Messages between nodes and the acknowledgements that travel with them.
//!
//! Every message carries the [`Ack`]s of the client requests its data came
//! from. An `Ack` is a shared handle: fan-out clones it, a batch processor
//! keeps the acks of everything it merged. When the last handle of a request
//! is dropped, the request's [`Delivery`] is settled: `Delivered` unless some
//! node called [`Ack::fail`]. A processor that drops data on purpose (a
//! sampler) simply drops the ack, which counts as delivered. An exporter that
//! gives up calls `fail` with the reason. A disk queue will drop its acks only
//! once the data is durable, so a client can be told OK exactly when its data
//! is safe (see `docs/architecture.md`).

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::oneshot;
use weir_pdata::Batch;

/// The outcome of one client request, as seen by its receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Every node that got the data handled it.
    Delivered,
    /// Some node gave up on it but a later attempt may succeed (a backend
    /// down past the retry budget); the reason of the first failure.
    Failed(String),
    /// Some node refused it for good (a backend answered 400): retrying
    /// the same data will not help. The reason of the first refusal.
    Rejected(String),
}

struct AckState {
    /// The first failure, and whether it is permanent.
    failure: Mutex<Option<(String, bool)>>,
    tx: Mutex<Option<oneshot::Sender<Delivery>>>,
    /// Released when the request's data is no longer held anywhere (see
    /// [`crate::memory`]).
    _reservation: Option<crate::memory::Reservation>,
}

impl Drop for AckState {
    fn drop(&mut self) {
        let outcome = match self.failure.get_mut().take() {
            Some((reason, false)) => Delivery::Failed(reason),
            Some((reason, true)) => Delivery::Rejected(reason),
            None => Delivery::Delivered,
        };
        if let Some(tx) = self.tx.get_mut().take() {
            let _ = tx.send(outcome);
        }
    }
}

/// A shared handle on one client request's delivery.
#[derive(Clone)]
pub struct Ack(Arc<AckState>);

impl std::fmt::Debug for Ack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ack")
    }
}

impl Ack {
    /// A new ack and the receiver of its outcome.
    pub fn new() -> (Ack, oneshot::Receiver<Delivery>) {
        let (tx, rx) = oneshot::channel();
        (
            Ack(Arc::new(AckState {
                failure: Mutex::new(None),
                tx: Mutex::new(Some(tx)),
                _reservation: None,
            })),
            rx,
        )
    }

    /// An ack nobody waits for that holds `reservation` until the data it
    /// travels with is dropped everywhere.
    pub(crate) fn holding(reservation: crate::memory::Reservation) -> Ack {
        Ack(Arc::new(AckState {
            failure: Mutex::new(None),
            tx: Mutex::new(None),
            _reservation: Some(reservation),
        }))
    }

    /// Marks the request as not delivered, retryably (the first reason
    /// wins).
    pub fn fail(&self, reason: impl Into<String>) {
        let mut f = self.0.failure.lock();
        if f.is_none() {
            *f = Some((reason.into(), false));
        }
    }

    /// Marks the request as refused for good (the first reason wins).
    pub fn reject(&self, reason: impl Into<String>) {
        let mut f = self.0.failure.lock();
        if f.is_none() {
            *f = Some((reason.into(), true));
        }
    }
}

/// What flows on a channel: a batch and the acks of the requests in it.
#[derive(Debug, Clone)]
pub struct Message {
    /// The data.
    pub batch: Batch,
    /// The requests the data came from (empty when nobody waits).
    pub acks: Vec<Ack>,
}

impl Message {
    /// A message nobody waits for.
    pub fn new(batch: Batch) -> Self {
        Message {
            batch,
            acks: Vec::new(),
        }
    }

    /// A message with one ack.
    pub fn with_ack(batch: Batch, ack: Ack) -> Self {
        Message {
            batch,
            acks: vec![ack],
        }
    }

    /// Marks every request of this message as failed.
    pub fn fail(&self, reason: &str) {
        for a in &self.acks {
            a.fail(reason);
        }
    }

    /// Marks every request of this message as refused for good.
    pub fn reject(&self, reason: &str) {
        for a in &self.acks {
            a.reject(reason);
        }
    }

    /// Marks the message failed the way `err` says: rejected when the error
    /// is permanent, failed (retryable) otherwise.
    pub fn fail_with(&self, err: &crate::NodeError, reason: &str) {
        if err.is_permanent() {
            self.reject(reason);
        } else {
            self.fail(reason);
        }
    }

    /// The same acks on a new batch (a processor's output).
    pub fn map(self, batch: Batch) -> Self {
        Message {
            batch,
            acks: self.acks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> Batch {
        Batch::from_otlp_unchecked(weir_pdata::Signal::Logs, bytes::Bytes::new(), 0)
    }

    #[test]
    fn settles_when_last_clone_drops() {
        let (ack, mut rx) = Ack::new();
        let m = Message::with_ack(batch(), ack);
        let copy = m.clone();
        drop(m);
        assert!(rx.try_recv().is_err(), "settled while a copy is alive");
        drop(copy);
        assert_eq!(rx.try_recv().ok(), Some(Delivery::Delivered));
    }

    #[test]
    fn failure_wins() {
        let (ack, mut rx) = Ack::new();
        let m = Message::with_ack(batch(), ack);
        let copy = m.clone();
        copy.fail("backend down");
        drop(copy);
        drop(m);
        assert_eq!(
            rx.try_recv().ok(),
            Some(Delivery::Failed("backend down".into()))
        );
    }
}
