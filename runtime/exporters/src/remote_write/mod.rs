//! `exporter "x" type="remote-write"`: Prometheus remote write 1.0.
//!
//! ```kdl
//! exporter "prom" type="remote-write" {
//!     from "scrape"
//!     endpoint "http://127.0.0.1:9090/api/v1/write"
//!     shards 4                      // requests in flight
//!     max-samples-per-send 2000
//!     timeout "30s"
//!     add-metric-suffixes #true     // unit, _ratio and _total suffixes
//!     target-info #true             // resource attributes -> target_info
//!     headers { "X-Scope-OrgID" "tenant-1" }
//!     basic-auth { username "u"; password "p" }   // or: bearer-token "t"
//!     retry { initial "100ms" max "5s" max-elapsed "60s" }
//! }
//! ```
//!
//! Requests are `prometheus.WriteRequest` protobuf, snappy block-compressed,
//! with `Content-Encoding: snappy` and `X-Prometheus-Remote-Write-Version:
//! 0.1.0`. The mapping from the OTLP model is [`crate::prom_mapping`].

mod config;
mod exporter;
pub mod proto;
#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests;

pub use config::{RemoteWriteConfig, read, validate};
pub use exporter::{RemoteWriteExporter, SetupError};
