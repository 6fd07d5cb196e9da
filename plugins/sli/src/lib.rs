//! The `sli` plugin: classifies spans and logs against SLO definitions and
//! counts good and bad events, the input of error budgets and burn rates.
//!
//! ```kdl
//! processor "sli" type="wasm" {
//!     from "otlp"
//!     plugin "builtin:sli"
//!     tick "10s"                           // emit the counters every 10 s
//!     config {
//!         slo "checkout-availability" {
//!             service "checkout"           // resource service.name (optional)
//!             route "/api/checkout"        // record http.route (optional)
//!             kind "server"                // span kind (optional)
//!             signal "spans"               // "spans" or "logs" (optional: both)
//!             sli "availability"           // bad: status ERROR or HTTP >= 500
//!         }
//!         slo "checkout-latency" {
//!             service "checkout"
//!             sli "latency"
//!             threshold "300ms"            // good: duration <= threshold
//!         }
//!     }
//! }
//! ```
//!
//! Each record that matches an SLO's filters is one event, `good` or `bad`.
//! The counts are cumulative monotonic sums named `weir.sli.events` (unit
//! `{event}`; `weir_sli_events_total` in Prometheus) with attributes `slo`,
//! `outcome` (`good`, `bad`) and, when the SLO names one, `service`. They
//! are emitted on the node's `tick` and also, when the node has no tick,
//! from `process` every `emit-every` (default 10 s). Spans pass through
//! unchanged.
//!
//! Availability: a span is bad when its status is ERROR, or its
//! `http.response.status_code` (or the older `http.status_code`) is 500 or
//! more; a log record is bad at severity ERROR (17) or above. Latency: a
//! span is good when `end_time - start_time` is at most `threshold`; logs
//! have no latency. The counters survive a hot reload (`snapshot-state`).

use weir_plugin::{
    Batch, Column, Config, MetricKind, MetricPoint, Plugin, PluginError, Scope, Signal, services,
};

fn invalid(message: impl std::fmt::Display) -> PluginError {
    PluginError::InvalidConfig(message.to_string())
}

/// Parses `"300ms"`, `"1s"`, `"2m"`, `"250us"` into nanoseconds.
fn duration_ns(s: &str) -> Result<i64, PluginError> {
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| invalid(format!("invalid duration {s:?} (write \"300ms\")")))?;
    let scale = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        _ => return Err(invalid(format!("invalid duration {s:?} (ns, us, ms, s or m)"))),
    };
    Ok((n * scale) as i64)
}

/// Span kinds by name (OTLP's `SpanKind` numbers).
fn kind_number(s: &str) -> Result<i32, PluginError> {
    Ok(match s {
        "internal" => 1,
        "server" => 2,
        "client" => 3,
        "producer" => 4,
        "consumer" => 5,
        other => {
            return Err(invalid(format!(
                "unknown span kind {other:?} (internal, server, client, producer, consumer)"
            )));
        }
    })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Indicator {
    Availability,
    Latency { threshold_ns: i64 },
}

#[derive(Debug, Clone)]
struct Slo {
    name: String,
    service: Option<String>,
    route: Option<String>,
    kind: Option<i32>,
    /// Only records of this signal (spans or logs); `None` counts both.
    signal: Option<Signal>,
    indicator: Indicator,
    good: u64,
    bad: u64,
}

impl Slo {
    fn parse(name: &str, c: &Config) -> Result<Slo, PluginError> {
        let err = |e: PluginError| match e {
            PluginError::InvalidConfig(m) => invalid(format!("slo {name:?}: {m}")),
            other => other,
        };
        c.deny_unknown(&["service", "route", "kind", "sli", "threshold", "signal"])
            .map_err(err)?;
        let indicator = match c.get("sli").unwrap_or("availability") {
            "availability" => {
                if c.get("threshold").is_some() {
                    return Err(err(invalid("`threshold` is for `sli \"latency\"`")));
                }
                Indicator::Availability
            }
            "latency" => Indicator::Latency {
                threshold_ns: duration_ns(
                    c.require("threshold")
                        .map_err(|_| err(invalid("`sli \"latency\"` needs `threshold \"300ms\"`")))?,
                )
                .map_err(err)?,
            },
            other => {
                return Err(err(invalid(format!(
                    "unknown sli {other:?} (availability or latency)"
                ))));
            }
        };
        let signal = match c.get("signal") {
            None => None,
            Some("spans" | "traces") => Some(Signal::Traces),
            Some("logs") => Some(Signal::Logs),
            Some(other) => {
                return Err(err(invalid(format!(
                    "unknown signal {other:?} (spans or logs)"
                ))));
            }
        };
        Ok(Slo {
            name: name.to_string(),
            signal,
            service: c.get("service").map(str::to_string),
            route: c.get("route").map(str::to_string),
            kind: c.get("kind").map(kind_number).transpose().map_err(err)?,
            indicator,
            good: 0,
            bad: 0,
        })
    }
}

/// The columns and attributes one batch is classified with.
struct Facts {
    signal: Signal,
    rows: usize,
    services: Vec<Option<String>>,
    routes: Vec<Option<String>>,
    kinds: Option<Vec<i32>>,
    failed: Vec<bool>,
    durations: Option<Vec<i64>>,
}

fn i32s(c: Option<&Column>) -> Option<Vec<i32>> {
    c.and_then(Column::i32).map(<[i32]>::to_vec)
}

impl Facts {
    fn read(batch: &Batch<'_>, signal: Signal) -> Result<Facts, PluginError> {
        let rows = batch.len();
        let resource_index = batch.resource_index();
        let resources = batch.attributes(Scope::Resource, &["service.name"])?;
        let names = resources.get("service.name");
        let services = resource_index
            .iter()
            .map(|&r| {
                names
                    .as_ref()
                    .and_then(|v| v.str(r as usize))
                    .map(str::to_string)
            })
            .collect();
        let attrs = batch.attributes(
            Scope::Record,
            &["http.route", "http.response.status_code", "http.status_code"],
        )?;
        let route = attrs.get("http.route");
        let routes = (0..rows)
            .map(|i| route.as_ref().and_then(|v| v.str(i)).map(str::to_string))
            .collect();
        let http_status = |i: usize| {
            ["http.response.status_code", "http.status_code"]
                .iter()
                .find_map(|k| {
                    let v = attrs.get(k)?;
                    v.int(i).or_else(|| v.str(i).and_then(|s| s.parse().ok()))
                })
        };
        match signal {
            Signal::Traces => {
                let cols = batch.columns(&["status.code", "kind", "start_time", "end_time"])?;
                let status = cols.get("status.code");
                let codes = i32s(status);
                let failed = (0..rows)
                    .map(|i| {
                        let error = status.is_some_and(|c| c.is_valid(i))
                            && codes.as_ref().and_then(|c| c.get(i)) == Some(&2);
                        error || http_status(i).is_some_and(|s| s >= 500)
                    })
                    .collect();
                let durations = match (
                    cols.get("start_time").and_then(Column::timestamps),
                    cols.get("end_time").and_then(Column::timestamps),
                ) {
                    (Some(s), Some(e)) => Some(s.iter().zip(e).map(|(s, e)| e - s).collect()),
                    _ => None,
                };
                Ok(Facts {
                    signal,
                    rows,
                    services,
                    routes,
                    kinds: i32s(cols.get("kind")),
                    failed,
                    durations,
                })
            }
            Signal::Logs => {
                let cols = batch.columns(&["severity_number"])?;
                let severity = i32s(cols.get("severity_number")).unwrap_or_default();
                let failed = (0..rows)
                    .map(|i| {
                        severity.get(i).is_some_and(|s| *s >= 17)
                            || http_status(i).is_some_and(|s| s >= 500)
                    })
                    .collect();
                Ok(Facts {
                    signal,
                    rows,
                    services,
                    routes,
                    kinds: None,
                    failed,
                    durations: None,
                })
            }
            Signal::Metrics => Ok(Facts {
                signal,
                rows: 0,
                services,
                routes,
                kinds: None,
                failed: Vec::new(),
                durations: None,
            }),
        }
    }
}

/// Counts good and bad events per SLO.
struct Sli {
    slos: Vec<Slo>,
    start: i64,
    emit_every: i64,
    last_emit: i64,
}

const METRIC: &str = "weir.sli.events";

impl Sli {
    fn points(&self, now: i64) -> Vec<MetricPoint> {
        let mut out = Vec::with_capacity(self.slos.len() * 2);
        for slo in &self.slos {
            for (outcome, value) in [("good", slo.good), ("bad", slo.bad)] {
                let mut attributes = vec![
                    ("slo".to_string(), slo.name.clone()),
                    ("outcome".to_string(), outcome.to_string()),
                ];
                if let Some(s) = &slo.service {
                    attributes.push(("service".to_string(), s.clone()));
                }
                out.push(MetricPoint {
                    name: METRIC.to_string(),
                    description: "Events classified against an SLO, good or bad.".to_string(),
                    unit: "{event}".to_string(),
                    kind: MetricKind::Counter,
                    attributes,
                    start_time: self.start,
                    time: now,
                    value: value as f64,
                    bounds: Vec::new(),
                    counts: Vec::new(),
                });
            }
        }
        out
    }

    fn classify(&mut self, facts: &Facts) {
        for slo in &mut self.slos {
            if slo.signal.is_some_and(|s| s != facts.signal) {
                continue;
            }
            for i in 0..facts.rows {
                if slo
                    .service
                    .as_ref()
                    .is_some_and(|s| facts.services.get(i).and_then(Option::as_ref) != Some(s))
                {
                    continue;
                }
                if slo
                    .route
                    .as_ref()
                    .is_some_and(|r| facts.routes.get(i).and_then(Option::as_ref) != Some(r))
                {
                    continue;
                }
                if let Some(k) = slo.kind
                    && facts.kinds.as_ref().and_then(|ks| ks.get(i)) != Some(&k)
                {
                    continue;
                }
                let good = match slo.indicator {
                    Indicator::Availability => !facts.failed.get(i).copied().unwrap_or(false),
                    Indicator::Latency { threshold_ns } => {
                        match facts.durations.as_ref().and_then(|d| d.get(i)) {
                            Some(d) => *d <= threshold_ns,
                            // Logs have no duration: not latency events.
                            None => continue,
                        }
                    }
                };
                if good {
                    slo.good += 1;
                } else {
                    slo.bad += 1;
                }
            }
        }
    }
}

impl Plugin for Sli {
    fn init(config: &Config) -> Result<Self, PluginError> {
        config.deny_unknown(&["slo.", "emit-every"])?;
        let slos = config
            .sections("slo")
            .iter()
            .map(|(name, c)| Slo::parse(name, c))
            .collect::<Result<Vec<_>, _>>()?;
        if slos.is_empty() {
            return Err(invalid("no SLO: add `slo \"name\" { sli \"availability\" }`"));
        }
        let now = services::now();
        Ok(Sli {
            slos,
            start: now,
            emit_every: duration_ns(config.get("emit-every").unwrap_or("10s"))?,
            last_emit: now,
        })
    }

    fn process(&mut self, batch: &Batch<'_>) -> Result<(), PluginError> {
        let signal = batch.signal();
        if signal == Signal::Metrics || batch.is_empty() {
            return Ok(());
        }
        let facts = Facts::read(batch, signal)?;
        self.classify(&facts);
        let now = services::now();
        if now - self.last_emit >= self.emit_every {
            self.last_emit = now;
            batch.emit_metrics(&self.points(now))?;
        }
        Ok(())
    }

    fn tick(&mut self, now: i64) -> Result<Vec<MetricPoint>, PluginError> {
        self.last_emit = now;
        Ok(self.points(now))
    }

    fn snapshot_state(&self) -> Vec<u8> {
        let mut out = format!("v1\t{}\n", self.start);
        for s in &self.slos {
            out.push_str(&format!("{}\t{}\t{}\n", s.name, s.good, s.bad));
        }
        out.into_bytes()
    }

    fn restore_state(&mut self, state: &[u8]) -> Result<(), PluginError> {
        let text = std::str::from_utf8(state)
            .map_err(|_| PluginError::Failed("state is not UTF-8".to_string()))?;
        let mut lines = text.lines();
        let Some(start) = lines
            .next()
            .and_then(|l| l.strip_prefix("v1\t"))
            .and_then(|s| s.parse().ok())
        else {
            return Err(PluginError::Failed("unknown state format".to_string()));
        };
        self.start = start;
        for line in lines {
            let mut f = line.split('\t');
            if let (Some(name), Some(good), Some(bad)) = (f.next(), f.next(), f.next())
                && let Some(slo) = self.slos.iter_mut().find(|s| s.name == name)
            {
                slo.good = good.parse().unwrap_or(0);
                slo.bad = bad.parse().unwrap_or(0);
            }
        }
        Ok(())
    }
}

weir_plugin::export_plugin!(Sli);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_ns("300ms").ok(), Some(300_000_000));
        assert_eq!(duration_ns("1.5s").ok(), Some(1_500_000_000));
        assert!(duration_ns("5 parsecs").is_err());
    }
}
