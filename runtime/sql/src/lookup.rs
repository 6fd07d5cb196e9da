//! Lookup tables: a CSV or Parquet file loaded into memory, joinable in a
//! processor's query, reloaded when the file changes.
//!
//! ```kdl
//! lookup "teams" path="teams.csv"
//! ```
//!
//! A CSV file has a header row; column types are inferred from the first
//! 1000 rows (integers, floats, booleans, else strings). A Parquet file
//! keeps its own schema. The table is read once when the pipeline is
//! validated (so the query is checked against its columns) and when it is
//! built. While the pipeline runs, the file's modification time and size
//! are checked every `reload-interval` (default 5s); a changed file is read
//! again and swapped in between two batches. A file that cannot be read,
//! or whose columns changed, is refused with a log line and the previous
//! table stays.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::common::stats::Precision;
use datafusion::common::{Result, Statistics};
use parking_lot::{Mutex, RwLock};

use crate::source::Source;

/// The file format of a lookup table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl LookupFormat {
    /// The format named by `path`'s extension.
    pub fn of_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(LookupFormat::Csv),
            "parquet" => Some(LookupFormat::Parquet),
            _ => None,
        }
    }
}

/// Why a lookup file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid CSV or Parquet.
    #[error("cannot parse {}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// The file's columns differ from those the query was planned with.
    #[error("the columns of {} changed ({now}); the query was planned with ({before})", path.display())]
    SchemaChanged {
        /// The file.
        path: PathBuf,
        /// The columns before.
        before: String,
        /// The columns now.
        now: String,
    },
}

/// Loads a lookup file into one record batch.
///
/// # Errors
/// [`LookupError`] when the file cannot be read or parsed.
pub fn load(path: &Path, format: LookupFormat) -> Result<RecordBatch, LookupError> {
    let io = |source| LookupError::Io {
        path: path.to_path_buf(),
        source,
    };
    let parse = |e: &dyn std::fmt::Display| LookupError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let batches: Vec<RecordBatch>;
    let schema: SchemaRef;
    match format {
        LookupFormat::Csv => {
            let mut file = File::open(path).map_err(io)?;
            let csv_format = arrow_csv::reader::Format::default().with_header(true);
            let (inferred, _) = csv_format
                .infer_schema(&mut file, Some(1000))
                .map_err(|e| parse(&e))?;
            schema = Arc::new(inferred);
            let file = File::open(path).map_err(io)?;
            let reader = arrow_csv::ReaderBuilder::new(schema.clone())
                .with_format(csv_format)
                .build(file)
                .map_err(|e| parse(&e))?;
            batches = reader
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| parse(&e))?;
        }
        LookupFormat::Parquet => {
            let file = File::open(path).map_err(io)?;
            let builder =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                    .map_err(|e| parse(&e))?;
            schema = builder.schema().clone();
            let reader = builder.build().map_err(|e| parse(&e))?;
            batches = reader
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| parse(&e))?;
        }
    }
    arrow::compute::concat_batches(&schema, &batches).map_err(|e| parse(&e))
}

/// A file's identity for change detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
    })
}

/// The outcome of [`LookupSource::reload_if_changed`].
#[derive(Debug, PartialEq, Eq)]
pub enum Reload {
    /// The file did not change.
    Unchanged,
    /// The file changed and the new table is in use (rows now).
    Reloaded(usize),
}

/// A loaded lookup table.
#[derive(Debug)]
pub struct LookupSource {
    name: String,
    path: PathBuf,
    format: LookupFormat,
    schema: SchemaRef,
    data: RwLock<RecordBatch>,
    /// The stamp of the last file content tried (loaded or refused).
    seen: Mutex<Option<Stamp>>,
}

impl LookupSource {
    /// Loads `path` as table `name`.
    ///
    /// # Errors
    /// [`LookupError`] when the file cannot be loaded.
    pub fn open(
        name: impl Into<String>,
        path: impl Into<PathBuf>,
        format: LookupFormat,
    ) -> Result<Arc<Self>, LookupError> {
        let path = path.into();
        let seen = stamp(&path);
        let data = load(&path, format)?;
        Ok(Arc::new(LookupSource {
            name: name.into(),
            schema: data.schema(),
            path,
            format,
            data: RwLock::new(data),
            seen: Mutex::new(seen),
        }))
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rows in the table now.
    pub fn rows(&self) -> usize {
        self.data.read().num_rows()
    }

    /// Reads the file again if it changed since it was last read.
    ///
    /// # Errors
    /// [`LookupError`] when the changed file cannot be loaded or has other
    /// columns; the previous table stays, and the same content is not
    /// tried again.
    pub fn reload_if_changed(&self) -> Result<Reload, LookupError> {
        let now = stamp(&self.path);
        {
            let mut seen = self.seen.lock();
            if *seen == now {
                return Ok(Reload::Unchanged);
            }
            *seen = now;
        }
        let data = load(&self.path, self.format)?;
        if data.schema().fields() != self.schema.fields() {
            let cols = |s: &SchemaRef| {
                s.fields()
                    .iter()
                    .map(|f| format!("{} {}", f.name(), f.data_type()))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(LookupError::SchemaChanged {
                path: self.path.clone(),
                before: cols(&self.schema),
                now: cols(&data.schema()),
            });
        }
        let rows = data.num_rows();
        *self.data.write() = data;
        Ok(Reload::Reloaded(rows))
    }
}

impl Source for LookupSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn batch(&self, projection: &[usize]) -> Result<Option<RecordBatch>> {
        Ok(Some(self.data.read().project(projection)?))
    }

    fn statistics(&self) -> Option<Statistics> {
        let data = self.data.read();
        Some(
            Statistics::new_unknown(&self.schema)
                .with_num_rows(Precision::Exact(data.num_rows()))
                .with_total_byte_size(Precision::Inexact(data.get_array_memory_size())),
        )
    }
}

/// How often lookup files are checked for changes, by default.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(5);
