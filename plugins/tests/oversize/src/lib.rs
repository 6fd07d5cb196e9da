//! Hostile test plugin: writes far more than it was given (every record's
//! `oversize.blob` attribute set to `size` bytes, default 1 MiB), to prove
//! the host's output limit refuses it. With `ignore-errors "true"` it
//! swallows the host's refusal and reports success.

use weir_plugin::{AttributeColumnBuilder, Batch, Config, Plugin, PluginError, Scope};

/// Writes too much.
struct Oversize {
    size: usize,
    ignore_errors: bool,
}

impl Plugin for Oversize {
    fn init(config: &Config) -> Result<Self, PluginError> {
        config.deny_unknown(&["size", "ignore-errors"])?;
        Ok(Oversize {
            size: config.parse("size")?.unwrap_or(1 << 20),
            ignore_errors: config.parse("ignore-errors")?.unwrap_or(false),
        })
    }

    fn process(&mut self, batch: &Batch<'_>) -> Result<(), PluginError> {
        let blob = "x".repeat(self.size);
        let mut col = AttributeColumnBuilder::new("oversize.blob", batch.len());
        for i in 0..batch.len() {
            col.set_str(i, &blob);
        }
        match batch.set_attribute(Scope::Record, &col) {
            Err(_) if self.ignore_errors => Ok(()),
            other => Ok(other?),
        }
    }
}

weir_plugin::export_plugin!(Oversize);
