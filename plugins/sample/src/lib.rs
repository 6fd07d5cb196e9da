//! The `sample` plugin: consistent probability sampling by trace id.
//!
//! ```kdl
//! processor "sample" type="wasm" {
//!     from "otlp"
//!     plugin "builtin:sample"
//!     config { ratio 0.1 }
//! }
//! ```
//!
//! Keeps a record when its trace's randomness (the lower 56 bits of the
//! trace id, or the `rv` of the span's `ot` trace state) is at least the
//! rejection threshold of `ratio`, per OpenTelemetry's TraceState
//! probability sampling: every span of a trace gets the same decision, in
//! every weir instance, and logs with a trace id follow their trace. Kept
//! spans carry the threshold in their trace state (`ot=th:...`) so that
//! downstream can re-weight them (adjusted count = 1 / ratio). Records
//! without a trace id and metric points are kept.

use weir_plugin::services::counter_add;
use weir_plugin::{Batch, Config, Plugin, PluginError, Signal};

/// Samples by trace id.
struct Sample {
    ratio: f64,
}

impl Plugin for Sample {
    fn init(config: &Config) -> Result<Self, PluginError> {
        config.deny_unknown(&["ratio"])?;
        let ratio: f64 = config.parse("ratio")?.ok_or_else(|| {
            PluginError::InvalidConfig("`ratio` is required (a number in (0, 1])".to_string())
        })?;
        if !(ratio > 0.0 && ratio <= 1.0) {
            return Err(PluginError::InvalidConfig(format!(
                "`ratio` must be in (0, 1], got {ratio}"
            )));
        }
        Ok(Sample { ratio })
    }

    fn process(&mut self, batch: &Batch<'_>) -> Result<(), PluginError> {
        if batch.signal() == Signal::Metrics || self.ratio >= 1.0 {
            return Ok(());
        }
        let before = batch.len();
        let kept = batch.keep_trace_id_ratio(self.ratio)?;
        let dropped = before.saturating_sub(kept) as u64;
        if dropped > 0 {
            counter_add("sampled_out_total", dropped, &[]);
        }
        Ok(())
    }
}

weir_plugin::export_plugin!(Sample);
