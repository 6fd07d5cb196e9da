//! tag-slow: marks slow spans and drops the spans of one route.
//!
//! The same plugin exists in Python, JavaScript and C
//! (`plugins/examples/{python,js,c}`). Its test is written with the host-side
//! harness `weir-plugin-test` (`sdk/rust-test/tests/tag_slow.rs`).
//!
//! ```kdl
//! config {
//!     threshold-ms 250      // spans at least this long get slow=true
//!     drop-route "/healthz" // spans with this http.route are dropped
//! }
//! ```

use weir_plugin::{
    AttributeColumnBuilder, Batch, Config, Plugin, PluginError, Scope, Selection, Signal,
    services,
};

struct TagSlow {
    threshold_ns: i64,
    drop_route: Option<String>,
}

impl Plugin for TagSlow {
    fn init(config: &Config) -> Result<Self, PluginError> {
        config.deny_unknown(&["threshold-ms", "drop-route"])?;
        let threshold_ms: f64 = config.parse("threshold-ms")?.unwrap_or(250.0);
        Ok(TagSlow {
            threshold_ns: (threshold_ms * 1e6).round() as i64,
            drop_route: config.get("drop-route").map(str::to_string),
        })
    }

    fn process(&mut self, batch: &Batch<'_>) -> Result<(), PluginError> {
        if batch.signal() != Signal::Traces || batch.is_empty() {
            return Ok(());
        }
        let cols = batch.columns(&["start_time", "end_time"])?;
        let (Some(start), Some(end)) = (
            cols.get("start_time").and_then(|c| c.timestamps()),
            cols.get("end_time").and_then(|c| c.timestamps()),
        ) else {
            return Ok(());
        };
        let mut slow = AttributeColumnBuilder::new("slow", batch.len());
        let mut tagged = 0;
        for i in 0..batch.len() {
            if end[i] - start[i] >= self.threshold_ns {
                slow.set_bool(i, true);
                tagged += 1;
            }
        }
        if tagged > 0 {
            batch.set_attribute(Scope::Record, &slow)?;
            services::counter_add("slow_spans_total", tagged, &[]);
        }
        if let Some(drop) = &self.drop_route {
            let routes = batch.attributes(Scope::Record, &["http.route"])?;
            let route = routes.get("http.route");
            let keep = Selection::from_fn(batch.len(), |i| {
                route.and_then(|r| r.str(i)) != Some(drop.as_str())
            });
            if keep.count() < batch.len() {
                batch.keep(&keep)?;
            }
        }
        Ok(())
    }
}

weir_plugin::export_plugin!(TagSlow);
