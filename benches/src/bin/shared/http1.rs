//! A minimal HTTP/1.1 server loop for the benchmark's helpers: keep-alive,
//! `Content-Length` bodies only (no chunked requests), one task per
//! connection. Enough for Prometheus scrapers and remote-write clients on
//! loopback, and far cheaper per request than a general server.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Largest request head or body accepted.
const MAX_REQUEST: usize = 64 << 20;

/// One parsed request.
#[allow(dead_code, reason = "each binary reads the fields it needs")]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path (with query).
    pub path: String,
    /// The body.
    pub body: Bytes,
}

/// An answer.
pub struct Response {
    /// Status code and reason, e.g. `200 OK`.
    pub status: &'static str,
    /// Content type.
    pub content_type: &'static str,
    /// Body.
    pub body: Bytes,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Serves `listener` forever with `handler`.
pub async fn serve<H, F>(listener: TcpListener, handler: Arc<H>)
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send,
{
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            continue;
        };
        let _ = sock.set_nodelay(true);
        let handler = handler.clone();
        drop(tokio::spawn(async move {
            let _ = connection(sock, handler).await;
        }));
    }
}

async fn connection<H, F>(mut sock: TcpStream, handler: Arc<H>) -> std::io::Result<()>
where
    H: Fn(Request) -> F,
    F: Future<Output = Response>,
{
    let mut buf: Vec<u8> = Vec::with_capacity(16 << 10);
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        // Head.
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > MAX_REQUEST {
                return Ok(());
            }
            let n = sock.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or_default().split(' ');
        let method = first.next().unwrap_or_default().to_string();
        let path = first.next().unwrap_or_default().to_string();
        let mut length = 0usize;
        let mut close = false;
        for line in lines {
            if let Some((k, v)) = line.split_once(':') {
                let k = k.trim().to_ascii_lowercase();
                if k == "content-length" {
                    length = v.trim().parse().unwrap_or(0);
                } else if k == "connection" && v.trim().eq_ignore_ascii_case("close") {
                    close = true;
                }
            }
        }
        if length > MAX_REQUEST {
            return Ok(());
        }
        while buf.len() < head_end + length {
            let n = sock.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = Bytes::copy_from_slice(&buf[head_end..head_end + length]);
        let _ = buf.drain(..head_end + length);
        let resp = handler(Request { method, path, body }).await;
        let head = format!(
            "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
            resp.status,
            resp.content_type,
            resp.body.len()
        );
        sock.write_all(head.as_bytes()).await?;
        sock.write_all(&resp.body).await?;
        if close {
            return Ok(());
        }
    }
}
