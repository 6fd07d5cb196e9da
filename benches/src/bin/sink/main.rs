//! `sink`: a blackhole OTLP gRPC server for benchmarks.
//!
//! It accepts `Export` calls of the OTLP trace, metrics and logs services,
//! counts their items without decoding them into messages, and answers with
//! an empty response. The running totals are served as JSON on an optional
//! HTTP status port and printed on stdout when the sink stops (SIGTERM or
//! Ctrl-C).
//!
//! ```text
//! sink --listen 127.0.0.1:24317 --status 127.0.0.1:24380
//! curl -s http://127.0.0.1:24380/   # {"traces":{"items":...},...}
//! ```

mod count;
#[path = "../shared/raw_codec.rs"]
mod raw_codec;
mod server;
mod status;
#[cfg(test)]
mod tests;
#[cfg(test)]
#[path = "../shared/traces.rs"]
mod traces;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tokio::net::TcpListener;

use crate::count::CountMode;
use crate::server::Counters;

/// Command-line arguments of the sink.
#[derive(Debug, Parser)]
#[command(about = "A blackhole OTLP gRPC server that counts what it receives.")]
struct Args {
    /// Address of the OTLP gRPC server.
    #[arg(long, default_value = "127.0.0.1:4317")]
    listen: SocketAddr,
    /// Address of the HTTP status endpoint (JSON totals); none when absent.
    #[arg(long)]
    status: Option<SocketAddr>,
    /// How to count items.
    #[arg(long, value_enum, default_value = "auto")]
    count: CountMode,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// Why the sink stopped with an error.
#[derive(Debug, thiserror::Error)]
enum SinkError {
    #[error("cannot start the tokio runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the gRPC server failed")]
    Serve(#[source] tonic::transport::Error),
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Sink failed: {}.", error_chain(&error));
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), SinkError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .map_err(SinkError::Runtime)?;
    runtime.block_on(async {
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| SinkError::Bind { addr, source })
        };
        let listener = bind(args.listen).await?;
        let counters = Arc::new(Counters::default());
        if let Some(addr) = args.status {
            let status_listener = bind(addr).await?;
            drop(tokio::spawn(status::serve(
                status_listener,
                Arc::clone(&counters),
            )));
            eprintln!("Sink status served on http://{addr}/.");
        }
        eprintln!(
            "Sink listening on {} (count mode {:?}).",
            args.listen, args.count
        );
        server::serve(
            listener,
            Arc::clone(&counters),
            args.count,
            shutdown_signal(),
        )
        .await
        .map_err(SinkError::Serve)?;
        println!("{}", counters.snapshot());
        Ok(())
    })
}

/// Completes on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(error) => {
            eprintln!("Cannot watch SIGTERM, stopping on Ctrl-C only: {error}.");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
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
