//! weir's exporters: where telemetry leaves the pipeline.
//!
//! One folder per component, each with `config.rs` (the typed settings and
//! the `validate` function the registry calls), the node itself and
//! `tests.rs`:
//!
//! - [`otlp`]: sends batches to an OTLP backend over gRPC or HTTP, forwarding
//!   the request bytes as they arrived, with retries and backoff.
//! - [`delivery`]: retries, backoff and the retryable/permanent split
//!   every backend exporter shares.
//! - [`loki`]: the Loki push API (protobuf + snappy, or JSON), streams from
//!   configured labels, structured metadata for the rest.
//! - [`debug`]: logs a line per batch, or writes every request as OTLP/JSON.
//! - [`pyroscope`]: pushes profiles to Grafana Pyroscope as pprof.
//! - [`remote_write`]: Prometheus remote write 1.0 (protobuf + snappy),
//!   sharded, with retries; [`prom_mapping`] is the OTLP -> Prometheus
//!   mapping it shares with the pull exporter.
//! - [`prometheus`]: a pull `/metrics` endpoint serving the pipeline's
//!   metrics.
//! - [`parquet`]: the embedded store, Parquet files per table and hour that
//!   `weir query` reads (see `docs/store.md`).

pub mod debug;
pub mod delivery;
pub mod error;
pub mod loki;
pub mod otlp;
pub mod parquet;
pub mod prom_mapping;
pub mod prometheus;
pub mod pyroscope;
pub mod remote_write;

pub use error::ExportError;

use std::path::{Path, PathBuf};

/// Resolves a configured path against the pipeline file's directory.
pub(crate) fn resolve_path(base_dir: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base_dir.join(p)
    }
}
