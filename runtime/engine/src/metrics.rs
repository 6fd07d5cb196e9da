//! Self-metrics of every node, rendered in the Prometheus text format.
//!
//! Counters are plain atomics updated once per batch (never per item), so
//! they cost nothing measurable on the hot path.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use parking_lot::RwLock;

/// Upper bounds (seconds) of the processing-latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0,
];

/// Counters of one node.
#[derive(Debug)]
pub struct NodeMetrics {
    /// The node's name.
    pub node: String,
    /// `receiver`, `processor` or `exporter`.
    pub kind: &'static str,
    /// The component type.
    pub type_name: String,
    batches_in: AtomicU64,
    items_in: AtomicU64,
    batches_out: AtomicU64,
    items_out: AtomicU64,
    items_dropped: AtomicU64,
    items_refused: AtomicU64,
    items_failed: AtomicU64,
    errors: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_ns: AtomicU64,
}

impl NodeMetrics {
    /// Counters for a node.
    pub fn new(node: impl Into<String>, kind: &'static str, type_name: impl Into<String>) -> Self {
        NodeMetrics {
            node: node.into(),
            kind,
            type_name: type_name.into(),
            batches_in: AtomicU64::new(0),
            items_in: AtomicU64::new(0),
            batches_out: AtomicU64::new(0),
            items_out: AtomicU64::new(0),
            items_dropped: AtomicU64::new(0),
            items_refused: AtomicU64::new(0),
            items_failed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency_buckets: Default::default(),
            latency_count: AtomicU64::new(0),
            latency_sum_ns: AtomicU64::new(0),
        }
    }

    /// A batch of `items` arrived.
    pub fn record_in(&self, items: usize) {
        let _ = self.batches_in.fetch_add(1, Relaxed);
        let _ = self.items_in.fetch_add(items as u64, Relaxed);
    }

    /// A batch of `items` left (to all consumers).
    pub fn record_out(&self, items: usize) {
        let _ = self.batches_out.fetch_add(1, Relaxed);
        let _ = self.items_out.fetch_add(items as u64, Relaxed);
    }

    /// `items` were dropped on purpose (filtered, sampled) or lost.
    pub fn record_dropped(&self, items: usize) {
        let _ = self.items_dropped.fetch_add(items as u64, Relaxed);
    }

    /// `items` were refused to a client because the pipeline was full.
    pub fn record_refused(&self, items: usize) {
        let _ = self.items_refused.fetch_add(items as u64, Relaxed);
    }

    /// `items` could not be delivered (an exporter gave up).
    pub fn record_failed(&self, items: usize) {
        let _ = self.items_failed.fetch_add(items as u64, Relaxed);
    }

    /// An error happened (bad input, a failed export attempt).
    pub fn record_error(&self) {
        let _ = self.errors.fetch_add(1, Relaxed);
    }

    /// One batch took `d` to process.
    pub fn record_latency(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
            let _ = self.latency_buckets[i].fetch_add(1, Relaxed);
        }
        let _ = self.latency_count.fetch_add(1, Relaxed);
        let _ = self
            .latency_sum_ns
            .fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }

    /// Items received so far.
    pub fn items_in(&self) -> u64 {
        self.items_in.load(Relaxed)
    }

    /// Items sent so far.
    pub fn items_out(&self) -> u64 {
        self.items_out.load(Relaxed)
    }

    /// Items dropped so far.
    pub fn items_dropped(&self) -> u64 {
        self.items_dropped.load(Relaxed)
    }

    /// Items that could not be delivered so far.
    pub fn items_failed(&self) -> u64 {
        self.items_failed.load(Relaxed)
    }
}

/// A counter series: name, help text and how to read it off a node.
type Counter = (&'static str, &'static str, fn(&NodeMetrics) -> u64);

/// Renders series of a component's own (appended to `/metrics`).
pub type Collector = Arc<dyn Fn(&mut String) + Send + Sync>;

/// Every node's metrics, for the admin endpoint.
#[derive(Default, Clone)]
pub struct MetricsRegistry {
    nodes: Arc<RwLock<Vec<Arc<NodeMetrics>>>>,
    collectors: Arc<RwLock<Vec<(String, Collector)>>>,
}

impl std::fmt::Debug for MetricsRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsRegistry")
            .field("nodes", &self.nodes.read().len())
            .field("collectors", &self.collectors.read().len())
            .finish()
    }
}

impl MetricsRegistry {
    /// Registers and returns the counters of a node.
    pub fn node(&self, node: &str, kind: &'static str, type_name: &str) -> Arc<NodeMetrics> {
        let m = Arc::new(NodeMetrics::new(node, kind, type_name));
        self.nodes.write().push(m.clone());
        m
    }

    /// Forgets the counters of the node called `node` (removed by a
    /// reload).
    pub fn remove(&self, node: &str) {
        self.nodes.write().retain(|m| m.node != node);
    }

    /// Adds series rendered by a component (plugin telemetry, scrape
    /// health...) after the node series. A collector registered again
    /// under the same `name` replaces the previous one, so a component
    /// that several nodes share registers once.
    pub fn add_collector(&self, name: &str, collector: Collector) {
        let mut c = self.collectors.write();
        c.retain(|(n, _)| n != name);
        c.push((name.to_string(), collector));
    }

    /// The counters of the node called `node`.
    pub fn get(&self, node: &str) -> Option<Arc<NodeMetrics>> {
        self.nodes.read().iter().find(|m| m.node == node).cloned()
    }

    /// Everything in the Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let nodes = self.nodes.read();
        let mut out = String::with_capacity(4096);
        let counters: [Counter; 8] = [
            (
                "weir_node_batches_in_total",
                "Batches received by the node.",
                |m| m.batches_in.load(Relaxed),
            ),
            (
                "weir_node_items_in_total",
                "Items (spans, data points, log records) received by the node.",
                |m| m.items_in.load(Relaxed),
            ),
            (
                "weir_node_batches_out_total",
                "Batches sent on by the node.",
                |m| m.batches_out.load(Relaxed),
            ),
            (
                "weir_node_items_out_total",
                "Items sent on by the node.",
                |m| m.items_out.load(Relaxed),
            ),
            (
                "weir_node_items_dropped_total",
                "Items dropped by the node on purpose or lost.",
                |m| m.items_dropped.load(Relaxed),
            ),
            (
                "weir_node_items_refused_total",
                "Items refused to clients because the pipeline was full.",
                |m| m.items_refused.load(Relaxed),
            ),
            (
                "weir_node_items_failed_total",
                "Items an exporter could not deliver.",
                |m| m.items_failed.load(Relaxed),
            ),
            ("weir_node_errors_total", "Errors seen by the node.", |m| {
                m.errors.load(Relaxed)
            }),
        ];
        for (name, help, get) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for m in nodes.iter() {
                let _ = writeln!(
                    out,
                    "{name}{{node=\"{}\",kind=\"{}\",type=\"{}\"}} {}",
                    escape(&m.node),
                    m.kind,
                    escape(&m.type_name),
                    get(m)
                );
            }
        }
        let name = "weir_node_processing_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time a node spent on one batch.\n# TYPE {name} histogram"
        );
        for m in nodes.iter() {
            let labels = format!(
                "node=\"{}\",kind=\"{}\",type=\"{}\"",
                escape(&m.node),
                m.kind,
                escape(&m.type_name)
            );
            let mut cum = 0;
            for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
                cum += m.latency_buckets[i].load(Relaxed);
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {cum}");
            }
            let count = m.latency_count.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
            let _ = writeln!(
                out,
                "{name}_sum{{{labels}}} {}",
                m.latency_sum_ns.load(Relaxed) as f64 / 1e9
            );
            let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
        }
        drop(nodes);
        for (_, collect) in self.collectors.read().iter() {
            collect(&mut out);
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let r = MetricsRegistry::default();
        let m = r.node("batch", "processor", "batch");
        m.record_in(10);
        m.record_out(10);
        m.record_latency(Duration::from_micros(30));
        let text = r.render();
        assert!(text.contains(
            "weir_node_items_in_total{node=\"batch\",kind=\"processor\",type=\"batch\"} 10"
        ));
        assert!(text.contains("weir_node_processing_seconds_bucket{node=\"batch\",kind=\"processor\",type=\"batch\",le=\"0.00005\"} 1"));
        assert!(text.contains(
            "weir_node_processing_seconds_count{node=\"batch\",kind=\"processor\",type=\"batch\"} 1"
        ));
    }

    #[test]
    fn collectors_are_appended_once_per_name() {
        let r = MetricsRegistry::default();
        r.add_collector(
            "a",
            Arc::new(|out: &mut String| out.push_str("x_total 1\n")),
        );
        r.add_collector(
            "a",
            Arc::new(|out: &mut String| out.push_str("x_total 2\n")),
        );
        let text = r.render();
        assert!(text.ends_with("x_total 2\n"), "{text}");
        assert!(!text.contains("x_total 1"), "{text}");
    }
}
