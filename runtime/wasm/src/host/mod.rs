//! The host side of the plugin ABI: the store's state, the `batch`
//! resource, and the kernels that run on Arrow arrays.

pub mod attributes;
pub mod batch;
pub mod columns;
pub mod emit;
pub mod kernels;
pub mod regex;
pub mod sampling;
pub mod state;

use crate::bindings::weir::pipeline::types::HostError;

/// A host error as a sentence fragment (`unknown column: foo`).
pub fn describe(e: &HostError) -> String {
    match e {
        HostError::UnknownColumn(c) => format!("unknown column: {c}"),
        HostError::InvalidColumn(c) => format!("invalid column: {c}"),
        HostError::InvalidPattern(p) => format!("invalid pattern: {p}"),
        HostError::LimitExceeded(l) => format!("host limit exceeded: {l}"),
    }
}
