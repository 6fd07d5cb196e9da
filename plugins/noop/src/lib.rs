//! The `noop` plugin: returns every batch unchanged without looking at it.
//! It measures what crossing into a plugin costs (one call, one resource
//! handle) for benchmarks.

use weir_plugin::{Batch, Config, Plugin, PluginError};

/// Does nothing.
struct Noop;

impl Plugin for Noop {
    fn init(config: &Config) -> Result<Self, PluginError> {
        config.deny_unknown(&[])?;
        Ok(Noop)
    }

    fn process(&mut self, _batch: &Batch<'_>) -> Result<(), PluginError> {
        Ok(())
    }
}

weir_plugin::export_plugin!(Noop);
