//! A plugin for `weir:pipeline@0.2.0`, which this weir does not implement.

#[allow(missing_docs, unsafe_code, clippy::all)]
mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "plugin" });
}

use bindings::exports::weir::pipeline::processor::Guest;

struct Future;

impl Guest for Future {
    fn init(_config: Vec<(String, String)>) -> Result<(), String> {
        Ok(())
    }

    fn process(records: Vec<u8>) -> Result<Vec<u8>, String> {
        Ok(records)
    }
}

#[allow(unsafe_code)]
mod export {
    use super::Future;
    super::bindings::export!(Future with_types_in super::bindings);
}
