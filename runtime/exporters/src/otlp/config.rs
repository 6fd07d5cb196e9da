//! Settings of `exporter "x" type="otlp"` and their validation.

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use weir_config::{ConfigError, ErrorCode, NodeReader, Spanned};
use weir_engine::node::batch_exporter;
use weir_engine::registry::{BuildContext, Builder, Built};

use super::exporter::OtlpExporter;
pub use crate::delivery::RetryConfig;
pub(crate) use crate::delivery::read_retry;

/// The wire protocol of the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/gRPC: unary `Export` calls on one HTTP/2 channel.
    Grpc,
    /// OTLP/HTTP with protobuf bodies: `POST <endpoint>/v1/traces` etc.
    Http,
}

impl Protocol {
    /// The name used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::Http => "http",
        }
    }

    /// The endpoint used when none is configured.
    pub fn default_endpoint(self) -> &'static str {
        match self {
            Protocol::Grpc => "http://127.0.0.1:4317",
            Protocol::Http => "http://127.0.0.1:4318",
        }
    }
}

/// Compression of request bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Bodies are sent as they are.
    None,
    /// gzip (gRPC message compression, or `Content-Encoding: gzip`).
    Gzip,
}

/// Configuration of the OTLP exporter.
#[derive(Debug, Clone)]
pub struct OtlpExporterConfig {
    /// The backend: for gRPC its address, for HTTP the base URL to which
    /// `/v1/traces`, `/v1/metrics` and `/v1/logs` are appended. Only `http://`
    /// for now (no TLS). Default `http://127.0.0.1:4317` (gRPC) or
    /// `http://127.0.0.1:4318` (HTTP).
    pub endpoint: Spanned<String>,
    /// gRPC or HTTP. Default gRPC.
    pub protocol: Protocol,
    /// Headers (gRPC metadata) sent with every request, like
    /// `authorization` or Tempo's `x-scope-orgid`.
    pub headers: HeaderMap,
    /// How long one attempt may take. Default 10 s.
    pub timeout: Duration,
    /// Request compression. Default none.
    pub compression: Compression,
    /// Retries of retryable failures.
    pub retry: RetryConfig,
}

impl OtlpExporterConfig {
    /// Default `timeout`.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// The configuration with every default, for `protocol`.
    pub fn new(protocol: Protocol, endpoint: impl Into<String>) -> Self {
        OtlpExporterConfig {
            endpoint: Spanned::new(endpoint.into(), (0, 0).into()),
            protocol,
            headers: HeaderMap::new(),
            timeout: Self::DEFAULT_TIMEOUT,
            compression: Compression::None,
            retry: RetryConfig::default(),
        }
    }
}

/// Reads an `exporter type="otlp"` block.
pub fn validate(r: &mut NodeReader<'_>) -> Option<Box<dyn Builder>> {
    Some(Box::new(read(r)))
}

/// Reads the settings, recording every problem in `r`.
pub(crate) fn read(r: &mut NodeReader<'_>) -> OtlpExporterConfig {
    let protocol = match r.one_of("protocol", &["grpc", "http"]) {
        Some(p) if p.value == "http" => Protocol::Http,
        _ => Protocol::Grpc,
    };
    let mut c = OtlpExporterConfig::new(protocol, protocol.default_endpoint());
    if let Some(e) = r.string("endpoint") {
        match check_endpoint(&e.value) {
            Ok(()) => c.endpoint = Spanned::new(e.value.trim_end_matches('/').to_string(), e.span),
            Err(why) => r.invalid(
                e.span,
                why,
                "write the backend's URL, like \"http://127.0.0.1:4317\"",
            ),
        }
    }
    if let Some(h) = r.block("headers", read_headers) {
        c.headers = h;
    }
    if let Some(t) = r.duration("timeout") {
        if t.is_zero() {
            let span = r.span();
            r.invalid(
                span,
                "`timeout` must be more than 0",
                "write a duration like \"10s\"",
            );
        }
        c.timeout = t;
    }
    if let Some(comp) = r.one_of("compression", &["none", "gzip"]) {
        c.compression = if comp.value == "gzip" {
            Compression::Gzip
        } else {
            Compression::None
        };
    }
    if let Some(retry) = r.block("retry", read_retry) {
        c.retry = retry;
    }
    c
}

pub(crate) fn check_endpoint(s: &str) -> Result<(), String> {
    let uri: http::Uri = s.parse().map_err(|e| format!("not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => return Err("TLS is not supported yet: use an http:// endpoint".into()),
        Some(other) => return Err(format!("unsupported scheme {other:?}")),
        None => return Err("the URL has no scheme (write http://host:port)".into()),
    }
    if uri.authority().is_none() {
        return Err("the URL has no host".into());
    }
    if uri.query().is_some() {
        return Err("the URL must not have a query".into());
    }
    Ok(())
}

/// Reads `headers { "name" "value" ... }`: every child is a header.
pub(crate) fn read_headers(r: &mut NodeReader<'_>) -> HeaderMap {
    let mut out = HeaderMap::new();
    let Some(doc) = r.node().children() else {
        return out;
    };
    for child in doc.nodes() {
        let key = child.name().value().to_string();
        let span = child.name().span();
        let Some(value) = r.string(&key) else {
            continue;
        };
        let name = match HeaderName::from_bytes(key.as_bytes()) {
            Ok(n) => n,
            Err(_) => {
                r.invalid(
                    span,
                    "not a valid header name",
                    "header names are ASCII letters, digits and `-`",
                );
                continue;
            }
        };
        match HeaderValue::from_str(&value.value) {
            Ok(v) => {
                out.append(name, v);
            }
            Err(_) => r.invalid(
                value.span,
                "not a valid header value",
                "header values are visible ASCII characters",
            ),
        }
    }
    out
}

impl Builder for OtlpExporterConfig {
    fn build(self: Box<Self>, ctx: &BuildContext<'_>) -> Result<Built, ConfigError> {
        let span = self.endpoint.span;
        let exporter = OtlpExporter::new(ctx.id, *self).map_err(|e| {
            ConfigError::new(
                ErrorCode::Build,
                format!("cannot set up the OTLP exporter {:?}: {e}", ctx.id),
            )
            .at(span, "for this endpoint")
        })?;
        Ok(Built::Exporter(batch_exporter(exporter)))
    }
}
