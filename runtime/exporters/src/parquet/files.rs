//! Parquet files of the store: one open file per table, rotated by size,
//! age and hour, published by rename when complete.
//!
//! A file is written as `<table>/date=YYYY-MM-DD/hour=HH/<ms>-<seq>.tmp` and
//! renamed to `.parquet` once its footer is written and it is synced to
//! disk, so a reader never sees a half-written file. The partition is the
//! UTC wall-clock hour at which the file was opened (ingestion time): a file
//! still open when the hour changes is closed before the next write.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use weir_pdata::Signal;

use crate::ExportError;

/// The sequence number of the next file, shared by every exporter of the
/// process.
static NEXT_FILE: AtomicU64 = AtomicU64::new(1);

/// Flush a row group once this many bytes are buffered, to bound memory.
const ROW_GROUP_BYTES: usize = 32 << 20;

/// The date and hour partition of a moment (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// Year.
    pub year: i64,
    /// Month, 1 to 12.
    pub month: u32,
    /// Day of the month, 1 to 31.
    pub day: u32,
    /// Hour, 0 to 23.
    pub hour: u32,
}

impl Partition {
    /// The UTC hour of `t` (the epoch for times before it).
    pub fn of(t: SystemTime) -> Partition {
        let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX);
        let (year, month, day) = civil_from_days(days);
        Partition {
            year,
            month,
            day,
            hour: ((secs % 86_400) / 3_600) as u32,
        }
    }

    /// `date=YYYY-MM-DD/hour=HH`.
    pub fn dir(&self) -> PathBuf {
        PathBuf::from(format!(
            "date={:04}-{:02}-{:02}",
            self.year, self.month, self.day
        ))
        .join(format!("hour={:02}", self.hour))
    }
}

/// Year, month, day of a count of days since 1970-01-01 (proleptic
/// Gregorian; H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Rotation limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Close a file once it holds this many bytes (written plus buffered).
    pub max_size: u64,
    /// Close a file this long after it was opened.
    pub max_age: Duration,
}

struct OpenFile {
    tmp: PathBuf,
    path: PathBuf,
    writer: ArrowWriter<File>,
    schema: SchemaRef,
    partition: Partition,
    opened: Instant,
    rows: usize,
}

impl OpenFile {
    fn size(&self) -> u64 {
        (self.writer.bytes_written() + self.writer.in_progress_size()) as u64
    }

    /// Writes the footer, syncs and renames to the final name.
    fn publish(self) -> Result<PathBuf, ExportError> {
        let OpenFile {
            tmp, path, writer, ..
        } = self;
        let file = writer.into_inner().map_err(|source| ExportError::Parquet {
            path: tmp.clone(),
            source,
        })?;
        file.sync_all().map_err(|source| ExportError::Io {
            what: "sync",
            path: tmp.clone(),
            source,
        })?;
        drop(file);
        std::fs::rename(&tmp, &path).map_err(|source| ExportError::Io {
            what: "rename",
            path: tmp,
            source,
        })?;
        Ok(path)
    }
}

/// The store's files: at most one open file per table.
pub struct StoreFiles {
    root: PathBuf,
    props: WriterProperties,
    rotation: Rotation,
    open: [Option<OpenFile>; 4],
}

fn slot(signal: Signal) -> usize {
    match signal {
        Signal::Traces => 0,
        Signal::Metrics => 1,
        Signal::Logs => 2,
        Signal::Profiles => 3,
    }
}

impl StoreFiles {
    /// Files under `root` (which must exist), written with `props`.
    pub fn new(root: PathBuf, props: WriterProperties, rotation: Rotation) -> Self {
        StoreFiles {
            root,
            props,
            rotation,
            open: [None, None, None, None],
        }
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Appends `batch` (a stored batch of `signal`) to the table's open
    /// file, opening one (and closing the previous) as rotation requires.
    /// Returns the files published along the way.
    ///
    /// # Errors
    /// The file cannot be created or written. The open file is abandoned
    /// (left as `.tmp`) when a write fails, so later batches start afresh.
    pub fn write(
        &mut self,
        signal: Signal,
        batch: &RecordBatch,
        now: SystemTime,
    ) -> Result<Vec<PathBuf>, ExportError> {
        let mut published = Vec::new();
        if batch.num_rows() == 0 {
            return Ok(published);
        }
        let partition = Partition::of(now);
        let i = slot(signal);
        let stale = self.open[i]
            .as_ref()
            .is_some_and(|f| f.partition != partition || f.schema != batch.schema());
        if stale && let Some(f) = self.open[i].take() {
            published.push(f.publish()?);
        }
        if self.open[i].is_none() {
            self.open[i] = Some(self.create(signal, batch.schema(), partition, now)?);
        }
        let Some(f) = self.open[i].as_mut() else {
            return Ok(published);
        };
        let written = f.writer.write(batch).and_then(|()| {
            if f.writer.in_progress_size() >= ROW_GROUP_BYTES {
                f.writer.flush()
            } else {
                Ok(())
            }
        });
        if let Err(source) = written {
            let path = f.tmp.clone();
            self.open[i] = None;
            return Err(ExportError::Parquet { path, source });
        }
        f.rows += batch.num_rows();
        let full =
            f.size() >= self.rotation.max_size || f.opened.elapsed() >= self.rotation.max_age;
        if full && let Some(f) = self.open[i].take() {
            published.push(f.publish()?);
        }
        Ok(published)
    }

    fn create(
        &self,
        signal: Signal,
        schema: SchemaRef,
        partition: Partition,
        now: SystemTime,
    ) -> Result<OpenFile, ExportError> {
        let dir = self.root.join(signal.table_name()).join(partition.dir());
        std::fs::create_dir_all(&dir).map_err(|source| ExportError::Io {
            what: "create directory",
            path: dir.clone(),
            source,
        })?;
        let millis = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        // Names are unique in the process (one counter for every exporter)
        // and never replace an existing file.
        let (tmp, path, file) = loop {
            let seq = NEXT_FILE.fetch_add(1, Ordering::Relaxed);
            let stem = format!("{millis}-{seq:06}");
            let tmp = dir.join(format!("{stem}.tmp"));
            let path = dir.join(format!("{stem}.parquet"));
            if path.exists() {
                continue;
            }
            match File::options().write(true).create_new(true).open(&tmp) {
                Ok(file) => break (tmp, path, file),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(source) => {
                    return Err(ExportError::Io {
                        what: "create",
                        path: tmp,
                        source,
                    });
                }
            }
        };
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(self.props.clone())).map_err(
            |source| ExportError::Parquet {
                path: tmp.clone(),
                source,
            },
        )?;
        Ok(OpenFile {
            tmp,
            path,
            writer,
            schema,
            partition,
            opened: Instant::now(),
            rows: 0,
        })
    }

    /// When the oldest open file reaches its age limit, if any is open.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.open
            .iter()
            .flatten()
            .map(|f| f.opened + self.rotation.max_age)
            .min()
    }

    /// Publishes every file that reached its age limit or whose hour has
    /// passed.
    ///
    /// # Errors
    /// The first file that could not be published (the others are still
    /// tried).
    pub fn close_expired(&mut self, now: SystemTime) -> Result<Vec<PathBuf>, ExportError> {
        let partition = Partition::of(now);
        let max_age = self.rotation.max_age;
        self.close_where(|f| f.opened.elapsed() >= max_age || f.partition != partition)
    }

    /// Publishes every open file (on shutdown).
    ///
    /// # Errors
    /// The first file that could not be published (the others are still
    /// tried).
    pub fn close_all(&mut self) -> Result<Vec<PathBuf>, ExportError> {
        self.close_where(|_| true)
    }

    fn close_where(
        &mut self,
        pred: impl Fn(&OpenFile) -> bool,
    ) -> Result<Vec<PathBuf>, ExportError> {
        let mut published = Vec::new();
        let mut first_err = None;
        for slot in &mut self.open {
            if slot.as_ref().is_some_and(&pred)
                && let Some(f) = slot.take()
            {
                match f.publish() {
                    Ok(p) => published.push(p),
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(published),
        }
    }

    /// Rows in the open file of `signal` (0 if none is open).
    pub fn open_rows(&self, signal: Signal) -> usize {
        self.open[slot(signal)].as_ref().map_or(0, |f| f.rows)
    }
}
