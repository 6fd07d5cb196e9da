//! Plugins built from `plugins/` in this build, run through the real host
//! and a real processor node: the builtins' behaviour on crafted batches,
//! hostile plugins the node must survive, ABI version checks, and KDL
//! configuration.
#![allow(clippy::unwrap_used, missing_docs)]

mod columns;
mod common;
mod config;
mod enrich;
mod hostile;
mod redact;
mod reload;
mod sample;
mod sli;
