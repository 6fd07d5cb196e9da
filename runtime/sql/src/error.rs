//! Errors of queries over the store.

use std::path::PathBuf;

use datafusion::error::DataFusionError;

/// Why a query could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// The store directory does not exist or holds no complete file yet.
    #[error("no data in {} yet: run `weir run` and send telemetry", dir.display())]
    NoData {
        /// The store directory.
        dir: PathBuf,
    },
    /// The query names a table the store has no file of yet.
    #[error("no {table} in {} yet (tables with data: {available})", dir.display())]
    NoTable {
        /// The table the query named.
        table: String,
        /// The store directory.
        dir: PathBuf,
        /// The tables that do have data.
        available: String,
        /// DataFusion's error.
        #[source]
        source: DataFusionError,
    },
    /// The store directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// DataFusion refused or failed the query (SQL syntax, unknown column,
    /// type error, unreadable file); its message says why.
    #[error("{0}")]
    Query(#[source] DataFusionError),
}

impl SqlError {
    /// Whether the user's SQL is at fault (rather than the store).
    pub fn is_user_error(&self) -> bool {
        match self {
            SqlError::NoTable { .. } => true,
            SqlError::Query(e) => matches!(
                e.find_root(),
                DataFusionError::SQL(..)
                    | DataFusionError::Plan(_)
                    | DataFusionError::SchemaError(..)
            ),
            _ => false,
        }
    }
}

/// Why a query cannot be the query of a SQL processor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// DataFusion refused the SQL: syntax, an unknown table or column, a
    /// type error. Its message says where.
    #[error("{}", plan_message(.0))]
    Plan(#[source] DataFusionError),
    /// The SQL is a statement other than a query (DDL, DML, SET, EXPLAIN).
    #[error("only a SELECT query can transform a stream")]
    NotAQuery,
    /// The query reads none of `spans`, `logs`, `metrics`.
    #[error("the query reads no signal table (spans, logs or metrics)")]
    NoSignalTable,
    /// The query reads more than one signal table.
    #[error("the query reads {}: a query transforms one signal", .0.join(" and "))]
    SeveralSignalTables(Vec<&'static str>),
    /// The result cannot be turned into what the node emits; every reason.
    #[error("{}", .0.join("; "))]
    Result(Vec<String>),
}

/// DataFusion's message without its "Error during planning: " prefixes.
fn plan_message(e: &DataFusionError) -> String {
    let mut s = e.find_root().to_string();
    for prefix in [
        "Error during planning: ",
        "SQL error: ",
        "Schema error: ",
        "Execution error: ",
    ] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest.to_string();
        }
    }
    s
}
