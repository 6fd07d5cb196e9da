//! Pipeline reload under continuous load, with test components: a receiver
//! sending numbered batches as fast as the pipeline takes them, a processor
//! that tags them, an exporter that records them. Every batch sent must
//! reach the exporter exactly once, in order, across processor changes, an
//! added and removed branch, an exporter replacement and a refused reload.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use weir_config::{ConfigError, ErrorCode, NodeKind, NodeReader};
use weir_engine::NodeError;
use weir_engine::graph;
use weir_engine::message::Message;
use weir_engine::node::{
    BoxFuture, Exporter, ExporterContext, Processor, ProcessorContext, Receiver, ReceiverContext,
};
use weir_engine::registry::{BuildContext, Builder, Built, Component, Registry};
use weir_pdata::{Batch, Signal};

/// Batches sent by the receiver.
static SENT: AtomicU64 = AtomicU64::new(0);
/// What each exporter saw: exporter name -> (sequence number, tags).
type Seen = Arc<Mutex<HashMap<String, Vec<(u64, String)>>>>;
static SEEN: std::sync::OnceLock<Seen> = std::sync::OnceLock::new();
fn seen() -> Seen {
    SEEN.get_or_init(Default::default).clone()
}
/// Set by the test to stop the receiver at a chosen sequence number.
static STOP: AtomicBool = AtomicBool::new(false);

struct Seq;
impl Receiver for Seq {
    fn run(self: Box<Self>, ctx: ReceiverContext) -> BoxFuture<Result<(), NodeError>> {
        Box::pin(async move {
            loop {
                if ctx.shutdown.is_triggered() || STOP.load(Ordering::SeqCst) {
                    return Ok(());
                }
                let n = SENT.load(Ordering::SeqCst);
                let batch =
                    Batch::from_otlp_unchecked(Signal::Logs, Bytes::from(format!("{n}|")), 1);
                ctx.output
                    .send(Message::new(batch))
                    .await
                    .map_err(|e| NodeError::Internal(e.to_string()))?;
                let _ = SENT.fetch_add(1, Ordering::SeqCst);
                if n.is_multiple_of(16) {
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            }
        })
    }
}

struct SeqConfig;
impl Builder for SeqConfig {
    fn build(self: Box<Self>, _ctx: &BuildContext<'_>) -> Result<Built, ConfigError> {
        Ok(Built::Receiver(Box::new(Seq)))
    }
}
fn validate_seq(_r: &mut NodeReader<'_>) -> Option<Box<dyn Builder>> {
    Some(Box::new(SeqConfig))
}

/// Appends `label,` to every batch's bytes.
struct Tag(String);
impl Processor for Tag {
    fn run(self: Box<Self>, mut ctx: ProcessorContext) -> BoxFuture<Result<(), NodeError>> {
        Box::pin(async move {
            while let Some(msg) = ctx.input.recv().await {
                let old = msg.batch.otlp_bytes().map_err(NodeError::from)?;
                let mut bytes = old.to_vec();
                bytes.extend_from_slice(format!("{},", self.0).as_bytes());
                let out = Batch::from_otlp_unchecked(Signal::Logs, Bytes::from(bytes), 1);
                if ctx.output.send(msg.map(out)).await.is_err() {
                    break;
                }
            }
            Ok(())
        })
    }
}

struct TagConfig(String, bool);
impl Builder for TagConfig {
    fn build(self: Box<Self>, _ctx: &BuildContext<'_>) -> Result<Built, ConfigError> {
        if self.1 {
            return Err(ConfigError::new(
                ErrorCode::Build,
                "this tag cannot be built",
            ));
        }
        Ok(Built::Processor(Box::new(Tag(self.0))))
    }
}
fn validate_tag(r: &mut NodeReader<'_>) -> Option<Box<dyn Builder>> {
    let label = r.string("label")?.value;
    let broken = r.bool("fail-build").unwrap_or(false);
    Some(Box::new(TagConfig(label, broken)))
}

/// Records what it gets under its own node name (and `delay` per batch).
struct Collect(Duration);
impl Exporter for Collect {
    fn run(self: Box<Self>, mut ctx: ExporterContext) -> BoxFuture<Result<(), NodeError>> {
        Box::pin(async move {
            while let Some(msg) = ctx.input.recv().await {
                if !self.0.is_zero() {
                    tokio::time::sleep(self.0).await;
                }
                let bytes = msg.batch.otlp_bytes().map_err(NodeError::from)?;
                let text = String::from_utf8_lossy(&bytes).to_string();
                let (n, tags) = text.split_once('|').unwrap_or((&text, ""));
                let n: u64 = n.parse().map_err(|_| NodeError::Internal(text.clone()))?;
                seen()
                    .lock()
                    .entry(ctx.id.clone())
                    .or_default()
                    .push((n, tags.to_string()));
            }
            Ok(())
        })
    }
}
struct CollectConfig(Duration);
impl Builder for CollectConfig {
    fn build(self: Box<Self>, _ctx: &BuildContext<'_>) -> Result<Built, ConfigError> {
        Ok(Built::Exporter(Box::new(Collect(self.0))))
    }
}
fn validate_collect(r: &mut NodeReader<'_>) -> Option<Box<dyn Builder>> {
    Some(Box::new(CollectConfig(
        r.duration("delay").unwrap_or_default(),
    )))
}

fn registry() -> Registry {
    let mut r = Registry::new();
    for (kind, type_name, validate) in [
        (
            NodeKind::Receiver,
            "seq",
            validate_seq as weir_engine::registry::ValidateFn,
        ),
        (NodeKind::Processor, "tag", validate_tag),
        (NodeKind::Exporter, "collect", validate_collect),
    ] {
        let _ = r.register(Component {
            kind,
            type_name,
            summary: "test",
            validate,
        });
    }
    r
}

fn validated(text: &str) -> graph::ValidatedPipeline {
    let pipeline = weir_config::parse("t.kdl", text).expect("parse");
    graph::validate(pipeline, &registry()).expect("validate")
}

const V1: &str = r#"
    settings { admin #false; channel-capacity 8 }
    receiver "in" type="seq"
    processor "tag" type="tag" { from "in"; label "a" }
    exporter "out" type="collect" { from "tag" }
"#;

/// The tag changed, a processor added in front of it, a second branch.
const V2: &str = r#"
    settings { admin #false; channel-capacity 8 }
    receiver "in" type="seq"
    processor "pre" type="tag" { from "in"; label "p" }
    processor "tag" type="tag" { from "pre"; label "b" }
    exporter "out" type="collect" { from "tag" }
    exporter "branch" type="collect" { from "in" }
"#;

/// The branch removed, the pre-processor removed (its input now feeds the
/// tag directly), the exporter replaced.
const V3: &str = r#"
    settings { admin #false; channel-capacity 8 }
    receiver "in" type="seq"
    processor "tag" type="tag" { from "in"; label "b" }
    exporter "out" type="collect" { from "tag"; delay "1us" }
"#;

const BROKEN: &str = r#"
    settings { admin #false; channel-capacity 8 }
    receiver "in" type="seq"
    processor "tag" type="tag" { from "in"; label "c"; fail-build #true }
    exporter "out" type="collect" { from "tag" }
"#;

async fn flow(n: u64) {
    let until = SENT.load(Ordering::SeqCst) + n;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while SENT.load(Ordering::SeqCst) < until {
        assert!(tokio::time::Instant::now() < deadline, "traffic stalled");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_under_load_lose_and_repeat_nothing() {
    let mut running = graph::start(validated(V1), std::env::temp_dir()).expect("start");
    flow(300).await;

    let c = running.reload(validated(V2)).await.expect("v2 applies");
    assert_eq!(c.added, ["branch", "pre"]);
    assert_eq!(c.changed, ["tag"]);
    assert_eq!(c.rewired, ["in"]);
    assert!(c.removed.is_empty() && c.restart_required.is_empty());
    flow(300).await;

    let refused = running.reload(validated(BROKEN)).await;
    let Err(weir_engine::EngineError::Config(d)) = refused else {
        panic!("a node that cannot be built must refuse the reload");
    };
    assert!(format!("{:?}", d.errors).contains("cannot be built"));
    flow(300).await;

    let c = running.reload(validated(V3)).await.expect("v3 applies");
    assert_eq!(c.removed, ["branch", "pre"]);
    // `tag` only changes upstream: it keeps running; what `pre` still
    // holds reaches it before what `in` now sends it directly.
    assert_eq!(c.changed, ["out"]);
    assert_eq!(c.rewired, ["in", "tag"]);
    flow(300).await;

    // The same file again changes nothing.
    let c = running.reload(validated(V3)).await.expect("v3 again");
    assert!(c.is_empty(), "{c:?}");
    assert_eq!(c.unchanged, ["in", "out", "tag"]);
    flow(100).await;

    STOP.store(true, Ordering::SeqCst);
    let report = running.shutdown(Duration::from_secs(10)).await;
    assert!(report.drained && report.failed.is_empty(), "{report:?}");

    let sent = SENT.load(Ordering::SeqCst);
    let seen = seen().lock().clone();
    let out = &seen["out"];
    let numbers: Vec<u64> = out.iter().map(|(n, _)| *n).collect();
    let mut by_tag: std::collections::BTreeMap<&str, (usize, u64, u64)> = Default::default();
    for (n, t) in out {
        let e = by_tag.entry(t.as_str()).or_insert((0, u64::MAX, 0));
        e.0 += 1;
        e.1 = e.1.min(*n);
        e.2 = e.2.max(*n);
    }
    let disorder = numbers.windows(2).filter(|w| w[1] != w[0] + 1).count();
    assert!(
        numbers == (0..sent).collect::<Vec<_>>(),
        "not exactly once in order: sent {sent}, got {}, {disorder} breaks, by tag (count, min, max): {by_tag:?}; {:?}",
        numbers.len(),
        seen.iter()
            .map(|(k, v)| (k.clone(), v.len()))
            .collect::<Vec<_>>()
    );
    // Tags: `a,` then `p,b,` (v2, the refused reload changed nothing)
    // then `b,` (v3), each phase contiguous.
    let phases: Vec<&str> = out
        .iter()
        .map(|(_, t)| t.as_str())
        .fold(Vec::new(), |mut acc, t| {
            if acc.last() != Some(&t) {
                acc.push(t);
            }
            acc
        });
    assert_eq!(phases, ["a,", "p,b,", "b,"]);
    // The branch saw a contiguous run of what was sent while it existed.
    let branch: Vec<u64> = seen["branch"].iter().map(|(n, _)| *n).collect();
    assert!(branch.len() >= 300, "branch saw {}", branch.len());
    assert!(
        branch.windows(2).all(|w| w[1] == w[0] + 1),
        "branch has gaps"
    );
}
