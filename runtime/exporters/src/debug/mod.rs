//! `exporter "x" type="debug"`: shows what flows through a pipeline.
//!
//! ```kdl
//! exporter "show" type="debug" {
//!     from "otlp"
//!     verbosity "detailed"     // "basic" (default): one log line per batch
//!     path "./debug.jsonl"     // detailed only; "-" (default) is stdout
//! }
//! ```
//!
//! `basic` logs one line per batch (signal, items, bytes). `detailed` also
//! writes every batch as one OTLP/JSON request per line (the format OTLP/HTTP
//! accepts with `Content-Type: application/json`), appended to the file and
//! flushed per batch, so `tail -f` and `jq` work on it.

mod config;
mod exporter;
#[cfg(test)]
mod tests;

pub use config::{DebugExporterConfig, Verbosity, validate};
pub use exporter::DebugExporter;
