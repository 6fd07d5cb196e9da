//! The `ebpf` receiver: kernel signals with no change to the observed
//! programs, from weir's own eBPF probes (`ebpf/probes`, loaded by the
//! `weir-ebpf` crate).
//!
//! - [`config`]: the KDL properties (which signals, the read interval, map
//!   sizes) and `validate`.
//! - `receiver`: the node: load, then read every interval.
//! - `collect`: one read: cumulative points per process, profile samples,
//!   pruning of exited processes.
//! - `points`: OTLP metric messages from kernel histograms.
//!
//! Metrics leave as ordinary Arrow metric batches (`process.syscall.*`,
//! `process.runqueue.latency`, `tcp.*`), so plugins, SQL and remote write
//! treat them like any other source; CPU profiles leave as
//! [`Signal::Profiles`](weir_pdata::Signal::Profiles) batches.

mod collect;
pub mod config;
mod points;
mod receiver;
#[cfg(test)]
mod tests;

pub use config::{EbpfConfig, validate};
pub use receiver::EbpfReceiver;
