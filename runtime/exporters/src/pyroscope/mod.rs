//! `exporter "x" type="pyroscope"`: pushes CPU profiles to Grafana
//! Pyroscope's ingest API as pprof.
//!
//! ```kdl
//! exporter "pyroscope" type="pyroscope" {
//!     from "profiles"
//!     endpoint "http://127.0.0.1:4040"
//!     labels "process.executable.name"   // sample attributes that become series labels
//!     headers { "X-Scope-OrgID" "tenant-1" }
//!     timeout "10s"
//!     retry { initial "100ms" max "5s" max-elapsed "60s" }
//! }
//! ```
//!
//! Each profiles batch becomes one upload per application (the resource's
//! `service.name`) and label set: `POST <endpoint>/ingest?name=app{labels}
//! &from=..&until=..&format=pprof&sampleRate=..` with a multipart body whose
//! `profile` field is a gzipped pprof `Profile` with two sample types
//! (`samples/count` and `cpu/nanoseconds`), the thread as per-sample
//! labels, and one function and location per distinct frame. Retryable
//! failures (429, 502-504, connection errors) are retried with backoff,
//! honouring `Retry-After`. Batches of other signals are refused.

mod config;
mod exporter;
mod pprof;
#[cfg(test)]
mod tests;

pub use config::{PyroscopeConfig, validate};
pub use exporter::{PyroscopeExporter, PyroscopeSetupError};
pub use pprof::{Function, Label, Line, Location, Mapping, PprofSample, Profile, ValueType};
