//! The admin HTTP endpoint: `/metrics` (Prometheus text), `/healthz`,
//! `/readyz`, and `POST /reload` (hot reload; the answer is a JSON
//! [`ReloadReport`]: 200 when applied, 422 when refused).

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::sync::{mpsc, oneshot};

use crate::error::EngineError;
use crate::graph::Readiness;
use crate::metrics::MetricsRegistry;
use crate::reload::{ReloadReport, ReloadRequest};

/// How long `POST /reload` waits for the reload to finish.
const RELOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

#[derive(Clone)]
struct AdminState {
    metrics: MetricsRegistry,
    ready: Readiness,
    reload: Option<mpsc::Sender<ReloadRequest>>,
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
    serve_with_reload(addr, metrics, ready, None).await
}

/// [`serve`], with `POST /reload` handing requests to `reload`.
///
/// # Errors
/// [`EngineError::Io`] when the address cannot be bound.
pub async fn serve_with_reload(
    addr: SocketAddr,
    metrics: MetricsRegistry,
    ready: Readiness,
    reload: Option<mpsc::Sender<ReloadRequest>>,
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
        .route("/reload", post(reload_handler))
        .with_state(AdminState {
            metrics,
            ready,
            reload,
        });
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

fn json(status: StatusCode, body: String) -> axum::response::Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn error_json(status: StatusCode, message: &str) -> axum::response::Response {
    let body = serde_json::json!({ "ok": false, "error": message }).to_string();
    json(status, body)
}

async fn reload_handler(State(s): State<AdminState>) -> axum::response::Response {
    let Some(tx) = s.reload else {
        return error_json(StatusCode::NOT_FOUND, "this process does not reload");
    };
    let (reply, rx) = oneshot::channel::<ReloadReport>();
    let request = ReloadRequest {
        trigger: "http",
        reply: Some(reply),
    };
    if tx.send(request).await.is_err() {
        return error_json(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    match tokio::time::timeout(RELOAD_WAIT, rx).await {
        Ok(Ok(report)) => {
            let status = if report.ok {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            match serde_json::to_string_pretty(&report) {
                Ok(body) => json(status, body + "\n"),
                Err(e) => error_json(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
            }
        }
        Ok(Err(_)) => error_json(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
        Err(_) => error_json(
            StatusCode::GATEWAY_TIMEOUT,
            "the reload is still running; see the log",
        ),
    }
}
