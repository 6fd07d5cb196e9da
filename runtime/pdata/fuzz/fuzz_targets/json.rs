//! OTLP/JSON never panics, in either direction, and round trips: for bytes
//! `scan` accepts, protobuf -> JSON -> protobuf -> JSON gives the same JSON;
//! for JSON that converts, the protobuf is valid (or only nested too deep).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use weir_pdata::PdataError;
use weir_pdata::otlp::{json_to_protobuf, protobuf_to_json, scan};

fuzz_target!(|data: &[u8]| {
    let Some((signal, payload)) = common::split(data) else {
        return;
    };

    // The payload as protobuf.
    if scan(signal, payload).is_ok() {
        let json = protobuf_to_json(signal, payload).expect("scanned bytes convert to JSON");
        let back = json_to_protobuf(signal, json.as_bytes()).expect("our JSON converts back");
        assert_eq!(scan(signal, &back).ok(), scan(signal, payload).ok());
        let again = protobuf_to_json(signal, &back).expect("converted bytes convert to JSON");
        assert_eq!(again, json);
    }

    // The payload as JSON.
    if let Ok(bytes) = json_to_protobuf(signal, payload) {
        match scan(signal, &bytes) {
            Ok(_) => {}
            Err(PdataError::Protobuf { reason, .. }) if reason.starts_with("messages nested") => {}
            Err(e) => panic!("JSON converted to invalid protobuf: {e}"),
        }
    }
});
