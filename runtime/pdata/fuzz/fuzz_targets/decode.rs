//! Whatever `scan` accepts, `otlp::decode` turns into tables, and encoding
//! those tables gives a request with the same number of items.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_pdata::Signal;
use weir_pdata::otlp::{decode, encode, scan};

fuzz_target!(|data: &[u8]| {
    let Some((&first, bytes)) = data.split_first() else {
        return;
    };
    let signal = Signal::ALL[usize::from(first) % 3];
    let Ok(items) = scan(signal, bytes) else {
        return;
    };
    let tables = match decode(signal, bytes) {
        Ok(tables) => tables,
        Err(e) => panic!("scan accepted {items} items but decode failed: {e}"),
    };
    let encoded = match encode(signal, &tables) {
        Ok(encoded) => encoded,
        Err(e) => panic!("decoded tables do not encode: {e}"),
    };
    assert_eq!(
        scan(signal, &encoded).ok(),
        Some(items),
        "encode changed the item count"
    );
});
