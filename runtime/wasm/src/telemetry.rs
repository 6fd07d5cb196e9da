//! What plugin nodes count, in the Prometheus text format: failures by kind,
//! re-instantiations and circuit-breaker state per node ([`PluginStats`]),
//! and the plugins' own counters and histograms ([`PluginTelemetry`]).
//!
//! Every live node registers here; [`render`] writes all of them, for the
//! admin endpoint to append to the engine's `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, LazyLock, Weak};

use parking_lot::Mutex;

/// Distinct label sets kept per plugin metric; further ones are folded into
/// one series labelled `overflow="true"`.
pub const MAX_SERIES_PER_METRIC: usize = 64;

/// Distinct metric names kept per plugin; further ones are dropped.
pub const MAX_METRICS_PER_PLUGIN: usize = 64;

/// Label pairs kept per series.
const MAX_LABELS: usize = 8;

/// Bucket bounds of plugin histograms.
const HISTOGRAM_BOUNDS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Counters of one plugin node.
#[derive(Debug, Default)]
pub struct PluginStats {
    /// The node's name.
    pub node: String,
    /// The plugin's name.
    pub plugin: String,
    /// The running component's SHA-256 (12 hex digits); a hot reload
    /// changes it.
    hash: Mutex<String>,
    /// Batches handed to the plugin.
    pub calls: AtomicU64,
    /// Failures by kind ([`crate::CallError::kind`]).
    failures: Mutex<BTreeMap<&'static str, u64>>,
    /// Instances created after a failure.
    pub reinstantiations: AtomicU64,
    /// Times the circuit breaker opened.
    pub circuit_opened: AtomicU64,
    /// Batches that bypassed the plugin while the circuit was open.
    pub bypassed: AtomicU64,
    /// 1 while the circuit is open.
    pub circuit_open: AtomicU64,
    /// Log lines of the plugin dropped by the per-call budget.
    pub logs_dropped: AtomicU64,
    /// New versions swapped in by a hot reload.
    pub reloads: AtomicU64,
    /// New versions refused (compile, init or state restore failed).
    pub reloads_refused: AtomicU64,
    /// New versions rolled back after failing during their canary.
    pub rollbacks: AtomicU64,
    /// The hash of the last version rolled back (not retried until the
    /// component changes again).
    rolled_back: Mutex<String>,
}

impl PluginStats {
    /// Counters for the node `node` running `plugin` (component hash `hash`).
    pub fn new(node: &str, plugin: &str, hash: &str) -> Self {
        PluginStats {
            node: node.to_string(),
            plugin: plugin.to_string(),
            hash: Mutex::new(hash.to_string()),
            ..PluginStats::default()
        }
    }

    /// The running component's hash (12 hex digits).
    pub fn hash(&self) -> String {
        self.hash.lock().clone()
    }

    /// Records that version `hash` was rolled back.
    pub fn set_rolled_back(&self, hash: &str) {
        *self.rolled_back.lock() = hash.to_string();
    }

    /// The hash of the last version rolled back, if any.
    pub fn rolled_back(&self) -> String {
        self.rolled_back.lock().clone()
    }

    /// Records that another version runs now.
    pub fn set_hash(&self, hash: &str) {
        *self.hash.lock() = hash.to_string();
    }

    /// Counts one failure of `kind`.
    pub fn failure(&self, kind: &'static str) {
        *self.failures.lock().entry(kind).or_insert(0) += 1;
    }

    /// Failures of `kind` so far.
    pub fn failures(&self, kind: &str) -> u64 {
        self.failures.lock().get(kind).copied().unwrap_or(0)
    }

    /// Failures of every kind so far.
    pub fn total_failures(&self) -> u64 {
        self.failures.lock().values().sum()
    }
}

#[derive(Debug, Default)]
struct Histogram {
    buckets: [u64; HISTOGRAM_BOUNDS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug)]
enum Series {
    Counter(BTreeMap<Vec<(String, String)>, u64>),
    Histogram(BTreeMap<Vec<(String, String)>, Histogram>),
}

/// A plugin's own counters and histograms (`counter-add`,
/// `histogram-record`), bounded in names and label sets.
#[derive(Debug, Default)]
pub struct PluginTelemetry {
    metrics: Mutex<BTreeMap<String, Series>>,
    /// Updates refused (too many metrics, or a name used for both kinds).
    pub refused: AtomicU64,
}

fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(128)
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        out.insert(0, '_');
    }
    out
}

fn label_key(labels: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = labels
        .into_iter()
        .take(MAX_LABELS)
        .map(|(k, v)| (sanitize(&k), v.chars().take(256).collect()))
        .collect();
    labels.sort();
    labels.dedup_by(|a, b| a.0 == b.0);
    labels
}

fn plain_labels(labels: &[(String, String)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(","))
}

fn overflow() -> Vec<(String, String)> {
    vec![("overflow".to_string(), "true".to_string())]
}

impl PluginTelemetry {
    fn with_series(&self, name: &str, counter: bool, f: impl FnOnce(&mut Series)) {
        let mut metrics = self.metrics.lock();
        let name = sanitize(name);
        if !metrics.contains_key(&name) {
            if metrics.len() >= MAX_METRICS_PER_PLUGIN {
                let _ = self.refused.fetch_add(1, Relaxed);
                return;
            }
            let s = if counter {
                Series::Counter(BTreeMap::new())
            } else {
                Series::Histogram(BTreeMap::new())
            };
            let _ = metrics.insert(name.clone(), s);
        }
        match metrics.get_mut(&name) {
            Some(s @ Series::Counter(_)) if counter => f(s),
            Some(s @ Series::Histogram(_)) if !counter => f(s),
            _ => {
                let _ = self.refused.fetch_add(1, Relaxed);
            }
        }
    }

    /// Adds to counter `name`.
    pub fn counter_add(&self, name: &str, value: u64, labels: Vec<(String, String)>) {
        let key = label_key(labels);
        self.with_series(name, true, |s| {
            if let Series::Counter(m) = s {
                let key = if m.contains_key(&key) || m.len() < MAX_SERIES_PER_METRIC {
                    key
                } else {
                    overflow()
                };
                let v = m.entry(key).or_insert(0);
                *v = v.saturating_add(value);
            }
        });
    }

    /// Records into histogram `name`.
    pub fn histogram_record(&self, name: &str, value: f64, labels: Vec<(String, String)>) {
        if !value.is_finite() {
            let _ = self.refused.fetch_add(1, Relaxed);
            return;
        }
        let key = label_key(labels);
        self.with_series(name, false, |s| {
            if let Series::Histogram(m) = s {
                let key = if m.contains_key(&key) || m.len() < MAX_SERIES_PER_METRIC {
                    key
                } else {
                    overflow()
                };
                let h = m.entry(key).or_default();
                if let Some(i) = HISTOGRAM_BOUNDS.iter().position(|b| value <= *b) {
                    h.buckets[i] += 1;
                }
                h.count += 1;
                h.sum += value;
            }
        });
    }

    /// The plugin's counters and histogram counts, one line each
    /// (`name{labels} value`), for people rather than Prometheus.
    pub fn render_plain(&self) -> String {
        let mut out = String::new();
        for (name, series) in self.metrics.lock().iter() {
            match series {
                Series::Counter(m) => {
                    for (labels, v) in m {
                        let _ = writeln!(out, "weir_plugin_{name}{} {v}", plain_labels(labels));
                    }
                }
                Series::Histogram(m) => {
                    for (labels, h) in m {
                        let _ = writeln!(
                            out,
                            "weir_plugin_{name}_count{} {} (sum {})",
                            plain_labels(labels),
                            h.count,
                            h.sum
                        );
                    }
                }
            }
        }
        out
    }

    /// The value of counter `name` with exactly `labels` (for tests).
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> Option<u64> {
        let key = label_key(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        match self.metrics.lock().get(&sanitize(name))? {
            Series::Counter(m) => m.get(&key).copied(),
            Series::Histogram(_) => None,
        }
    }
}

/// One registered node.
struct Registered {
    stats: Weak<PluginStats>,
    telemetry: Weak<PluginTelemetry>,
}

static REGISTRY: LazyLock<Mutex<Vec<Registered>>> = LazyLock::new(|| Mutex::new(Vec::new()));

/// Registers a node's counters for [`render`] (kept while the node lives).
pub fn register(stats: &Arc<PluginStats>, telemetry: &Arc<PluginTelemetry>) {
    let mut r = REGISTRY.lock();
    r.retain(|e| e.stats.strong_count() > 0);
    r.push(Registered {
        stats: Arc::downgrade(stats),
        telemetry: Arc::downgrade(telemetry),
    });
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels_text(base: &str, extra: &[(String, String)]) -> String {
    let mut out = base.to_string();
    for (k, v) in extra {
        let _ = write!(out, ",{k}=\"{}\"", escape(v));
    }
    out
}

/// [`render`], appended to `out` (a `weir_engine` metrics collector).
pub fn render_into(out: &mut String) {
    out.push_str(&render());
}

/// Every live plugin node's counters, and its plugin's own metrics, in the
/// Prometheus text exposition format.
pub fn render() -> String {
    let nodes: Vec<(Arc<PluginStats>, Option<Arc<PluginTelemetry>>)> = REGISTRY
        .lock()
        .iter()
        .filter_map(|e| Some((e.stats.upgrade()?, e.telemetry.upgrade())))
        .collect();
    let mut out = String::new();
    if nodes.is_empty() {
        return out;
    }
    let base = |s: &PluginStats| {
        format!(
            "node=\"{}\",plugin=\"{}\",hash=\"{}\"",
            escape(&s.node),
            escape(&s.plugin),
            escape(&s.hash())
        )
    };
    type Get = fn(&PluginStats) -> u64;
    let counters: [(&str, &str, Get); 8] = [
        (
            "weir_plugin_calls_total",
            "Batches handed to a plugin.",
            |s| s.calls.load(Relaxed),
        ),
        (
            "weir_plugin_reinstantiations_total",
            "Plugin instances replaced after a failure.",
            |s| s.reinstantiations.load(Relaxed),
        ),
        (
            "weir_plugin_circuit_opened_total",
            "Times a plugin's circuit breaker opened.",
            |s| s.circuit_opened.load(Relaxed),
        ),
        (
            "weir_plugin_bypassed_total",
            "Batches that bypassed a plugin while its circuit was open.",
            |s| s.bypassed.load(Relaxed),
        ),
        (
            "weir_plugin_logs_dropped_total",
            "Plugin log lines dropped by the per-call budget.",
            |s| s.logs_dropped.load(Relaxed),
        ),
        (
            "weir_plugin_reloads_total",
            "New plugin versions swapped in by a hot reload.",
            |s| s.reloads.load(Relaxed),
        ),
        (
            "weir_plugin_reloads_refused_total",
            "New plugin versions refused by a hot reload (compile, init or state restore failed).",
            |s| s.reloads_refused.load(Relaxed),
        ),
        (
            "weir_plugin_rollbacks_total",
            "New plugin versions rolled back after failing during their canary batches.",
            |s| s.rollbacks.load(Relaxed),
        ),
    ];
    for (name, help, get) in counters {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (s, _) in &nodes {
            let _ = writeln!(out, "{name}{{{}}} {}", base(s), get(s));
        }
    }
    let name = "weir_plugin_failures_total";
    let _ = writeln!(
        out,
        "# HELP {name} Plugin calls that failed, by kind.\n# TYPE {name} counter"
    );
    for (s, _) in &nodes {
        for (kind, n) in s.failures.lock().iter() {
            let _ = writeln!(out, "{name}{{{},kind=\"{kind}\"}} {n}", base(s));
        }
    }
    let name = "weir_plugin_circuit_open";
    let _ = writeln!(
        out,
        "# HELP {name} 1 while a plugin's circuit breaker is open.\n# TYPE {name} gauge"
    );
    for (s, _) in &nodes {
        let _ = writeln!(
            out,
            "{name}{{{}}} {}",
            base(s),
            s.circuit_open.load(Relaxed)
        );
    }
    for (s, t) in &nodes {
        let Some(t) = t else { continue };
        let b = base(s);
        for (metric, series) in t.metrics.lock().iter() {
            let full = format!("weir_plugin_{metric}");
            match series {
                Series::Counter(m) => {
                    let _ = writeln!(out, "# TYPE {full} counter");
                    for (labels, v) in m {
                        let _ = writeln!(out, "{full}{{{}}} {v}", labels_text(&b, labels));
                    }
                }
                Series::Histogram(m) => {
                    let _ = writeln!(out, "# TYPE {full} histogram");
                    for (labels, h) in m {
                        let l = labels_text(&b, labels);
                        let mut cum = 0;
                        for (i, bound) in HISTOGRAM_BOUNDS.iter().enumerate() {
                            cum += h.buckets[i];
                            let _ = writeln!(out, "{full}_bucket{{{l},le=\"{bound}\"}} {cum}");
                        }
                        let _ = writeln!(out, "{full}_bucket{{{l},le=\"+Inf\"}} {}", h.count);
                        let _ = writeln!(out, "{full}_sum{{{l}}} {}", h.sum);
                        let _ = writeln!(out, "{full}_count{{{l}}} {}", h.count);
                    }
                }
            }
        }
    }
    out
}
