//! The `wasm` processor node: configuration, the circuit breaker, the
//! node that runs a plugin over every batch, and its hot reload.

pub mod breaker;
pub mod config;
pub mod node;
pub mod reload;

use weir_config::NodeReader;
use weir_engine::registry::Builder;

pub use config::{CircuitConfig, Grant, OnError, PluginSource, WasmConfig};
pub use node::{Outcome, WasmProcessor};
pub use reload::PluginReloader;

/// Reads a `processor type="wasm"` block: the [`weir_engine::registry::ValidateFn`]
/// of the `wasm` component.
pub fn validate(r: &mut NodeReader<'_>) -> Option<Box<dyn Builder>> {
    config::validate(r).map(|c| Box::new(c) as Box<dyn Builder>)
}
