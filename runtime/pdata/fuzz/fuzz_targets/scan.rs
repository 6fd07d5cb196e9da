//! `scan` never panics, and whatever it accepts prost decodes with the same
//! number of items.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use weir_pdata::otlp::scan;

fuzz_target!(|data: &[u8]| {
    let Some((signal, bytes)) = common::split(data) else {
        return;
    };
    if let Ok(items) = scan(signal, bytes) {
        assert_eq!(
            common::prost_items(signal, bytes),
            Some(items),
            "scan accepted what prost refuses or counts differently"
        );
    }
});
