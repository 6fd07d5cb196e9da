//! Retries with exponential backoff and full jitter.
//!
//! Attempt `n` (from 0) waits a random time between 0 and
//! `min(max, initial * 2^n)` ("full jitter", which spreads the retries of
//! many clients of one recovering backend). A wait the backend asked for
//! (`Retry-After`) is honoured instead. Only errors that
//! [`ExportError::is_retryable`] says may succeed are retried, and only
//! while the next attempt would start within `max-elapsed` of the first.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::RetryConfig;
use crate::ExportError;

/// The waits between attempts of one export.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: RetryConfig,
    attempt: u32,
}

impl Backoff {
    /// A new sequence of waits.
    pub fn new(config: RetryConfig) -> Self {
        Backoff { config, attempt: 0 }
    }

    /// The upper bound of the next wait, then moves on.
    fn next_cap(&mut self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.attempt = self.attempt.saturating_add(1);
        self.config
            .initial
            .saturating_mul(factor)
            .min(self.config.max)
    }

    /// The next wait: uniformly random in `0..=cap`.
    pub fn next_delay(&mut self) -> Duration {
        let cap = self.next_cap();
        let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(fastrand::u64(0..=nanos))
    }
}

/// Runs `attempt` until it succeeds, fails permanently or the retry budget
/// is spent. `on_retry` is told of each failure that will be retried, with
/// the attempt number (from 1) and the wait.
///
/// # Errors
/// The permanent error; or, after retries, [`ExportError::RetriesExhausted`]
/// with the last error.
pub async fn retry<T, F, Fut>(
    config: RetryConfig,
    mut attempt: F,
    mut on_retry: impl FnMut(&ExportError, u32, Duration),
) -> Result<T, ExportError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ExportError>>,
{
    let start = Instant::now();
    let mut backoff = Backoff::new(config);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let err = match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if !err.is_retryable() {
            return Err(err);
        }
        let jitter = backoff.next_delay();
        let delay = err.retry_after().unwrap_or(jitter);
        let elapsed = start.elapsed();
        if elapsed + delay > config.max_elapsed {
            if attempts == 1 && config.max_elapsed.is_zero() {
                return Err(err);
            }
            return Err(ExportError::RetriesExhausted {
                attempts,
                elapsed,
                last: Box::new(err),
            });
        }
        on_retry(&err, attempts, delay);
        tokio::time::sleep(delay).await;
    }
}
