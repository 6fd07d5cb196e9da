//! The `prometheus` receiver: scrapes Prometheus and OpenMetrics endpoints
//! into metrics batches.
//!
//! - [`config`]: jobs, targets, relabelling; `validate`.
//! - [`parser`]: the exposition formats, parsed in place.
//! - [`ingest`]: one body -> data points (families, target labels,
//!   staleness).
//! - [`relabel`]: Prometheus relabelling rules.
//! - [`discovery`]: static targets and target files.
//! - `scrape`: the HTTP request and its bounded body.
//! - `target`: the scrape loop of one target, with its health series.
//! - `receiver`: the node, one loop per target.
//!
//! See `docs/configuration.md` for the settings and the mapping to the
//! OTLP model.

pub mod config;
pub mod discovery;
pub mod ingest;
pub mod parser;
mod receiver;
pub mod relabel;
mod scrape;
mod target;
#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests;

pub use config::{PrometheusConfig, validate};
pub use receiver::PrometheusReceiver;
