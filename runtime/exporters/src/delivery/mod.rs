//! Delivery shared by every exporter that talks to a backend: retries with
//! exponential backoff and full jitter honouring `Retry-After`, the
//! `retry { }` block that configures them, and the classification of a
//! failure as retryable or permanent ([`node_error`]), which the engine's
//! persistent queue and dead-letter routing act on.
//!
//! A permanent failure (an HTTP 4xx other than 429, gRPC
//! `INVALID_ARGUMENT`, data the exporter cannot encode) is not retried: it
//! becomes [`NodeError::Rejected`], the batch's acks are rejected, the
//! engine logs the cause, and a `dead-letter` exporter gets the batch if
//! one is configured. A retryable failure whose retries are spent becomes
//! [`NodeError::External`]: a persistent queue keeps the batch and tries
//! again later.

pub(crate) mod retry;

use std::time::Duration;

use weir_config::NodeReader;
use weir_engine::NodeError;

use crate::ExportError;

pub use retry::{Backoff, retry};

/// Exponential backoff with full jitter between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    /// Upper bound of the first wait. Default 100 ms.
    pub initial: Duration,
    /// Upper bound of any wait. Default 5 s.
    pub max: Duration,
    /// Give up once this long has passed since the first attempt; `0s`
    /// disables retries. Default 60 s.
    pub max_elapsed: Duration,
}

impl RetryConfig {
    /// Default `initial`.
    pub const DEFAULT_INITIAL: Duration = Duration::from_millis(100);
    /// Default `max`.
    pub const DEFAULT_MAX: Duration = Duration::from_secs(5);
    /// Default `max-elapsed`.
    pub const DEFAULT_MAX_ELAPSED: Duration = Duration::from_secs(60);
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            initial: Self::DEFAULT_INITIAL,
            max: Self::DEFAULT_MAX,
            max_elapsed: Self::DEFAULT_MAX_ELAPSED,
        }
    }
}

/// Reads `retry { initial "100ms" max "5s" max-elapsed "60s" }`.
pub fn read_retry(r: &mut NodeReader<'_>) -> RetryConfig {
    let mut c = RetryConfig::default();
    if let Some(d) = r.duration("initial") {
        c.initial = d;
    }
    if let Some(d) = r.duration("max") {
        c.max = d;
    }
    if let Some(d) = r.duration("max-elapsed") {
        c.max_elapsed = d;
    }
    if c.initial > c.max {
        let span = r.span();
        r.invalid(
            span,
            format!(
                "`initial` ({:?}) is larger than `max` ({:?})",
                c.initial, c.max
            ),
            "make `initial` at most `max`",
        );
    }
    c
}

/// A [`NodeError`] for a batch that `err` kept from its backend: permanent
/// failures are [`NodeError::Rejected`], the others [`NodeError::External`].
pub fn node_error(what: impl Into<String>, err: ExportError) -> NodeError {
    if err.is_permanent() {
        NodeError::rejected(what, err)
    } else {
        NodeError::external(what, err)
    }
}
