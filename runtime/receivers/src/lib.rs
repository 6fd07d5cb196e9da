//! weir's receivers: the nodes that bring telemetry into a pipeline.
//!
//! - [`otlp`]: OTLP over gRPC and HTTP (protobuf and JSON, gzip and zstd),
//!   with backpressure and optional end-to-end acknowledgement.
//! - [`ebpf`] (Linux): kernel signals from weir's eBPF probes: system
//!   calls, run-queue latency, TCP and CPU profiles.
//! - [`generate`]: synthetic traces, logs and metrics at a configured rate,
//!   for demos, tests and benchmarks.
//!
//! Each component exports a `validate` function (the registry's
//! [`ValidateFn`](weir_engine::registry::ValidateFn)) that reads its KDL block
//! and returns a builder; building binds sockets, running serves.

#[cfg(target_os = "linux")]
pub mod ebpf;
pub mod generate;
pub mod otlp;
pub mod prometheus;
