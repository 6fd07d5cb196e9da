//! The `generate` receiver: synthetic traces, logs and metrics at a
//! configured rate, for demos, tests and benchmarks.
//!
//! - [`config`]: the KDL properties, their defaults and `validate`.
//! - `receiver`: the node, one paced loop per signal.
//! - `data`: the synthetic requests (a small web application's telemetry).
//!
//! Batches are built with the `opentelemetry-proto` types, encoded with
//! prost and wrapped with their exact item count, so nothing needs to scan
//! them. Unlike `otlp`, this receiver waits under backpressure instead of
//! refusing: there is no client to push back on.

pub mod config;
mod data;
mod receiver;
#[cfg(test)]
mod tests;

pub use config::{GenerateConfig, validate};
pub use receiver::GenerateReceiver;
