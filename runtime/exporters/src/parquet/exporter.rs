//! The running store exporter.
//!
//! [`ParquetExporter`] is a [`BatchExporter`]: each batch is decoded,
//! joined with its scopes and resources ([`stored_batch`]) and appended to
//! its table's open file, all on a blocking thread. [`ParquetNode`] runs it
//! with a timer, so a file reaching `max-file-age` is published even when no
//! more data arrives.

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use parquet::file::properties::WriterProperties;
use weir_engine::NodeError;
use weir_engine::node::{BatchExporter, BoxFuture, Exporter, ExporterContext};
use weir_pdata::Batch;

use super::config::ParquetExporterConfig;
use super::files::{Rotation, StoreFiles};
use super::table::stored_batch;
use crate::ExportError;

/// Writes batches to the Parquet store.
pub struct ParquetExporter {
    id: String,
    root: PathBuf,
    props: WriterProperties,
    rotation: Rotation,
    /// `None` only while a blocking task holds it, or after it panicked.
    files: Option<StoreFiles>,
}

impl ParquetExporter {
    /// An exporter named `id` writing under `root` (which must exist).
    pub fn new(id: &str, root: PathBuf, config: &ParquetExporterConfig) -> Self {
        let props = config.writer_properties();
        let rotation = config.rotation();
        ParquetExporter {
            id: id.to_string(),
            files: Some(StoreFiles::new(root.clone(), props.clone(), rotation)),
            root,
            props,
            rotation,
        }
    }

    /// Runs `f` on the store's files on a blocking thread.
    async fn with_files<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut StoreFiles) -> T + Send + 'static,
    ) -> Result<T, NodeError> {
        let mut files = match self.files.take() {
            Some(files) => files,
            None => StoreFiles::new(self.root.clone(), self.props.clone(), self.rotation),
        };
        let (files, out) = tokio::task::spawn_blocking(move || {
            let out = f(&mut files);
            (files, out)
        })
        .await
        .map_err(|e| NodeError::Internal(format!("the store writer stopped: {e}")))?;
        self.files = Some(files);
        Ok(out)
    }

    fn error(&self, e: ExportError) -> NodeError {
        match e {
            ExportError::Data(d) => NodeError::Data(d),
            e => NodeError::external(format!("writing to the store {}", self.root.display()), e),
        }
    }

    fn published(&self, paths: &[PathBuf]) {
        for p in paths {
            tracing::debug!(node = %self.id, file = %p.display(), "Store file published.");
        }
    }

    /// When the oldest open file must be published.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.files.as_ref().and_then(StoreFiles::next_deadline)
    }

    /// Publishes the files that reached `max-file-age` or whose hour passed.
    ///
    /// # Errors
    /// A file could not be completed (its rows are lost).
    pub async fn close_expired(&mut self) -> Result<(), NodeError> {
        let out = self
            .with_files(|f| f.close_expired(SystemTime::now()))
            .await?;
        let paths = out.map_err(|e| self.error(e))?;
        self.published(&paths);
        Ok(())
    }
}

impl BatchExporter for ParquetExporter {
    async fn export(&mut self, batch: &Batch) -> Result<(), NodeError> {
        let batch = batch.clone();
        let out = self
            .with_files(move |files| {
                let signal = batch.signal();
                let tables = batch.tables()?;
                let stored = stored_batch(signal, &tables)?;
                files.write(signal, &stored, SystemTime::now())
            })
            .await?;
        let paths = out.map_err(|e| self.error(e))?;
        self.published(&paths);
        Ok(())
    }

    async fn shutdown(&mut self) -> Result<(), NodeError> {
        let out = self.with_files(StoreFiles::close_all).await?;
        let paths = out.map_err(|e| self.error(e))?;
        self.published(&paths);
        Ok(())
    }
}

/// The store exporter as a node: exports batches as they come and publishes
/// files on age even when idle.
pub struct ParquetNode {
    exporter: ParquetExporter,
}

impl ParquetNode {
    /// Wraps `exporter`.
    pub fn new(exporter: ParquetExporter) -> Self {
        ParquetNode { exporter }
    }
}

impl Exporter for ParquetNode {
    fn run(self: Box<Self>, mut ctx: ExporterContext) -> BoxFuture<Result<(), NodeError>> {
        let mut e = self.exporter;
        Box::pin(async move {
            loop {
                let deadline = e.next_deadline().map(tokio::time::Instant::from_std);
                let msg = tokio::select! {
                    msg = ctx.input.recv() => msg,
                    () = sleep_until(deadline) => {
                        if let Err(err) = e.close_expired().await {
                            ctx.metrics.record_error();
                            tracing::error!(node = %ctx.id, error = %err, "Could not publish a store file; its rows are lost.");
                        }
                        continue;
                    }
                };
                let Some(msg) = msg else { break };
                let start = Instant::now();
                let items = msg.batch.items();
                let result = e.export(&msg.batch).await;
                ctx.metrics.record_latency(start.elapsed());
                match result {
                    Ok(()) => ctx.metrics.record_out(items),
                    Err(err) => {
                        ctx.metrics.record_error();
                        ctx.metrics.record_failed(items);
                        tracing::error!(node = %ctx.id, error = %err, items, "Export failed; batch not delivered.");
                        msg.fail(&format!("exporter {}: {err}", ctx.id));
                    }
                }
            }
            e.shutdown().await
        })
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
