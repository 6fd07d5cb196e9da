//! Hostile test plugin: calls the host in a tight loop (`mode "len"`, the
//! default, asks for the batch length forever; `mode "log"` logs forever),
//! to prove the host's per-call budget of host calls stops it.

use weir_plugin::{Batch, Config, Plugin, PluginError, services};

/// Floods the host with calls.
struct Storm {
    log: bool,
}

impl Plugin for Storm {
    fn init(config: &Config) -> Result<Self, PluginError> {
        config.deny_unknown(&["mode"])?;
        let log = match config.get("mode").unwrap_or("len") {
            "len" => false,
            "log" => true,
            other => {
                return Err(PluginError::InvalidConfig(format!(
                    "unknown mode {other:?}"
                )));
            }
        };
        Ok(Storm { log })
    }

    fn process(&mut self, batch: &Batch<'_>) -> Result<(), PluginError> {
        let mut total = 0usize;
        loop {
            if self.log {
                services::warn("Storm.");
            } else {
                total = total.wrapping_add(batch.len());
            }
            std::hint::black_box(total);
        }
    }
}

weir_plugin::export_plugin!(Storm);
