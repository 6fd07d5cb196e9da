//! Processors built into the engine.

pub mod batch;
