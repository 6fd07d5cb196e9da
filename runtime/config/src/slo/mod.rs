//! Service level objectives: the `slo "name" { ... }` blocks of a pipeline
//! file, as typed definitions.
//!
//! ```kdl
//! slo "query-availability" {
//!     service "query"
//!     objective 99.9                 // percent of events that must be good
//!     window "28d"                   // the SLO's compliance window
//!     sli "availability" {           // or "latency" (with `threshold`)
//!         spans "otlp"               // spans of node "otlp"; or `logs "otlp"`,
//!         route "/api/v1/query"      // or `metrics { total "..."; bad "..." }`
//!     }
//!     // alerting { page { window long="1h" short="5m" burn-rate=14.4 } ... }
//! }
//! ```
//!
//! [`read`] checks each block (reporting every problem at once);
//! [`wiring`] turns the SLOs whose SLI comes from spans or logs into the
//! `builtin:sli` processor nodes that count good and bad events in-stream.
//! The Prometheus rules and the Grafana dashboard are generated from the
//! same definitions by `weir slo` (crate `weir-slo`). The reference is
//! `docs/slo.md`.

mod read;
mod wiring;

use std::time::Duration;

use crate::values::Spanned;

pub use read::{read, stream_source};
pub use wiring::{SLO_NODE, sli_node_name, wiring};

/// One `slo "name" { ... }` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    /// The SLO's name (letters, digits, `-` and `_`), the `slo` label of
    /// every series and alert generated for it.
    pub name: Spanned<String>,
    /// The service it is about: the `service` label, and the
    /// `service.name` the SLI's spans or logs must have.
    pub service: String,
    /// What the SLO promises, in words (alert descriptions, dashboard).
    pub description: Option<String>,
    /// The fraction of events that must be good, in (0, 1): `0.999` for
    /// `objective 99.9`.
    pub objective: f64,
    /// The compliance window of the error budget. Default 28 days.
    pub window: Duration,
    /// What counts as a good event, and where the events come from.
    pub sli: Sli,
    /// The burn-rate alerts.
    pub alerting: Alerting,
    /// Extra labels on every generated series and alert (`team`, `tier`).
    pub labels: Vec<(String, String)>,
}

impl Slo {
    /// Default `window`: 28 days (four whole weeks, so every window holds
    /// the same weekdays).
    pub const DEFAULT_WINDOW: Duration = Duration::from_secs(28 * 86_400);

    /// The error budget: the fraction of events allowed to be bad.
    pub fn error_budget(&self) -> f64 {
        1.0 - self.objective
    }

    /// Every distinct window the rules need (alert windows and the SLO's
    /// window), shortest first.
    pub fn windows(&self) -> Vec<Duration> {
        let mut w: Vec<Duration> = self
            .alerting
            .all()
            .flat_map(|(_, b)| [b.short, b.long])
            .chain(std::iter::once(self.window))
            .collect();
        w.sort();
        w.dedup();
        w
    }
}

/// The service level indicator: what is measured, from which events.
#[derive(Debug, Clone, PartialEq)]
pub struct Sli {
    /// Availability or latency.
    pub kind: SliKind,
    /// Spans, logs or existing metrics.
    pub source: SliSource,
}

/// What makes an event good.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SliKind {
    /// Good unless failed: span status ERROR or HTTP status >= 500; log
    /// severity ERROR or above.
    Availability,
    /// Good when the span's duration is at most `threshold`.
    Latency {
        /// The longest good duration. `None` for a metrics source, whose
        /// `good` selector holds the threshold (a histogram bucket's `le`).
        threshold: Option<Duration>,
    },
}

impl SliKind {
    /// `availability` or `latency`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SliKind::Availability => "availability",
            SliKind::Latency { .. } => "latency",
        }
    }
}

/// Where the SLI's events come from.
#[derive(Debug, Clone, PartialEq)]
pub enum SliSource {
    /// Spans or log records flowing out of a pipeline node, classified
    /// in-stream by the `builtin:sli` plugin.
    Stream {
        /// Spans or logs.
        signal: StreamSignal,
        /// The receiver or processor whose output is read.
        from: Spanned<String>,
        /// Only records whose `http.route` is this.
        route: Option<String>,
        /// Only spans of this kind (`server`, `client`, ...).
        span_kind: Option<String>,
    },
    /// Counters that already exist in Prometheus.
    Metrics {
        /// A PromQL selector of the counter of all events.
        total: String,
        /// A selector of the good (or the bad) events' counter.
        count: MetricCount,
    },
}

/// Which events a metrics source's second selector counts.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricCount {
    /// `good "<selector>"`.
    Good(String),
    /// `bad "<selector>"`.
    Bad(String),
}

/// The signal of a stream source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StreamSignal {
    /// Spans (`spans "node"`).
    Spans,
    /// Log records (`logs "node"`).
    Logs,
}

impl StreamSignal {
    /// `spans` or `logs`.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamSignal::Spans => "spans",
            StreamSignal::Logs => "logs",
        }
    }
}

/// A multi-window burn-rate condition: the alert fires when the error
/// budget burns faster than `burn_rate` over both windows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnWindow {
    /// The long window (how much budget was spent).
    pub long: Duration,
    /// The short window (is it still burning), usually a twelfth of the
    /// long one.
    pub short: Duration,
    /// How many times faster than sustainable the budget burns.
    pub burn_rate: f64,
    /// How long the condition must hold before the alert fires. Default
    /// none: the short window already filters blips.
    pub for_: Option<Duration>,
}

/// The alerts of one SLO, by severity.
#[derive(Debug, Clone, PartialEq)]
pub struct Alerting {
    /// Alerts that page someone.
    pub page: Vec<BurnWindow>,
    /// Alerts that open a ticket.
    pub ticket: Vec<BurnWindow>,
}

impl Alerting {
    /// Every condition with its severity (`page`, `ticket`).
    pub fn all(&self) -> impl Iterator<Item = (&'static str, &BurnWindow)> {
        self.page
            .iter()
            .map(|w| ("page", w))
            .chain(self.ticket.iter().map(|w| ("ticket", w)))
    }
}

const fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

const fn minutes(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

impl Default for Alerting {
    /// The SRE workbook's multi-window, multi-burn-rate alerts (chapter 5,
    /// "Alerting on SLOs"), for a 30-day budget: page on 2% of the budget
    /// spent in 1 h (14.4×) or 5% in 6 h (6×); ticket on 10% in 1 day (3×)
    /// or 10% in 3 days (1×). Each short window is 1/12 of its long one.
    fn default() -> Self {
        let w = |long, short, burn_rate| BurnWindow {
            long,
            short,
            burn_rate,
            for_: None,
        };
        Alerting {
            page: vec![w(hours(1), minutes(5), 14.4), w(hours(6), minutes(30), 6.0)],
            ticket: vec![w(hours(24), hours(2), 3.0), w(hours(72), hours(6), 1.0)],
        }
    }
}

/// A duration as Prometheus writes it (`5m`, `1h`, `28d`, `90s`): the
/// largest unit that divides it exactly.
pub fn prometheus_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    for (unit, size) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests;
