//! weir's DataFusion integration: SQL over the embedded store and SQL
//! transforms in the stream.
//!
//! - [`query`] registers each table of a store directory written by the
//!   `parquet` exporter (`spans`, `logs`, `metrics`) as a listing table over
//!   its Parquet files, with the `date` and `hour` directories as partition
//!   columns, and runs one SQL statement; [`format_table`] prints the result
//!   for a terminal. The store's layout and columns are in `docs/store.md`.
//! - [`processor`]: the `sql` processor, per-batch queries and windowed
//!   aggregation into metric points (`docs/sql.md`).
//! - [`functions`]: weir's SQL functions (`attr`, `attr_set`, `id_hex`,
//!   `trace_id_ratio`, `duration_ms`, `histogram`, ...), registered for both.

pub mod any_value;
pub mod conform;
mod error;
mod format;
pub mod functions;
pub mod lookup;
pub mod output;
pub mod plan;
pub mod processor;
pub mod source;
mod store;
#[cfg(test)]
mod tests;
pub mod view;

pub use error::{QueryError, SqlError};
pub use format::{format_rows, format_table};
pub use functions::attr;
pub use store::{TABLES, query, session};
