//! {{name}}: a weir processor plugin.
//!
//! Adds the attribute `greeting` (the `greeting` setting, default "hello")
//! to every span and log record. Change `process` to do what you need: read
//! columns (`batch.columns(&["name", "start_time"])`), attributes
//! (`batch.attributes(Scope::Record, &["http.route"])`), write attributes,
//! keep rows with a `Selection`, or run the host kernels (`redact`,
//! `hash_attributes`, `delete_attributes`, `keep_trace_id_ratio`).

use weir_plugin::{AttributeColumnBuilder, Batch, Config, Plugin, PluginError, Scope, Signal};

struct Greeter {
    greeting: String,
}

impl Plugin for Greeter {
    fn init(config: &Config) -> Result<Self, PluginError> {
        config.deny_unknown(&["greeting"])?;
        Ok(Greeter {
            greeting: config.get("greeting").unwrap_or("hello").to_string(),
        })
    }

    fn process(&mut self, batch: &Batch<'_>) -> Result<(), PluginError> {
        if batch.signal() == Signal::Metrics || batch.is_empty() {
            return Ok(());
        }
        let mut column = AttributeColumnBuilder::new("greeting", batch.len());
        for i in 0..batch.len() {
            let _ = column.set_str(i, &self.greeting);
        }
        batch.set_attribute(Scope::Record, &column)?;
        Ok(())
    }
}

weir_plugin::export_plugin!(Greeter);
