//! Hostile test plugin: loops forever on every `every`-th batch (default
//! every batch), to prove the host's deadline stops it.

use weir_plugin::{Batch, Config, Plugin, PluginError};

/// Spins.
struct Spin {
    every: u64,
    seen: u64,
}

impl Plugin for Spin {
    fn init(config: &Config) -> Result<Self, PluginError> {
        config.deny_unknown(&["every"])?;
        let every = config.parse("every")?.unwrap_or(1u64).max(1);
        Ok(Spin { every, seen: 0 })
    }

    fn process(&mut self, batch: &Batch<'_>) -> Result<(), PluginError> {
        self.seen += 1;
        if self.seen.is_multiple_of(self.every) {
            let mut x: u64 = batch.len() as u64;
            loop {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        Ok(())
    }
}

weir_plugin::export_plugin!(Spin);
