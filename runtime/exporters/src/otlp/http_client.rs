//! OTLP/HTTP with protobuf bodies: `POST <endpoint>/v1/<signal>`.

use std::time::Duration;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use reqwest::Url;
use weir_pdata::Signal;

use super::config::{Compression, OtlpExporterConfig};
use super::exporter::{ExportResponse, PartialSuccess};
use crate::ExportError;

/// The `google.rpc.Status` an OTLP/HTTP backend puts in an error body
/// (its `details` are skipped).
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// An HTTP client bound to one backend.
pub struct HttpClient {
    client: reqwest::Client,
    urls: [Url; 3],
    headers: http::HeaderMap,
    compression: Compression,
}

/// The path of `signal`'s endpoint under the base URL.
pub fn signal_path(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "/v1/traces",
        Signal::Metrics => "/v1/metrics",
        Signal::Logs => "/v1/logs",
        // OTLP's (experimental) profiles path; weir never posts to it.
        Signal::Profiles => "/v1development/profiles",
    }
}

/// The slot of `signal`'s URL; `None` for profiles (no OTLP form in weir).
fn index(signal: Signal) -> Option<usize> {
    match signal {
        Signal::Traces => Some(0),
        Signal::Metrics => Some(1),
        Signal::Logs => Some(2),
        Signal::Profiles => None,
    }
}

/// The error of [`Url::parse`].
pub type UrlParseError = <Url as std::str::FromStr>::Err;

/// Why an HTTP client could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpSetupError {
    /// The endpoint plus a signal path is not a URL.
    #[error("{url:?} is not a valid URL: {source}")]
    Url {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: UrlParseError,
    },
    /// The HTTP client could not be created.
    #[error("cannot create the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

impl HttpClient {
    /// A client for `config` (no I/O).
    ///
    /// # Errors
    /// The endpoint does not make valid URLs, or the client cannot be built.
    pub fn new(config: &OtlpExporterConfig) -> Result<Self, HttpSetupError> {
        let base = config.endpoint.value.trim_end_matches('/');
        let url = |signal: Signal| {
            let s = format!("{base}{}", signal_path(signal));
            Url::parse(&s).map_err(|source| HttpSetupError::Url { url: s, source })
        };
        let urls = [
            url(Signal::Traces)?,
            url(Signal::Metrics)?,
            url(Signal::Logs)?,
        ];
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(HttpSetupError::Client)?;
        Ok(HttpClient {
            client,
            urls,
            headers: config.headers.clone(),
            compression: config.compression,
        })
    }

    /// The request body for `bytes`: the bytes themselves, or gzipped.
    ///
    /// # Errors
    /// [`ExportError::Compress`].
    pub fn body(&self, bytes: Bytes) -> Result<Bytes, ExportError> {
        match self.compression {
            Compression::None => Ok(bytes),
            Compression::Gzip => {
                use std::io::Write as _;
                let mut enc = flate2::write::GzEncoder::new(
                    Vec::with_capacity(bytes.len() / 4 + 64),
                    flate2::Compression::fast(),
                );
                enc.write_all(&bytes).map_err(ExportError::Compress)?;
                enc.finish().map(Bytes::from).map_err(ExportError::Compress)
            }
        }
    }

    /// Sends one request body (as made by [`HttpClient::body`]).
    ///
    /// # Errors
    /// [`ExportError::HttpStatus`] for an error answer,
    /// [`ExportError::HttpTransport`] when no answer came.
    pub async fn export(
        &self,
        signal: Signal,
        body: Bytes,
    ) -> Result<Option<PartialSuccess>, ExportError> {
        let Some(i) = index(signal) else {
            return Err(ExportError::UnsupportedSignal {
                exporter: "otlp",
                signal,
                hint: "profiles have no OTLP form in weir: send them to a `pyroscope` exporter",
            });
        };
        let url = &self.urls[i];
        let mut req = self
            .client
            .post(url.clone())
            .headers(self.headers.clone())
            .header(http::header::CONTENT_TYPE, "application/x-protobuf");
        if self.compression == Compression::Gzip {
            req = req.header(http::header::CONTENT_ENCODING, "gzip");
        }
        let transport = |source| ExportError::HttpTransport {
            url: url.to_string(),
            source,
        };
        let resp = req.body(body).send().await.map_err(transport)?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let is_protobuf = resp
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-protobuf"));
        let bytes = resp.bytes().await.map_err(transport)?;
        if status.is_success() {
            if bytes.is_empty() || !is_protobuf {
                return Ok(None);
            }
            return Ok(match signal {
                Signal::Traces => decode_response::<ExportTraceServiceResponse>(&bytes),
                Signal::Metrics => decode_response::<ExportMetricsServiceResponse>(&bytes),
                Signal::Logs => decode_response::<ExportLogsServiceResponse>(&bytes),
                Signal::Profiles => None,
            });
        }
        Err(ExportError::HttpStatus {
            status,
            message: error_message(&bytes, is_protobuf),
            retry_after,
        })
    }
}

fn decode_response<R: ExportResponse>(bytes: &[u8]) -> Option<PartialSuccess> {
    match R::decode(bytes) {
        Ok(r) => r.partial_success(),
        Err(e) => {
            tracing::debug!(error = %e, "Cannot decode the backend's response; ignoring it.");
            None
        }
    }
}

/// The message of an error body: its `google.rpc.Status` message, or its
/// first bytes as text.
fn error_message(body: &[u8], is_protobuf: bool) -> String {
    if is_protobuf && let Ok(s) = <RpcStatus as prost::Message>::decode(body) {
        return s.message;
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(256)]);
    text.trim().to_string()
}

/// `Retry-After` in seconds (the HTTP-date form is ignored: the exporter's
/// own backoff applies then).
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}
