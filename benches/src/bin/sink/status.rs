//! A tiny HTTP endpoint that answers every request with the sink's totals.
//!
//! The peer harness polls it to know when every span sent through the
//! system under test has arrived. It speaks just enough HTTP/1.1 for
//! `curl` and Python's `urllib`: read the request head, answer JSON, close.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::server::Counters;

/// How long a client may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// The largest request head read.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Answers connections on `listener` forever.
pub async fn serve(listener: TcpListener, counters: Arc<Counters>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let counters = Arc::clone(&counters);
                drop(tokio::spawn(async move {
                    if let Err(error) = answer(stream, &counters).await {
                        eprintln!("Status request failed: {error}.");
                    }
                }));
            }
            Err(error) => {
                eprintln!("Status accept failed: {error}.");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn answer(mut stream: TcpStream, counters: &Counters) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let read_head = async {
        loop {
            let n = stream.read(&mut chunk).await?;
            head.extend_from_slice(&chunk[..n]);
            if n == 0 || head.len() > MAX_HEAD_BYTES || head.windows(4).any(|w| w == b"\r\n\r\n") {
                return Ok::<(), std::io::Error>(());
            }
        }
    };
    tokio::time::timeout(READ_TIMEOUT, read_head)
        .await
        .map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::TimedOut, "request head too slow")
        })??;
    let body = counters.snapshot().to_string();
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
