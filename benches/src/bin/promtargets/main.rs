//! `promtargets`: N fake Prometheus targets of M series each, for the
//! scrape benchmark.
//!
//! Target `i` listens on `127.0.0.1:<base-port + i>` and answers `GET
//! /metrics` with a pre-rendered text-format body (0.0.4) of M series in
//! families of 100 series (counters and gauges, five labels each). A few
//! variants of each body with different values are rendered up front and
//! served in turn, so values change between scrapes at no cost per request.
//!
//! ```text
//! promtargets --targets 100 --series 10000 --base-port 21000
//! ```

#[path = "../shared/http1.rs"]
mod http1;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use clap::Parser;
use tokio::net::TcpListener;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(about = "Fake Prometheus targets serving pre-rendered bodies.")]
struct Args {
    /// Number of targets.
    #[arg(long, default_value_t = 100)]
    targets: usize,
    /// Series per target.
    #[arg(long, default_value_t = 10_000)]
    series: usize,
    /// Port of target 0; target i listens on base-port + i.
    #[arg(long, default_value_t = 21_000)]
    base_port: u16,
    /// Body variants per target (values differ between them).
    #[arg(long, default_value_t = 4)]
    variants: usize,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// The text-format body of target `t`, variant `v`.
fn body(t: usize, series: usize, v: usize) -> String {
    let mut out = String::with_capacity(series * 110);
    let per_family = 100;
    let families = series.div_ceil(per_family);
    let mut n = 0;
    for f in 0..families {
        let counter = f % 2 == 0;
        let name = if counter {
            format!("bench_requests_{f}_total")
        } else {
            format!("bench_inflight_{f}")
        };
        let _ = writeln!(out, "# HELP {name} Benchmark series of family {f}.");
        let _ = writeln!(
            out,
            "# TYPE {name} {}",
            if counter { "counter" } else { "gauge" }
        );
        for s in 0..per_family {
            if n == series {
                break;
            }
            let value = if counter {
                (1000 * (v + 1) + s * 7 + t) as f64
            } else {
                ((s * 13 + v * 5 + t) % 97) as f64 + 0.25
            };
            let _ = writeln!(
                out,
                "{name}{{method=\"{}\",path=\"/api/v1/items/{}\",code=\"{}\",region=\"region-{}\",series=\"{s}\"}} {value}",
                ["GET", "POST", "PUT", "DELETE"][s % 4],
                s % 25,
                [200, 201, 404, 500, 503][s % 5],
                s % 3,
            );
            n += 1;
        }
    }
    out
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("promtargets: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let served = Arc::new(AtomicU64::new(0));
    let result: Result<(), String> = rt.block_on(async {
        for t in 0..args.targets {
            let bodies: Vec<Bytes> = (0..args.variants.max(1))
                .map(|v| Bytes::from(body(t, args.series, v)))
                .collect();
            let port = args
                .base_port
                .checked_add(u16::try_from(t).map_err(|e| e.to_string())?)
                .ok_or("port out of range")?;
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|e| format!("bind {addr}: {e}"))?;
            let next = Arc::new(AtomicUsize::new(0));
            let served = served.clone();
            let handler = Arc::new(move |req: http1::Request| {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let body = bodies[i % bodies.len()].clone();
                let served = served.clone();
                async move {
                    if req.method != "GET" || !req.path.starts_with("/metrics") {
                        return http1::Response {
                            status: "404 Not Found",
                            content_type: "text/plain",
                            body: Bytes::new(),
                        };
                    }
                    let _ = served.fetch_add(1, Ordering::Relaxed);
                    http1::Response {
                        status: "200 OK",
                        content_type: "text/plain; version=0.0.4; charset=utf-8",
                        body,
                    }
                }
            });
            drop(tokio::spawn(http1::serve(listener, handler)));
        }
        eprintln!(
            "promtargets: {} targets x {} series on 127.0.0.1:{}..{}",
            args.targets,
            args.series,
            args.base_port,
            usize::from(args.base_port) + args.targets - 1
        );
        println!("ready");
        let _ = tokio::signal::ctrl_c().await;
        Ok(())
    });
    match result {
        Ok(()) => {
            eprintln!(
                "promtargets: served {} scrapes",
                served.load(Ordering::Relaxed)
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("promtargets: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
