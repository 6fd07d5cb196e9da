//! The `sql` processor: a DataFusion query over each batch, or over event
//! time windows whose results are emitted as metric points.
//!
//! - [`config`]: the KDL properties, validation (planning the query) and
//!   the builder.
//! - `node`: the running node (per-batch and windowed loops).
//! - `window`: window state: panes of partial aggregates, watermark,
//!   lateness, memory bound.
//! - `points`: window results -> OTLP metric points.
//!
//! See `docs/sql.md` for the user's view.

pub mod config;
mod node;
mod points;
#[cfg(test)]
mod tests;
mod window;

pub use config::{SqlConfig, validate};
