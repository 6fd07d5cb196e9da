//! OTLP/JSON.
use crate::{PdataError, Signal};
/// JSON to protobuf.
pub fn json_to_protobuf(_signal: Signal, _json: &[u8]) -> Result<Vec<u8>, PdataError> { Err(PdataError::Empty) }
/// Protobuf to JSON.
pub fn protobuf_to_json(_signal: Signal, _pb: &[u8]) -> Result<String, PdataError> { Err(PdataError::Empty) }
