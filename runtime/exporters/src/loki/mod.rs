//! `exporter "x" type="loki"`: log records to Grafana Loki's push API.
//!
//! ```kdl
//! exporter "loki" type="loki" {
//!     from "apps"
//!     endpoint "http://127.0.0.1:3100"      // POST <endpoint>/loki/api/v1/push
//!     encoding "protobuf"                   // snappy-compressed; or "json"
//!     tenant "team-a"                       // X-Scope-OrgID
//!     resource-labels "service.name" "service.namespace" "deployment.environment"
//!     attribute-labels "http.route"
//!     level-label #true                     // `level` from the severity
//!     max-streams 10000                     // the cardinality guard
//!     timeout "10s"
//!     headers { "authorization" "Bearer ..." }
//!     retry { initial "100ms" max "5s" max-elapsed "60s" }
//! }
//! ```
//!
//! Each batch becomes one push request. A record's stream is the label set
//! made of the configured resource and record attributes (names with `.`
//! turned into `_`) and, with `level-label`, its level; every other
//! attribute, resource attribute, the trace and span ids and the scope
//! name go into the entry's structured metadata, so nothing is lost by
//! not being a label. The body is the line (non-string bodies as JSON).
//! Entries of a stream are sent in timestamp order; batches are sent one
//! at a time, so a stream's entries reach Loki in the order weir got them.
//!
//! The cardinality guard: at most `max-streams` distinct label sets are
//! created over the exporter's life; entries of further label sets go to
//! the stream `{weir_overflow="true"}` with their would-be labels as
//! structured metadata, and are counted.

mod config;
mod exporter;
pub mod proto;
pub mod streams;
#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests;

pub use config::{Encoding, LokiConfig, read, validate};
pub use exporter::LokiExporter;
pub use streams::{LabelRules, StreamBuilder};
