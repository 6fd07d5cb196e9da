//! Property tests: OTLP -> Arrow -> OTLP is lossless for arbitrary requests
//! of all three signals.
//!
//! Equality is checked on the protobuf bytes: prost encodes equal messages
//! to equal bytes, and comparing bytes compares doubles bit for bit, so NaN
//! (generated on purpose, with arbitrary payloads) round-trips exactly. Where
//! the message has no NaN, the decoded prost structs are compared too.
//!
//! Besides the plain round trip, each request is also checked after
//! transformations a processor may apply to the tables: records interleaved
//! across scopes (and points across metrics), ids made sparse, and tables of
//! two requests concatenated.

mod common;

use std::fmt::Debug;

use common::{interleave, logs, metrics, sparse_ids, traces};
use proptest::prelude::*;
use prost::Message;
use weir_pdata::otlp::arrow::{concat, decode, encode};
use weir_pdata::schema;
use weir_pdata::{Signal, SignalTables};

// ---------------------------------------------------------------- checks

fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// Asserts that `tables` encode to exactly `bytes`, and that the decoded
/// messages are equal (when free of NaN, which is never equal to itself).
fn assert_encodes_to<M: Message + Default + PartialEq + Debug>(
    signal: Signal,
    tables: &SignalTables,
    bytes: &[u8],
    what: &str,
) -> Result<(), TestCaseError> {
    let back = encode(signal, tables).map_err(fail)?;
    let expected = M::decode(bytes).map_err(fail)?;
    let got = M::decode(&back[..]).map_err(fail)?;
    #[allow(clippy::eq_op)]
    if expected == expected {
        prop_assert_eq!(&got, &expected, "{}", what);
    }
    prop_assert!(back[..] == *bytes, "{}: bytes differ", what);
    Ok(())
}

fn check<M: Message + Default + PartialEq + Debug>(
    signal: Signal,
    message: &M,
) -> Result<(), TestCaseError> {
    let bytes = message.encode_to_vec();
    let tables = decode(signal, &bytes).map_err(fail)?;
    prop_assert_eq!(tables.resources.schema(), schema::resources());
    prop_assert_eq!(tables.scopes.schema(), schema::scopes());
    prop_assert_eq!(tables.records.schema(), schema::records(signal));
    assert_encodes_to::<M>(signal, &tables, &bytes, "round trip")?;

    let interleaved = SignalTables {
        records: interleave(&tables.records, signal),
        ..tables.clone()
    };
    assert_encodes_to::<M>(signal, &interleaved, &bytes, "interleaved records")?;

    let sparse = sparse_ids(&tables);
    assert_encodes_to::<M>(signal, &sparse, &bytes, "sparse ids")?;
    Ok(())
}

fn check_concat<M: Message + Default + PartialEq + Debug>(
    signal: Signal,
    a: &M,
    b: &M,
) -> Result<(), TestCaseError> {
    let (a, b) = (a.encode_to_vec(), b.encode_to_vec());
    let ta = decode(signal, &a).map_err(fail)?;
    let tb = decode(signal, &b).map_err(fail)?;
    // Sparse ids in the first part: the second part's ids must be shifted
    // past them, not past its row count.
    let ta = sparse_ids(&ta);
    let joined = concat(signal, &[&ta, &tb]).map_err(fail)?;
    // Protobuf concatenation appends repeated fields: the reference result.
    let expected = [a, b].concat();
    assert_encodes_to::<M>(signal, &joined, &expected, "concat")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn traces_round_trip(request in traces()) {
        check(Signal::Traces, &request)?;
    }

    #[test]
    fn logs_round_trip(request in logs()) {
        check(Signal::Logs, &request)?;
    }

    #[test]
    fn metrics_round_trip(request in metrics()) {
        check(Signal::Metrics, &request)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn traces_concat(a in traces(), b in traces()) {
        check_concat(Signal::Traces, &a, &b)?;
    }

    #[test]
    fn logs_concat(a in logs(), b in logs()) {
        check_concat(Signal::Logs, &a, &b)?;
    }

    #[test]
    fn metrics_concat(a in metrics(), b in metrics()) {
        check_concat(Signal::Metrics, &a, &b)?;
    }
}
