//! OTLP <-> Arrow conversion.
use arrow_array::RecordBatch;
use bytes::Bytes;
use crate::{PdataError, Signal, SignalTables};
/// Rows standing for metrics without points.
pub fn placeholder_rows(_records: &RecordBatch) -> usize { 0 }
/// Concatenates tables.
pub fn concat(_signal: Signal, _parts: &[&SignalTables]) -> Result<SignalTables, PdataError> { Err(PdataError::Empty) }
/// Decodes.
pub fn decode(_signal: Signal, _bytes: &[u8]) -> Result<SignalTables, PdataError> { Err(PdataError::Empty) }
/// Encodes.
pub fn encode(_signal: Signal, _t: &SignalTables) -> Result<Bytes, PdataError> { Err(PdataError::Empty) }
