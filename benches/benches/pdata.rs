//! Throughput of weir's OTLP handling on one realistic request: 1000 spans
//! of an HTTP server with 5 attributes each, one resource with 10.
//!
//! - `scan`: the wire check every receiver runs (`otlp::scan`);
//! - `std from_utf8 per string`: `str::from_utf8` on each string the scan
//!   checks, for scale (the scan tests for ASCII a word at a time and calls
//!   it only on non-ASCII strings);
//! - `prost decode`: decoding into the generated structs, for scale;
//! - `decode` / `encode`: OTLP -> Arrow tables -> OTLP;
//! - `to json` / `from json`: OTLP/JSON.
//!
//! Run: `cargo bench -p weir-benches --bench pdata`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_main};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;
use weir_pdata::Signal;
use weir_pdata::otlp;

const SPANS: usize = 1000;
const ATTRIBUTES: usize = 5;

/// Every string `scan` checks for UTF-8 in the request.
fn strings(request: &ExportTraceServiceRequest) -> Vec<&str> {
    let mut out = Vec::new();
    for rs in &request.resource_spans {
        for kv in rs.resource.iter().flat_map(|r| &r.attributes) {
            out.push(kv.key.as_str());
            if let Some(Value::StringValue(s)) = kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                out.push(s);
            }
        }
        for ss in &rs.scope_spans {
            for span in &ss.spans {
                out.push(&span.name);
                out.push(&span.trace_state);
                for kv in &span.attributes {
                    out.push(&kv.key);
                    if let Some(Value::StringValue(s)) =
                        kv.value.as_ref().and_then(|v| v.value.as_ref())
                    {
                        out.push(s);
                    }
                }
            }
        }
    }
    out
}

fn pdata(c: &mut Criterion) {
    let request = weir_benches::trace_request(SPANS, ATTRIBUTES);
    let bytes = request.encode_to_vec();
    let mut group = c.benchmark_group(format!("pdata/{SPANS} spans x {ATTRIBUTES} attributes"));
    group.throughput(Throughput::Elements(SPANS as u64));

    group.bench_function("scan", |b| {
        b.iter(|| otlp::scan(Signal::Traces, black_box(&bytes)))
    });
    let texts: Vec<&[u8]> = strings(&request).into_iter().map(str::as_bytes).collect();
    group.bench_function("std from_utf8 per string", |b| {
        b.iter(|| {
            black_box(&texts)
                .iter()
                .filter(|t| std::str::from_utf8(t).is_ok())
                .count()
        })
    });
    group.bench_function("prost decode", |b| {
        b.iter(|| ExportTraceServiceRequest::decode(black_box(bytes.as_slice())))
    });

    match otlp::decode(Signal::Traces, &bytes) {
        Ok(tables) => {
            group.bench_function("decode", |b| {
                b.iter(|| otlp::decode(Signal::Traces, black_box(&bytes)))
            });
            match otlp::encode(Signal::Traces, &tables) {
                Ok(_) => {
                    group.bench_function("encode", |b| {
                        b.iter(|| otlp::encode(Signal::Traces, black_box(&tables)))
                    });
                }
                Err(e) => eprintln!("Skipping encode: {e}."),
            }
        }
        Err(e) => eprintln!("Skipping decode and encode: {e}."),
    }

    match otlp::protobuf_to_json(Signal::Traces, &bytes) {
        Ok(json) => {
            group.bench_function("to json", |b| {
                b.iter(|| otlp::protobuf_to_json(Signal::Traces, black_box(&bytes)))
            });
            group.bench_function("from json", |b| {
                b.iter(|| otlp::json_to_protobuf(Signal::Traces, black_box(json.as_bytes())))
            });
        }
        Err(e) => eprintln!("Skipping OTLP/JSON: {e}."),
    }
    group.finish();
}

/// The criterion group (its generated function has no docs of its own).
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::pdata);
}

criterion_main!(group::benches);
