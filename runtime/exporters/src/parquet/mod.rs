//! `exporter "x" type="parquet"`: the embedded store.
//!
//! ```kdl
//! exporter "store" type="parquet" {
//!     from "batch"
//!     path "./weir-data"
//!     max-file-size "64MiB"
//!     max-file-age "60s"
//!     compression "zstd"      // or "snappy", "none"
//! }
//! ```
//!
//! Every batch is stored as rows of its signal's table (`spans`, `logs`,
//! `metrics`), each row joined with its resource and scope ([`table`]), in
//! Parquet files under `<path>/<table>/date=YYYY-MM-DD/hour=HH/` ([`files`]).
//! A file becomes visible (renamed from `.tmp` to `.parquet`) when it is
//! complete: at `max-file-size`, at `max-file-age`, when the hour changes,
//! and on shutdown. `weir query` reads the store with SQL (`weir-sql`). The
//! layout and columns are documented in `docs/store.md`.

mod config;
mod exporter;
pub mod files;
pub mod table;
#[cfg(test)]
mod tests;

pub use config::{ParquetExporterConfig, StoreCompression, validate};
pub use exporter::{ParquetExporter, ParquetNode};
