//! `rwsink`: a Prometheus remote-write endpoint that counts samples.
//!
//! `POST /api/v1/write` bodies are snappy-decompressed and walked at the
//! protobuf wire level (no message is built): every `TimeSeries.samples`
//! entry counts. `GET /` answers the totals as JSON:
//! `{"requests": R, "samples": S, "series": T, "bad": B}`.
//!
//! ```text
//! rwsink --listen 127.0.0.1:24390
//! ```

#[path = "../shared/http1.rs"]
mod http1;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Buf as _, Bytes};
use clap::Parser;
use prost::encoding::{WireType, decode_key, decode_varint};
use tokio::net::TcpListener;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(about = "A remote-write endpoint that counts samples.")]
struct Args {
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:24390")]
    listen: SocketAddr,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

#[derive(Default)]
struct Totals {
    requests: AtomicU64,
    samples: AtomicU64,
    series: AtomicU64,
    bad: AtomicU64,
}

fn skip(wire: WireType, buf: &mut &[u8]) -> Option<()> {
    match wire {
        WireType::Varint => {
            let _ = decode_varint(buf).ok()?;
        }
        WireType::SixtyFourBit => buf.get(8..).map(|r| *buf = r)?,
        WireType::ThirtyTwoBit => buf.get(4..).map(|r| *buf = r)?,
        WireType::LengthDelimited => {
            let n = usize::try_from(decode_varint(buf).ok()?).ok()?;
            *buf = buf.get(n..)?;
        }
        _ => return None,
    }
    Some(())
}

/// `(series, samples)` in a `WriteRequest`.
fn count(mut buf: &[u8]) -> Option<(u64, u64)> {
    let (mut series, mut samples) = (0, 0);
    while buf.has_remaining() {
        let (tag, wire) = decode_key(&mut buf).ok()?;
        if tag == 1 && wire == WireType::LengthDelimited {
            let n = usize::try_from(decode_varint(&mut buf).ok()?).ok()?;
            let mut ts = buf.get(..n)?;
            buf = &buf[n..];
            series += 1;
            while ts.has_remaining() {
                let (t, w) = decode_key(&mut ts).ok()?;
                if t == 2 && w == WireType::LengthDelimited {
                    samples += 1;
                }
                skip(w, &mut ts)?;
            }
        } else {
            skip(wire, &mut buf)?;
        }
    }
    Some((series, samples))
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
            eprintln!("rwsink: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let totals = Arc::new(Totals::default());
    let result: Result<(), String> = rt.block_on(async {
        let listener = TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("bind {}: {e}", args.listen))?;
        let t = totals.clone();
        let handler = Arc::new(move |req: http1::Request| {
            let t = t.clone();
            async move {
                if req.method == "GET" && req.path == "/" {
                    let json = format!(
                        "{{\"requests\": {}, \"samples\": {}, \"series\": {}, \"bad\": {}}}",
                        t.requests.load(Ordering::Relaxed),
                        t.samples.load(Ordering::Relaxed),
                        t.series.load(Ordering::Relaxed),
                        t.bad.load(Ordering::Relaxed)
                    );
                    return http1::Response {
                        status: "200 OK",
                        content_type: "application/json",
                        body: Bytes::from(json),
                    };
                }
                let counted = snap::raw::Decoder::new()
                    .decompress_vec(&req.body)
                    .ok()
                    .and_then(|raw| count(&raw));
                let _ = t.requests.fetch_add(1, Ordering::Relaxed);
                match counted {
                    Some((series, samples)) => {
                        let _ = t.series.fetch_add(series, Ordering::Relaxed);
                        let _ = t.samples.fetch_add(samples, Ordering::Relaxed);
                        http1::Response {
                            status: "204 No Content",
                            content_type: "text/plain",
                            body: Bytes::new(),
                        }
                    }
                    None => {
                        let _ = t.bad.fetch_add(1, Ordering::Relaxed);
                        http1::Response {
                            status: "400 Bad Request",
                            content_type: "text/plain",
                            body: Bytes::from_static(b"not a snappy WriteRequest"),
                        }
                    }
                }
            }
        });
        eprintln!("rwsink: listening on {}", args.listen);
        println!("ready");
        tokio::select! {
            () = http1::serve(listener, handler) => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(())
    });
    match result {
        Ok(()) => {
            eprintln!(
                "rwsink: {} requests, {} samples",
                totals.requests.load(Ordering::Relaxed),
                totals.samples.load(Ordering::Relaxed)
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rwsink: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
