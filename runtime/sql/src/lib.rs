//! SQL over weir's embedded store, with DataFusion.
//!
//! [`query`] registers each table of a store directory written by the
//! `parquet` exporter (`spans`, `logs`, `metrics`) as a listing table over
//! its Parquet files, with the `date` and `hour` directories as partition
//! columns, and runs one SQL statement. [`format_table`] prints the result
//! for a terminal. The [`attr`](attr::attr_udf) function reads attribute
//! values: `SELECT attr(attributes, 'http.route'), count(*) FROM spans GROUP
//! BY 1`. The store's layout and columns are in `docs/store.md`.

pub mod any_value;
pub mod attr;
mod error;
mod format;
mod store;
#[cfg(test)]
mod tests;

pub use error::SqlError;
pub use format::format_table;
pub use store::{TABLES, query, session};
