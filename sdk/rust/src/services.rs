//! Host services: structured logs in weir's log, the plugin's own counters
//! and histograms (exported with weir's metrics), and the clock.
//!
//! Logs and metrics are bounded by the host: lines beyond its per-batch
//! budget are dropped and counted, label sets beyond its cardinality limit
//! are folded into one series.

use crate::LogLevel;
use crate::bindings::weir::pipeline::host;

/// Logs `message` at `level` with structured `fields`.
pub fn log(level: LogLevel, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    host::log(level, message, &fields);
}

/// Logs at debug level.
pub fn debug(message: &str) {
    log(LogLevel::Debug, message, &[]);
}

/// Logs at info level.
pub fn info(message: &str) {
    log(LogLevel::Info, message, &[]);
}

/// Logs at warn level.
pub fn warn(message: &str) {
    log(LogLevel::Warn, message, &[]);
}

/// Logs at error level.
pub fn error(message: &str) {
    log(LogLevel::Error, message, &[]);
}

fn labels(labels: &[(&str, &str)]) -> Vec<(String, String)> {
    labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Adds `value` to the plugin's counter `name` with `labels`.
pub fn counter_add(name: &str, value: u64, label_pairs: &[(&str, &str)]) {
    host::counter_add(name, value, &labels(label_pairs));
}

/// Records `value` into the plugin's histogram `name` with `labels`.
pub fn histogram_record(name: &str, value: f64, label_pairs: &[(&str, &str)]) {
    host::histogram_record(name, value, &labels(label_pairs));
}

/// Wall-clock time, nanoseconds since the Unix epoch.
pub fn now() -> i64 {
    host::now()
}
