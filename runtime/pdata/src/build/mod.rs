//! Building tables directly, without OTLP in between.
//!
//! Receivers of other formats (Prometheus scrapes, remote write) append
//! their values straight into Arrow builders here instead of creating
//! `opentelemetry-proto` structs first:
//!
//! - [`MetricTablesBuilder`]: the metrics tables, one data point at a time,
//!   with string-valued point attributes (what every Prometheus label is).
//!
//! The tables follow [`crate::schema`] exactly, so everything downstream
//! (encoding to OTLP, SQL, the store) treats them like decoded OTLP.

mod columns;
mod metrics;

pub use metrics::{Exemplar, MetricHeader, MetricTablesBuilder};
