//! Settings of `exporter "x" type="parquet"` and their validation.

use std::time::Duration;

use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use weir_config::{ConfigError, ErrorCode, NodeReader, Spanned};
use weir_engine::registry::{BuildContext, Builder, Built};

use super::exporter::{ParquetExporter, ParquetNode};
use super::files::Rotation;

/// Compression of the Parquet column chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreCompression {
    /// zstd level 1: small files, fast enough to write.
    Zstd,
    /// Snappy: faster, larger.
    Snappy,
    /// None.
    None,
}

/// Configuration of the Parquet store exporter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParquetExporterConfig {
    /// The store's directory (relative to the pipeline file's directory).
    /// Default `./weir-data`.
    pub path: Spanned<String>,
    /// Close a file once it reaches this size. Default 64 MiB.
    pub max_file_size: u64,
    /// Close a file this long after it was opened, so data becomes visible
    /// to queries. Default 60 s.
    pub max_file_age: Duration,
    /// Default zstd.
    pub compression: StoreCompression,
}

impl ParquetExporterConfig {
    /// Default `path`.
    pub const DEFAULT_PATH: &'static str = "./weir-data";
    /// Default `max-file-size`.
    pub const DEFAULT_MAX_FILE_SIZE: u64 = 64 << 20;
    /// Default `max-file-age`.
    pub const DEFAULT_MAX_FILE_AGE: Duration = Duration::from_secs(60);

    /// The rotation limits.
    pub fn rotation(&self) -> Rotation {
        Rotation {
            max_size: self.max_file_size,
            max_age: self.max_file_age,
        }
    }

    /// The Parquet writer properties.
    pub fn writer_properties(&self) -> WriterProperties {
        let compression = match self.compression {
            StoreCompression::Zstd => Compression::ZSTD(ZstdLevel::default()),
            StoreCompression::Snappy => Compression::SNAPPY,
            StoreCompression::None => Compression::UNCOMPRESSED,
        };
        WriterProperties::builder()
            .set_compression(compression)
            .set_created_by(format!("weir {}", env!("CARGO_PKG_VERSION")))
            .build()
    }
}

impl Default for ParquetExporterConfig {
    fn default() -> Self {
        ParquetExporterConfig {
            path: Spanned::new(Self::DEFAULT_PATH.to_string(), (0, 0).into()),
            max_file_size: Self::DEFAULT_MAX_FILE_SIZE,
            max_file_age: Self::DEFAULT_MAX_FILE_AGE,
            compression: StoreCompression::Zstd,
        }
    }
}

/// Reads an `exporter type="parquet"` block.
pub fn validate(r: &mut NodeReader<'_>) -> Option<Box<dyn Builder>> {
    let mut c = ParquetExporterConfig::default();
    if let Some(p) = r.string("path") {
        if p.value.is_empty() {
            r.invalid(
                p.span,
                "empty path",
                "write a directory, like \"./weir-data\"",
            );
        }
        c.path = p;
    }
    if let Some(s) = r.byte_size("max-file-size") {
        if s.0 == 0 {
            let span = r.span();
            r.invalid(
                span,
                "`max-file-size` must be more than 0",
                "write a size like \"64MiB\"",
            );
        }
        c.max_file_size = s.0;
    }
    if let Some(d) = r.duration("max-file-age") {
        if d.is_zero() {
            let span = r.span();
            r.invalid(
                span,
                "`max-file-age` must be more than 0",
                "write a duration like \"60s\"",
            );
        }
        c.max_file_age = d;
    }
    if let Some(comp) = r.one_of("compression", &["zstd", "snappy", "none"]) {
        c.compression = match comp.value.as_str() {
            "snappy" => StoreCompression::Snappy,
            "none" => StoreCompression::None,
            _ => StoreCompression::Zstd,
        };
    }
    Some(Box::new(c))
}

impl Builder for ParquetExporterConfig {
    fn build(self: Box<Self>, ctx: &BuildContext<'_>) -> Result<Built, ConfigError> {
        let root = crate::resolve_path(&ctx.base_dir, &self.path.value);
        std::fs::create_dir_all(&root).map_err(|e| {
            ConfigError::new(
                ErrorCode::Build,
                format!("cannot create the store directory {}: {e}", root.display()),
            )
            .at(self.path.span, "this directory")
        })?;
        let exporter = ParquetExporter::new(ctx.id, root, &self);
        Ok(Built::Exporter(Box::new(ParquetNode::new(exporter))))
    }
}
