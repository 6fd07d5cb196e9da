//! Registering the store's tables and running a query.

use std::path::Path;

use arrow::array::RecordBatch;
use arrow::datatypes::DataType;
use datafusion::error::DataFusionError;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

use crate::SqlError;

/// The tables of a store, in the order they are registered.
pub const TABLES: [&str; 3] = ["spans", "logs", "metrics"];

/// The hive partition columns of every table (`date=YYYY-MM-DD/hour=HH`).
const PARTITION_COLUMNS: [&str; 2] = ["date", "hour"];

/// Whether `dir` holds a complete `.parquet` file at any depth (files still
/// being written end in `.tmp`).
fn has_parquet_files(dir: &Path) -> Result<bool, SqlError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(SqlError::Io {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    for entry in entries {
        let entry = entry.map_err(|source| SqlError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if path.is_dir() {
            if has_parquet_files(&path)? {
                return Ok(true);
            }
        } else if path.extension().is_some_and(|e| e == "parquet") {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A DataFusion session with the store's tables that have data and the
/// `attr` function registered.
///
/// # Errors
/// [`SqlError::NoData`] when the directory has no table with a complete
/// file; [`SqlError::Query`] when a table's files cannot be read.
pub async fn session(store_dir: &Path) -> Result<(SessionContext, Vec<&'static str>), SqlError> {
    if !store_dir.is_dir() {
        return Err(SqlError::NoData {
            dir: store_dir.to_path_buf(),
        });
    }
    let ctx = SessionContext::new();
    crate::functions::register(&ctx);
    let mut registered = Vec::new();
    for table in TABLES {
        let dir = store_dir.join(table);
        if !has_parquet_files(&dir)? {
            continue;
        }
        let Some(url) = dir.to_str() else {
            return Err(SqlError::Io {
                path: dir.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "the path is not UTF-8",
                ),
            });
        };
        let options = ParquetReadOptions::default().table_partition_cols(
            PARTITION_COLUMNS
                .iter()
                .map(|c| ((*c).to_string(), DataType::Utf8))
                .collect(),
        );
        ctx.register_parquet(table, format!("{url}/"), options)
            .await
            .map_err(SqlError::Query)?;
        registered.push(table);
    }
    if registered.is_empty() {
        return Err(SqlError::NoData {
            dir: store_dir.to_path_buf(),
        });
    }
    Ok((ctx, registered))
}

/// Runs one SQL statement over the store in `store_dir`.
///
/// # Errors
/// [`SqlError::NoData`] for an empty or missing store, [`SqlError::NoTable`]
/// when the query names a store table without data yet, and
/// [`SqlError::Query`] with DataFusion's message for anything else.
pub async fn query(store_dir: &Path, sql: &str) -> Result<Vec<RecordBatch>, SqlError> {
    let (ctx, registered) = session(store_dir).await?;
    let run = async {
        let df = ctx.sql(sql).await?;
        df.collect().await
    };
    run.await
        .map_err(|e| missing_table(e, store_dir, &registered))
}

/// Turns DataFusion's "table not found" for a store table without data into
/// [`SqlError::NoTable`].
fn missing_table(e: DataFusionError, store_dir: &Path, registered: &[&str]) -> SqlError {
    let message = e.to_string();
    let missing = TABLES.iter().filter(|t| !registered.contains(t)).find(|t| {
        message.contains(&format!("'{t}' not found"))
            || message.contains(&format!(".{t}' not found"))
    });
    match missing {
        Some(table) => SqlError::NoTable {
            table: (*table).to_string(),
            dir: store_dir.to_path_buf(),
            available: registered.join(", "),
            source: e,
        },
        _ => SqlError::Query(e),
    }
}
