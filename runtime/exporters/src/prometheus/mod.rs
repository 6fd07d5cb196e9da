//! `exporter "x" type="prometheus"`: serves the pipeline's metrics for
//! Prometheus to scrape (a pull exporter).
//!
//! ```kdl
//! exporter "pull" type="prometheus" {
//!     from "otlp"
//!     listen "127.0.0.1:9464"
//!     path "/metrics"
//!     expiration "5m"             // forget series not updated for this long
//!     add-metric-suffixes #true
//!     target-info #true
//! }
//! ```
//!
//! Every batch updates the latest value of its series (the mapping of
//! [`crate::prom_mapping`]); a staleness marker removes its series. `GET
//! <path>` answers the text exposition format 0.0.4, without timestamps.
//! This is separate from the admin endpoint's `/metrics`, which serves
//! weir's own metrics.

mod store;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use weir_config::{ConfigError, ErrorCode, NodeReader, Spanned};
use weir_engine::NodeError;
use weir_engine::node::{BoxFuture, Exporter, ExporterContext};
use weir_engine::registry::{BuildContext, Builder, Built};
use weir_pdata::Signal;

use crate::prom_mapping::{self, Options};
pub use store::Store;

/// Configuration of the pull exporter.
#[derive(Debug, Clone)]
pub struct PrometheusExporterConfig {
    /// Listen address. Default `127.0.0.1:9464`.
    pub listen: Spanned<SocketAddr>,
    /// The HTTP path. Default `/metrics`.
    pub path: String,
    /// Series not updated for this long are dropped. Default 5 minutes.
    pub expiration: Duration,
    /// Name mapping.
    pub mapping: Options,
}

impl PrometheusExporterConfig {
    /// Default `listen`.
    pub const DEFAULT_LISTEN: &str = "127.0.0.1:9464";
    /// Default `expiration`.
    pub const DEFAULT_EXPIRATION: Duration = Duration::from_secs(300);
}

/// Reads an `exporter type="prometheus"` block.
pub fn validate(r: &mut NodeReader<'_>) -> Option<Box<dyn Builder>> {
    read(r).map(|c| Box::new(c) as Box<dyn Builder>)
}

/// Reads the settings, recording every problem in `r`.
pub fn read(r: &mut NodeReader<'_>) -> Option<PrometheusExporterConfig> {
    let mut ok = true;
    let fallback = default_listen();
    let listen = match r.socket_addr("listen") {
        Some(a) => a,
        None if r.present("listen") => {
            ok = false;
            Spanned::new(fallback, r.span())
        }
        None => Spanned::new(fallback, r.span()),
    };
    let path = match r.string("path") {
        Some(p) if p.value.starts_with('/') => p.value,
        Some(p) => {
            r.invalid(
                p.span,
                "the path must start with `/`",
                "write it like \"/metrics\"",
            );
            ok = false;
            String::new()
        }
        None => "/metrics".to_string(),
    };
    let expiration = r
        .duration("expiration")
        .unwrap_or(PrometheusExporterConfig::DEFAULT_EXPIRATION);
    let mut mapping = Options::default();
    if let Some(b) = r.bool("add-metric-suffixes") {
        mapping.add_suffixes = b;
    }
    if let Some(b) = r.bool("target-info") {
        mapping.target_info = b;
    }
    ok.then_some(PrometheusExporterConfig {
        listen,
        path,
        expiration,
        mapping,
    })
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9464))
}

impl Builder for PrometheusExporterConfig {
    fn build(self: Box<Self>, ctx: &BuildContext<'_>) -> Result<Built, ConfigError> {
        let listener = std::net::TcpListener::bind(self.listen.value)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| {
                ConfigError::new(
                    ErrorCode::Build,
                    format!(
                        "cannot listen on {} for the prometheus exporter {:?}: {e}",
                        self.listen.value, ctx.id
                    ),
                )
                .at(self.listen.span, "this address")
            })?;
        Ok(Built::Exporter(Box::new(PrometheusExporter {
            config: *self,
            listener,
        })))
    }
}

/// A built pull exporter.
///
/// # Lifecycle
/// Building binds the listener. Running serves it and applies every batch
/// to the store until the input closes; then the server stops.
///
/// # Errors
/// A batch whose tables do not follow the schema is counted as failed.
pub struct PrometheusExporter {
    config: PrometheusExporterConfig,
    listener: std::net::TcpListener,
}

impl Exporter for PrometheusExporter {
    fn run(self: Box<Self>, mut ctx: ExporterContext) -> BoxFuture<Result<(), NodeError>> {
        Box::pin(async move {
            let store = Arc::new(Mutex::new(Store::default()));
            let listener = tokio::net::TcpListener::from_std(self.listener)
                .map_err(|e| NodeError::external("serving the prometheus exporter", e))?;
            let expiration = self.config.expiration;
            let served = store.clone();
            let app = axum::Router::new().route(
                &self.config.path,
                axum::routing::get(move || {
                    let store = served.clone();
                    async move {
                        let body = {
                            let mut s = store.lock();
                            let _ = s.expire(expiration);
                            s.render()
                        };
                        (
                            [(
                                http::header::CONTENT_TYPE,
                                "text/plain; version=0.0.4; charset=utf-8",
                            )],
                            body,
                        )
                    }
                }),
            );
            let server = tokio::spawn(async move { axum::serve(listener, app).await });
            tracing::info!(node = %ctx.id, listen = %self.config.listen.value, path = %self.config.path, "Serving metrics for scraping.");
            while let Some(msg) = ctx.input.recv().await {
                let items = msg.batch.items();
                if msg.batch.signal() != Signal::Metrics {
                    ctx.metrics.record_dropped(items);
                    continue;
                }
                let result = msg.batch.tables().map_err(NodeError::from).and_then(|t| {
                    let mut s = store.lock();
                    prom_mapping::convert(&t, &self.config.mapping, &mut *s)
                        .map_err(NodeError::from)
                });
                match result {
                    Ok(_) => ctx.metrics.record_out(items),
                    Err(e) => {
                        ctx.metrics.record_error();
                        ctx.metrics.record_failed(items);
                        tracing::warn!(node = %ctx.id, error = %e, "Batch not applied to the scrape endpoint.");
                        msg.fail(&format!("exporter {}: {e}", ctx.id));
                    }
                }
            }
            server.abort();
            Ok(())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests;
