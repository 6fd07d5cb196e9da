//! The end-to-end test harness of weir: real `weir` processes, a real
//! OTLP/gRPC sink, and the real OpenTelemetry Python SDK as the client.
//!
//! - [`process`]: run `weir run` on a pipeline, wait for `/readyz`, stop it
//!   with SIGTERM, run `weir validate`/`weir query`;
//! - [`sink`]: a tonic server implementing the three OTLP collector services
//!   that keeps every request;
//! - [`python`]: the Python venv (`scripts/python-env`) and `send.py`, which
//!   sends every kind of telemetry and records the exact bytes it sent;
//! - [`otlp`]: flattening requests into `(resource, scope, item)` triples and
//!   comparing sent with received, field by field;
//! - [`raw`]: malformed requests (arbitrary gRPC bytes, gzip bombs);
//! - [`prometheus`]: a real Prometheus server and a real `prometheus_client`
//!   application.
//!
//! Everything listens on 127.0.0.1 and every wait has a timeout. The tests
//! themselves are in `tests/tests/`; `scripts/test` runs them all.

pub mod otlp;
pub mod process;
pub mod prometheus;
pub mod python;
pub mod raw;
pub mod sink;

pub use otlp::{Logs, Metrics, OtlpSignal, Traces, assert_same};
pub use process::{Addrs, Weir, free_addr, free_port, query_u64, weir_bin, weir_output};
pub use python::{Protocol, SendPlan, Sent, repo_root};
pub use sink::Sink;
