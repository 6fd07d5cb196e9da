//! `loadgen`: an OTLP gRPC traces load generator for benchmarks.
//!
//! It encodes a pool of distinct `ExportTraceServiceRequest`s once (trace
//! and span ids vary per request), then sends them as raw bytes from
//! `--concurrency` workers over `--connections` HTTP/2 connections for
//! `--duration` (or `--requests`), optionally capped at `--rate` spans per
//! second. No protobuf work happens per request, so the generator is not
//! the bottleneck. The report is one JSON object on stdout:
//!
//! ```text
//! loadgen --endpoint http://127.0.0.1:14317 --concurrency 8 --duration 20s
//! {"spans_sent":..., "spans_per_s":..., "errors":{"Unavailable":3}, ...}
//! ```

#[cfg(test)]
#[path = "../sink/count.rs"]
mod count;
#[path = "../shared/raw_codec.rs"]
mod raw_codec;
mod run;
#[cfg(test)]
#[path = "../sink/server.rs"]
mod server;
#[cfg(test)]
mod tests;
#[path = "../shared/traces.rs"]
mod traces;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;

use crate::run::{LoadPlan, RequestPool};
use crate::traces::TraceShape;

/// Command-line arguments of the load generator.
#[derive(Debug, Parser)]
#[command(about = "Sends OTLP gRPC trace requests as fast as asked and reports JSON.")]
struct Args {
    /// The OTLP gRPC endpoint.
    #[arg(long, default_value = "http://127.0.0.1:4317")]
    endpoint: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// HTTP/2 connections (default: min(concurrency, 4)).
    #[arg(long)]
    connections: Option<usize>,
    /// Spans per request.
    #[arg(long, default_value_t = 1000)]
    spans_per_request: usize,
    /// Attributes per span.
    #[arg(long, default_value_t = 5)]
    attributes: usize,
    /// How long to send (default 20s; with --requests, an upper bound that
    /// defaults to 10m).
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Stop after this many requests.
    #[arg(long)]
    requests: Option<u64>,
    /// Cap on spans per second offered.
    #[arg(long)]
    rate: Option<f64>,
    /// Distinct pre-encoded requests to cycle through.
    #[arg(long, default_value_t = 64)]
    pool: usize,
    /// Give up on one request after this long.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    timeout: Duration,
    /// Keep retrying the first connection for this long.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    connect_timeout: Duration,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// Why the load generator stopped with an error.
#[derive(Debug, thiserror::Error)]
enum LoadgenError {
    #[error("invalid arguments: {0}")]
    Usage(&'static str),
    #[error("cannot start the tokio runtime")]
    Runtime(#[source] std::io::Error),
    #[error(transparent)]
    Load(#[from] run::LoadError),
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run_main(&args) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("Load generation failed: {}.", error_chain(&error));
            ExitCode::FAILURE
        }
    }
}

fn run_main(args: &Args) -> Result<serde_json::Value, LoadgenError> {
    if args.spans_per_request == 0 || args.pool == 0 {
        return Err(LoadgenError::Usage(
            "--spans-per-request and --pool must be at least 1",
        ));
    }
    if args.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return Err(LoadgenError::Usage(
            "--rate must be a positive number of spans per second",
        ));
    }
    let shape = TraceShape {
        spans: args.spans_per_request,
        attributes: args.attributes,
    };
    let encode_started = Instant::now();
    let requests: Arc<[bytes::Bytes]> = traces::encoded_pool(shape, args.pool).into();
    let encode_s = encode_started.elapsed().as_secs_f64();
    let pool_bytes: usize = requests.iter().map(bytes::Bytes::len).sum();
    let pool = RequestPool {
        requests,
        items_per_request: args.spans_per_request as u64,
    };
    let plan = LoadPlan {
        endpoint: args.endpoint.clone(),
        concurrency: args.concurrency.max(1),
        connections: args
            .connections
            .unwrap_or(args.concurrency.min(4))
            .clamp(1, args.concurrency.max(1)),
        duration: args.duration.unwrap_or(if args.requests.is_some() {
            Duration::from_secs(600)
        } else {
            Duration::from_secs(20)
        }),
        requests: args.requests,
        requests_per_second: args.rate.map(|r| r / args.spans_per_request as f64),
        timeout: args.timeout,
        connect_timeout: args.connect_timeout,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .map_err(LoadgenError::Runtime)?;
    let mut stats = runtime.block_on(run::run(plan.clone(), pool))?;
    let elapsed = stats.elapsed.as_secs_f64().max(f64::EPSILON);
    Ok(serde_json::json!({
        "endpoint": plan.endpoint,
        "concurrency": plan.concurrency,
        "connections": plan.connections,
        "spans_per_request": args.spans_per_request,
        "attributes": args.attributes,
        "request_bytes_avg": pool_bytes / args.pool,
        "pool": args.pool,
        "pool_encode_s": encode_s,
        "rate_cap_spans_per_s": args.rate,
        "elapsed_s": elapsed,
        "requests_ok": stats.requests_ok,
        "requests_failed": stats.requests_failed(),
        "spans_sent": stats.items_ok,
        "bytes_sent": stats.bytes_ok,
        "errors": stats.errors,
        "spans_per_s": stats.items_ok as f64 / elapsed,
        "requests_per_s": stats.requests_ok as f64 / elapsed,
        "mib_per_s": stats.bytes_ok as f64 / elapsed / (1024.0 * 1024.0),
        "latency_ms": {
            "p50": stats.latency_ms(0.5),
            "p99": stats.latency_ms(0.99),
            "max": stats.latency_ms(1.0),
        },
    }))
}

/// An error and its sources, joined with `: `.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
