//! The running debug exporter.

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt as _;
use weir_engine::NodeError;
use weir_engine::node::BatchExporter;
use weir_pdata::Batch;

use crate::ExportError;

/// Where detailed output goes.
pub struct Sink {
    path: Option<PathBuf>,
    out: Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
}

impl Sink {
    /// Standard output.
    pub fn stdout() -> Self {
        Sink {
            path: None,
            out: Box::new(tokio::io::stdout()),
        }
    }

    /// A file opened for appending (created with its directory if needed).
    ///
    /// # Errors
    /// The directory or file cannot be created or opened.
    pub fn file(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Sink {
            path: Some(path.to_path_buf()),
            out: Box::new(tokio::fs::File::from_std(file)),
        })
    }

    fn display(&self) -> PathBuf {
        self.path.clone().unwrap_or_else(|| PathBuf::from("stdout"))
    }

    async fn write_line(&mut self, line: &str) -> Result<(), ExportError> {
        let path = self.display();
        let io = |source| ExportError::Io {
            what: "write",
            path: path.clone(),
            source,
        };
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        self.out.write_all(&buf).await.map_err(io)?;
        self.out.flush().await.map_err(io)
    }
}

/// Logs every batch, and in detailed mode writes it as OTLP/JSON.
pub struct DebugExporter {
    id: String,
    sink: Option<Sink>,
}

impl DebugExporter {
    /// An exporter named `id`; `sink` is where detailed output goes (`None`
    /// for basic verbosity).
    pub fn new(id: &str, sink: Option<Sink>) -> Self {
        DebugExporter {
            id: id.to_string(),
            sink,
        }
    }
}

impl BatchExporter for DebugExporter {
    async fn export(&mut self, batch: &Batch) -> Result<(), NodeError> {
        let signal = batch.signal();
        tracing::info!(
            node = %self.id,
            %signal,
            items = batch.items(),
            bytes = batch.otlp_len(),
            "Batch received."
        );
        let Some(sink) = &mut self.sink else {
            return Ok(());
        };
        let bytes = batch.otlp_bytes()?;
        let json = weir_pdata::otlp::protobuf_to_json(signal, &bytes)?;
        sink.write_line(&json)
            .await
            .map_err(|e| NodeError::external("writing the batch as JSON", e))
    }

    async fn shutdown(&mut self) -> Result<(), NodeError> {
        if let Some(sink) = &mut self.sink {
            sink.out.shutdown().await.map_err(|source| {
                NodeError::external(
                    "closing the debug output",
                    ExportError::Io {
                        what: "close",
                        path: sink.display(),
                        source,
                    },
                )
            })?;
        }
        Ok(())
    }
}
