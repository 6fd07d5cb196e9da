//! weir's engine: pipeline nodes wired as a graph by bounded channels.
//!
//! - [`node`]: the receiver, processor and exporter traits and their
//!   contexts.
//! - [`message`]: what flows on a channel — a [`Batch`](weir_pdata::Batch)
//!   and the [`Ack`](message::Ack)s that tell its sources when it is safe.
//! - [`channel`]: bounded, fanned-out outputs with backpressure.
//! - [`registry`]: component types by name (validate, then build).
//! - [`graph`]: builds a running pipeline from a validated configuration
//!   and shuts it down gracefully.
//! - [`memory`]: the global memory limit receivers reserve against.
//! - [`queue`]: the persistent queue (a write-ahead log per exporter) and
//!   dead-letter routing.
//! - [`metrics`]: self-metrics per node, rendered in Prometheus text format.
//! - [`reload`]: hot reload — the pipeline diff, plugin swaps, reports.
//! - [`admin`]: the admin HTTP endpoint (`/metrics`, `/healthz`, `/readyz`).
//! - [`processors`]: processors built into the engine (`batch`).

pub mod admin;
pub mod channel;
pub mod error;
pub mod graph;
pub mod memory;
pub mod message;
pub mod metrics;
pub mod node;
pub mod processors;
pub mod queue;
pub mod registry;
pub mod reload;

pub use error::{EngineError, NodeError};
pub use message::{Ack, Delivery, Message};
