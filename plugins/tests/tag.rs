// The body of the hot-reload test plugins (`tag-v1`, `tag-v2`,
// `tag-broken`), included by each with its own `VERSION` and `BROKEN`.
//
// Each record gets `tag.version` = VERSION and `tag.seq` = how many records
// the plugin had seen before it, counting across versions: the count is
// carried by `snapshot-state` / `restore-state`, so after any number of hot
// swaps the `tag.seq` values of what was sent are exactly 0..N, once each,
// when no batch is lost, none is processed twice and the state always moved.

use weir_plugin::{AttributeColumnBuilder, Batch, Config, Plugin, PluginError, Scope};

/// Tags records with its version and a sequence number.
struct Tag {
    seen: u64,
}

impl Plugin for Tag {
    fn init(config: &Config) -> Result<Self, PluginError> {
        config.deny_unknown(&["label"])?;
        Ok(Tag { seen: 0 })
    }

    fn process(&mut self, batch: &Batch<'_>) -> Result<(), PluginError> {
        if BROKEN {
            panic!("version {VERSION} is broken");
        }
        let n = batch.len();
        let mut version = AttributeColumnBuilder::new("tag.version", n);
        let mut seq = AttributeColumnBuilder::new("tag.seq", n);
        for i in 0..n {
            version.set_str(i, VERSION);
            seq.set_int(i, (self.seen + i as u64) as i64);
        }
        batch.set_attribute(Scope::Record, &version)?;
        batch.set_attribute(Scope::Record, &seq)?;
        self.seen += n as u64;
        Ok(())
    }

    fn snapshot_state(&self) -> Vec<u8> {
        self.seen.to_le_bytes().to_vec()
    }

    fn restore_state(&mut self, state: &[u8]) -> Result<(), PluginError> {
        let bytes: [u8; 8] = state
            .try_into()
            .map_err(|_| PluginError::Failed(format!("state of {} bytes, not 8", state.len())))?;
        self.seen = u64::from_le_bytes(bytes);
        Ok(())
    }
}

weir_plugin::export_plugin!(Tag);
