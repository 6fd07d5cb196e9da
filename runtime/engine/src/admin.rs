//! The admin HTTP endpoint: `/metrics` (Prometheus text), `/healthz`,
//! `/readyz`.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::error::EngineError;
use crate::graph::Readiness;
use crate::metrics::MetricsRegistry;

#[derive(Clone)]
struct AdminState {
    metrics: MetricsRegistry,
    ready: Readiness,
}

/// Binds the admin endpoint and serves it until the task is dropped.
///
/// # Errors
/// [`EngineError::Io`] when the address cannot be bound.
pub async fn serve(
    addr: SocketAddr,
    metrics: MetricsRegistry,
    ready: Readiness,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), EngineError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| EngineError::Io {
            what: format!("cannot bind the admin endpoint to {addr}"),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| EngineError::Io {
        what: "admin endpoint address".to_string(),
        source,
    })?;
    let app = Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready_handler))
        .with_state(AdminState { metrics, ready });
    let handle = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "Admin endpoint stopped.");
        }
    });
    Ok((local, handle))
}

async fn metrics_handler(State(s): State<AdminState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
}

async fn ready_handler(State(s): State<AdminState>) -> impl IntoResponse {
    if s.ready.get() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}
