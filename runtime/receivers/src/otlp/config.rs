//! Configuration of the `otlp` receiver and its validation.
//!
//! ```kdl
//! receiver "otlp" type="otlp" {
//!     grpc "127.0.0.1:4317"        // OTLP/gRPC listen address
//!     http "127.0.0.1:4318"        // OTLP/HTTP listen address
//!     max-request-size "4MiB"      // largest request, compressed or not
//!     ack "accepted"               // or "delivered"
//!     backpressure-wait "100ms"    // how long to wait for room before refusing
//! }
//! ```
//!
//! | property | default | meaning |
//! |---|---|---|
//! | `grpc` | none | Address of the OTLP/gRPC server (`host:port`). |
//! | `http` | none | Address of the OTLP/HTTP server (`host:port`). At least one of `grpc` and `http` is required. |
//! | `max-request-size` | `"4MiB"` | Largest request body accepted, both as received and once decompressed. Larger requests are refused (gRPC `OUT_OF_RANGE` / `RESOURCE_EXHAUSTED`, HTTP 413). |
//! | `ack` | `"accepted"` | `"accepted"`: answer the client once the data is enqueued in the pipeline. `"delivered"`: answer once every exporter has handled it, and fail the request when one gave up. |
//! | `backpressure-wait` | `"100ms"` | How long a request waits for room in a full pipeline before it is refused as retryable (gRPC `RESOURCE_EXHAUSTED` with a retry delay, HTTP 429 with `Retry-After`). |

use std::net::SocketAddr;
use std::time::Duration;

use weir_config::{ConfigError, ErrorCode, NodeReader, Spanned};
use weir_engine::registry::{BuildContext, Builder, Built};

use super::receiver::OtlpReceiver;

/// When the receiver answers a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckMode {
    /// Once the request's data is enqueued in the pipeline (the default):
    /// lowest latency; data in flight is lost if the process dies.
    #[default]
    Accepted,
    /// Once every exporter has handled the data; a request whose data an
    /// exporter gave up on fails (retryable), so the client retries.
    Delivered,
}

impl AckMode {
    /// The words accepted by `ack`.
    pub const CHOICES: [&'static str; 2] = ["accepted", "delivered"];
}

/// Configuration of an `otlp` receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpConfig {
    /// Address of the OTLP/gRPC server; none by default.
    pub grpc: Option<Spanned<SocketAddr>>,
    /// Address of the OTLP/HTTP server; none by default.
    pub http: Option<Spanned<SocketAddr>>,
    /// Largest request accepted, before and after decompression. Default
    /// [`OtlpConfig::DEFAULT_MAX_REQUEST_SIZE`] (4 MiB).
    pub max_request_size: usize,
    /// When clients are answered. Default [`AckMode::Accepted`].
    pub ack: AckMode,
    /// How long a request waits for room in the pipeline before it is
    /// refused. Default [`OtlpConfig::DEFAULT_BACKPRESSURE_WAIT`] (100 ms).
    pub backpressure_wait: Duration,
}

impl OtlpConfig {
    /// Default `max-request-size`: 4 MiB, the gRPC default message limit.
    pub const DEFAULT_MAX_REQUEST_SIZE: usize = 4 << 20;
    /// Default `backpressure-wait`.
    pub const DEFAULT_BACKPRESSURE_WAIT: Duration = Duration::from_millis(100);
    /// The largest `max-request-size` accepted (gRPC frames carry a 32-bit
    /// length).
    pub const MAX_MAX_REQUEST_SIZE: u64 = (u32::MAX as u64) >> 1;

    /// A configuration with the defaults and the given addresses (for tests
    /// and embedding).
    pub fn new(grpc: Option<SocketAddr>, http: Option<SocketAddr>) -> Self {
        let unspanned = |a| Spanned::new(a, (0, 0).into());
        OtlpConfig {
            grpc: grpc.map(unspanned),
            http: http.map(unspanned),
            max_request_size: Self::DEFAULT_MAX_REQUEST_SIZE,
            ack: AckMode::default(),
            backpressure_wait: Self::DEFAULT_BACKPRESSURE_WAIT,
        }
    }
}

/// Reads a `receiver type="otlp"` block; `None` when it has errors.
pub fn validate(r: &mut NodeReader<'_>) -> Option<Box<dyn Builder>> {
    OtlpConfig::read(r).map(|c| Box::new(c) as Box<dyn Builder>)
}

impl OtlpConfig {
    /// Reads the properties of a `receiver type="otlp"` block, recording
    /// every problem on `r`; `None` when there was one.
    pub fn read(r: &mut NodeReader<'_>) -> Option<OtlpConfig> {
        read(r)
    }
}

fn read(r: &mut NodeReader<'_>) -> Option<OtlpConfig> {
    // Known even when absent, for "did you mean" hints.
    for key in ["max-request-size", "ack", "backpressure-wait"] {
        r.mark_used(key);
    }
    let mut ok = true;
    let grpc = r.socket_addr("grpc");
    let http = r.socket_addr("http");
    ok &= grpc.is_some() || !r.present("grpc");
    ok &= http.is_some() || !r.present("http");
    if !r.present("grpc") && !r.present("http") {
        let span = r.span();
        r.error(
            ConfigError::new(
                ErrorCode::Missing,
                "an otlp receiver needs `grpc` or `http`",
            )
            .at(span, "this receiver listens nowhere")
            .help("add `grpc \"127.0.0.1:4317\"` and/or `http \"127.0.0.1:4318\"` to its block"),
        );
        ok = false;
    }
    let mut c = OtlpConfig::new(None, None);
    c.grpc = grpc;
    c.http = http;
    if let (Some(g), Some(h)) = (&c.grpc, &c.http)
        && g.value == h.value
        && g.value.port() != 0
    {
        r.invalid(
            h.span,
            "the same address as `grpc`",
            "give gRPC and HTTP different ports",
        );
        ok = false;
    }
    if r.present("max-request-size") {
        match r.byte_size("max-request-size") {
            Some(size) if size.0 >= 1024 && size.0 <= OtlpConfig::MAX_MAX_REQUEST_SIZE => {
                c.max_request_size = usize::try_from(size.0).unwrap_or(usize::MAX);
            }
            Some(_) => {
                if let Some((_, span)) = r.value("max-request-size") {
                    r.invalid(span, "expected 1KiB to 2GiB", "write a size like \"4MiB\"");
                }
                ok = false;
            }
            None => ok = false,
        }
    }
    if r.present("ack") {
        match r.one_of("ack", &AckMode::CHOICES) {
            Some(s) if s.value == "delivered" => c.ack = AckMode::Delivered,
            Some(_) => c.ack = AckMode::Accepted,
            None => ok = false,
        }
    }
    if r.present("backpressure-wait") {
        match r.duration("backpressure-wait") {
            Some(d) => c.backpressure_wait = d,
            None => ok = false,
        }
    }
    ok.then_some(c)
}

impl Builder for OtlpConfig {
    fn build(self: Box<Self>, _ctx: &BuildContext<'_>) -> Result<Built, ConfigError> {
        Ok(Built::Receiver(Box::new(OtlpReceiver::bind(*self)?)))
    }
}
