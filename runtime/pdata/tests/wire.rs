//! Differential tests of the wire decoder and encoder against the prost
//! path (`decode_via_prost`, `encode_via_prost`), the reference.
//!
//! - For arbitrary requests (the generators of `roundtrip.rs`), the wire
//!   decoder yields the same tables as the prost path, and the wire encoder
//!   the same bytes, also after the transformations a processor may apply
//!   (interleaved records, sparse ids).
//! - Every prefix of a valid request, and random corruptions of it, are
//!   decoded without panicking, and accepted or refused exactly when the
//!   prost path accepts or refuses them (with the same tables when
//!   accepted).
//! - Encodings prost never produces but must accept (fields out of order,
//!   singular messages repeated, unknown fields and groups, several `oneof`
//!   members) decode as prost decodes them.

mod common;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use proptest::prelude::*;
use prost::Message;
use weir_pdata::otlp::arrow::{decode, decode_via_prost, encode, encode_via_prost};
use weir_pdata::{PdataError, Signal, SignalTables};

fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// Whether two decodings are the same tables (Arrow equality compares
/// values byte for byte, so NaN payloads count).
fn same_tables(a: &SignalTables, b: &SignalTables) -> bool {
    a.resources == b.resources && a.scopes == b.scopes && a.records == b.records
}

/// Decodes `bytes` both ways: both must fail, or both succeed with equal
/// tables. Returns the tables when they succeed.
fn decode_agrees(signal: Signal, bytes: &[u8]) -> Result<Option<SignalTables>, String> {
    match (decode(signal, bytes), decode_via_prost(signal, bytes)) {
        (Ok(wire), Ok(prost)) => {
            if same_tables(&wire, &prost) {
                Ok(Some(wire))
            } else {
                Err(format!("tables differ\nwire: {wire:?}\nprost: {prost:?}"))
            }
        }
        (Err(_), Err(_)) => Ok(None),
        (Ok(_), Err(e)) => Err(format!("wire decoder accepted what prost refuses: {e}")),
        (Err(e), Ok(_)) => Err(format!("wire decoder refused what prost accepts: {e}")),
    }
}

/// Encodes `tables` both ways and checks the bytes are equal.
fn encode_agrees(signal: Signal, tables: &SignalTables, what: &str) -> Result<(), TestCaseError> {
    let wire = encode(signal, tables).map_err(fail)?;
    let prost = encode_via_prost(signal, tables).map_err(fail)?;
    prop_assert!(wire == prost, "{}: encoded bytes differ", what);
    Ok(())
}

fn check<M: Message>(signal: Signal, message: &M) -> Result<(), TestCaseError> {
    let bytes = message.encode_to_vec();
    let tables = decode_agrees(signal, &bytes)
        .map_err(fail)?
        .ok_or_else(|| fail("a valid request was refused"))?;
    encode_agrees(signal, &tables, "round trip")?;
    prop_assert!(encode(signal, &tables).map_err(fail)? == bytes);
    let interleaved = SignalTables {
        records: common::interleave(&tables.records, signal),
        ..tables.clone()
    };
    encode_agrees(signal, &interleaved, "interleaved records")?;
    encode_agrees(signal, &common::sparse_ids(&tables), "sparse ids")
}

/// Every prefix of `bytes` (and, from `seed`, a few corruptions): no
/// panic, and the same verdict and tables as prost.
fn check_damaged(signal: Signal, bytes: &[u8], seed: u64) -> Result<(), TestCaseError> {
    for end in 0..bytes.len() {
        decode_agrees(signal, &bytes[..end])
            .map_err(|e| fail(format!("prefix of {end} bytes: {e}")))?;
    }
    let mut state = seed | 1;
    let mut next = || {
        // xorshift64: deterministic per case.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..16 {
        if bytes.is_empty() {
            break;
        }
        let mut damaged = bytes.to_vec();
        let at = (next() % bytes.len() as u64) as usize;
        damaged[at] = next() as u8;
        decode_agrees(signal, &damaged).map_err(|e| fail(format!("byte {at} changed: {e}")))?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn traces_agree_with_prost(request in common::traces()) {
        check(Signal::Traces, &request)?;
    }

    #[test]
    fn logs_agree_with_prost(request in common::logs()) {
        check(Signal::Logs, &request)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn damaged_traces_agree_with_prost(request in common::traces(), seed in any::<u64>()) {
        check_damaged(Signal::Traces, &request.encode_to_vec(), seed)?;
    }

    #[test]
    fn damaged_logs_agree_with_prost(request in common::logs(), seed in any::<u64>()) {
        check_damaged(Signal::Logs, &request.encode_to_vec(), seed)?;
    }
}

// ------------------------------------------------- hand-written encodings

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// One field of a hand-written message.
enum F<'a> {
    Varint(u32, u64),
    Fixed64(u32, u64),
    Fixed32(u32, u32),
    Bytes(u32, &'a [u8]),
    Msg(u32, Vec<u8>),
    /// An unknown group holding a varint field.
    Group(u32),
}

fn msg(fields: &[F<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        match f {
            F::Varint(n, v) => {
                varint(u64::from(n << 3), &mut out);
                varint(*v, &mut out);
            }
            F::Fixed64(n, v) => {
                varint(u64::from(n << 3 | 1), &mut out);
                out.extend_from_slice(&v.to_le_bytes());
            }
            F::Fixed32(n, v) => {
                varint(u64::from(n << 3 | 5), &mut out);
                out.extend_from_slice(&v.to_le_bytes());
            }
            F::Bytes(n, b) => {
                varint(u64::from(n << 3 | 2), &mut out);
                varint(b.len() as u64, &mut out);
                out.extend_from_slice(b);
            }
            F::Msg(n, b) => {
                varint(u64::from(n << 3 | 2), &mut out);
                varint(b.len() as u64, &mut out);
                out.extend_from_slice(b);
            }
            F::Group(n) => {
                varint(u64::from(n << 3 | 3), &mut out);
                varint(1 << 3, &mut out);
                varint(7, &mut out);
                varint(u64::from(n << 3 | 4), &mut out);
            }
        }
    }
    out
}

/// A traces request of one resource of one scope holding `span`, with the
/// envelope written out of order and padded with unknown fields.
fn request_with_span(span: Vec<u8>) -> Vec<u8> {
    let scope_spans = msg(&[
        F::Bytes(3, b"scope-url"),
        F::Msg(2, span),
        F::Group(20),
        F::Msg(1, msg(&[F::Bytes(1, b"lib")])),
        // A second scope message merges into the first.
        F::Msg(1, msg(&[F::Bytes(2, b"1.0"), F::Varint(4, 3)])),
    ]);
    let kv = |key: &'static [u8], value: &'static [u8]| {
        msg(&[F::Bytes(1, key), F::Msg(2, msg(&[F::Bytes(1, value)]))])
    };
    let resource_spans = msg(&[
        F::Msg(2, scope_spans),
        F::Varint(99, 5),
        F::Msg(1, msg(&[F::Msg(1, kv(b"a", b"1"))])),
        F::Bytes(3, b"res-url"),
        F::Msg(1, msg(&[F::Msg(1, kv(b"b", b"2")), F::Varint(2, 4)])),
    ]);
    msg(&[F::Fixed32(7, 1), F::Msg(1, resource_spans)])
}

#[test]
fn out_of_order_and_repeated_fields_decode_as_prost_does() {
    let any_string = |s: &'static [u8]| msg(&[F::Bytes(1, s)]);
    let span = msg(&[
        F::Fixed32(16, 1),
        F::Msg(15, msg(&[F::Bytes(2, b"first"), F::Varint(3, 1)])),
        // Status repeated: merged, the later code wins.
        F::Msg(15, msg(&[F::Varint(3, 2)])),
        // Value before key; value repeated: the messages merge, the later
        // `oneof` member wins.
        F::Msg(
            9,
            msg(&[
                F::Msg(2, any_string(b"dropped")),
                F::Bytes(1, b"k1"),
                F::Msg(2, msg(&[F::Varint(3, 42)])),
            ]),
        ),
        // Several `oneof` members in one AnyValue: the last wins.
        F::Msg(
            9,
            msg(&[
                F::Bytes(1, b"k2"),
                F::Msg(
                    2,
                    msg(&[F::Bytes(1, b"x"), F::Fixed64(4, 7), F::Varint(2, 1)]),
                ),
            ]),
        ),
        // An array written with an unknown field inside: stored as prost
        // re-encodes it.
        F::Msg(
            9,
            msg(&[
                F::Bytes(1, b"k3"),
                F::Msg(
                    2,
                    msg(&[F::Msg(
                        5,
                        msg(&[F::Varint(9, 1), F::Msg(1, any_string(b"item"))]),
                    )]),
                ),
            ]),
        ),
        // A key-value without value, a key_strindex, an unknown group.
        F::Msg(9, msg(&[F::Varint(3, 5), F::Bytes(1, b"k4"), F::Group(12)])),
        F::Bytes(5, b"name-1"),
        // The last occurrence of a scalar wins.
        F::Bytes(5, b"name-2"),
        F::Varint(6, u64::MAX),
        F::Fixed64(8, 20),
        F::Fixed64(7, 10),
        F::Bytes(2, &[2; 8]),
        F::Bytes(1, &[1; 16]),
        F::Msg(
            11,
            msg(&[F::Varint(4, 1), F::Bytes(2, b"event"), F::Fixed64(1, 5)]),
        ),
        F::Msg(
            13,
            msg(&[
                F::Fixed32(6, 9),
                F::Bytes(3, b"state"),
                F::Bytes(2, &[3; 8]),
            ]),
        ),
    ]);
    let bytes = request_with_span(span);
    let tables = decode_agrees(Signal::Traces, &bytes)
        .expect("agree")
        .expect("prost accepts the request");
    assert_eq!(tables.records.num_rows(), 1);
    assert_eq!(tables.resources.num_rows(), 1);
    // The merged messages, as prost reads them.
    let mut request = ExportTraceServiceRequest::decode(bytes.as_slice()).expect("prost");
    let rs = &request.resource_spans[0];
    assert_eq!(
        rs.resource.as_ref().map(|r| r.attributes.len()),
        Some(2),
        "the two Resource messages merge"
    );
    let span = &rs.scope_spans[0].spans[0];
    assert_eq!(span.name, "name-2");
    assert_eq!(
        span.status.as_ref().map(|s| (s.code, s.message.as_str())),
        Some((2, "first"))
    );
    assert_eq!(
        span.attributes[0].value,
        Some(AnyValue {
            value: Some(Value::IntValue(42))
        })
    );
    // Encoding is canonical: what prost encodes from the same message, less
    // `key_strindex` (profiles only, not kept).
    for kv in &mut request.resource_spans[0].scope_spans[0].spans[0].attributes {
        kv.key_strindex = 0;
    }
    let encoded = encode(Signal::Traces, &tables).expect("encode");
    assert_eq!(encoded, request.encode_to_vec());
    assert_eq!(
        encoded,
        encode_via_prost(Signal::Traces, &tables).expect("encode")
    );
}

#[test]
fn malformed_requests_are_errors_with_an_offset() {
    let cases: [(&str, Vec<u8>); 6] = [
        ("truncated length", vec![0x0a, 0x05, 0x01]),
        ("truncated varint", vec![0x0a, 0x80]),
        ("field 0", vec![0x02, 0x00]),
        ("wire type 7", vec![0x0f]),
        ("stray end group", vec![0x0c]),
        (
            "span name not UTF-8",
            request_with_span(msg(&[F::Bytes(5, &[0xff, 0xfe])])),
        ),
    ];
    for (what, bytes) in cases {
        for signal in [Signal::Traces, Signal::Logs] {
            let err = decode(signal, &bytes).expect_err(what);
            assert!(
                matches!(err, PdataError::Protobuf { .. }),
                "{what} ({signal}): {err:?}"
            );
            assert!(
                decode_via_prost(signal, &bytes).is_err(),
                "{what}: prost agrees"
            );
        }
    }
    // A span field of the wrong wire type.
    let bytes = request_with_span(msg(&[F::Varint(1, 3)]));
    let err = decode(Signal::Traces, &bytes).expect_err("wire type");
    assert!(err.to_string().contains("wire type 0, expected 2"), "{err}");
}

#[test]
fn ids_of_the_wrong_length_are_refused_by_name() {
    let bytes = request_with_span(msg(&[F::Bytes(2, &[1; 5])]));
    match decode(Signal::Traces, &bytes) {
        Err(PdataError::InvalidValue { field, .. }) => assert_eq!(field, "Span.span_id"),
        other => panic!("expected an invalid span id, got {other:?}"),
    }
    let link = msg(&[F::Msg(13, msg(&[F::Bytes(1, &[1; 15])]))]);
    match decode(Signal::Traces, &request_with_span(link)) {
        Err(PdataError::InvalidValue { field, .. }) => assert_eq!(field, "Span.Link.trace_id"),
        other => panic!("expected an invalid link trace id, got {other:?}"),
    }
}

#[test]
fn deeply_nested_values_are_refused_without_overflowing_the_stack() {
    // An AnyValue of 10,000 nested arrays: prost's recursion limit refuses
    // it on both paths.
    let mut value = msg(&[F::Bytes(1, b"leaf")]);
    for _ in 0..10_000 {
        value = msg(&[F::Msg(5, msg(&[F::Msg(1, value)]))]);
    }
    let span = msg(&[F::Msg(9, msg(&[F::Bytes(1, b"deep"), F::Msg(2, value)]))]);
    let bytes = request_with_span(span);
    assert!(decode(Signal::Traces, &bytes).is_err());
    assert!(decode_via_prost(Signal::Traces, &bytes).is_err());
}

#[test]
fn large_envelopes_grow_the_encoder_buffer() {
    // The buffer is sized from the records table; a big resource attribute
    // and no spans makes it grow.
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "blob".to_owned(),
                    value: Some(AnyValue {
                        value: Some(Value::StringValue("x".repeat(100_000))),
                    }),
                    key_strindex: 0,
                }],
                dropped_attributes_count: 0,
                entity_refs: vec![],
            }),
            scope_spans: vec![ScopeSpans::default(); 3],
            schema_url: "url".to_owned(),
        }],
    };
    let bytes = request.encode_to_vec();
    let tables = decode(Signal::Traces, &bytes).expect("decode");
    let encoded = encode(Signal::Traces, &tables).expect("encode");
    assert_eq!(encoded.len(), bytes.len());
    assert!(encoded == bytes);
}
