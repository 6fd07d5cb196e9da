//! Settings of `exporter "x" type="remote-write"` and their validation.

use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use weir_config::{ConfigError, ErrorCode, NodeReader, Spanned};
use weir_engine::registry::{BuildContext, Builder, Built};

use super::exporter::RemoteWriteExporter;
use crate::otlp::RetryConfig;
use crate::otlp::config::{check_endpoint, read_headers, read_retry};
use crate::prom_mapping::Options;

/// Configuration of the remote-write exporter.
#[derive(Debug, Clone)]
pub struct RemoteWriteConfig {
    /// The receiver's URL (`http://host:9090/api/v1/write`).
    pub endpoint: Spanned<String>,
    /// Extra headers (`X-Scope-OrgID`, `Authorization`).
    pub headers: HeaderMap,
    /// How long one request may take. Default 30 s.
    pub timeout: Duration,
    /// Requests in flight at once; series are spread over shards by their
    /// labels so each series' samples stay in order. Default 4.
    pub shards: usize,
    /// Samples per request. Default 2000.
    pub max_samples_per_send: usize,
    /// Name mapping (suffixes, `target_info`).
    pub mapping: Options,
    /// Retries of 5xx, 429 and connection failures.
    pub retry: RetryConfig,
}

impl RemoteWriteConfig {
    /// Default `timeout`.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default `shards`.
    pub const DEFAULT_SHARDS: usize = 4;
    /// Default `max-samples-per-send`.
    pub const DEFAULT_MAX_SAMPLES: usize = 2000;

    /// Every default, for `endpoint`.
    pub fn new(endpoint: impl Into<String>) -> Self {
        RemoteWriteConfig {
            endpoint: Spanned::new(endpoint.into(), (0, 0).into()),
            headers: HeaderMap::new(),
            timeout: Self::DEFAULT_TIMEOUT,
            shards: Self::DEFAULT_SHARDS,
            max_samples_per_send: Self::DEFAULT_MAX_SAMPLES,
            mapping: Options::default(),
            retry: RetryConfig::default(),
        }
    }
}

/// Reads an `exporter type="remote-write"` block.
pub fn validate(r: &mut NodeReader<'_>) -> Option<Box<dyn Builder>> {
    read(r).map(|c| Box::new(c) as Box<dyn Builder>)
}

/// Reads the settings, recording every problem in `r`.
pub fn read(r: &mut NodeReader<'_>) -> Option<RemoteWriteConfig> {
    let mut ok = true;
    let endpoint = r.string("endpoint");
    let endpoint = r.require(
        "endpoint",
        endpoint,
        "endpoint \"http://127.0.0.1:9090/api/v1/write\"",
    );
    let mut c = RemoteWriteConfig::new("");
    match endpoint {
        Some(e) => match check_remote_endpoint(&e.value) {
            Ok(()) => c.endpoint = e,
            Err(why) => {
                r.invalid(e.span, why, "write the URL of the write endpoint, like \"http://127.0.0.1:9090/api/v1/write\"");
                ok = false;
            }
        },
        None => ok = false,
    }
    if let Some(h) = r.block("headers", read_headers) {
        c.headers = h;
    }
    if let Some(b) = r.block("basic-auth", |br| {
        let user = br.string("username").map(|s| s.value);
        let password = br.string("password").map(|s| s.value).unwrap_or_default();
        (user, password, br.span())
    }) {
        match b {
            (Some(user), password, _) => {
                let token = base64(&format!("{user}:{password}"));
                if let Ok(v) = HeaderValue::from_str(&format!("Basic {token}")) {
                    let _ = c.headers.insert(http::header::AUTHORIZATION, v);
                }
            }
            (None, _, span) => {
                r.error(
                    ConfigError::new(ErrorCode::Missing, "`basic-auth` needs `username`")
                        .at(span, "no username"),
                );
                ok = false;
            }
        }
    }
    if let Some(t) = r.string("bearer-token") {
        match HeaderValue::from_str(&format!("Bearer {}", t.value)) {
            Ok(v) => {
                let _ = c.headers.insert(http::header::AUTHORIZATION, v);
            }
            Err(_) => {
                r.invalid(
                    t.span,
                    "not a valid header value",
                    "a token is visible ASCII",
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
                "write a duration like \"30s\"",
            );
            ok = false;
        }
        c.timeout = t;
    }
    if let Some(n) = r.u64_in("shards", 1..=256) {
        c.shards = usize::try_from(n).unwrap_or(DEFAULT_SHARDS);
    } else if r.present("shards") {
        ok = false;
    }
    if let Some(n) = r.u64_in("max-samples-per-send", 1..=1_000_000) {
        c.max_samples_per_send =
            usize::try_from(n).unwrap_or(RemoteWriteConfig::DEFAULT_MAX_SAMPLES);
    } else if r.present("max-samples-per-send") {
        ok = false;
    }
    if let Some(b) = r.bool("add-metric-suffixes") {
        c.mapping.add_suffixes = b;
    }
    if let Some(b) = r.bool("target-info") {
        c.mapping.target_info = b;
    }
    if let Some(retry) = r.block("retry", read_retry) {
        c.retry = retry;
    }
    ok.then_some(c)
}

const DEFAULT_SHARDS: usize = RemoteWriteConfig::DEFAULT_SHARDS;

fn check_remote_endpoint(s: &str) -> Result<(), String> {
    check_endpoint(s)?;
    let uri: http::Uri = s.parse().map_err(|e| format!("not a URL: {e}"))?;
    if uri.path().is_empty() || uri.path() == "/" {
        return Err("the URL has no path (Prometheus listens on /api/v1/write)".into());
    }
    Ok(())
}

/// Standard base64 with padding (for basic auth).
fn base64(s: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Builder for RemoteWriteConfig {
    fn build(self: Box<Self>, ctx: &BuildContext<'_>) -> Result<Built, ConfigError> {
        let span = self.endpoint.span;
        let exporter = RemoteWriteExporter::new(ctx.id, *self).map_err(|e| {
            ConfigError::new(
                ErrorCode::Build,
                format!("cannot set up the remote-write exporter {:?}: {e}", ctx.id),
            )
            .at(span, "for this endpoint")
        })?;
        Ok(Built::Exporter(Box::new(exporter)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    #[test]
    fn base64_pads() {
        assert_eq!(super::base64("user:pass"), "dXNlcjpwYXNz");
        assert_eq!(super::base64("a"), "YQ==");
        assert_eq!(super::base64("ab"), "YWI=");
    }
}
