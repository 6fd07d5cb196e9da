//! Bounded channels between nodes, with fan-out and backpressure.
//!
//! A node's [`Output`] holds one bounded sender per downstream node. Sending
//! clones the message for all but the last consumer (an `Arc` clone of the
//! batch, never a copy of data) and waits while a consumer's channel is full:
//! that wait is the backpressure that reaches receivers, which turn it into
//! RESOURCE_EXHAUSTED / 429 for their clients (see [`Output::try_send_for`]).
//!
//! The consumers of an output are a shared [`Routes`] table: every clone of
//! the output (a receiver clones it per connection) sends through the same
//! table, which a pipeline reload rewires in place when consumers are added,
//! removed or replaced. The engine keeps only a weak handle on it, so the
//! table (and its senders) is dropped with the node's last output, and the
//! channels downstream close as before.

use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::RwLock;
use tokio::sync::mpsc;

use crate::memory::MemoryLimit;
use crate::message::{Ack, Message};
use crate::metrics::NodeMetrics;

/// The receiving end of a node's input channel (fan-in: every upstream node
/// holds a sender of it). Ends when every upstream node has finished.
pub struct Input {
    rx: mpsc::Receiver<Message>,
    metrics: Arc<NodeMetrics>,
}

impl Input {
    /// A new input over `rx`, counting into `metrics`.
    pub fn new(rx: mpsc::Receiver<Message>, metrics: Arc<NodeMetrics>) -> Self {
        Input { rx, metrics }
    }

    /// The next message, or `None` once all upstream nodes are done and the
    /// channel is drained.
    pub async fn recv(&mut self) -> Option<Message> {
        let m = self.rx.recv().await?;
        self.metrics.record_in(m.batch.items());
        Some(m)
    }

    /// Like [`Input::recv`] but without waiting.
    pub fn try_recv(&mut self) -> Option<Message> {
        let m = self.rx.try_recv().ok()?;
        self.metrics.record_in(m.batch.items());
        Some(m)
    }
}

/// Why a message could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// A downstream channel stayed full for the allowed time.
    #[error("the pipeline is full")]
    Full(Message),
    /// A downstream node has stopped (shutdown in progress).
    #[error("the pipeline is shutting down")]
    Closed(Message),
}

/// The consumers of one node's output, shared by every clone of it.
#[derive(Default)]
pub struct Routes(RwLock<Arc<[mpsc::Sender<Message>]>>);

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes")
            .field("consumers", &self.0.read().len())
            .finish()
    }
}

impl Routes {
    /// A table over `senders`.
    pub fn new(senders: Vec<mpsc::Sender<Message>>) -> Arc<Self> {
        Arc::new(Routes(RwLock::new(senders.into())))
    }

    /// Replaces the consumers. A send in progress finishes on the old ones;
    /// the next one uses the new ones.
    pub fn set(&self, senders: Vec<mpsc::Sender<Message>>) {
        *self.0.write() = senders.into();
    }

    fn current(&self) -> Arc<[mpsc::Sender<Message>]> {
        self.0.read().clone()
    }
}

/// The sending side of a node: one bounded sender per consumer.
#[derive(Clone)]
pub struct Output {
    routes: Arc<Routes>,
    metrics: Arc<NodeMetrics>,
    memory: Option<MemoryLimit>,
}

impl Output {
    /// An output to `senders`, counting into `metrics`.
    pub fn new(senders: Vec<mpsc::Sender<Message>>, metrics: Arc<NodeMetrics>) -> Self {
        Output {
            routes: Routes::new(senders),
            metrics,
            memory: None,
        }
    }

    /// An output through a shared routing table (the engine's, so that a
    /// reload can rewire it).
    pub fn with_routes(routes: Arc<Routes>, metrics: Arc<NodeMetrics>) -> Self {
        Output {
            routes,
            metrics,
            memory: None,
        }
    }

    /// A weak handle on the routing table.
    pub fn routes(&self) -> Weak<Routes> {
        Arc::downgrade(&self.routes)
    }

    /// The same output, reserving every message's size against `limit` in
    /// [`Output::try_send_for`] (the engine gives receivers this when the
    /// pipeline has a `memory-limit`).
    pub fn with_memory_limit(mut self, limit: Option<MemoryLimit>) -> Self {
        self.memory = limit;
        self
    }

    /// The node's metrics.
    pub fn metrics(&self) -> &Arc<NodeMetrics> {
        &self.metrics
    }

    /// Whether anyone consumes this output.
    pub fn is_connected(&self) -> bool {
        !self.routes.current().is_empty()
    }

    /// Sends to every consumer, waiting while a channel is full.
    ///
    /// # Errors
    /// [`SendError::Closed`] when a consumer has stopped.
    ///
    /// With a memory limit (a receiver's output), the message's size is
    /// reserved first, waiting for room as long as it takes.
    pub async fn send(&self, mut msg: Message) -> Result<(), SendError> {
        let items = msg.batch.items();
        if let Some(limit) = &self.memory {
            let r = limit.reserve(MemoryLimit::size_of(&msg.batch)).await;
            msg.acks.push(Ack::holding(r));
        }
        let senders = self.routes.current();
        let n = senders.len();
        let mut msg = Some(msg);
        for (i, tx) in senders.iter().enumerate() {
            let m = if i + 1 == n { msg.take() } else { msg.clone() };
            let Some(m) = m else { break };
            tx.send(m).await.map_err(|e| SendError::Closed(e.0))?;
        }
        self.metrics.record_out(items);
        Ok(())
    }

    /// Sends to every consumer, waiting at most `wait` for room in each.
    ///
    /// A receiver uses this to push back on its client instead of buffering
    /// without bound. Consumers that took the message keep it: a request is
    /// only partly fanned out when a later consumer is full, and its ack then
    /// reports failure, so the client retries (at-least-once).
    ///
    /// With a memory limit, the message's size is reserved first (waiting
    /// up to `wait` for room) and released when its data is dropped
    /// everywhere; no room is [`SendError::Full`] too.
    ///
    /// # Errors
    /// [`SendError::Full`] when a channel stayed full or memory stayed
    /// spent; [`SendError::Closed`] during shutdown.
    pub async fn try_send_for(&self, mut msg: Message, wait: Duration) -> Result<(), SendError> {
        let items = msg.batch.items();
        if let Some(limit) = &self.memory {
            let bytes = MemoryLimit::size_of(&msg.batch);
            match limit.reserve_within(bytes, wait).await {
                Some(r) => msg.acks.push(Ack::holding(r)),
                None => {
                    self.metrics.record_refused(items);
                    return Err(SendError::Full(msg));
                }
            }
        }
        let senders = self.routes.current();
        let n = senders.len();
        let mut msg = Some(msg);
        for (i, tx) in senders.iter().enumerate() {
            let m = if i + 1 == n { msg.take() } else { msg.clone() };
            let Some(m) = m else { break };
            let permit = match tokio::time::timeout(wait, tx.reserve()).await {
                Ok(Ok(p)) => p,
                Ok(Err(_)) => return Err(SendError::Closed(m)),
                Err(_) => {
                    self.metrics.record_refused(items);
                    return Err(SendError::Full(m));
                }
            };
            permit.send(m);
        }
        self.metrics.record_out(items);
        Ok(())
    }
}
