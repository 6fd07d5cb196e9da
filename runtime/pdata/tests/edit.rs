//! Differential tests of the wire-level attribute edit (`otlp::edit`)
//! against the same edit applied to prost structs.
//!
//! For arbitrary requests of every signal and every attribute set, an
//! editor that deletes some keys, replaces others with a string describing
//! the old value (so that value parsing is checked too) and keeps the rest
//! must give bytes that prost decodes to exactly the reference's message,
//! that weir's own scan accepts, and no bytes at all when nothing changed.
//! Prefixes and corruptions of valid requests never panic.

mod common;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use proptest::prelude::*;
use prost::Message;
use weir_pdata::Signal;
use weir_pdata::otlp::edit::{AttributeEditor, AttributeSet, Edit, WireValue, edit_attributes};

/// The decision for a key: by its length, so that generated keys hit all
/// three.
fn decide(key: &str) -> u8 {
    (key.len() % 3) as u8
}

/// What a replaced value becomes: a description of the old one.
fn describe_wire(v: WireValue<'_>) -> String {
    match v {
        WireValue::Absent => "absent".into(),
        WireValue::Empty => "empty".into(),
        WireValue::Str(s) => format!("str:{s}"),
        WireValue::Bool(b) => format!("bool:{b}"),
        WireValue::Int(i) => format!("int:{i}"),
        WireValue::Double(d) => format!("double:{}", d.to_bits()),
        WireValue::Bytes(b) => format!("bytes:{b:?}"),
        WireValue::Complex(b) => format!("complex:{b:?}"),
        WireValue::StrIndex(i) => format!("strindex:{i}"),
    }
}

fn describe_prost(v: &Option<AnyValue>) -> String {
    match v {
        None => "absent".into(),
        Some(any) => match &any.value {
            None => "empty".into(),
            Some(Value::StringValue(s)) => format!("str:{s}"),
            Some(Value::BoolValue(b)) => format!("bool:{b}"),
            Some(Value::IntValue(i)) => format!("int:{i}"),
            Some(Value::DoubleValue(d)) => format!("double:{}", d.to_bits()),
            Some(Value::BytesValue(b)) => format!("bytes:{b:?}"),
            Some(Value::ArrayValue(_) | Value::KvlistValue(_)) => {
                format!("complex:{:?}", any.encode_to_vec())
            }
            Some(Value::StringValueStrindex(i)) => format!("strindex:{i}"),
        },
    }
}

struct ByLength;

impl AttributeEditor for ByLength {
    fn selects(&mut self, key: &[u8]) -> bool {
        decide(std::str::from_utf8(key).unwrap_or("")) != 2
    }
    fn edit(&mut self, key: &str, value: WireValue<'_>, out: &mut String) -> Edit {
        match decide(key) {
            0 => Edit::Delete,
            1 => {
                out.push_str(&describe_wire(value));
                Edit::SetString
            }
            _ => Edit::Keep,
        }
    }
}

/// The reference: the same edit on one attribute list. Returns whether it
/// changed anything.
fn reference(attrs: &mut Vec<KeyValue>) -> bool {
    let before = attrs.len();
    attrs.retain(|kv| decide(&kv.key) != 0);
    let mut changed = attrs.len() != before;
    for kv in attrs.iter_mut() {
        if decide(&kv.key) == 1 {
            kv.value = Some(AnyValue {
                value: Some(Value::StringValue(describe_prost(&kv.value))),
            });
            kv.key_strindex = 0;
            changed = true;
        }
    }
    changed
}

fn edit_traces(req: &mut ExportTraceServiceRequest, set: AttributeSet) -> bool {
    let mut changed = false;
    for r in &mut req.resource_spans {
        match set {
            AttributeSet::Resource => {
                if let Some(res) = r.resource.as_mut() {
                    changed |= reference(&mut res.attributes);
                }
            }
            AttributeSet::Scope => {
                for s in &mut r.scope_spans {
                    if let Some(sc) = s.scope.as_mut() {
                        changed |= reference(&mut sc.attributes);
                    }
                }
            }
            AttributeSet::Record => {
                for s in &mut r.scope_spans {
                    for span in &mut s.spans {
                        changed |= reference(&mut span.attributes);
                    }
                }
            }
        }
    }
    changed
}

fn edit_logs(req: &mut ExportLogsServiceRequest, set: AttributeSet) -> bool {
    let mut changed = false;
    for r in &mut req.resource_logs {
        match set {
            AttributeSet::Resource => {
                if let Some(res) = r.resource.as_mut() {
                    changed |= reference(&mut res.attributes);
                }
            }
            AttributeSet::Scope => {
                for s in &mut r.scope_logs {
                    if let Some(sc) = s.scope.as_mut() {
                        changed |= reference(&mut sc.attributes);
                    }
                }
            }
            AttributeSet::Record => {
                for s in &mut r.scope_logs {
                    for log in &mut s.log_records {
                        changed |= reference(&mut log.attributes);
                    }
                }
            }
        }
    }
    changed
}

fn edit_metrics(req: &mut ExportMetricsServiceRequest, set: AttributeSet) -> bool {
    let mut changed = false;
    for r in &mut req.resource_metrics {
        match set {
            AttributeSet::Resource => {
                if let Some(res) = r.resource.as_mut() {
                    changed |= reference(&mut res.attributes);
                }
            }
            AttributeSet::Scope => {
                for s in &mut r.scope_metrics {
                    if let Some(sc) = s.scope.as_mut() {
                        changed |= reference(&mut sc.attributes);
                    }
                }
            }
            AttributeSet::Record => {
                for s in &mut r.scope_metrics {
                    for m in &mut s.metrics {
                        match &mut m.data {
                            Some(Data::Gauge(g)) => {
                                for p in &mut g.data_points {
                                    changed |= reference(&mut p.attributes);
                                }
                            }
                            Some(Data::Sum(g)) => {
                                for p in &mut g.data_points {
                                    changed |= reference(&mut p.attributes);
                                }
                            }
                            Some(Data::Histogram(g)) => {
                                for p in &mut g.data_points {
                                    changed |= reference(&mut p.attributes);
                                }
                            }
                            Some(Data::ExponentialHistogram(g)) => {
                                for p in &mut g.data_points {
                                    changed |= reference(&mut p.attributes);
                                }
                            }
                            Some(Data::Summary(g)) => {
                                for p in &mut g.data_points {
                                    changed |= reference(&mut p.attributes);
                                }
                            }
                            None => {}
                        }
                    }
                }
            }
        }
    }
    changed
}

const SETS: [AttributeSet; 3] = [
    AttributeSet::Record,
    AttributeSet::Resource,
    AttributeSet::Scope,
];

/// Runs the wire edit on `expected`'s encoding and compares it with the
/// reference edit `apply`.
fn check<M: Message + Default + PartialEq + Clone + std::fmt::Debug>(
    signal: Signal,
    original: &M,
    apply: fn(&mut M, AttributeSet) -> bool,
) -> Result<(), TestCaseError> {
    let bytes = original.encode_to_vec();
    for set in SETS {
        let mut expected = original.clone();
        let changed = apply(&mut expected, set);
        let edited = edit_attributes(signal, &bytes, set, &mut ByLength)
            .map_err(|e| TestCaseError::fail(format!("{set:?}: {e}")))?;
        match edited.bytes {
            None => prop_assert!(!changed, "{set:?}: the reference changed, the edit did not"),
            Some(out) => {
                prop_assert!(changed, "{set:?}: the edit changed, the reference did not");
                let got = M::decode(out.as_slice())
                    .map_err(|e| TestCaseError::fail(format!("{set:?}: {e}")))?;
                // Compared as canonical encodings: NaN payloads count, and
                // NaN != NaN as a value.
                prop_assert_eq!(
                    got.encode_to_vec(),
                    expected.encode_to_vec(),
                    "{:?}: {:?}",
                    set,
                    got
                );
                let items = weir_pdata::otlp::scan(signal, &out)
                    .map_err(|e| TestCaseError::fail(format!("{set:?}: scan: {e}")))?;
                prop_assert_eq!(items, weir_pdata::otlp::scan(signal, &bytes).unwrap_or(0));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn traces_edit_like_the_reference(req in common::traces()) {
        check(Signal::Traces, &req, edit_traces)?;
    }

    #[test]
    fn logs_edit_like_the_reference(req in common::logs()) {
        check(Signal::Logs, &req, edit_logs)?;
    }

    #[test]
    fn metrics_edit_like_the_reference(req in common::metrics()) {
        check(Signal::Metrics, &req, edit_metrics)?;
    }

    #[test]
    fn prefixes_and_corruptions_never_panic(req in common::traces(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let bytes = req.encode_to_vec();
        for cut in 0..bytes.len().min(400) {
            for set in SETS {
                let _ = edit_attributes(Signal::Traces, &bytes[..cut], set, &mut ByLength);
            }
        }
        let mut bad = bytes.clone();
        if !bad.is_empty() {
            for (at, x) in flips {
                let i = at % bad.len();
                bad[i] ^= x;
            }
        }
        for set in SETS {
            let _ = edit_attributes(Signal::Traces, &bad, set, &mut ByLength);
        }
    }
}

#[test]
fn a_replaced_string_keeps_the_key_and_empty_strings_stay_strings() {
    struct Blank;
    impl AttributeEditor for Blank {
        fn selects(&mut self, key: &[u8]) -> bool {
            key == b"secret"
        }
        fn edit(&mut self, _: &str, _: WireValue<'_>, _: &mut String) -> Edit {
            Edit::SetString
        }
    }
    let kv = |k: &str, v: Value| KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        key_strindex: 0,
    };
    let req = ExportLogsServiceRequest {
        resource_logs: vec![opentelemetry_proto::tonic::logs::v1::ResourceLogs {
            scope_logs: vec![opentelemetry_proto::tonic::logs::v1::ScopeLogs {
                log_records: vec![opentelemetry_proto::tonic::logs::v1::LogRecord {
                    attributes: vec![
                        kv("secret", Value::IntValue(7)),
                        kv("other", Value::StringValue("x".into())),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let out = edit_attributes(
        Signal::Logs,
        &req.encode_to_vec(),
        AttributeSet::Record,
        &mut Blank,
    )
    .expect("edit")
    .bytes
    .expect("changed");
    let got = ExportLogsServiceRequest::decode(out.as_slice()).expect("decodes");
    let attrs = &got.resource_logs[0].scope_logs[0].log_records[0].attributes;
    assert_eq!(attrs[0], kv("secret", Value::StringValue(String::new())));
    assert_eq!(attrs[1], kv("other", Value::StringValue("x".into())));
}
