//! Tests of the wire scan against prost-encoded requests, hand-made
//! malformed bytes and prost itself as an oracle.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use proptest::prelude::*;
use prost::Message as _;

use super::samples::{self, count_logs, count_metrics, count_traces};
use super::{MAX_DEPTH, scan, scan_by_table};
use crate::{PdataError, Signal};

// ---- hand encoding ----

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        if v < 0x80 {
            out.push(v as u8);
            return out;
        }
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
}

fn key(number: u32, wt: u8) -> Vec<u8> {
    varint(u64::from(number) << 3 | u64::from(wt))
}

fn ld(number: u32, body: &[u8]) -> Vec<u8> {
    let mut out = key(number, 2);
    out.extend(varint(body.len() as u64));
    out.extend_from_slice(body);
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A trace request holding one span with these encoded fields.
fn one_span(span: &[u8]) -> Vec<u8> {
    ld(1, &ld(2, &ld(2, span)))
}

/// The offset at which the span's own fields start in [`one_span`].
fn span_start(span_len: usize) -> usize {
    one_span(&vec![0; span_len]).len() - span_len
}

fn protobuf_error(result: Result<usize, PdataError>) -> (usize, String) {
    match result {
        Err(PdataError::Protobuf { offset, reason }) => (offset, reason),
        other => panic!("expected a protobuf error, got {other:?}"),
    }
}

// ---- valid requests ----

/// Decodes with prost and counts, or `None` if prost refuses the bytes.
fn prost_count(signal: Signal, bytes: &[u8]) -> Option<(usize, bool)> {
    match signal {
        Signal::Traces => ExportTraceServiceRequest::decode(bytes)
            .ok()
            .map(|r| (count_traces(&r), samples::ids_ok_traces(&r))),
        Signal::Metrics => ExportMetricsServiceRequest::decode(bytes)
            .ok()
            .map(|r| (count_metrics(&r), samples::ids_ok_metrics(&r))),
        Signal::Logs => ExportLogsServiceRequest::decode(bytes)
            .ok()
            .map(|r| (count_logs(&r), samples::ids_ok_logs(&r))),
        Signal::Profiles => None,
    }
}

fn sample_bytes() -> [(Signal, Vec<u8>, usize); 3] {
    [
        (Signal::Traces, samples::traces().encode_to_vec(), 5),
        (Signal::Metrics, samples::metrics().encode_to_vec(), 9),
        (Signal::Logs, samples::logs().encode_to_vec(), 4),
    ]
}

#[test]
fn counts_the_items_of_sample_requests() {
    for (signal, bytes, expected) in sample_bytes() {
        assert_eq!(scan(signal, &bytes).ok(), Some(expected), "{signal}");
    }
}

#[test]
fn an_empty_request_has_no_items() {
    for signal in Signal::ALL {
        assert_eq!(scan(signal, &[]).ok(), Some(0));
    }
}

#[test]
fn concatenated_requests_count_the_sum() {
    for (signal, bytes, expected) in sample_bytes() {
        let twice = [bytes.as_slice(), bytes.as_slice()].concat();
        assert_eq!(scan(signal, &twice).ok(), Some(2 * expected), "{signal}");
    }
}

#[test]
fn scanning_with_the_wrong_signal_agrees_with_prost() {
    // Field 1 of every request is a repeated message, so a trace request
    // scanned as logs is read with the logs schema: it must not panic, and
    // whatever it returns must agree with prost decoding it as logs.
    let (_, traces, _) = &sample_bytes()[0];
    let scanned = scan(Signal::Logs, traces).ok();
    let decoded = prost_count(Signal::Logs, traces);
    assert_eq!(scanned.is_some(), decoded.is_some_and(|(_, ids_ok)| ids_ok));
}

#[test]
fn every_prefix_agrees_with_prost() {
    for (signal, bytes, full) in sample_bytes() {
        let mut valid_prefixes = 0;
        for cut in 0..=bytes.len() {
            let prefix = &bytes[..cut];
            let scanned = scan(signal, prefix);
            assert_eq!(
                format!("{scanned:?}"),
                format!("{:?}", scan_by_table(signal, prefix))
            );
            let decoded = prost_count(signal, prefix);
            match (&scanned, decoded) {
                (Ok(n), Some((m, _))) => {
                    assert_eq!(*n, m, "{signal} prefix {cut}");
                    // A proper prefix is valid only if cut between
                    // resources, each of which holds items here.
                    assert!(cut == bytes.len() || *n < full, "{signal} prefix {cut}");
                    valid_prefixes += 1;
                }
                (Err(_), None) => {}
                (Err(PdataError::InvalidValue { .. }), Some((_, false))) => {}
                other => panic!("{signal} prefix {cut}: scan and prost disagree: {other:?}"),
            }
        }
        // The empty prefix, the full request and the cuts between top-level
        // resources are valid; nothing else is.
        assert!(valid_prefixes >= 2, "{signal}: {valid_prefixes}");
        assert!(valid_prefixes < 5, "{signal}: {valid_prefixes}");
    }
}

#[test]
fn a_prefix_cut_between_resources_counts_the_first_resource() {
    let request = samples::traces();
    let first = request.resource_spans[0].encoded_len();
    let bytes = request.encode_to_vec();
    // Key (1 byte) + length varint (2 bytes, the resource is > 127 bytes).
    let cut = 1 + prost::length_delimiter_len(first) + first;
    assert_eq!(scan(Signal::Traces, &bytes[..cut]).ok(), Some(4));
}

// ---- malformed requests ----

#[test]
fn reports_a_truncated_varint() {
    let (offset, reason) = protobuf_error(scan(Signal::Traces, &[0x0a, 0x80]));
    assert_eq!(offset, 1);
    assert_eq!(
        reason,
        "field 1 of ExportTraceServiceRequest (resource_spans): truncated varint"
    );
    let (offset, reason) = protobuf_error(scan(Signal::Logs, &[0x0a, 0x01, 0xff]));
    assert_eq!((offset, reason.as_str()), (2, "truncated varint"));
}

#[test]
fn reports_a_length_beyond_the_end() {
    let mut bytes = cat(&[&[0x0a], &varint(4000)]);
    bytes.extend([0u8; 12]);
    let (offset, reason) = protobuf_error(scan(Signal::Traces, &bytes));
    assert_eq!(offset, 1);
    assert_eq!(
        reason,
        "field 1 of ExportTraceServiceRequest (resource_spans): length 4000 exceeds the 12 \
         remaining bytes"
    );
}

#[test]
fn a_length_is_bounded_by_the_enclosing_message_not_the_buffer() {
    // The span claims 10 bytes but its scope holds only 3; bytes follow.
    let span = cat(&[&key(5, 2), &[10], b"abc"]);
    let mut bytes = one_span(&span);
    bytes.extend_from_slice(&[0x1a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let (_, reason) = protobuf_error(scan(Signal::Traces, &bytes));
    assert_eq!(
        reason,
        "field 5 of Span (name): length 10 exceeds the 3 remaining bytes"
    );
}

#[test]
fn reports_a_wrong_wire_type_for_a_known_field() {
    let span = cat(&[&ld(5, b"ok"), &key(2, 0), &varint(5)]);
    let (offset, reason) = protobuf_error(scan(Signal::Traces, &one_span(&span)));
    assert_eq!(offset, span_start(span.len()) + 4);
    assert_eq!(
        reason,
        "field 2 of Span (span_id) has wire type 0, expected 2"
    );

    let resource = cat(&[&key(1, 5), &[0, 0, 0, 0]]);
    let (_, reason) = protobuf_error(scan(Signal::Logs, &ld(1, &ld(1, &resource))));
    assert_eq!(
        reason,
        "field 1 of Resource (attributes) has wire type 5, expected 2"
    );
}

#[test]
fn reports_invalid_utf8() {
    let span = ld(5, &[b'o', b'k', 0xc3, 0x28]);
    let (offset, reason) = protobuf_error(scan(Signal::Traces, &one_span(&span)));
    assert_eq!(offset, span_start(span.len()) + 2 + 2);
    assert_eq!(reason, "field 5 of Span (name) is not valid UTF-8");

    // Attribute keys and values too.
    let kv = cat(&[&ld(1, b"k"), &ld(2, &ld(1, &[0xff]))]);
    let span = ld(9, &kv);
    let (_, reason) = protobuf_error(scan(Signal::Traces, &one_span(&span)));
    assert_eq!(
        reason,
        "field 1 of AnyValue (string_value) is not valid UTF-8"
    );
}

#[test]
fn bytes_fields_may_hold_anything() {
    let kv = cat(&[&ld(1, b"k"), &ld(2, &ld(7, &[0xff, 0xfe]))]);
    assert_eq!(scan(Signal::Traces, &one_span(&ld(9, &kv))).ok(), Some(1));
}

#[test]
fn refuses_ids_of_the_wrong_length() {
    let cases: [(Signal, Vec<u8>, &str); 6] = [
        (Signal::Traces, one_span(&ld(1, &[1; 5])), "Span.trace_id"),
        (Signal::Traces, one_span(&ld(2, &[1; 16])), "Span.span_id"),
        (
            Signal::Traces,
            one_span(&ld(4, &[1; 7])),
            "Span.parent_span_id",
        ),
        (
            Signal::Traces,
            one_span(&ld(13, &ld(2, &[1; 3]))),
            "Span.Link.span_id",
        ),
        (
            Signal::Logs,
            ld(1, &ld(2, &ld(2, &ld(9, &[1; 15])))),
            "LogRecord.trace_id",
        ),
        (
            Signal::Metrics,
            // ResourceMetrics > ScopeMetrics > Metric > Gauge > point > exemplar.
            ld(1, &ld(2, &ld(2, &ld(5, &ld(1, &ld(5, &ld(4, &[1; 9]))))))),
            "Exemplar.span_id",
        ),
    ];
    for (signal, bytes, expected) in cases {
        match scan(signal, &bytes) {
            Err(PdataError::InvalidValue { field, reason }) => {
                assert_eq!(field, expected);
                assert!(reason.contains("expected"), "{reason}");
            }
            other => panic!("{expected}: expected InvalidValue, got {other:?}"),
        }
    }
    // Empty and right-sized ids pass.
    let span = cat(&[&ld(1, &[]), &ld(2, &[1; 8]), &ld(1, &[2; 16])]);
    assert_eq!(scan(Signal::Traces, &one_span(&span)).ok(), Some(1));
}

#[test]
fn skips_unknown_fields_of_every_wire_type() {
    let group = cat(&[
        &key(104, 3),
        &key(1, 0),
        &varint(300),
        &key(2, 3),
        &ld(3, b"in a nested group"),
        &key(2, 4),
        &key(104, 4),
    ]);
    let span = cat(&[
        &ld(5, b"name"),
        &key(100, 0),
        &varint(u64::MAX),
        &key(101, 1),
        &[0; 8],
        &ld(102, &[0xff; 3]),
        &key(103, 5),
        &[0; 4],
        &group,
        &key(1000, 0),
        &[1],
    ]);
    let bytes = one_span(&span);
    assert_eq!(scan(Signal::Traces, &bytes).ok(), Some(1));
    assert!(ExportTraceServiceRequest::decode(bytes.as_slice()).is_ok());
}

#[test]
fn checks_the_wire_format_of_unknown_fields() {
    let cases: [(Vec<u8>, &str); 9] = [
        (cat(&[&key(99, 6)]), "field 99 has invalid wire type 6"),
        (
            cat(&[&key(99, 7), &[0]]),
            "field 99 has invalid wire type 7",
        ),
        (
            cat(&[&key(99, 4)]),
            "end-group tag of field 99 without a start-group",
        ),
        (
            cat(&[&key(99, 3), &key(1, 0), &[1]]),
            "group of field 99 is not closed",
        ),
        (
            cat(&[&key(99, 3), &key(98, 4)]),
            "end-group tag of field 98 inside the group of field 99",
        ),
        (
            cat(&[&key(99, 1), &[0; 7]]),
            "field 99 needs 8 bytes, 7 remain",
        ),
        (
            cat(&[&key(99, 5), &[0; 3]]),
            "field 99 needs 4 bytes, 3 remain",
        ),
        (
            cat(&[&key(99, 2), &[5, 0]]),
            "field 99: length 5 exceeds the 1 remaining bytes",
        ),
        (
            cat(&[&key(99, 0), &[0x80; 11]]),
            "varint longer than 10 bytes",
        ),
    ];
    for (span, expected) in cases {
        let (_, reason) = protobuf_error(scan(Signal::Traces, &one_span(&span)));
        assert_eq!(reason, expected);
    }
}

#[test]
fn checks_varints_and_keys() {
    let overflow = cat(&[&key(99, 0), &[0xff; 9], &[0x02]]);
    let (_, reason) = protobuf_error(scan(Signal::Traces, &overflow));
    assert_eq!(reason, "varint overflows 64 bits");
    // The largest 10-byte varint is fine.
    let max = cat(&[&key(99, 0), &[0xff; 9], &[0x01]]);
    assert_eq!(scan(Signal::Traces, &max).ok(), Some(0));
    // A non-canonical varint (trailing zero groups) is fine, as for prost.
    let padded = [0x0a, 0x80, 0x00];
    assert_eq!(scan(Signal::Traces, &padded).ok(), Some(0));
    assert!(ExportTraceServiceRequest::decode(padded.as_slice()).is_ok());

    let (offset, reason) = protobuf_error(scan(Signal::Traces, &[0x00]));
    assert_eq!((offset, reason.as_str()), (0, "field number 0 is invalid"));
    let (_, reason) = protobuf_error(scan(Signal::Traces, &varint(1 << 35)));
    assert_eq!(reason, "field key 34359738368 does not fit in 32 bits");
}

#[test]
fn reports_truncated_fixed_width_values() {
    let span = cat(&[&key(7, 1), &[1, 2, 3]]);
    let (_, reason) = protobuf_error(scan(Signal::Traces, &one_span(&span)));
    assert_eq!(
        reason,
        "field 7 of Span (start_time_unix_nano) needs 8 bytes, 3 remain"
    );
    let span = cat(&[&key(16, 5), &[1]]);
    let (_, reason) = protobuf_error(scan(Signal::Traces, &one_span(&span)));
    assert_eq!(reason, "field 16 of Span (flags) needs 4 bytes, 1 remain");
}

/// A metrics request holding one histogram point with these fields.
fn one_histogram_point(point: &[u8]) -> Vec<u8> {
    ld(1, &ld(2, &ld(2, &ld(9, &ld(1, point)))))
}

#[test]
fn accepts_packed_and_unpacked_repeated_numbers() {
    let packed = ld(6, &[0u8; 16]);
    let unpacked = cat(&[&key(6, 1), &[0; 8], &key(6, 1), &[0; 8]]);
    let bounds = ld(7, &[0u8; 8]);
    for point in [&packed, &unpacked, &bounds] {
        let bytes = one_histogram_point(point);
        assert_eq!(scan(Signal::Metrics, &bytes).ok(), Some(1));
        assert!(ExportMetricsServiceRequest::decode(bytes.as_slice()).is_ok());
    }
    // Exponential histogram buckets hold packed varints.
    let buckets = ld(2, &cat(&[&varint(1), &varint(300), &varint(u64::MAX)]));
    let point = ld(8, &buckets);
    let bytes = ld(1, &ld(2, &ld(2, &ld(10, &ld(1, &point)))));
    assert_eq!(scan(Signal::Metrics, &bytes).ok(), Some(1));
}

#[test]
fn refuses_broken_packed_fields() {
    let (_, reason) = protobuf_error(scan(Signal::Metrics, &one_histogram_point(&ld(6, &[0; 7]))));
    assert_eq!(
        reason,
        "field 6 of HistogramDataPoint (bucket_counts) is packed with length 7, not a multiple of 8"
    );
    let buckets = ld(2, &[0x01, 0x80]);
    let bytes = ld(1, &ld(2, &ld(2, &ld(10, &ld(1, &ld(8, &buckets))))));
    let (_, reason) = protobuf_error(scan(Signal::Metrics, &bytes));
    assert_eq!(
        reason,
        "field 2 of ExponentialHistogramDataPoint.Buckets (bucket_counts): truncated varint"
    );
    // A packed encoding of a field that is not repeated is a wire type error.
    let (_, reason) = protobuf_error(scan(Signal::Metrics, &one_histogram_point(&ld(4, &[0; 8]))));
    assert_eq!(
        reason,
        "field 4 of HistogramDataPoint (count) has wire type 2, expected 1"
    );
}

#[test]
fn counts_points_of_every_metric_type_and_none_for_empty_metrics() {
    let point = ld(1, &[]);
    // gauge, sum, histogram, exponential_histogram, summary.
    for data in [5, 7, 9, 10, 11] {
        let metric = cat(&[&ld(1, b"m"), &ld(data, &cat(&[&point, &point]))]);
        let bytes = ld(1, &ld(2, &ld(2, &metric)));
        assert_eq!(scan(Signal::Metrics, &bytes).ok(), Some(2), "data {data}");
    }
    let bytes = ld(1, &ld(2, &ld(2, &ld(1, b"no data"))));
    assert_eq!(scan(Signal::Metrics, &bytes).ok(), Some(0));
}

/// An attribute value nested in `levels` arrays.
fn nested_arrays(levels: usize) -> Vec<u8> {
    let mut value = ld(1, b"leaf");
    for _ in 0..levels {
        value = ld(5, &ld(1, &value));
    }
    one_span(&ld(9, &cat(&[&ld(1, b"k"), &ld(2, &value)])))
}

#[test]
fn bounds_nesting_depth() {
    // The span attribute's AnyValue is at depth 5; each array adds 2.
    let deepest_ok = (MAX_DEPTH as usize - 5) / 2;
    let bytes = nested_arrays(deepest_ok);
    assert_eq!(scan(Signal::Traces, &bytes).ok(), Some(1));
    assert!(ExportTraceServiceRequest::decode(bytes.as_slice()).is_ok());

    let (_, reason) = protobuf_error(scan(Signal::Traces, &nested_arrays(deepest_ok + 1)));
    assert_eq!(
        reason,
        format!("messages nested deeper than {MAX_DEPTH} levels")
    );
    // Far deeper than any stack could take recursively: refused quickly.
    let (_, reason) = protobuf_error(scan(Signal::Traces, &nested_arrays(2000)));
    assert!(reason.starts_with("messages nested deeper"), "{reason}");

    // Unknown groups nest too.
    let mut group = Vec::new();
    for _ in 0..100 {
        group = cat(&[&key(99, 3), &group, &key(99, 4)]);
    }
    let (_, reason) = protobuf_error(scan(Signal::Traces, &group));
    assert!(reason.starts_with("messages nested deeper"), "{reason}");
}

#[test]
fn the_last_oneof_member_and_repeated_singular_fields_are_accepted() {
    // Two values in one AnyValue, and a span name given twice.
    let value = cat(&[&ld(1, b"s"), &key(3, 0), &varint(4)]);
    let span = cat(&[
        &ld(5, b"a"),
        &ld(5, b"b"),
        &ld(9, &cat(&[&ld(1, b"k"), &ld(2, &value)])),
    ]);
    let bytes = one_span(&span);
    assert_eq!(scan(Signal::Traces, &bytes).ok(), Some(1));
    assert!(ExportTraceServiceRequest::decode(bytes.as_slice()).is_ok());
}

// ---- properties ----

fn mutate(bytes: &mut Vec<u8>, edits: &[(usize, u8, u8)]) {
    for &(at, op, value) in edits {
        if bytes.is_empty() {
            bytes.push(value);
            continue;
        }
        let at = at % bytes.len();
        match op % 4 {
            0 => bytes[at] = value,
            1 => bytes.insert(at, value),
            2 => {
                bytes.remove(at);
            }
            _ => bytes[at] ^= 1 << (value % 8),
        }
    }
}

/// Scan and prost agree: whatever scan accepts, prost decodes with the same
/// count; whatever prost decodes with valid ids, scan accepts.
fn agree(signal: Signal, bytes: &[u8]) -> Result<(), TestCaseError> {
    let scanned = scan(signal, bytes);
    // The hand-written walks of KeyValue and AnyValue change nothing.
    prop_assert_eq!(
        format!("{:?}", scanned),
        format!("{:?}", scan_by_table(signal, bytes))
    );
    let decoded = prost_count(signal, bytes);
    match (scanned, decoded) {
        (Ok(n), Some((m, true))) => prop_assert_eq!(n, m),
        (Err(PdataError::InvalidValue { .. }), Some((_, false))) => {}
        (Err(_), None) => {}
        (Err(PdataError::Protobuf { reason, .. }), Some(_)) => {
            // Only nesting is stricter than prost.
            prop_assert!(reason.starts_with("messages nested deeper"), "{}", reason);
        }
        (scanned, decoded) => {
            prop_assert!(false, "scan {:?} but prost {:?}", scanned, decoded);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn counts_random_traces(request in samples::random_traces()) {
        let bytes = request.encode_to_vec();
        prop_assert_eq!(scan(Signal::Traces, &bytes).ok(), Some(count_traces(&request)));
    }

    #[test]
    fn counts_random_metrics(request in samples::random_metrics()) {
        let bytes = request.encode_to_vec();
        prop_assert_eq!(scan(Signal::Metrics, &bytes).ok(), Some(count_metrics(&request)));
    }

    #[test]
    fn counts_random_logs(request in samples::random_logs()) {
        let bytes = request.encode_to_vec();
        prop_assert_eq!(scan(Signal::Logs, &bytes).ok(), Some(count_logs(&request)));
    }

    #[test]
    fn agrees_with_prost_on_corrupted_traces(
        request in samples::random_traces(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = request.encode_to_vec();
        mutate(&mut bytes, &edits);
        agree(Signal::Traces, &bytes)?;
    }

    #[test]
    fn agrees_with_prost_on_corrupted_metrics(
        request in samples::random_metrics(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = request.encode_to_vec();
        mutate(&mut bytes, &edits);
        agree(Signal::Metrics, &bytes)?;
    }

    #[test]
    fn agrees_with_prost_on_corrupted_logs(
        request in samples::random_logs(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = request.encode_to_vec();
        mutate(&mut bytes, &edits);
        agree(Signal::Logs, &bytes)?;
    }

    #[test]
    fn never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        for signal in Signal::ALL {
            agree(signal, &bytes)?;
        }
    }
}

#[test]
fn the_fuzz_seeds_are_valid_requests() {
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    for (name, signal, items) in [
        ("traces", Signal::Traces, 2),
        ("metrics", Signal::Metrics, 5),
        ("logs", Signal::Logs, 2),
    ] {
        let protobuf = std::fs::read(seeds.join(format!("protobuf/{name}.bin"))).expect("seed");
        // The fuzz targets pick the signal with the first byte.
        assert_eq!(Signal::ALL[usize::from(protobuf[0]) % 3], signal);
        assert_eq!(scan(signal, &protobuf[1..]).ok(), Some(items), "{name}");
        let json = std::fs::read(seeds.join(format!("json/{name}.json"))).expect("seed");
        let converted = crate::otlp::json_to_protobuf(signal, &json[1..]).expect("valid JSON seed");
        assert!(scan(signal, &converted).is_ok_and(|n| n > 0), "{name}");
    }
}

#[test]
fn the_hand_written_walks_use_the_table_positions() {
    use super::proto::{ANY_VALUE, KEY_VALUE, SPAN};
    // span(), key_value() and any_value() name fields by position, which
    // is the field number - 1.
    for (msg, count) in [(&SPAN, 16), (&KEY_VALUE, 2), (&ANY_VALUE, 4)] {
        for (i, field) in msg.fields.iter().take(count).enumerate() {
            assert_eq!(field.number as usize, i + 1, "{}.{}", msg.name, field.name);
        }
    }
}

#[test]
fn finds_non_ascii_bytes_anywhere_in_strings_of_any_length() {
    for len in 0..40 {
        let ascii = vec![b'a'; len];
        assert_eq!(
            scan(Signal::Traces, &one_span(&ld(5, &ascii))).ok(),
            Some(1)
        );
        for at in 0..len {
            let mut invalid = ascii.clone();
            invalid[at] = 0xff;
            let (offset, _) = protobuf_error(scan(Signal::Traces, &one_span(&ld(5, &invalid))));
            assert_eq!(offset, span_start(len + 2) + 2 + at, "len {len} at {at}");
            if at + 1 < len {
                let mut accented = ascii.clone();
                accented[at..at + 2].copy_from_slice("é".as_bytes());
                assert_eq!(
                    scan(Signal::Traces, &one_span(&ld(5, &accented))).ok(),
                    Some(1),
                    "len {len} at {at}"
                );
            }
        }
    }
}
