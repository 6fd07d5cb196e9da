//! The scrape loop of one target: fetch, parse into a batch, staleness,
//! health series.
//!
//! Each scrape becomes one metrics batch holding one resource (the
//! target: `service.name` = job, `service.instance.id` = instance,
//! `server.address`, `server.port`, `url.scheme`), the scraped points, the
//! staleness markers of series that disappeared since the last scrape, and
//! the target's health gauges, as Prometheus records them: `up`,
//! `scrape_duration_seconds`, `scrape_samples_scraped`,
//! `scrape_samples_post_metric_relabeling`, `scrape_series_added`.
//!
//! A failed scrape (no answer, an error status, a body too large or not
//! valid) records `up` 0, marks every series of the last good scrape stale,
//! and logs the reason once per change of reason.

use std::hash::{Hash as _, Hasher as _};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use weir_engine::Message;
use weir_engine::channel::Output;
use weir_pdata::build::{MetricHeader, MetricTablesBuilder};
use weir_pdata::schema::MetricType;
use weir_pdata::{Batch, Signal};

use super::config::JobConfig;
use super::discovery::Target;
use super::ingest::{Ingest, NO_RECORDED_VALUE, Outcome, Pass, STALE_NAN, SeriesSet, ingest};
use super::parser::Format;
use super::scrape::{self, Request};

/// The instrumentation scope of scraped points.
pub const SCOPE_NAME: &str = "weir.prometheus";

/// How a target loop is told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Keep scraping.
    Run,
    /// The target disappeared: write staleness markers, then stop.
    Removed,
    /// The receiver stops: stop without markers.
    Shutdown,
}

/// Everything one target loop needs.
pub struct TargetLoop {
    /// The receiver's node name (for logs).
    pub node: String,
    /// The job.
    pub job: Arc<JobConfig>,
    /// The target.
    pub target: Target,
    /// The shared HTTP client.
    pub client: reqwest::Client,
    /// Where batches go.
    pub output: Output,
}

struct State {
    hasher: foldhash::fast::FixedState,
    current: SeriesSet,
    previous: SeriesSet,
    prev_body: Vec<u8>,
    prev_format: Format,
    has_prev: bool,
    buf: Vec<u8>,
    scratch: Vec<u8>,
    last_error: Option<String>,
    warned_duplicates: bool,
    last_points: usize,
    health_written: bool,
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl TargetLoop {
    /// Scrapes every `interval` until told to stop.
    pub async fn run(self, mut stop: watch::Receiver<Stop>) {
        let mut state = State {
            hasher: foldhash::fast::FixedState::with_seed(0x5eed),
            current: SeriesSet::default(),
            previous: SeriesSet::default(),
            prev_body: Vec::new(),
            prev_format: Format::Text,
            has_prev: false,
            buf: Vec::new(),
            scratch: Vec::new(),
            last_error: None,
            warned_duplicates: false,
            last_points: 0,
            health_written: false,
        };
        // Spread targets over the interval, deterministically per target.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.target.key.hash(&mut h);
        let interval = self.job.interval;
        let nanos = u64::try_from(interval.as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        let offset = Duration::from_nanos(h.finish() % nanos);
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + offset, interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.changed() => {}
            }
            match *stop.borrow() {
                Stop::Run => {}
                Stop::Removed => break,
                Stop::Shutdown => return,
            }
            let batch = self.scrape_once(&mut state).await;
            if let Some(batch) = batch {
                tokio::select! {
                    r = self.output.send(Message::new(batch)) => if r.is_err() { return },
                    _ = stop.changed() => {
                        if *stop.borrow() == Stop::Shutdown {
                            return;
                        }
                    }
                }
            }
        }
        // Removed: every series of the last scrape, and the health series,
        // become stale.
        if let Some(batch) = self.removed(&mut state) {
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                self.output.send(Message::new(batch)),
            )
            .await;
        }
    }

    fn begin(&self, points: usize) -> (MetricTablesBuilder, u32) {
        let mut b = MetricTablesBuilder::with_capacity(points + 8);
        let (host, port) = split_host_port(&self.target.address);
        let mut attrs: Vec<(&str, &str)> = vec![
            ("service.name", self.target.labels.job.as_str()),
            ("service.instance.id", self.target.labels.instance.as_str()),
            ("server.address", host),
        ];
        if !port.is_empty() {
            attrs.push(("server.port", port));
        }
        attrs.push(("url.scheme", self.job.scheme.as_str()));
        // Cannot fail: one resource and one scope.
        let sid = b
            .resource(&attrs)
            .and_then(|r| b.scope(r, SCOPE_NAME, env!("CARGO_PKG_VERSION")))
            .unwrap_or(0);
        (b, sid)
    }

    async fn scrape_once(&self, st: &mut State) -> Option<Batch> {
        let scrape_ms = unix_ms(SystemTime::now());
        let started = Instant::now();
        let req = Request {
            url: &self.target.url,
            auth: self.job.auth.as_ref(),
            limit: self.job.body_size_limit,
            timeout: self.job.timeout,
        };
        let fetched = scrape::fetch(&self.client, &req, &mut st.buf, &mut st.scratch).await;
        let (mut b, sid) = self.begin(st.last_points);
        let ing = Ingest {
            target: &self.target.labels,
            metric_relabel: &self.job.metric_relabel,
            scrape_ms,
            scope_id: sid,
            sample_limit: self.job.sample_limit,
            hasher: &st.hasher,
        };
        st.current.clear();
        let mut outcome = Outcome::default();
        let mut format = Format::Text;
        let error: Option<String> = match fetched {
            Err(e) => Some(e.to_string()),
            Ok(f) => {
                format = f;
                match std::str::from_utf8(&st.buf) {
                    Err(e) => Some(scrape::ScrapeError::Utf8(e).to_string()),
                    Ok(text) => {
                        let pass = Pass::Live {
                            current: &mut st.current,
                            previous: &st.previous,
                        };
                        match ingest(&ing, text, format, pass, &mut b) {
                            Ok(o) => {
                                outcome = o;
                                None
                            }
                            Err(e) => Some(e.to_string()),
                        }
                    }
                }
            }
        };
        if error.is_some() {
            // Nothing of a refused body is kept.
            st.current.clear();
            b = self.begin(st.last_points).0;
        }
        let duration = started.elapsed();
        if st.has_prev
            && (error.is_some() || outcome.seen_again < st.previous.len())
            && let Ok(prev) = std::str::from_utf8(&st.prev_body)
        {
            let pass = Pass::Stale {
                current: &st.current,
            };
            if let Err(e) = ingest(&ing, prev, st.prev_format, pass, &mut b) {
                tracing::debug!(node = %self.node, error = %e, "Cannot re-read the previous scrape for staleness markers.");
            }
        }
        let up = error.is_none();
        self.health(&mut b, sid, scrape_ms, up, duration, &outcome);
        st.health_written = true;
        self.log(st, error, &outcome);
        if up {
            std::mem::swap(&mut st.prev_body, &mut st.buf);
            st.prev_format = format;
            st.has_prev = true;
            std::mem::swap(&mut st.previous, &mut st.current);
        } else {
            st.has_prev = false;
            st.previous.clear();
        }
        st.last_points = b.points();
        match b.finish() {
            Ok(tables) => Some(Batch::from_tables(Signal::Metrics, tables)),
            Err(e) => {
                tracing::error!(node = %self.node, target = %self.target.url, error = %e, "Cannot build the scrape's batch.");
                None
            }
        }
    }

    fn log(&self, st: &mut State, error: Option<String>, outcome: &Outcome) {
        let job = &self.job.name;
        let target = &self.target.url;
        match (&error, &st.last_error) {
            (Some(e), last) if last.as_ref() != Some(e) => {
                tracing::warn!(node = %self.node, %job, %target, error = %e, "Scrape failed; up is 0.");
            }
            (None, Some(_)) => {
                tracing::info!(node = %self.node, %job, %target, samples = outcome.samples, "Scrape succeeded again; up is 1.");
            }
            _ => {}
        }
        if outcome.duplicates > 0 && !st.warned_duplicates {
            st.warned_duplicates = true;
            tracing::warn!(node = %self.node, %job, %target, duplicates = outcome.duplicates, "The target exposes the same series more than once; keeping the first of each.");
        }
        st.last_error = error;
    }

    fn health(
        &self,
        b: &mut MetricTablesBuilder,
        sid: u32,
        scrape_ms: i64,
        up: bool,
        duration: Duration,
        o: &Outcome,
    ) {
        let values = [
            (
                "up",
                "1 if the target was scraped, 0 if not.",
                if up { 1.0 } else { 0.0 },
            ),
            (
                "scrape_duration_seconds",
                "How long the scrape took.",
                duration.as_secs_f64(),
            ),
            (
                "scrape_samples_scraped",
                "Samples the target exposed.",
                o.samples as f64,
            ),
            (
                "scrape_samples_post_metric_relabeling",
                "Samples left after metric relabelling.",
                o.post_relabel as f64,
            ),
            (
                "scrape_series_added",
                "Series new since the last scrape.",
                o.added as f64,
            ),
        ];
        let time = u64::try_from(scrape_ms)
            .unwrap_or(0)
            .saturating_mul(1_000_000);
        for (name, help, value) in values {
            self.health_point(b, sid, name, help, time, value, 0);
        }
    }

    #[allow(clippy::too_many_arguments, reason = "one gauge point")]
    fn health_point(
        &self,
        b: &mut MetricTablesBuilder,
        sid: u32,
        name: &str,
        help: &str,
        time: u64,
        value: f64,
        flags: u32,
    ) {
        let header = MetricHeader {
            scope_id: sid,
            name,
            description: help,
            unit: "",
            metric_type: MetricType::Gauge,
            temporality: None,
            monotonic: None,
        };
        if b.metric(&header).is_ok() {
            for (k, v) in &self.target.labels.extra {
                b.attr(k, v);
            }
            let _ = b.number(0, time, value, flags);
        }
    }

    fn removed(&self, st: &mut State) -> Option<Batch> {
        let scrape_ms = unix_ms(SystemTime::now());
        let (mut b, sid) = self.begin(st.last_points);
        if st.has_prev
            && let Ok(prev) = std::str::from_utf8(&st.prev_body)
        {
            let empty = SeriesSet::default();
            let ing = Ingest {
                target: &self.target.labels,
                metric_relabel: &self.job.metric_relabel,
                scrape_ms,
                scope_id: sid,
                sample_limit: 0,
                hasher: &st.hasher,
            };
            let _ = ingest(
                &ing,
                prev,
                st.prev_format,
                Pass::Stale { current: &empty },
                &mut b,
            );
        }
        if st.health_written {
            let time = u64::try_from(scrape_ms)
                .unwrap_or(0)
                .saturating_mul(1_000_000);
            for name in [
                "up",
                "scrape_duration_seconds",
                "scrape_samples_scraped",
                "scrape_samples_post_metric_relabeling",
                "scrape_series_added",
            ] {
                self.health_point(
                    &mut b,
                    sid,
                    name,
                    "",
                    time,
                    f64::from_bits(STALE_NAN),
                    NO_RECORDED_VALUE,
                );
            }
        }
        tracing::info!(node = %self.node, job = %self.job.name, target = %self.target.url, "Target removed; its series are marked stale.");
        b.finish()
            .ok()
            .map(|t| Batch::from_tables(Signal::Metrics, t))
    }
}

/// `host` and `port` of `host:port` (`[v6]:port` too).
pub fn split_host_port(address: &str) -> (&str, &str) {
    if let Some(rest) = address.strip_prefix('[')
        && let Some((host, port)) = rest.split_once("]:")
    {
        return (host, port);
    }
    match address.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, p),
        _ => (address, ""),
    }
}
