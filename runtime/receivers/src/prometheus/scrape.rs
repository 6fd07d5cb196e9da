//! One HTTP scrape: the request Prometheus sends, a bounded body.

use std::io::Read as _;
use std::time::Duration;

use super::config::Auth;
use super::parser::Format;

/// What a scrape asks for: OpenMetrics first, then the text format (the
/// `Accept` header of Prometheus 2).
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// Why a scrape got no usable body.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// No answer (connection refused, reset, DNS).
    #[error("{0}")]
    Http(#[source] reqwest::Error),
    /// Not within the scrape timeout.
    #[error("no complete answer within the scrape timeout of {0:?}")]
    Timeout(Duration),
    /// An answer other than 200.
    #[error("server returned HTTP status {0}")]
    Status(reqwest::StatusCode),
    /// Larger than `body-size-limit`.
    #[error("body larger than body-size-limit ({0} bytes)")]
    TooLarge(u64),
    /// A gzip body that does not decompress.
    #[error("cannot decompress the gzip body: {0}")]
    Gzip(#[source] std::io::Error),
    /// An unsupported `Content-Encoding`.
    #[error("unsupported Content-Encoding {0:?}")]
    Encoding(String),
    /// The body is not UTF-8.
    #[error("the body is not UTF-8: {0}")]
    Utf8(#[source] std::str::Utf8Error),
    /// A credentials file could not be read.
    #[error("cannot read {what} {path}: {source}")]
    Credentials {
        /// Which credential.
        what: &'static str,
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The settings of one target's scrapes.
pub struct Request<'a> {
    /// The URL.
    pub url: &'a str,
    /// Authentication.
    pub auth: Option<&'a Auth>,
    /// Largest body, decompressed.
    pub limit: u64,
    /// The scrape timeout.
    pub timeout: Duration,
}

fn read_secret(what: &'static str, path: &std::path::Path) -> Result<String, ScrapeError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
        .map_err(|source| ScrapeError::Credentials {
            what,
            path: path.display().to_string(),
            source,
        })
}

/// Fetches one body into `buf` (reused; cleared first) within the timeout;
/// returns its format.
///
/// # Errors
/// [`ScrapeError`]: no answer, an error status, too large, undecodable.
pub async fn fetch(
    client: &reqwest::Client,
    req: &Request<'_>,
    buf: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) -> Result<Format, ScrapeError> {
    match tokio::time::timeout(req.timeout, fetch_inner(client, req, buf, scratch)).await {
        Ok(r) => r,
        Err(_) => Err(ScrapeError::Timeout(req.timeout)),
    }
}

async fn fetch_inner(
    client: &reqwest::Client,
    req: &Request<'_>,
    buf: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) -> Result<Format, ScrapeError> {
    buf.clear();
    let mut rb = client
        .get(req.url)
        .header(reqwest::header::ACCEPT, ACCEPT)
        .header(reqwest::header::ACCEPT_ENCODING, "gzip")
        .header(
            "X-Prometheus-Scrape-Timeout-Seconds",
            format!("{}", req.timeout.as_secs_f64()),
        );
    match req.auth {
        Some(Auth::Basic {
            username,
            password,
            password_file,
        }) => {
            let password = match password_file {
                Some(p) => read_secret("password-file", p)?,
                None => password.clone(),
            };
            rb = rb.basic_auth(username, Some(password));
        }
        Some(Auth::Bearer { token, token_file }) => {
            let token = match token_file {
                Some(p) => read_secret("bearer-token-file", p)?,
                None => token.clone(),
            };
            rb = rb.bearer_auth(token);
        }
        None => {}
    }
    let mut resp = rb.send().await.map_err(ScrapeError::Http)?;
    if resp.status() != reqwest::StatusCode::OK {
        return Err(ScrapeError::Status(resp.status()));
    }
    if resp.content_length().is_some_and(|n| n > req.limit) {
        return Err(ScrapeError::TooLarge(req.limit));
    }
    let format = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map_or(Format::Text, Format::from_content_type);
    let encoding = resp
        .headers()
        .get(reqwest::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_ascii_lowercase());
    let gzip = match encoding.as_deref() {
        None | Some("" | "identity") => false,
        Some("gzip" | "x-gzip") => true,
        Some(other) => return Err(ScrapeError::Encoding(other.to_string())),
    };
    let raw = if gzip { &mut *scratch } else { &mut *buf };
    raw.clear();
    while let Some(chunk) = resp.chunk().await.map_err(ScrapeError::Http)? {
        if (raw.len() + chunk.len()) as u64 > req.limit {
            return Err(ScrapeError::TooLarge(req.limit));
        }
        raw.extend_from_slice(&chunk);
    }
    if gzip {
        let mut decoder = flate2::read::GzDecoder::new(&scratch[..]).take(req.limit + 1);
        let _ = decoder.read_to_end(buf).map_err(ScrapeError::Gzip)?;
        if buf.len() as u64 > req.limit {
            return Err(ScrapeError::TooLarge(req.limit));
        }
    }
    Ok(format)
}
