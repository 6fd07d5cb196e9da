//! The load generator's pool of distinct OTLP trace requests.
//!
//! Every request is the one the criterion benches measure
//! ([`weir_benches::trace_request`]: one resource with ten attributes, one
//! scope, HTTP server spans with `attributes` attributes each), with its
//! trace and span ids scrambled by a per-request mask. XOR-ing every id with
//! the same mask keeps ids distinct and parent links intact, so the requests
//! of a pool differ only in their ids, like consecutive batches of one
//! service, and a pool is reproducible.

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

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
    let mut request = weir_benches::trace_request(shape.spans, shape.attributes);
    let mut rng = fastrand::Rng::with_seed(seed);
    let trace_mask = rng.u128(..).to_be_bytes();
    let span_mask = rng.u64(..).to_be_bytes();
    let spans = request
        .resource_spans
        .iter_mut()
        .flat_map(|r| &mut r.scope_spans)
        .flat_map(|s| &mut s.spans);
    for span in spans {
        xor(&mut span.trace_id, &trace_mask);
        xor(&mut span.span_id, &span_mask);
        xor(&mut span.parent_span_id, &span_mask);
    }
    request
}

/// Encodes `count` distinct requests (seeds `0..count`) of the given shape.
pub fn encoded_pool(shape: TraceShape, count: usize) -> Vec<Bytes> {
    (0..count as u64)
        .map(|seed| Bytes::from(request(shape, seed).encode_to_vec()))
        .collect()
}

/// XORs `id` with `mask` when it has the mask's length (an empty parent id
/// stays empty).
fn xor(id: &mut [u8], mask: &[u8]) {
    if id.len() == mask.len() {
        id.iter_mut().zip(mask).for_each(|(b, m)| *b ^= m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_differ_only_in_ids_and_keep_parent_links() {
        let shape = TraceShape {
            spans: 25,
            attributes: 7,
        };
        let a = request(shape, 1);
        let b = request(shape, 2);
        let spans = &a.resource_spans[0].scope_spans[0].spans;
        let other = &b.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans.len(), 25);
        assert!(spans.iter().all(|s| s.attributes.len() == 7));
        assert!(
            spans
                .iter()
                .all(|s| s.trace_id.len() == 16 && s.span_id.len() == 8)
        );
        // Same shape and attributes, different ids.
        assert_eq!(spans[3].attributes, other[3].attributes);
        assert_ne!(spans[0].trace_id, other[0].trace_id);
        assert_ne!(spans[0].span_id, other[0].span_id);
        // A child still points at its root; roots keep an empty parent.
        let per_trace = weir_benches::SPANS_PER_TRACE;
        assert!(spans[0].parent_span_id.is_empty());
        assert_eq!(spans[1].parent_span_id, spans[0].span_id);
        assert_eq!(spans[0].trace_id, spans[per_trace - 1].trace_id);
        assert_ne!(spans[0].trace_id, spans[per_trace].trace_id);
        // Same seed, same request.
        assert_eq!(a, request(shape, 1));
    }

    #[test]
    fn pool_entries_decode_back_and_are_distinct() {
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
        assert!(pool.windows(2).all(|w| w[0] != w[1]));
    }
}
