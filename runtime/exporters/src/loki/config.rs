//! Settings of `exporter "x" type="loki"` and their validation.

use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use weir_config::{ConfigError, ErrorCode, NodeReader, Spanned};
use weir_engine::node::batch_exporter;
use weir_engine::registry::{BuildContext, Builder, Built};

use super::exporter::LokiExporter;
use super::streams::LabelRules;
use crate::delivery::{RetryConfig, read_retry};
use crate::otlp::config::check_endpoint;
use crate::otlp::read_headers;

/// The body format of push requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `logproto.PushRequest`, snappy block-compressed
    /// (`Content-Type: application/x-protobuf`).
    Protobuf,
    /// The JSON push format (`Content-Type: application/json`).
    Json,
}

/// Configuration of a `loki` exporter.
#[derive(Debug, Clone)]
pub struct LokiConfig {
    /// Loki's base URL; requests go to `<endpoint>/loki/api/v1/push`.
    pub endpoint: Spanned<String>,
    /// Body format. Default protobuf.
    pub encoding: Encoding,
    /// Which attributes become labels, and the stream limit.
    pub labels: LabelRules,
    /// Extra headers (`X-Scope-OrgID` from `tenant`, `Authorization`).
    pub headers: HeaderMap,
    /// Timeout of one request. Default 10 s.
    pub timeout: Duration,
    /// Retries of 429, 5xx and connection failures.
    pub retry: RetryConfig,
}

impl LokiConfig {
    /// Default `endpoint`: a local Loki.
    pub const DEFAULT_ENDPOINT: &'static str = "http://127.0.0.1:3100";
    /// Default `timeout`.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// Every default, for `endpoint`.
    pub fn new(endpoint: impl Into<String>) -> Self {
        LokiConfig {
            endpoint: Spanned::new(endpoint.into(), (0, 0).into()),
            encoding: Encoding::Protobuf,
            labels: LabelRules::default(),
            headers: HeaderMap::new(),
            timeout: Self::DEFAULT_TIMEOUT,
            retry: RetryConfig::default(),
        }
    }
}

/// Reads an `exporter type="loki"` block.
pub fn validate(r: &mut NodeReader<'_>) -> Option<Box<dyn Builder>> {
    read(r).map(|c| Box::new(c) as Box<dyn Builder>)
}

/// Reads the settings, recording every problem in `r`; `None` when there
/// was one.
pub fn read(r: &mut NodeReader<'_>) -> Option<LokiConfig> {
    let mut ok = true;
    let mut c = LokiConfig::new(LokiConfig::DEFAULT_ENDPOINT);
    if let Some(e) = r.string("endpoint") {
        match check_endpoint(&e.value) {
            Ok(()) => c.endpoint = Spanned::new(e.value.trim_end_matches('/').to_string(), e.span),
            Err(why) => {
                r.invalid(
                    e.span,
                    why,
                    "write Loki's base URL, like \"http://127.0.0.1:3100\"",
                );
                ok = false;
            }
        }
    }
    if let Some(e) = r.one_of("encoding", &["protobuf", "json"]) {
        c.encoding = if e.value == "json" {
            Encoding::Json
        } else {
            Encoding::Protobuf
        };
    } else if r.present("encoding") {
        ok = false;
    }
    if r.present("resource-labels") {
        c.labels.resource = r
            .strings("resource-labels")
            .into_iter()
            .map(|s| s.value)
            .collect();
    }
    if r.present("attribute-labels") {
        c.labels.attributes = r
            .strings("attribute-labels")
            .into_iter()
            .map(|s| s.value)
            .collect();
    }
    if let Some(b) = r.bool("level-label") {
        c.labels.level = b;
    }
    if let Some(n) = r.u64_in("max-streams", 1..=10_000_000) {
        c.labels.max_streams = usize::try_from(n).unwrap_or(usize::MAX);
    } else if r.present("max-streams") {
        ok = false;
    }
    if let Some(h) = r.block("headers", read_headers) {
        c.headers = h;
    }
    if let Some(t) = r.string("tenant") {
        match HeaderValue::from_str(&t.value) {
            Ok(v) if !t.value.is_empty() => {
                let _ = c.headers.insert("x-scope-orgid", v);
            }
            _ => {
                r.invalid(
                    t.span,
                    "not a valid tenant id",
                    "a tenant id is visible ASCII",
                );
                ok = false;
            }
        }
    }
    if let Some(t) = r.duration("timeout") {
        if t.is_zero() {
            let span = r.span();
            r.invalid(
                span,
                "`timeout` must be more than 0",
                "write a duration like \"10s\"",
            );
            ok = false;
        }
        c.timeout = t;
    }
    if let Some(retry) = r.block("retry", read_retry) {
        c.retry = retry;
    }
    ok.then_some(c)
}

impl Builder for LokiConfig {
    fn build(self: Box<Self>, ctx: &BuildContext<'_>) -> Result<Built, ConfigError> {
        let span = self.endpoint.span;
        let exporter = LokiExporter::new(ctx.id, *self, Some(ctx.metrics)).map_err(|e| {
            ConfigError::new(
                ErrorCode::Build,
                format!("cannot set up the Loki exporter {:?}: {e}", ctx.id),
            )
            .at(span, "for this endpoint")
        })?;
        Ok(Built::Exporter(batch_exporter(exporter)))
    }
}
