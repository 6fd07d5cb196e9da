//! OTLP/HTTP: `POST /v1/traces`, `/v1/metrics` and `/v1/logs` on hyper.
//!
//! Bodies are `application/x-protobuf` or `application/json` (converted to
//! protobuf bytes before validation; the response uses the request's
//! encoding), optionally `Content-Encoding: gzip` or `zstd`.
//! `max-request-size` bounds the body twice: while it is read (a declared
//! `Content-Length` above the limit is refused before reading) and while it
//! is decompressed, which streams into a buffer that stops one byte past
//! the limit, so a compression bomb costs at most the limit in memory.
//!
//! | condition | status |
//! |---|---|
//! | accepted | 200, an empty `Export*ServiceResponse` |
//! | unknown path | 404 |
//! | method other than POST | 405 with `Allow: POST` |
//! | content type or content encoding not supported | 415 |
//! | body or decompressed body over `max-request-size` | 413 |
//! | body not a valid request, or not decompressible | 400 |
//! | pipeline full for `backpressure-wait` | 429 with `Retry-After` |
//! | shutting down, or not delivered (`ack "delivered"`) | 503 with `Retry-After` |
//! | rejected for good by a backend (`ack "delivered"`) | 400 |
//!
//! Error bodies are a `google.rpc.Status` in the request's encoding (plain
//! text when the content type is unknown).

use std::convert::Infallible;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{ALLOW, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use prost::Message as _;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::Code;
use weir_engine::node::Shutdown;
use weir_pdata::Signal;

use super::status::RpcStatus;
use super::{Ingest, RETRY_AFTER as RETRY_DELAY, Refusal};

/// How long a client may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The encoding of a request body and of its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// The encoding named by a `Content-Type` value (parameters such as
    /// `charset` are ignored).
    fn from_content_type(value: &str) -> Option<Self> {
        let media = value.split(';').next().unwrap_or_default().trim();
        if media.eq_ignore_ascii_case("application/x-protobuf") {
            Some(Encoding::Protobuf)
        } else if media.eq_ignore_ascii_case("application/json") {
            Some(Encoding::Json)
        } else {
            None
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// A `Content-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Identity,
    Gzip,
    Zstd,
}

impl Coding {
    fn from_header(value: Option<&str>) -> Option<Self> {
        match value.map(str::trim) {
            None => Some(Coding::Identity),
            Some(v) if v.is_empty() || v.eq_ignore_ascii_case("identity") => Some(Coding::Identity),
            Some(v) if v.eq_ignore_ascii_case("gzip") || v.eq_ignore_ascii_case("x-gzip") => {
                Some(Coding::Gzip)
            }
            Some(v) if v.eq_ignore_ascii_case("zstd") => Some(Coding::Zstd),
            Some(_) => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Coding::Identity => "identity",
            Coding::Gzip => "gzip",
            Coding::Zstd => "zstd",
        }
    }
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    /// Over `max-request-size`, as received or once decompressed.
    #[error("the request body is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The connection failed while the body was read.
    #[error("the request body could not be read: {0}")]
    Read(#[source] hyper::Error),
    /// The body is not valid data of its `Content-Encoding`.
    #[error("the {coding} request body could not be decompressed: {source}")]
    Decompress {
        /// The content coding.
        coding: &'static str,
        /// The decoder's error.
        #[source]
        source: std::io::Error,
    },
}

/// Serves OTLP/HTTP on `listener` until `shutdown`, then closes the
/// listener, lets in-flight requests finish and returns once every
/// connection is closed.
pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    ingest: Arc<Ingest>,
    max_request_size: usize,
    mut shutdown: Shutdown,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    let _ = builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let _ = builder.http2().timer(TokioTimer::new());
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = shutdown.wait() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little
                        // rather than spin.
                        tracing::warn!(node = %ingest.id, error = %e, "Could not accept an OTLP/HTTP connection.");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let ingest = ingest.clone();
                let service = hyper::service::service_fn(move |req| {
                    let ingest = ingest.clone();
                    async move { Ok::<_, Infallible>(handle(req, &ingest, max_request_size).await) }
                });
                let builder = builder.clone();
                let mut closing = closing_rx.clone();
                let _ = connections.spawn(async move {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(conn);
                    let mut closing_seen = false;
                    loop {
                        tokio::select! {
                            done = conn.as_mut() => {
                                if let Err(e) = done {
                                    tracing::debug!(error = %e, "OTLP/HTTP connection ended with an error.");
                                }
                                break;
                            }
                            _ = closing.wait_for(|c| *c), if !closing_seen => {
                                closing_seen = true;
                                conn.as_mut().graceful_shutdown();
                            }
                        }
                    }
                });
            }
        }
    }
    drop(listener);
    let _ = closing_tx.send(true);
    while connections.join_next().await.is_some() {}
}

/// Answers one request.
async fn handle(req: Request<Incoming>, ingest: &Ingest, max: usize) -> Response<Full<Bytes>> {
    let signal = match req.uri().path() {
        "/v1/traces" => Some(Signal::Traces),
        "/v1/metrics" => Some(Signal::Metrics),
        "/v1/logs" => Some(Signal::Logs),
        _ => None,
    };
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let encoding = content_type.and_then(Encoding::from_content_type);
    let Some(signal) = signal else {
        let message = format!(
            "no OTLP endpoint at {}: use /v1/traces, /v1/metrics or /v1/logs",
            req.uri().path()
        );
        return error_response(StatusCode::NOT_FOUND, Code::NotFound, message, encoding);
    };
    if req.method() != Method::POST {
        let message = format!("{} is not allowed: OTLP/HTTP takes POST", req.method());
        let mut resp = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            Code::Unimplemented,
            message,
            encoding,
        );
        let _ = resp
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return resp;
    }
    let Some(encoding) = encoding else {
        ingest.record_bad_request();
        let message = format!(
            "unsupported content type {:?}: use application/x-protobuf or application/json",
            content_type.unwrap_or_default()
        );
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::InvalidArgument,
            message,
            None,
        );
    };
    let content_encoding = req
        .headers()
        .get(CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?"));
    let Some(coding) = Coding::from_header(content_encoding) else {
        ingest.record_bad_request();
        let message = format!(
            "unsupported content encoding {:?}: use gzip, zstd or identity",
            content_encoding.unwrap_or_default()
        );
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::InvalidArgument,
            message,
            Some(encoding),
        );
    };
    if ingest.is_shutting_down() {
        return refusal_response(&Refusal::ShuttingDown, encoding);
    }
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        ingest.record_bad_request();
        return body_error_response(&BodyError::TooLarge { limit: max }, encoding);
    }
    let hint = declared.map_or(0, |n| usize::try_from(n).unwrap_or(max));
    let body = match read_body(req.into_body(), max, hint).await {
        Ok(b) => decompress(coding, b, max),
        Err(e) => Err(e),
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            ingest.record_bad_request();
            tracing::debug!(node = %ingest.id, %signal, error = %e, "Refused an OTLP/HTTP request body.");
            return body_error_response(&e, encoding);
        }
    };
    let bytes = match encoding {
        Encoding::Protobuf => body,
        Encoding::Json => match weir_pdata::otlp::json_to_protobuf(signal, &body) {
            Ok(pb) => Bytes::from(pb),
            Err(e) => {
                ingest.record_bad_request();
                tracing::debug!(node = %ingest.id, %signal, error = %e, "Refused an invalid OTLP/JSON request.");
                return refusal_response(&Refusal::Invalid(e), encoding);
            }
        },
    };
    match ingest.accept(signal, bytes).await {
        Ok(_items) => success_response(encoding),
        Err(refusal) => refusal_response(&refusal, encoding),
    }
}

/// Reads the body, refusing it as soon as it grows past `limit`. A body of
/// one chunk is kept as is; several chunks are copied once into a buffer
/// sized from `Content-Length` when declared.
async fn read_body(mut body: Incoming, limit: usize, hint: usize) -> Result<Bytes, BodyError> {
    let mut first: Option<Bytes> = None;
    let mut buf = BytesMut::new();
    let mut len = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(BodyError::Read)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        len = len.saturating_add(data.len());
        if len > limit {
            return Err(BodyError::TooLarge { limit });
        }
        match first.take() {
            None if buf.is_empty() => first = Some(data),
            None => buf.extend_from_slice(&data),
            Some(f) => {
                buf.reserve(hint.max(len).min(limit));
                buf.extend_from_slice(&f);
                buf.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| buf.freeze()))
}

/// Decompresses `body` into at most `limit` bytes.
fn decompress(coding: Coding, body: Bytes, limit: usize) -> Result<Bytes, BodyError> {
    if coding == Coding::Identity || body.is_empty() {
        return Ok(body);
    }
    let failed = |source| BodyError::Decompress {
        coding: coding.as_str(),
        source,
    };
    let out = match coding {
        Coding::Identity => return Ok(body),
        Coding::Gzip => read_limited(
            flate2::read::MultiGzDecoder::new(&body[..]),
            limit,
            body.len(),
        ),
        Coding::Zstd => {
            let mut decoder =
                zstd::stream::read::Decoder::with_buffer(&body[..]).map_err(failed)?;
            decoder
                .window_log_max(zstd_window_log(limit))
                .map_err(failed)?;
            read_limited(decoder, limit, body.len())
        }
    };
    match out {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => Err(BodyError::TooLarge { limit }),
        Err(e) => Err(failed(e)),
    }
}

/// Reads `reader` to its end into a buffer that never grows past
/// `limit + 1` bytes; `None` when there was more than `limit`.
fn read_limited(
    reader: impl Read,
    limit: usize,
    compressed_len: usize,
) -> std::io::Result<Option<Bytes>> {
    let mut out = Vec::with_capacity(compressed_len.saturating_mul(4).min(limit).max(1024));
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let n = reader.take(cap).read_to_end(&mut out)?;
    Ok((n <= limit).then(|| Bytes::from(out)))
}

/// The largest zstd window accepted: enough for any frame of up to `limit`
/// bytes and for streaming encoders' defaults (8 MiB), never more than the
/// limit needs beyond that.
fn zstd_window_log(limit: usize) -> u32 {
    let needed = usize::BITS - limit.saturating_sub(1).leading_zeros();
    needed.clamp(23, 31)
}

fn success_response(encoding: Encoding) -> Response<Full<Bytes>> {
    // An empty `Export*ServiceResponse`: `partial_success` is absent on full
    // acceptance.
    let body = match encoding {
        Encoding::Protobuf => Bytes::new(),
        Encoding::Json => Bytes::from_static(b"{}"),
    };
    response(StatusCode::OK, encoding.content_type(), body)
}

fn refusal_response(refusal: &Refusal, encoding: Encoding) -> Response<Full<Bytes>> {
    let message = refusal.to_string();
    let (status, code) = match refusal {
        Refusal::Invalid(_) | Refusal::Rejected(_) => {
            (StatusCode::BAD_REQUEST, Code::InvalidArgument)
        }
        Refusal::Full => (StatusCode::TOO_MANY_REQUESTS, Code::ResourceExhausted),
        Refusal::ShuttingDown | Refusal::NotDelivered(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, Code::Unavailable)
        }
    };
    let mut resp = error_response(status, code, message, Some(encoding));
    if status != StatusCode::BAD_REQUEST {
        let _ = resp
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(RETRY_DELAY.as_secs().max(1)));
    }
    resp
}

fn body_error_response(error: &BodyError, encoding: Encoding) -> Response<Full<Bytes>> {
    let (status, code) = match error {
        BodyError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, Code::ResourceExhausted),
        BodyError::Read(_) | BodyError::Decompress { .. } => {
            (StatusCode::BAD_REQUEST, Code::InvalidArgument)
        }
    };
    error_response(status, code, error.to_string(), Some(encoding))
}

/// An error response whose body is a `google.rpc.Status` in `encoding`, or
/// plain text when the encoding is unknown.
fn error_response(
    status: StatusCode,
    code: Code,
    message: String,
    encoding: Option<Encoding>,
) -> Response<Full<Bytes>> {
    match encoding {
        Some(Encoding::Protobuf) => {
            let body = RpcStatus {
                code: code as i32,
                message,
                details: Vec::new(),
            };
            response(
                status,
                Encoding::Protobuf.content_type(),
                Bytes::from(body.encode_to_vec()),
            )
        }
        Some(Encoding::Json) => {
            let body = serde_json::json!({ "code": code as i32, "message": message });
            response(
                status,
                Encoding::Json.content_type(),
                Bytes::from(body.to_string()),
            )
        }
        None => response(status, "text/plain; charset=utf-8", Bytes::from(message)),
    }
}

fn response(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    let _ = resp
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}
