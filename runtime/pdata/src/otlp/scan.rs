//! Wire-format scan.
use crate::{PdataError, Signal};
/// Validates and counts.
pub fn scan(_signal: Signal, _bytes: &[u8]) -> Result<usize, PdataError> { Ok(0) }
