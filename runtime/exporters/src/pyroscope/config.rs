//! Settings of `exporter "x" type="pyroscope"` and their validation.

use std::time::Duration;

use http::HeaderMap;
use weir_config::{ConfigError, ErrorCode, NodeReader, Spanned};
use weir_engine::node::batch_exporter;
use weir_engine::registry::{BuildContext, Builder, Built};

use super::exporter::PyroscopeExporter;
use crate::otlp::RetryConfig;

/// Configuration of a `pyroscope` exporter.
#[derive(Debug, Clone)]
pub struct PyroscopeConfig {
    /// The server's base URL; profiles go to `<endpoint>/ingest`.
    pub endpoint: Spanned<String>,
    /// Sample attributes that become series labels (dots become `_`).
    /// Default [`PyroscopeConfig::DEFAULT_LABELS`].
    pub labels: Vec<String>,
    /// Extra request headers (`X-Scope-OrgID`, `Authorization`).
    pub headers: HeaderMap,
    /// Timeout of one request. Default [`PyroscopeConfig::DEFAULT_TIMEOUT`].
    pub timeout: Duration,
    /// Retries of retryable failures (HTTP 429/5xx, connection errors).
    pub retry: RetryConfig,
}

impl PyroscopeConfig {
    /// Default `endpoint`: a local Pyroscope.
    pub const DEFAULT_ENDPOINT: &'static str = "http://127.0.0.1:4040";
    /// Default `labels`: one series per program (not per process id, which
    /// would make a series per process).
    pub const DEFAULT_LABELS: [&'static str; 1] = ["process.executable.name"];
    /// Default `timeout`.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// A configuration for `endpoint` with every default.
    pub fn new(endpoint: impl Into<String>) -> Self {
        PyroscopeConfig {
            endpoint: Spanned::new(endpoint.into(), (0, 0).into()),
            labels: Self::DEFAULT_LABELS.iter().map(|s| s.to_string()).collect(),
            headers: HeaderMap::new(),
            timeout: Self::DEFAULT_TIMEOUT,
            retry: RetryConfig::default(),
        }
    }
}

/// Reads an `exporter type="pyroscope"` block (problems are recorded in
/// `r`, which makes the pipeline invalid).
pub fn validate(r: &mut NodeReader<'_>) -> Option<Box<dyn Builder>> {
    Some(Box::new(read(r)))
}

/// Reads the settings, recording every problem in `r`.
pub(crate) fn read(r: &mut NodeReader<'_>) -> PyroscopeConfig {
    let mut c = PyroscopeConfig::new(PyroscopeConfig::DEFAULT_ENDPOINT);
    if let Some(e) = r.string("endpoint") {
        match e.value.parse::<http::Uri>() {
            Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() => {
                c.endpoint = Spanned::new(e.value.trim_end_matches('/').to_string(), e.span);
            }
            _ => r.invalid(
                e.span,
                "not an http(s) URL",
                "write an endpoint like \"http://127.0.0.1:4040\"",
            ),
        }
    }
    if r.present("labels") {
        c.labels = r.strings("labels").into_iter().map(|s| s.value).collect();
    }
    if let Some(h) = r.block("headers", crate::otlp::read_headers) {
        c.headers = h;
    }
    if let Some(t) = r.duration("timeout") {
        if t.is_zero() {
            if let Some((_, span)) = r.value("timeout") {
                r.invalid(
                    span,
                    "`timeout` must be more than 0",
                    "write a duration like \"10s\"",
                );
            }
        } else {
            c.timeout = t;
        }
    }
    if let Some(retry) = r.block("retry", crate::otlp::read_retry) {
        c.retry = retry;
    }
    c
}

impl Builder for PyroscopeConfig {
    fn build(self: Box<Self>, ctx: &BuildContext<'_>) -> Result<Built, ConfigError> {
        let span = self.endpoint.span;
        let exporter = PyroscopeExporter::new(ctx.id, *self).map_err(|e| {
            ConfigError::new(
                ErrorCode::Build,
                format!("cannot set up the Pyroscope exporter {:?}: {e}", ctx.id),
            )
            .at(span, "for this endpoint")
        })?;
        Ok(Built::Exporter(batch_exporter(exporter)))
    }
}
