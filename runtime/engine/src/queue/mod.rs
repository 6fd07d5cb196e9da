//! The persistent queue of an exporter, and dead-letter routing.
//!
//! An exporter with a `queue { }` block gets a write-ahead log on disk
//! ([`wal`]) between its input and itself:
//!
//! - the *writer* appends each incoming batch (its OTLP bytes) to the log,
//!   syncs it as `fsync` says, and only then drops the batch's acks — so a
//!   receiver with `ack "delivered"` answers its client once the data is
//!   on disk, and the memory the batch held is released;
//! - the *reader* takes records from the log in order, hands each to the
//!   exporter with an ack of its own and waits for the outcome: delivered
//!   or rejected for good (an HTTP 400: the record goes to the dead-letter
//!   exporter if there is one, else it is logged and counted) moves the
//!   cursor on; a retryable failure (backend down past the exporter's
//!   retry budget) keeps the record and tries it again after a backoff, for
//!   as long as it takes.
//!
//! On start the log is replayed from its cursor, so what was queued when
//! weir stopped or was killed is delivered after the restart
//! (at-least-once: a record delivered just before a crash, whose cursor
//! update was lost, is delivered again).
//!
//! At `max-size` the queue blocks its input (`when-full "block"`, which
//! backs up the pipeline until receivers push back) or deletes its oldest
//! segment (`"drop-oldest"`, counted in `weir_queue_dropped_items_total`).
//!
//! An exporter with `dead-letter "other"` and no queue hands each batch it
//! gives up on (either way) to the exporter `other`, with the batch's
//! original acks: the client's outcome is then the dead letter's.

pub mod config;
mod node;
#[cfg(test)]
mod tests;
pub mod wal;

pub use config::{Fsync, QueueConfig, WhenFull, read};
pub use node::{DeadLetter, PersistentQueue, QueueMetrics};
