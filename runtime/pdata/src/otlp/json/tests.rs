//! Tests of OTLP/JSON: payloads shaped like the OTLP specification's
//! examples, round trips, the `opentelemetry-proto` serde impls as a second
//! opinion, and invalid input.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use proptest::prelude::*;
use prost::Message as _;

use super::{json_to_protobuf, protobuf_to_json};
use crate::otlp::scan::samples;
use crate::{PdataError, Signal};

fn traces_from(json: &str) -> ExportTraceServiceRequest {
    let bytes = json_to_protobuf(Signal::Traces, json.as_bytes()).expect("valid OTLP/JSON");
    ExportTraceServiceRequest::decode(bytes.as_slice()).expect("valid protobuf")
}

fn json_error(signal: Signal, json: &str) -> String {
    match json_to_protobuf(signal, json.as_bytes()) {
        Err(e @ PdataError::Json(_)) => e.to_string(),
        other => panic!("expected a JSON error for {json}, got {other:?}"),
    }
}

/// A trace request shaped like the specification's `examples/trace.json`.
const TRACE: &str = r#"{
  "resourceSpans": [{
    "resource": {
      "attributes": [{"key": "service.name", "value": {"stringValue": "cart"}}]
    },
    "scopeSpans": [{
      "scope": {
        "name": "cart.instrumentation",
        "version": "0.9.1",
        "attributes": [{"key": "scope.kind", "value": {"stringValue": "manual"}}]
      },
      "spans": [{
        "traceId": "0AF7651916CD43DD8448EB211C80319C",
        "spanId": "B7AD6B7169203331",
        "parentSpanId": "00F067AA0BA902B7",
        "name": "POST /cart/items",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": 1700000000250000000,
        "kind": 2,
        "attributes": [
          {"key": "http.request.method", "value": {"stringValue": "POST"}},
          {"key": "http.response.status_code", "value": {"intValue": "201"}},
          {"key": "retry", "value": {"boolValue": false}},
          {"key": "ratio", "value": {"doubleValue": 0.25}},
          {"key": "blob", "value": {"bytesValue": "AAH+/w=="}}
        ],
        "status": {"code": 1, "message": ""},
        "flags": 257,
        "events": [{"timeUnixNano": "1700000000100000000", "name": "added"}],
        "links": [{"traceId": "", "spanId": "0102030405060708", "flags": 0}]
      }]
    }]
  }]
}"#;

#[test]
fn reads_a_trace_request_like_the_spec_example() {
    let request = traces_from(TRACE);
    let rs = &request.resource_spans[0];
    assert_eq!(
        rs.resource.as_ref().map(|r| r.attributes[0].key.as_str()),
        Some("service.name")
    );
    let ss = &rs.scope_spans[0];
    assert_eq!(ss.scope.as_ref().map(|s| s.version.as_str()), Some("0.9.1"));
    let span = &ss.spans[0];
    assert_eq!(
        span.trace_id,
        [
            0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80,
            0x31, 0x9c
        ]
    );
    assert_eq!(
        span.span_id,
        [0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31]
    );
    assert_eq!(
        span.parent_span_id,
        [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
    );
    assert_eq!(span.name, "POST /cart/items");
    assert_eq!(span.start_time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(span.end_time_unix_nano, 1_700_000_000_250_000_000);
    assert_eq!(span.kind, 2);
    assert_eq!(span.flags, 257);
    let values: Vec<_> = span
        .attributes
        .iter()
        .map(|kv| kv.value.clone().and_then(|v| v.value))
        .collect();
    assert_eq!(
        values,
        [
            Some(Value::StringValue("POST".into())),
            Some(Value::IntValue(201)),
            Some(Value::BoolValue(false)),
            Some(Value::DoubleValue(0.25)),
            Some(Value::BytesValue(vec![0, 1, 0xfe, 0xff])),
        ]
    );
    let status = span.status.as_ref().expect("status");
    assert_eq!((status.code, status.message.as_str()), (1, ""));
    assert_eq!(span.events[0].time_unix_nano, 1_700_000_000_100_000_000);
    assert_eq!(span.links[0].trace_id, Vec::<u8>::new());
    assert_eq!(span.links[0].span_id, [1, 2, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn accepts_snake_case_names_enum_names_and_numbers_as_strings() {
    let snake = r#"{"resource_spans": [{"scope_spans": [{"spans": [{
        "trace_id": "0af7651916cd43dd8448eb211c80319c",
        "start_time_unix_nano": 5,
        "kind": "SPAN_KIND_CLIENT",
        "dropped_attributes_count": "3",
        "status": {"code": "STATUS_CODE_ERROR"},
        "attributes": [{"key": "n", "value": {"int_value": 7}}, {"key": "d", "value": {"double_value": "NaN"}}]
    }]}]}]}"#;
    let span = traces_from(snake).resource_spans[0].scope_spans[0].spans[0].clone();
    assert_eq!(span.trace_id.len(), 16);
    assert_eq!(span.start_time_unix_nano, 5);
    assert_eq!(span.kind, 3);
    assert_eq!(span.dropped_attributes_count, 3);
    assert_eq!(span.status.map(|s| s.code), Some(2));
    assert_eq!(
        span.attributes[0].value.clone().and_then(|v| v.value),
        Some(Value::IntValue(7))
    );
    match span.attributes[1].value.clone().and_then(|v| v.value) {
        Some(Value::DoubleValue(d)) => assert!(d.is_nan()),
        other => panic!("expected NaN, got {other:?}"),
    }
}

#[test]
fn ignores_unknown_fields_and_nulls() {
    let json = r#"{"resourceSpans": [{"resource": null, "future": {"a": [1, {"b": null}]},
        "scopeSpans": [{"spans": [{"name": "s", "status": null, "attributes": null, "x": 1}]}]}]}"#;
    let request = traces_from(json);
    let rs = &request.resource_spans[0];
    assert!(rs.resource.is_none());
    let span = &rs.scope_spans[0].spans[0];
    assert_eq!(span.name, "s");
    assert!(span.status.is_none());
}

#[test]
fn keeps_presence_of_empty_messages_and_zero_oneof_values() {
    let json = r#"{"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": [{
        "status": {},
        "attributes": [{"key": "zero", "value": {"intValue": "0"}}, {"key": "empty", "value": {}}, {"key": "none"}]
    }]}]}]}"#;
    let request = traces_from(json);
    let rs = &request.resource_spans[0];
    assert!(rs.resource.is_some());
    assert!(rs.scope_spans[0].scope.is_some());
    let span = &rs.scope_spans[0].spans[0];
    assert!(span.status.is_some());
    assert_eq!(
        span.attributes[0].value.clone().and_then(|v| v.value),
        Some(Value::IntValue(0))
    );
    assert_eq!(
        span.attributes[1].value.as_ref().map(|v| v.value.is_none()),
        Some(true)
    );
    assert!(span.attributes[2].value.is_none());
}

/// A metrics request shaped like the specification's `examples/metrics.json`,
/// plus a summary.
const METRICS: &str = r#"{"resourceMetrics": [{
  "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "ledger"}}]},
  "scopeMetrics": [{
    "scope": {"name": "ledger.metrics", "version": "2.0"},
    "metrics": [
      {"name": "ledger.entries", "unit": "1", "description": "Entries written",
       "sum": {"aggregationTemporality": 2, "isMonotonic": true, "dataPoints": [
         {"asInt": "42", "startTimeUnixNano": "1700000000000000000", "timeUnixNano": "1700000060000000000",
          "attributes": [{"key": "ledger.kind", "value": {"stringValue": "debit"}}]}]}},
      {"name": "ledger.lag", "unit": "s",
       "gauge": {"dataPoints": [{"asDouble": 0.125, "timeUnixNano": "1700000060000000000"}]}},
      {"name": "ledger.latency", "unit": "ms",
       "histogram": {"aggregationTemporality": 1, "dataPoints": [
         {"count": "3", "sum": 17.5, "bucketCounts": ["1", 2], "explicitBounds": [10],
          "min": 2, "max": 9.5, "timeUnixNano": "1700000060000000000",
          "exemplars": [{"asDouble": 9.5, "timeUnixNano": "1700000059000000000",
                         "spanId": "b7ad6b7169203331", "traceId": "0af7651916cd43dd8448eb211c80319c"}]}]}},
      {"name": "ledger.size", "unit": "By",
       "exponentialHistogram": {"aggregationTemporality": 1, "dataPoints": [
         {"count": "4", "sum": 40, "scale": -1, "zeroCount": "1", "zeroThreshold": 0.5,
          "positive": {"offset": -2, "bucketCounts": ["1", "2"]}, "negative": {}}]}},
      {"name": "ledger.quantiles",
       "summary": {"dataPoints": [{"count": "2", "sum": 3, "quantileValues": [
         {"quantile": 0.5, "value": 1}, {"quantile": 1, "value": "Infinity"}]}]}}
    ]
  }]
}]}"#;

#[test]
fn reads_a_metrics_request_like_the_spec_example() {
    let bytes = json_to_protobuf(Signal::Metrics, METRICS.as_bytes()).expect("valid");
    assert_eq!(crate::otlp::scan(Signal::Metrics, &bytes).ok(), Some(5));
    let request = ExportMetricsServiceRequest::decode(bytes.as_slice()).expect("protobuf");
    let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
    match &metrics[0].data {
        Some(metric::Data::Sum(sum)) => {
            assert_eq!((sum.aggregation_temporality, sum.is_monotonic), (2, true));
            assert_eq!(
                sum.data_points[0].value,
                Some(number_data_point::Value::AsInt(42))
            );
            assert_eq!(
                sum.data_points[0].start_time_unix_nano,
                1_700_000_000_000_000_000
            );
        }
        other => panic!("expected a sum, got {other:?}"),
    }
    match &metrics[1].data {
        Some(metric::Data::Gauge(g)) => {
            assert_eq!(
                g.data_points[0].value,
                Some(number_data_point::Value::AsDouble(0.125))
            );
        }
        other => panic!("expected a gauge, got {other:?}"),
    }
    match &metrics[2].data {
        Some(metric::Data::Histogram(h)) => {
            let p = &h.data_points[0];
            assert_eq!(
                (p.count, p.sum, p.min, p.max),
                (3, Some(17.5), Some(2.0), Some(9.5))
            );
            assert_eq!(p.bucket_counts, [1, 2]);
            assert_eq!(p.explicit_bounds, [10.0]);
            assert_eq!(p.exemplars[0].span_id.len(), 8);
        }
        other => panic!("expected a histogram, got {other:?}"),
    }
    match &metrics[3].data {
        Some(metric::Data::ExponentialHistogram(h)) => {
            let p = &h.data_points[0];
            assert_eq!((p.scale, p.zero_count, p.zero_threshold), (-1, 1, 0.5));
            assert_eq!(
                p.positive
                    .as_ref()
                    .map(|b| (b.offset, b.bucket_counts.clone())),
                Some((-2, vec![1, 2]))
            );
            assert!(p.negative.is_some());
        }
        other => panic!("expected an exponential histogram, got {other:?}"),
    }
    match &metrics[4].data {
        Some(metric::Data::Summary(s)) => {
            let q = &s.data_points[0].quantile_values;
            assert_eq!((q[0].quantile, q[0].value), (0.5, 1.0));
            assert_eq!(q[1].value, f64::INFINITY);
        }
        other => panic!("expected a summary, got {other:?}"),
    }
}

/// A logs request shaped like the specification's `examples/logs.json`.
const LOGS: &str = r#"{"resourceLogs": [{
  "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "mailer"}}]},
  "scopeLogs": [{
    "scope": {"name": "mailer.logging"},
    "logRecords": [{
      "timeUnixNano": "1700000000000000000",
      "observedTimeUnixNano": "1700000000000000001",
      "severityNumber": 10,
      "severityText": "Information",
      "traceId": "0af7651916cd43dd8448eb211c80319c",
      "spanId": "b7ad6b7169203331",
      "eventName": "mail.sent",
      "body": {"stringValue": "Sent \"welcome\" mail\n"},
      "attributes": [
        {"key": "string.attribute", "value": {"stringValue": "some string"}},
        {"key": "boolean.attribute", "value": {"boolValue": true}},
        {"key": "int.attribute", "value": {"intValue": "10"}},
        {"key": "double.attribute", "value": {"doubleValue": 637.704}},
        {"key": "array.attribute", "value": {"arrayValue": {"values": [
          {"stringValue": "many"}, {"stringValue": "values"}]}}},
        {"key": "map.attribute", "value": {"kvlistValue": {"values": [
          {"key": "some.map.key", "value": {"stringValue": "some value"}}]}}}
      ]
    }]
  }]
}]}"#;

#[test]
fn reads_a_logs_request_like_the_spec_example() {
    let bytes = json_to_protobuf(Signal::Logs, LOGS.as_bytes()).expect("valid");
    let request = ExportLogsServiceRequest::decode(bytes.as_slice()).expect("protobuf");
    let log = &request.resource_logs[0].scope_logs[0].log_records[0];
    assert_eq!(
        (log.severity_number, log.severity_text.as_str()),
        (10, "Information")
    );
    assert_eq!(log.observed_time_unix_nano, 1_700_000_000_000_000_001);
    assert_eq!(log.event_name, "mail.sent");
    assert_eq!(
        log.body.clone().and_then(|b| b.value),
        Some(Value::StringValue("Sent \"welcome\" mail\n".into()))
    );
    match log.attributes[4].value.clone().and_then(|v| v.value) {
        Some(Value::ArrayValue(a)) => assert_eq!(a.values.len(), 2),
        other => panic!("expected an array, got {other:?}"),
    }
    match log.attributes[5].value.clone().and_then(|v| v.value) {
        Some(Value::KvlistValue(kv)) => assert_eq!(kv.values[0].key, "some.map.key"),
        other => panic!("expected a kvlist, got {other:?}"),
    }
}

#[test]
fn writes_the_otlp_json_mapping() {
    let bytes = samples::traces().encode_to_vec();
    let json = protobuf_to_json(Signal::Traces, &bytes).expect("valid");
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let span = &value["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(span["traceId"], "01010101010101010101010101010101");
    assert_eq!(span["spanId"], "0202020202020202");
    assert_eq!(span["startTimeUnixNano"], "1700000000000000001");
    assert_eq!(span["endTimeUnixNano"], "18446744073709551615");
    assert_eq!(span["kind"], 1);
    assert_eq!(span["flags"], 0x301);
    assert_eq!(span["status"]["code"], 2);
    let attributes = &span["attributes"];
    assert_eq!(attributes[0]["value"]["stringValue"], "héllo ✓");
    assert_eq!(attributes[2]["value"]["intValue"], "-9007199254740993");
    assert_eq!(attributes[3]["value"]["doubleValue"], 3.25);
    assert_eq!(attributes[4]["value"]["bytesValue"], "AAEC/v8=");
    assert_eq!(
        attributes[5]["value"]["arrayValue"]["values"][1],
        serde_json::json!({})
    );
    assert_eq!(attributes[7], serde_json::json!({"key": "no value"}));
    // Absent fields are left out, not written as null or defaults.
    assert!(!json.contains("null"));
    let default_span = &value["resourceSpans"][0]["scopeSpans"][1]["spans"][1];
    assert_eq!(default_span, &serde_json::json!({}));
    assert!(value["resourceSpans"][1].get("resource").is_none());
    assert_eq!(
        value["resourceSpans"][1]["scopeSpans"][0]["scope"],
        serde_json::json!({})
    );
}

#[test]
fn writes_non_finite_doubles_as_strings() {
    let mut request = samples::metrics();
    if let Some(metric::Data::Gauge(g)) =
        &mut request.resource_metrics[0].scope_metrics[0].metrics[0].data
    {
        g.data_points[0].value = Some(number_data_point::Value::AsDouble(f64::NAN));
        g.data_points[1].value = Some(number_data_point::Value::AsDouble(f64::NEG_INFINITY));
    }
    let json = protobuf_to_json(Signal::Metrics, &request.encode_to_vec()).expect("valid");
    assert!(json.contains(r#""asDouble":"NaN""#), "{json}");
    assert!(json.contains(r#""asDouble":"-Infinity""#), "{json}");
    let back = json_to_protobuf(Signal::Metrics, json.as_bytes()).expect("valid");
    assert_eq!(back, request.encode_to_vec());
}

#[test]
fn round_trips_the_samples_byte_for_byte() {
    let samples = [
        (Signal::Traces, samples::traces().encode_to_vec()),
        (Signal::Metrics, samples::metrics().encode_to_vec()),
        (Signal::Logs, samples::logs().encode_to_vec()),
    ];
    for (signal, bytes) in samples {
        let json = protobuf_to_json(signal, &bytes).expect("valid");
        let back = json_to_protobuf(signal, json.as_bytes()).expect("valid");
        assert_eq!(back, bytes, "{signal}: {json}");
    }
}

#[test]
fn merges_repeated_occurrences_like_protobuf_decoders() {
    // A span given in two halves, a name given twice, an AnyValue with two
    // oneof members: JSON says what prost decodes.
    let mut request = samples::traces();
    request.resource_spans.truncate(1);
    let mut bytes = request.encode_to_vec();
    let mut second = ExportTraceServiceRequest::default();
    second
        .resource_spans
        .push(request.resource_spans[0].clone());
    second.resource_spans[0].scope_spans[0].spans[0].name = "renamed".into();
    bytes.extend(second.encode_to_vec());
    let json = protobuf_to_json(Signal::Traces, &bytes).expect("valid");
    let back = json_to_protobuf(Signal::Traces, json.as_bytes()).expect("valid");
    assert_eq!(
        ExportTraceServiceRequest::decode(back.as_slice()).expect("protobuf"),
        ExportTraceServiceRequest::decode(bytes.as_slice()).expect("protobuf"),
    );

    // Field 1 of ScopeSpans (scope) twice: the scopes merge.
    let scope_a = [0x0a, 0x03, 0x0a, 0x01, b'a'];
    let scope_b = [0x0a, 0x03, 0x12, 0x01, b'2'];
    let scope_spans = [&scope_a[..], &scope_b[..]].concat();
    let resource_spans = [&[0x12, scope_spans.len() as u8][..], &scope_spans].concat();
    let request = [&[0x0a, resource_spans.len() as u8][..], &resource_spans].concat();
    let json = protobuf_to_json(Signal::Traces, &request).expect("valid");
    assert_eq!(
        json,
        r#"{"resourceSpans":[{"scopeSpans":[{"scope":{"name":"a","version":"2"}}]}]}"#
    );

    // An AnyValue holding a string, then an int: the int wins.
    let value = [0x0a, 0x01, b's', 0x18, 0x04];
    let kv = [&[0x0a, 0x01, b'k', 0x12, value.len() as u8][..], &value].concat();
    let span = [&[0x4a, kv.len() as u8][..], &kv].concat();
    let ss = [&[0x12, span.len() as u8][..], &span].concat();
    let rs = [&[0x12, ss.len() as u8][..], &ss].concat();
    let request = [&[0x0a, rs.len() as u8][..], &rs].concat();
    let json = protobuf_to_json(Signal::Traces, &request).expect("valid");
    assert!(
        json.contains(r#"{"key":"k","value":{"intValue":"4"}}"#),
        "{json}"
    );
}

#[test]
fn leaves_out_defaults_given_explicitly_on_the_wire() {
    // A span with kind 0, an empty name and a zero start time, then a log
    // record whose severity is an explicit 0.
    let span = [0x30, 0x00, 0x2a, 0x00, 0x39, 0, 0, 0, 0, 0, 0, 0, 0];
    let request = [&[0x0a, 17, 0x12, 15, 0x12, 13][..], &span].concat();
    assert_eq!(
        protobuf_to_json(Signal::Traces, &request).expect("valid"),
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{}]}]}]}"#
    );
    let request = [0x0a, 0x06, 0x12, 0x04, 0x12, 0x02, 0x10, 0x00];
    assert_eq!(
        protobuf_to_json(Signal::Logs, &request).expect("valid"),
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{}]}]}]}"#
    );
}

#[test]
fn escapes_strings() {
    let json = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"q\" b\\ n\n t\t c\u0001 é"}}]}]}]}"#;
    let bytes = json_to_protobuf(Signal::Logs, json.as_bytes()).expect("valid");
    assert_eq!(protobuf_to_json(Signal::Logs, &bytes).expect("valid"), json);
}

// ---- the opentelemetry-proto serde impls as a second opinion ----

#[test]
fn the_serde_impls_read_our_json_identically() {
    // They drop `stringValueStrindex` (profiles only), so leave it out.
    let mut traces = samples::traces();
    for span in traces
        .resource_spans
        .iter_mut()
        .flat_map(|r| &mut r.scope_spans)
        .flat_map(|s| &mut s.spans)
    {
        span.attributes.retain(|kv| kv.key != "strindex");
    }
    let json = protobuf_to_json(Signal::Traces, &traces.encode_to_vec()).expect("valid");
    let theirs: ExportTraceServiceRequest = serde_json::from_str(&json).expect("serde reads it");
    assert_eq!(theirs, traces);

    let mut logs = samples::logs();
    for log in logs
        .resource_logs
        .iter_mut()
        .flat_map(|r| &mut r.scope_logs)
        .flat_map(|s| &mut s.log_records)
    {
        log.attributes.retain(|kv| kv.key != "strindex");
    }
    let json = protobuf_to_json(Signal::Logs, &logs.encode_to_vec()).expect("valid");
    let theirs: ExportLogsServiceRequest = serde_json::from_str(&json).expect("serde reads it");
    assert_eq!(theirs, logs);

    let metrics = samples::metrics();
    let json = protobuf_to_json(Signal::Metrics, &metrics.encode_to_vec()).expect("valid");
    let theirs: ExportMetricsServiceRequest = serde_json::from_str(&json).expect("serde reads it");
    assert_eq!(theirs, metrics);
}

#[test]
fn we_read_the_json_of_the_serde_impls_identically() {
    let traces = samples::traces();
    let theirs = serde_json::to_string(&traces).expect("serde writes it");
    let bytes = json_to_protobuf(Signal::Traces, theirs.as_bytes()).expect("valid");
    assert_eq!(
        ExportTraceServiceRequest::decode(bytes.as_slice()).expect("protobuf"),
        traces
    );

    let metrics = samples::metrics();
    let theirs = serde_json::to_string(&metrics).expect("serde writes it");
    let bytes = json_to_protobuf(Signal::Metrics, theirs.as_bytes()).expect("valid");
    assert_eq!(
        ExportMetricsServiceRequest::decode(bytes.as_slice()).expect("protobuf"),
        metrics
    );
}

#[test]
fn the_serde_impls_miss_parts_of_the_mapping() {
    // snake_case names are silently ignored: the request reads as empty.
    let snake = r#"{"resource_spans": [{"scope_spans": [{"spans": [{"name": "s"}]}]}]}"#;
    let theirs: ExportTraceServiceRequest = serde_json::from_str(snake).expect("serde reads it");
    assert!(theirs.resource_spans.is_empty());
    assert_eq!(traces_from(snake).resource_spans.len(), 1);
    // An empty array value (proto3 JSON omits the empty `values`) is refused.
    let empty = r#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [
        {"key": "a", "value": {"arrayValue": {}}}]}]}]}]}"#;
    assert!(serde_json::from_str::<ExportTraceServiceRequest>(empty).is_err());
    assert_eq!(
        traces_from(empty).resource_spans[0].scope_spans[0].spans[0]
            .attributes
            .len(),
        1
    );
    // NaN is written as null, which reads back as an error.
    let mut nan = samples::metrics();
    if let Some(metric::Data::Gauge(g)) =
        &mut nan.resource_metrics[0].scope_metrics[0].metrics[0].data
    {
        g.data_points[0].value = Some(number_data_point::Value::AsDouble(f64::NAN));
    }
    let theirs = serde_json::to_string(&nan).expect("serde writes it");
    assert!(theirs.contains(r#""asDouble":null"#), "{theirs}");
}

// ---- invalid input ----

#[test]
fn reports_invalid_json_with_the_field_and_position() {
    let cases = [
        (
            r#"{"resourceSpans": [}"#,
            "expected value at line 1 column 20",
        ),
        ("", "EOF while parsing a value at line 1 column 0"),
        (
            "[]",
            "invalid type: sequence, expected a JSON object (ExportTraceServiceRequest)",
        ),
        (
            r#"{"resourceSpans": {}}"#,
            "expected a JSON array for ExportTraceServiceRequest.resourceSpans",
        ),
        (
            r#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz1"}]}]}]}"#,
            "Span.traceId: invalid hex digit 'x' at line 1 column 64",
        ),
        (
            r#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": "0102"}]}]}]}"#,
            "Span.spanId: 2 bytes, expected 8 (16 hex digits) or none",
        ),
        (
            r#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}"#,
            "Span.startTimeUnixNano: \"soon\" is not an integer",
        ),
        (
            r#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": -1}]}]}]}"#,
            "Span.startTimeUnixNano: -1 is out of range",
        ),
        (
            r#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"kind": "SERVER"}]}]}]}"#,
            "Span.kind: unknown enum value \"SERVER\"",
        ),
        (
            r#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": 5}]}]}]}"#,
            "invalid type: integer `5`, expected a string for Span.name",
        ),
        (
            r#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"droppedAttributesCount": 1.5}]}]}]}"#,
            "Span.droppedAttributesCount: 1.5 is not an integer",
        ),
        (
            r#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [{"key": "b", "value": {"bytesValue": "!!"}}]}]}]}]}"#,
            "AnyValue.bytesValue: invalid base64 character '!'",
        ),
        (r#"{} {}"#, "trailing characters at line 1 column 4"),
    ];
    for (json, expected) in cases {
        let message = json_error(Signal::Traces, json);
        assert!(message.starts_with("invalid OTLP JSON: "), "{message}");
        assert!(
            message.contains(expected),
            "{json}\n  gave: {message}\n  want: {expected}"
        );
    }
}

#[test]
fn a_sum_with_a_broken_value_is_an_error_not_a_metric_without_data() {
    let json = r#"{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "m",
        "sum": {"isMonotonic": "yes", "dataPoints": []}}]}]}]}"#;
    let message = json_error(Signal::Metrics, json);
    assert!(
        message.contains("expected true or false for Sum.isMonotonic"),
        "{message}"
    );
}

#[test]
fn protobuf_to_json_refuses_invalid_protobuf() {
    assert!(matches!(
        protobuf_to_json(Signal::Traces, &[0x0a, 0x05]),
        Err(PdataError::Protobuf { offset: 1, .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn random_traces_round_trip(request in samples::random_traces()) {
        let bytes = request.encode_to_vec();
        let json = protobuf_to_json(Signal::Traces, &bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(json_to_protobuf(Signal::Traces, json.as_bytes()).ok(), Some(bytes));
    }

    #[test]
    fn random_metrics_round_trip(request in samples::random_metrics()) {
        let bytes = request.encode_to_vec();
        let json = protobuf_to_json(Signal::Metrics, &bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(json_to_protobuf(Signal::Metrics, json.as_bytes()).ok(), Some(bytes));
    }

    #[test]
    fn random_logs_round_trip(request in samples::random_logs()) {
        let bytes = request.encode_to_vec();
        let json = protobuf_to_json(Signal::Logs, &bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(json_to_protobuf(Signal::Logs, json.as_bytes()).ok(), Some(bytes));
    }

    #[test]
    fn random_json_never_panics(json in "[\\[\\]{}\":,a-zA-Z0-9 .-]{0,64}") {
        let _ = json_to_protobuf(Signal::Traces, json.as_bytes());
    }
}
