//! The limits a plugin call runs under (`limits { ... }` in KDL).

use std::time::Duration;

/// Bounds on one call into a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most linear memory the instance may have, in bytes. Default
    /// 64 MiB. Exceeding it traps the call (`memory`).
    pub memory: usize,
    /// Wall-clock budget of one call, enforced by epoch interruption with a
    /// resolution of [`crate::engine::EPOCH_TICK`]. Default 100 ms.
    pub timeout: Duration,
    /// Bytes a call may write (columns, attributes, metric points). Default
    /// 64 MiB. A write past it is refused with `limit-exceeded` and the
    /// batch fails (`output`).
    pub max_output: u64,
    /// Host calls one call may make. Default 10 000; each is a batch-wide
    /// operation, so real plugins make a handful. Exceeding it traps the
    /// call (`host_calls`).
    pub host_calls: u64,
}

impl Limits {
    /// Default `memory`.
    pub const DEFAULT_MEMORY: usize = 64 << 20;
    /// Default `timeout`.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(100);
    /// Default `max-output`.
    pub const DEFAULT_MAX_OUTPUT: u64 = 64 << 20;
    /// Default `host-calls`.
    pub const DEFAULT_HOST_CALLS: u64 = 10_000;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: Self::DEFAULT_MEMORY,
            timeout: Self::DEFAULT_TIMEOUT,
            max_output: Self::DEFAULT_MAX_OUTPUT,
            host_calls: Self::DEFAULT_HOST_CALLS,
        }
    }
}
