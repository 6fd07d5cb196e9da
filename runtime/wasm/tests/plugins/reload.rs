//! Hot reload of a plugin under continuous load: the `tag-v1` / `tag-v2`
//! test plugins (built from `plugins/tests/` in this build) tag every
//! record with their version and a sequence number carried across
//! versions by `snapshot-state` / `restore-state`. After any number of
//! swaps, the sequence numbers of what came out must be exactly 0..N in
//! order — nothing lost, nothing processed twice, order kept, state moved
//! every time — and every record carries one of the two tags.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use prost::Message as _;
use tokio::sync::mpsc;
use weir_engine::channel::{Input, Output};
use weir_engine::message::Message;
use weir_engine::metrics::NodeMetrics;
use weir_engine::node::{Processor, ProcessorContext};
use weir_engine::reload::{PluginReload, Reloadable};
use weir_wasm::{PluginSource, WasmProcessor};

use crate::common::{self, attr, logs};

fn wasm(krate: &str) -> PathBuf {
    PathBuf::from(weir_wasm::PLUGIN_DIR).join(format!("{krate}.wasm"))
}

/// Replaces `dst` the way a deployment does: write aside, rename over.
fn install(src: &Path, dst: &Path) {
    let tmp = dst.with_extension("tmp");
    std::fs::copy(src, &tmp).expect("copy the plugin");
    std::fs::rename(&tmp, dst).expect("rename over the plugin");
}

/// Records per batch the producer sends.
const PER_BATCH: usize = 3;

fn batch() -> weir_pdata::Batch {
    logs(
        (0..PER_BATCH)
            .map(|i| LogRecord {
                time_unix_nano: i as u64,
                ..Default::default()
            })
            .collect(),
    )
}

/// The node running under a producer that sends as fast as it is taken.
struct Load {
    sent: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    producer: tokio::task::JoinHandle<()>,
    node: tokio::task::JoinHandle<Result<(), weir_engine::NodeError>>,
    out: mpsc::Receiver<Message>,
    collected: Vec<(String, i64)>,
}

impl Load {
    fn start(node: WasmProcessor) -> Load {
        let metrics = Arc::new(NodeMetrics::new("test", "processor", "wasm"));
        let (in_tx, in_rx) = mpsc::channel(16);
        let (out_tx, out) = mpsc::channel(64);
        let ctx = ProcessorContext {
            dead_letter: None,
            id: "test".to_string(),
            input: Input::new(in_rx, metrics.clone()),
            output: Output::new(vec![out_tx], metrics),
            metrics: Arc::new(NodeMetrics::new("test", "processor", "wasm")),
        };
        let node = tokio::spawn(Box::new(node).run(ctx));
        let sent = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (sent.clone(), stop.clone());
        let producer = tokio::spawn(async move {
            while !st.load(Ordering::SeqCst) {
                if in_tx.send(Message::new(batch())).await.is_err() {
                    return;
                }
                let _ = s.fetch_add(PER_BATCH as u64, Ordering::SeqCst);
            }
        });
        Load {
            sent,
            stop,
            producer,
            node,
            out,
            collected: Vec::new(),
        }
    }

    /// Takes what came out so far.
    fn drain(&mut self) {
        while let Ok(m) = self.out.try_recv() {
            collect(&mut self.collected, &m);
        }
    }

    /// Waits until at least `n` more records have been sent.
    async fn flow(&mut self, n: u64) {
        let until = self.sent.load(Ordering::SeqCst) + n;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while self.sent.load(Ordering::SeqCst) < until {
            assert!(tokio::time::Instant::now() < deadline, "traffic stalled");
            self.drain();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Stops the producer, lets the node drain, returns (sent, collected).
    async fn finish(mut self) -> (u64, Vec<(String, i64)>) {
        self.stop.store(true, Ordering::SeqCst);
        self.producer.await.expect("producer");
        loop {
            match tokio::time::timeout(Duration::from_secs(30), self.out.recv()).await {
                Ok(Some(m)) => collect(&mut self.collected, &m),
                Ok(None) => break,
                Err(_) => panic!("the node did not drain"),
            }
        }
        self.node.await.expect("no panic").expect("node ok");
        (self.sent.load(Ordering::SeqCst), self.collected)
    }
}

/// Appends the (version, sequence) of every record of `m`.
fn collect(collected: &mut Vec<(String, i64)>, m: &Message) {
    let bytes = m.batch.otlp_bytes().expect("encodes");
    let req = ExportLogsServiceRequest::decode(bytes).expect("decodes");
    for r in req
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
    {
        let version = match attr(&r.attributes, "tag.version") {
            Some(Value::StringValue(s)) => s.clone(),
            other => panic!("a record without its tag: {other:?}"),
        };
        let seq = match attr(&r.attributes, "tag.seq") {
            Some(Value::IntValue(n)) => *n,
            other => panic!("a record without its number: {other:?}"),
        };
        collected.push((version, seq));
    }
}

fn node(dir: &Path, canary: u32) -> (WasmProcessor, PathBuf) {
    let file = dir.join("tag.wasm");
    install(&wasm("weir_test_plugin_tag_v1"), &file);
    let mut c = common::config(PluginSource::File(file.clone()), &[("label", "x")]);
    c.canary = canary;
    (common::build(&c), file)
}

fn assert_exactly_once_in_order(sent: u64, collected: &[(String, i64)], tags: &[&str]) {
    assert_eq!(
        collected.len() as u64,
        sent,
        "every record sent came out once"
    );
    for (i, (version, seq)) in collected.iter().enumerate() {
        assert_eq!(
            *seq, i as i64,
            "record {i}: sequence broken (lost, repeated, reordered or state not moved)"
        );
        assert!(
            tags.contains(&version.as_str()),
            "record {i} tagged {version:?}"
        );
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_swaps_under_load_lose_and_repeat_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (node, file) = node(dir.path(), 2);
    let stats = node.stats().clone();
    let reloader = node.reloader().clone();
    let mut load = Load::start(node);
    load.flow(300).await;

    let versions = [
        wasm("weir_test_plugin_tag_v2"),
        wasm("weir_test_plugin_tag_v1"),
    ];
    let mut pauses = Vec::new();
    let started = std::time::Instant::now();
    for i in 0..1000 {
        install(&versions[i % 2], &file);
        match reloader.reload().await {
            PluginReload::Swapped {
                state_bytes,
                pause_us,
                ..
            } => {
                assert_eq!(state_bytes, 8, "the counter moved");
                pauses.push(pause_us);
            }
            other => panic!("swap {i}: {other:?}"),
        }
        load.drain();
        if i % 100 == 0 {
            load.flow(PER_BATCH as u64).await;
        }
    }
    let took = started.elapsed();
    // The same file again is no change.
    assert!(matches!(
        reloader.reload().await,
        PluginReload::Unchanged { .. }
    ));
    load.flow(300).await;
    let (sent, collected) = load.finish().await;

    assert_exactly_once_in_order(sent, &collected, &["v1", "v2"]);
    assert!(collected.iter().any(|(v, _)| v == "v2"), "v2 ran");
    assert_eq!(stats.reloads.load(Ordering::Relaxed), 1000);
    assert_eq!(stats.rollbacks.load(Ordering::Relaxed), 0);
    pauses.sort_unstable();
    eprintln!(
        "1000 swaps in {took:?} under load ({sent} records): pause p50 {} us, p99 {} us, max {} us",
        percentile(&pauses, 0.5),
        percentile(&pauses, 0.99),
        pauses.last().copied().unwrap_or_default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_versions_are_refused_or_rolled_back_while_traffic_flows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (node, file) = node(dir.path(), 4);
    let stats = node.stats().clone();
    let first = stats.hash();
    let reloader = node.reloader().clone();
    let mut load = Load::start(node);
    load.flow(60).await;

    // Not a component: refused at compile.
    std::fs::write(dir.path().join("junk"), b"\0asm but not really").expect("write");
    install(&dir.path().join("junk"), &file);
    let r = reloader.reload().await;
    assert!(
        matches!(r, PluginReload::Refused { stage: "compile", ref hash, .. } if *hash == first),
        "{r:?}"
    );
    load.flow(60).await;

    // A plugin that refuses this node's configuration: refused at init.
    install(&wasm("weir_plugin_noop"), &file);
    let r = reloader.reload().await;
    assert!(
        matches!(r, PluginReload::Refused { stage: "init", .. }),
        "{r:?}"
    );
    load.flow(60).await;

    // A version that starts but traps on its first batch: swapped, then
    // rolled back; the batch it failed on runs again on v1.
    install(&wasm("weir_test_plugin_tag_broken"), &file);
    let r = reloader.reload().await;
    assert!(matches!(r, PluginReload::Swapped { .. }), "{r:?}");
    load.flow(60).await;
    assert_eq!(stats.rollbacks.load(Ordering::Relaxed), 1);
    assert_eq!(stats.hash(), first, "v1 runs again");
    // The same broken file is not tried again.
    let r = reloader.reload().await;
    assert!(
        matches!(
            r,
            PluginReload::Refused {
                stage: "canary",
                ..
            }
        ),
        "{r:?}"
    );

    // A good version still goes in afterwards.
    install(&wasm("weir_test_plugin_tag_v2"), &file);
    let r = reloader.reload().await;
    assert!(matches!(r, PluginReload::Swapped { .. }), "{r:?}");
    load.flow(60).await;
    let (sent, collected) = load.finish().await;

    assert_exactly_once_in_order(sent, &collected, &["v1", "v2"]);
    assert_eq!(stats.reloads_refused.load(Ordering::Relaxed), 3);
    assert_eq!(stats.reloads.load(Ordering::Relaxed), 2);
    let text = weir_wasm::render_metrics();
    assert!(
        text.contains("weir_plugin_rollbacks_total{node=\"test\""),
        "{text}"
    );
}
