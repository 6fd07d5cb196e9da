//! The circuit breaker of a plugin node: after `failures` consecutive
//! failures the plugin is bypassed (the node applies `on-error` without
//! calling it) for a backoff that doubles each time a trial call fails.

use std::time::{Duration, Instant};

use crate::processor::config::CircuitConfig;

/// Whether to call the plugin now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Closed: call it.
    Closed,
    /// Open, backoff elapsed: call it once to see if it recovered.
    Trial,
    /// Open: do not call it.
    Open,
}

/// A circuit breaker.
#[derive(Debug)]
pub struct Breaker {
    config: CircuitConfig,
    consecutive: u32,
    open_until: Option<Instant>,
    backoff: Duration,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(config: CircuitConfig) -> Self {
        Breaker {
            config,
            consecutive: 0,
            open_until: None,
            backoff: config.backoff,
        }
    }

    /// Whether a call may go through at `now`.
    pub fn gate(&self, now: Instant) -> Gate {
        match self.open_until {
            None => Gate::Closed,
            Some(t) if now >= t => Gate::Trial,
            Some(_) => Gate::Open,
        }
    }

    /// Whether the breaker is open (including while a trial is due).
    pub fn is_open(&self) -> bool {
        self.open_until.is_some()
    }

    /// A call succeeded; returns whether this closed the breaker.
    pub fn success(&mut self) -> bool {
        self.consecutive = 0;
        self.backoff = self.config.backoff;
        self.open_until.take().is_some()
    }

    /// A call failed at `now`; returns the pause if this opened (or
    /// re-opened) the breaker.
    pub fn failure(&mut self, now: Instant) -> Option<Duration> {
        self.consecutive = self.consecutive.saturating_add(1);
        if self.open_until.is_some() {
            // A trial failed: stay open, longer.
            self.backoff = (self.backoff * 2).min(self.config.max_backoff);
        } else if self.consecutive >= self.config.failures {
            self.backoff = self.config.backoff;
        } else {
            return None;
        }
        self.open_until = Some(now + self.backoff);
        Some(self.backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_and_backs_off() {
        let config = CircuitConfig {
            failures: 3,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(3),
        };
        let mut b = Breaker::new(config);
        let t0 = Instant::now();
        assert_eq!(b.failure(t0), None);
        assert!(!b.success());
        assert_eq!(b.failure(t0), None);
        assert_eq!(b.failure(t0), None);
        assert_eq!(b.failure(t0), Some(Duration::from_secs(1)));
        assert_eq!(b.gate(t0), Gate::Open);
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(b.gate(t1), Gate::Trial);
        assert_eq!(b.failure(t1), Some(Duration::from_secs(2)));
        let t2 = t1 + Duration::from_secs(2);
        assert_eq!(b.failure(t2), Some(Duration::from_secs(3)));
        assert_eq!(b.failure(t2), Some(Duration::from_secs(3)));
        assert!(b.success());
        assert_eq!(b.gate(t2), Gate::Closed);
    }
}
