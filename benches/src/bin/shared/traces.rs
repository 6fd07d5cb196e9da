//! Synthetic OTLP trace requests for the load generator.
//!
//! A request holds one resource and one scope with `spans` spans; spans come
//! in traces of [`SPANS_PER_TRACE`], each span carries `attributes`
//! attributes of mixed types (strings, integers, a boolean, a double), the
//! shapes an HTTP server instrumentation produces. Ids and timestamps come
//! from a seeded generator, so every request of a pool is distinct and a
//! pool is reproducible.

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span::SpanKind, status::StatusCode,
};
use prost::Message;

/// How many consecutive spans share a trace id.
pub const SPANS_PER_TRACE: usize = 10;

/// The size of the requests to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceShape {
    /// Spans per request.
    pub spans: usize,
    /// Attributes per span.
    pub attributes: usize,
}

/// Builds request number `seed` of the given shape.
pub fn request(shape: TraceShape, seed: u64) -> ExportTraceServiceRequest {
    let mut rng = fastrand::Rng::with_seed(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5EED);
    let base_ns = 1_700_000_000_000_000_000u64 + seed * 1_000_000_000;
    let mut trace_id = rng.u128(..).to_be_bytes().to_vec();
    let mut root_id = Vec::new();
    let spans = (0..shape.spans)
        .map(|i| {
            if i % SPANS_PER_TRACE == 0 && i > 0 {
                trace_id = rng.u128(..).to_be_bytes().to_vec();
            }
            let span_id = rng.u64(..).to_be_bytes().to_vec();
            let parent_span_id = if i % SPANS_PER_TRACE == 0 {
                root_id = span_id.clone();
                Vec::new()
            } else {
                root_id.clone()
            };
            let start = base_ns + (i as u64) * 1_000 + rng.u64(..1_000);
            let route = ROUTES[rng.usize(..ROUTES.len())];
            Span {
                trace_id: trace_id.clone(),
                span_id,
                parent_span_id,
                flags: 0x0000_0301,
                name: format!("GET {route}"),
                kind: if i % SPANS_PER_TRACE == 0 {
                    SpanKind::Server
                } else {
                    SpanKind::Internal
                } as i32,
                start_time_unix_nano: start,
                end_time_unix_nano: start + 50_000 + rng.u64(..5_000_000),
                attributes: (0..shape.attributes)
                    .map(|a| span_attribute(a, route, &mut rng))
                    .collect(),
                status: Some(Status {
                    message: String::new(),
                    code: StatusCode::Ok as i32,
                }),
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    string_kv("service.name", "checkout".to_string()),
                    string_kv("service.version", "1.4.2".to_string()),
                    string_kv("host.name", format!("node-{}", seed % 8)),
                    string_kv("deployment.environment.name", "bench".to_string()),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "weir-loadgen".to_string(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    ..Default::default()
                }),
                spans,
                schema_url: "https://opentelemetry.io/schemas/1.26.0".to_string(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// Encodes `count` distinct requests (seeds `0..count`) of the given shape.
pub fn encoded_pool(shape: TraceShape, count: usize) -> Vec<Bytes> {
    (0..count as u64)
        .map(|seed| Bytes::from(request(shape, seed).encode_to_vec()))
        .collect()
}

const ROUTES: [&str; 6] = [
    "/api/cart",
    "/api/cart/items",
    "/api/checkout",
    "/api/products",
    "/api/products/{id}",
    "/healthz",
];

const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];

fn span_attribute(index: usize, route: &str, rng: &mut fastrand::Rng) -> KeyValue {
    match index {
        0 => string_kv(
            "http.request.method",
            METHODS[rng.usize(..METHODS.len())].to_string(),
        ),
        1 => int_kv(
            "http.response.status_code",
            [200, 200, 200, 201, 404, 500][rng.usize(..6)],
        ),
        2 => string_kv("http.route", route.to_string()),
        3 => string_kv(
            "url.full",
            format!("http://shop.internal{route}?q={}", rng.u32(..100_000)),
        ),
        4 => int_kv("http.response.body.size", rng.i64(0..65_536)),
        n => match n % 3 {
            0 => KeyValue {
                key: format!("bench.flag.{n}"),
                value: Some(AnyValue {
                    value: Some(Value::BoolValue(rng.bool())),
                }),
                ..Default::default()
            },
            1 => KeyValue {
                key: format!("bench.ratio.{n}"),
                value: Some(AnyValue {
                    value: Some(Value::DoubleValue(rng.f64())),
                }),
                ..Default::default()
            },
            _ => string_kv(
                &format!("bench.tag.{n}"),
                format!("value-{}", rng.u16(..1_000)),
            ),
        },
    }
}

fn string_kv(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value)),
        }),
        ..Default::default()
    }
}

fn int_kv(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_the_asked_shape_and_distinct_trace_ids() {
        let shape = TraceShape {
            spans: 25,
            attributes: 7,
        };
        let a = request(shape, 1);
        let b = request(shape, 2);
        let spans = &a.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans.len(), 25);
        assert!(spans.iter().all(|s| s.attributes.len() == 7));
        assert!(
            spans
                .iter()
                .all(|s| s.trace_id.len() == 16 && s.span_id.len() == 8)
        );
        // Spans 0..10 share a trace; span 10 starts the next one.
        assert_eq!(spans[0].trace_id, spans[9].trace_id);
        assert_ne!(spans[9].trace_id, spans[10].trace_id);
        assert_eq!(spans[1].parent_span_id, spans[0].span_id);
        let other = &b.resource_spans[0].scope_spans[0].spans;
        assert_ne!(spans[0].trace_id, other[0].trace_id);
        // Same seed, same request.
        assert_eq!(a, request(shape, 1));
    }

    #[test]
    fn pool_entries_decode_back() {
        let shape = TraceShape {
            spans: 3,
            attributes: 5,
        };
        let pool = encoded_pool(shape, 4);
        assert_eq!(pool.len(), 4);
        for (seed, bytes) in pool.iter().enumerate() {
            let decoded = ExportTraceServiceRequest::decode(bytes.as_ref()).expect("valid request");
            assert_eq!(decoded, request(shape, seed as u64));
        }
    }
}
