//! Settings of `exporter "x" type="debug"` and their validation.

use std::path::PathBuf;

use weir_config::{ConfigError, ErrorCode, NodeReader, Spanned};
use weir_engine::node::batch_exporter;
use weir_engine::registry::{BuildContext, Builder, Built};

use super::exporter::{DebugExporter, Sink};

/// How much the debug exporter shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// One log line per batch.
    Basic,
    /// A log line and the batch as an OTLP/JSON line.
    Detailed,
}

/// Configuration of the debug exporter.
#[derive(Debug, Clone, PartialEq)]
pub struct DebugExporterConfig {
    /// Default `basic`.
    pub verbosity: Verbosity,
    /// Where `detailed` writes JSON lines: a file (relative to the pipeline
    /// file's directory), or `-` for stdout. Default `-`.
    pub path: Spanned<String>,
}

impl DebugExporterConfig {
    /// The `path` meaning stdout.
    pub const STDOUT: &'static str = "-";
}

impl Default for DebugExporterConfig {
    fn default() -> Self {
        DebugExporterConfig {
            verbosity: Verbosity::Basic,
            path: Spanned::new(Self::STDOUT.to_string(), (0, 0).into()),
        }
    }
}

/// Reads an `exporter type="debug"` block.
pub fn validate(r: &mut NodeReader<'_>) -> Option<Box<dyn Builder>> {
    let mut c = DebugExporterConfig::default();
    if let Some(v) = r.one_of("verbosity", &["basic", "detailed"])
        && v.value == "detailed"
    {
        c.verbosity = Verbosity::Detailed;
    }
    if let Some(p) = r.string("path") {
        if c.verbosity == Verbosity::Basic {
            r.invalid(
                p.span,
                "`path` is only used with `verbosity \"detailed\"`",
                "add `verbosity \"detailed\"` or remove `path`",
            );
        } else if p.value.is_empty() {
            r.invalid(
                p.span,
                "empty path",
                "write a file name, or \"-\" for stdout",
            );
        }
        c.path = p;
    }
    Some(Box::new(c))
}

impl DebugExporterConfig {
    /// Where JSON lines go, resolved against `base_dir`; `None` for stdout.
    pub fn file(&self, base_dir: &std::path::Path) -> Option<PathBuf> {
        (self.path.value != Self::STDOUT).then(|| crate::resolve_path(base_dir, &self.path.value))
    }
}

impl Builder for DebugExporterConfig {
    fn build(self: Box<Self>, ctx: &BuildContext<'_>) -> Result<Built, ConfigError> {
        let sink = match (self.verbosity, self.file(&ctx.base_dir)) {
            (Verbosity::Basic, _) => None,
            (Verbosity::Detailed, None) => Some(Sink::stdout()),
            (Verbosity::Detailed, Some(path)) => Some(Sink::file(&path).map_err(|e| {
                ConfigError::new(
                    ErrorCode::Build,
                    format!(
                        "cannot open {} for the debug exporter {:?}: {e}",
                        path.display(),
                        ctx.id
                    ),
                )
                .at(self.path.span, "this file")
            })?),
        };
        Ok(Built::Exporter(batch_exporter(DebugExporter::new(
            ctx.id, sink,
        ))))
    }
}
