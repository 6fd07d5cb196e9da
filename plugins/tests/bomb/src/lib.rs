//! Hostile test plugin: allocates memory without bound on every
//! `every`-th batch (default every batch), to prove the host's memory cap
//! stops it.

use weir_plugin::{Batch, Config, Plugin, PluginError};

/// Allocates until the host says no.
struct Bomb {
    every: u64,
    seen: u64,
}

impl Plugin for Bomb {
    fn init(config: &Config) -> Result<Self, PluginError> {
        config.deny_unknown(&["every"])?;
        let every = config.parse("every")?.unwrap_or(1u64).max(1);
        Ok(Bomb { every, seen: 0 })
    }

    fn process(&mut self, _batch: &Batch<'_>) -> Result<(), PluginError> {
        self.seen += 1;
        if self.seen.is_multiple_of(self.every) {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![0xA5; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        Ok(())
    }
}

weir_plugin::export_plugin!(Bomb);
