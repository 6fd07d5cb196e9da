//! Shared pieces of weir's benchmarks: deterministic OTLP requests.
//!
//! [`trace_request`] builds the request the criterion benches measure and
//! the load generator can send: one resource with ten attributes (service,
//! host, process, SDK), one scope, and `spans` spans of an HTTP server, each
//! with `attributes` attributes (method, route, status code, URL, user id,
//! then `app.attribute.N` strings). The same arguments always give the same
//! bytes.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span::SpanKind, status::StatusCode,
};

/// How many consecutive spans share a trace id (one server span, then its
/// children).
pub const SPANS_PER_TRACE: usize = 8;

const ROUTES: [&str; 6] = [
    "/api/v1/cart/{id}",
    "/api/v1/checkout",
    "/api/v1/products",
    "/api/v1/products/{id}",
    "/healthz",
    "/api/v1/users/{id}/orders",
];
const METHODS: [&str; 4] = ["GET", "GET", "POST", "PUT"];
const STATUS: [i64; 5] = [200, 200, 200, 404, 500];

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

fn string(value: impl Into<String>) -> Value {
    Value::StringValue(value.into())
}

/// The ten resource attributes of every request.
fn resource() -> Resource {
    Resource {
        attributes: vec![
            kv("service.name", string("checkout")),
            kv("service.namespace", string("shop")),
            kv("service.version", string("2.14.1")),
            kv(
                "service.instance.id",
                string("6f1c2d4e-8a7b-4c3d-9e0f-1a2b3c4d5e6f"),
            ),
            kv("deployment.environment.name", string("production")),
            kv("host.name", string("checkout-7d9f8b6c5-x2k4q")),
            kv("host.arch", string("amd64")),
            kv("process.pid", Value::IntValue(4242)),
            kv("telemetry.sdk.name", string("opentelemetry")),
            kv("telemetry.sdk.language", string("rust")),
        ],
        dropped_attributes_count: 0,
        entity_refs: vec![],
    }
}

/// Span attribute number `index` for a span of `route`.
fn attribute(index: usize, route: &str, rng: &mut fastrand::Rng) -> KeyValue {
    match index {
        0 => kv(
            "http.request.method",
            string(METHODS[rng.usize(..METHODS.len())]),
        ),
        1 => kv("http.route", string(route)),
        2 => kv(
            "http.response.status_code",
            Value::IntValue(STATUS[rng.usize(..STATUS.len())]),
        ),
        3 => kv(
            "url.full",
            string(format!(
                "https://shop.example.com{}?session={:016x}",
                route.replace("{id}", &rng.u32(..100_000).to_string()),
                rng.u64(..)
            )),
        ),
        4 => kv(
            "user.id",
            string(format!("user-{:08}", rng.u32(..10_000_000))),
        ),
        n => kv(
            &format!("app.attribute.{}", n - 5),
            string(format!("value-{}", rng.u32(..1000))),
        ),
    }
}

/// An `ExportTraceServiceRequest` of `spans` spans with `attributes`
/// attributes each, identical for identical arguments.
pub fn trace_request(spans: usize, attributes: usize) -> ExportTraceServiceRequest {
    let mut rng = fastrand::Rng::with_seed(0x5EED ^ ((spans as u64) << 16) ^ attributes as u64);
    let base = 1_700_000_000_000_000_000u64;
    let mut trace_id = Vec::new();
    let mut root_id = Vec::new();
    let spans = (0..spans)
        .map(|i| {
            let root = i % SPANS_PER_TRACE == 0;
            if root {
                trace_id = rng.u128(..).to_be_bytes().to_vec();
            }
            let span_id = rng.u64(..).to_be_bytes().to_vec();
            let parent_span_id = if root {
                root_id = span_id.clone();
                Vec::new()
            } else {
                root_id.clone()
            };
            let route = ROUTES[rng.usize(..ROUTES.len())];
            let start = base + i as u64 * 1_000_000 + rng.u64(..1_000);
            Span {
                trace_id: trace_id.clone(),
                span_id,
                parent_span_id,
                flags: 0x301,
                name: if root {
                    format!("GET {route}")
                } else {
                    "SELECT shop.orders".to_owned()
                },
                kind: if root {
                    SpanKind::Server
                } else {
                    SpanKind::Client
                } as i32,
                start_time_unix_nano: start,
                end_time_unix_nano: start + 20_000 + rng.u64(..3_000_000),
                attributes: (0..attributes)
                    .map(|a| attribute(a, route, &mut rng))
                    .collect(),
                status: Some(Status {
                    message: String::new(),
                    code: StatusCode::Unset as i32,
                }),
                ..Span::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource()),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "opentelemetry-instrumentation-http".to_owned(),
                    version: "0.52.0".to_owned(),
                    attributes: vec![],
                    dropped_attributes_count: 0,
                }),
                spans,
                schema_url: "https://opentelemetry.io/schemas/1.26.0".to_owned(),
            }],
            schema_url: "https://opentelemetry.io/schemas/1.26.0".to_owned(),
        }],
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn requests_are_deterministic_and_shaped_as_asked() {
        let a = trace_request(100, 7);
        assert_eq!(a.encode_to_vec(), trace_request(100, 7).encode_to_vec());
        let spans = &a.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans.len(), 100);
        assert!(spans.iter().all(|s| s.attributes.len() == 7));
        assert_eq!(spans[1].attributes[1].key, "http.route");
        assert_eq!(spans[1].attributes[6].key, "app.attribute.1");
        assert_eq!(
            a.resource_spans[0]
                .resource
                .as_ref()
                .map(|r| r.attributes.len()),
            Some(10)
        );
        assert!(
            spans
                .iter()
                .all(|s| s.trace_id.len() == 16 && s.span_id.len() == 8)
        );
        assert_ne!(
            trace_request(100, 5).encode_to_vec(),
            trace_request(100, 6).encode_to_vec()
        );
    }

    #[test]
    fn requests_pass_the_wire_scan_with_every_span_counted() {
        let bytes = trace_request(1000, 5).encode_to_vec();
        assert_eq!(
            weir_pdata::otlp::scan(weir_pdata::Signal::Traces, &bytes).ok(),
            Some(1000)
        );
    }
}
