//! Hostile test plugin: panics on every `every`-th batch (default 3) and
//! otherwise tags each record with `panic.seen` = batches seen by this
//! instance, so tests can tell re-instantiated instances apart.

use weir_plugin::{AttributeColumnBuilder, Batch, Config, Plugin, PluginError, Scope};

/// Panics now and then.
struct Panicky {
    every: u64,
    seen: u64,
}

impl Plugin for Panicky {
    fn init(config: &Config) -> Result<Self, PluginError> {
        config.deny_unknown(&["every"])?;
        let every = config.parse("every")?.unwrap_or(3u64).max(1);
        Ok(Panicky { every, seen: 0 })
    }

    fn process(&mut self, batch: &Batch<'_>) -> Result<(), PluginError> {
        self.seen += 1;
        if self.seen.is_multiple_of(self.every) {
            panic!("batch {} of this instance is one too many", self.seen);
        }
        let mut col = AttributeColumnBuilder::new("panic.seen", batch.len());
        for i in 0..batch.len() {
            col.set_int(i, self.seen as i64);
        }
        batch.set_attribute(Scope::Record, &col)?;
        Ok(())
    }
}

weir_plugin::export_plugin!(Panicky);
