//! The `otlp` receiver node: binds its sockets when built, serves gRPC and
//! HTTP while running, stops gracefully on shutdown.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use weir_config::{ConfigError, ErrorCode, Spanned};
use weir_engine::NodeError;
use weir_engine::node::{BoxFuture, Receiver, ReceiverContext};

use super::config::OtlpConfig;
use super::{Ingest, grpc, http};

/// A built `otlp` receiver: its listening sockets and its settings.
///
/// # Lifecycle
/// [`OtlpReceiver::bind`] (called by the builder) binds the sockets, so a
/// port in use is a configuration error pointing at the address.
/// [`Receiver::run`] serves until the shutdown signal, then stops accepting
/// connections, lets in-flight requests finish and returns, which drops the
/// node's output.
///
/// # Errors
/// `run` fails only when a server cannot run at all (the listening socket
/// cannot be handed to the runtime).
#[derive(Debug)]
pub struct OtlpReceiver {
    config: OtlpConfig,
    grpc: Option<TcpListener>,
    http: Option<TcpListener>,
}

impl OtlpReceiver {
    /// Binds the configured addresses.
    ///
    /// # Errors
    /// A [`ConfigError`] with code [`ErrorCode::Build`] pointing at the
    /// address that could not be bound.
    pub fn bind(config: OtlpConfig) -> Result<Self, ConfigError> {
        let grpc = config
            .grpc
            .as_ref()
            .map(|a| listen(a, "gRPC"))
            .transpose()?;
        let http = config
            .http
            .as_ref()
            .map(|a| listen(a, "HTTP"))
            .transpose()?;
        Ok(OtlpReceiver { config, grpc, http })
    }

    /// The address the gRPC server listens on (with the actual port when
    /// configured with port 0).
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The address the HTTP server listens on.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|l| l.local_addr().ok())
    }
}

fn listen(addr: &Spanned<SocketAddr>, protocol: &str) -> Result<TcpListener, ConfigError> {
    let bound = TcpListener::bind(addr.value).and_then(|l| {
        l.set_nonblocking(true)?;
        Ok(l)
    });
    bound.map_err(|e| {
        ConfigError::new(
            ErrorCode::Build,
            format!("cannot listen for OTLP/{protocol} on {}: {e}", addr.value),
        )
        .at(addr.span, e.to_string())
        .help("choose a free port, or stop the process that uses this one")
    })
}

fn to_tokio(listener: TcpListener, protocol: &str) -> Result<tokio::net::TcpListener, NodeError> {
    tokio::net::TcpListener::from_std(listener)
        .map_err(|e| NodeError::external(format!("registering the OTLP/{protocol} socket"), e))
}

impl Receiver for OtlpReceiver {
    fn run(self: Box<Self>, ctx: ReceiverContext) -> BoxFuture<Result<(), NodeError>> {
        let OtlpReceiver { config, grpc, http } = *self;
        Box::pin(async move {
            let id = ctx.id.clone();
            let shutdown = ctx.shutdown.clone();
            let ingest = Arc::new(Ingest::new(ctx, &config));
            let max = config.max_request_size;
            let grpc_server = match grpc {
                Some(l) => {
                    let l = to_tokio(l, "gRPC")?;
                    if let Ok(addr) = l.local_addr() {
                        tracing::info!(node = %id, %addr, "OTLP/gRPC server listening.");
                    }
                    Some(grpc::serve(l, ingest.clone(), max, shutdown.clone()))
                }
                None => None,
            };
            let http_server = match http {
                Some(l) => {
                    let l = to_tokio(l, "HTTP")?;
                    if let Ok(addr) = l.local_addr() {
                        tracing::info!(node = %id, %addr, "OTLP/HTTP server listening.");
                    }
                    Some(http::serve(l, ingest.clone(), max, shutdown))
                }
                None => None,
            };
            // The servers hold the only other handles: once they return, the
            // output is dropped and the pipeline downstream can drain.
            drop(ingest);
            let grpc_done = async {
                match grpc_server {
                    Some(s) => s
                        .await
                        .map_err(|e| NodeError::external("serving OTLP/gRPC", e)),
                    None => Ok(()),
                }
            };
            let http_done = async {
                match http_server {
                    Some(s) => {
                        s.await;
                        Ok(())
                    }
                    None => Ok(()),
                }
            };
            let _ = tokio::try_join!(grpc_done, http_done)?;
            tracing::info!(node = %id, "OTLP receiver stopped.");
            Ok(())
        })
    }
}
