//! The engine end to end with test components: fan-in, fan-out without
//! copies, batching, acknowledgements and a draining shutdown.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use weir_config::{ConfigError, NodeKind, NodeReader};
use weir_engine::NodeError;
use weir_engine::graph;
use weir_engine::message::{Ack, Delivery, Message};
use weir_engine::node::{BoxFuture, Exporter, ExporterContext, Receiver, ReceiverContext};
use weir_engine::registry::{BuildContext, Builder, Built, Component, Registry};
use weir_pdata::{Batch, Signal};

/// What the test exporter saw: (exporter name, batch) in arrival order.
type Seen = Arc<Mutex<Vec<(String, Batch)>>>;
/// Outcomes of the test receiver's acks.
type Outcomes = Arc<Mutex<Vec<tokio::sync::oneshot::Receiver<Delivery>>>>;

static SEEN: std::sync::OnceLock<Seen> = std::sync::OnceLock::new();
static OUTCOMES: std::sync::OnceLock<Outcomes> = std::sync::OnceLock::new();

fn seen() -> Seen {
    SEEN.get_or_init(Default::default).clone()
}
fn outcomes() -> Outcomes {
    OUTCOMES.get_or_init(Default::default).clone()
}

/// Sends `count` one-item log batches, each with an ack, then waits for
/// shutdown.
struct CountReceiver {
    count: u64,
}

impl Receiver for CountReceiver {
    fn run(self: Box<Self>, mut ctx: ReceiverContext) -> BoxFuture<Result<(), NodeError>> {
        Box::pin(async move {
            for i in 0..self.count {
                let batch = Batch::from_otlp_unchecked(Signal::Logs, Bytes::from(vec![i as u8]), 1);
                let (ack, rx) = Ack::new();
                outcomes().lock().push(rx);
                ctx.output
                    .send(Message::with_ack(batch, ack))
                    .await
                    .map_err(|e| NodeError::Internal(e.to_string()))?;
            }
            ctx.shutdown.wait().await;
            Ok(())
        })
    }
}

struct CountConfig(u64);
impl Builder for CountConfig {
    fn build(self: Box<Self>, _ctx: &BuildContext<'_>) -> Result<Built, ConfigError> {
        Ok(Built::Receiver(Box::new(CountReceiver { count: self.0 })))
    }
}
fn validate_count(r: &mut NodeReader<'_>) -> Option<Box<dyn Builder>> {
    let n = r.u64("count")?;
    Some(Box::new(CountConfig(n)))
}

/// Records every batch; optionally slow, optionally failing.
struct Collect {
    name: String,
    delay: Duration,
    fail: bool,
}

impl Exporter for Collect {
    fn run(self: Box<Self>, mut ctx: ExporterContext) -> BoxFuture<Result<(), NodeError>> {
        Box::pin(async move {
            while let Some(msg) = ctx.input.recv().await {
                tokio::time::sleep(self.delay).await;
                if self.fail {
                    msg.fail("test failure");
                }
                seen().lock().push((self.name.clone(), msg.batch.clone()));
            }
            Ok(())
        })
    }
}

struct CollectConfig(String, Duration, bool);
impl Builder for CollectConfig {
    fn build(self: Box<Self>, _ctx: &BuildContext<'_>) -> Result<Built, ConfigError> {
        Ok(Built::Exporter(Box::new(Collect {
            name: self.0,
            delay: self.1,
            fail: self.2,
        })))
    }
}
fn validate_collect(r: &mut NodeReader<'_>) -> Option<Box<dyn Builder>> {
    let name = r.string("name")?.value;
    let delay = r.duration("delay").unwrap_or_default();
    let fail = r.bool("fail").unwrap_or(false);
    Some(Box::new(CollectConfig(name, delay, fail)))
}

fn registry() -> Registry {
    let mut r = Registry::new();
    let _ = r
        .register(Component {
            kind: NodeKind::Receiver,
            type_name: "count",
            summary: "test",
            validate: validate_count,
        })
        .register(Component {
            kind: NodeKind::Processor,
            type_name: "batch",
            summary: "batch",
            validate: weir_engine::processors::batch::validate,
        })
        .register(Component {
            kind: NodeKind::Exporter,
            type_name: "collect",
            summary: "test",
            validate: validate_collect,
        });
    r
}

// One test, so the global recorders are not shared by parallel tests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_in_fan_out_batching_acks_and_drain() {
    let text = r#"
        settings { admin #false; channel-capacity 4 }
        receiver "a" type="count" { count 30 }
        receiver "b" type="count" { count 20 }
        processor "batch" type="batch" { from "a" "b"; max-items 16; timeout "20s" }
        exporter "fast" type="collect" { from "batch"; name "fast" }
        exporter "slow" type="collect" { from "batch"; name "slow"; delay "20ms" }
        exporter "broken" type="collect" { from "a"; name "broken"; fail #true }
    "#;
    let pipeline = weir_config::parse("t.kdl", text).expect("parse");
    let validated = graph::validate(pipeline, &registry()).expect("validate");
    let running = graph::start(validated, std::env::temp_dir()).expect("start");

    // Wait until the receivers have sent everything (50 acks created).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while outcomes().lock().len() < 50 {
        assert!(tokio::time::Instant::now() < deadline, "receivers stalled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The batch timeout is 20 s: whatever is still pending is flushed only by
    // the shutdown drain.
    let report = running.shutdown(Duration::from_secs(10)).await;
    assert!(report.drained, "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");

    let seen = seen().lock().clone();
    let items = |name: &str| -> usize {
        seen.iter()
            .filter(|(n, _)| n == name)
            .map(|(_, b)| b.items())
            .sum()
    };
    assert_eq!(items("fast"), 50, "fan-in of both receivers, all drained");
    assert_eq!(items("slow"), 50, "the slow consumer gets everything too");
    assert_eq!(items("broken"), 30, "fan-out of receiver a");
    // Batching merged one-item batches into groups of at most 16 + 1.
    let fast: Vec<_> = seen.iter().filter(|(n, _)| n == "fast").collect();
    assert!(fast.len() < 50, "batches were merged: {}", fast.len());
    assert!(fast.iter().all(|(_, b)| b.items() <= 17));
    // Fan-out shares the batch: the same bytes buffer, not a copy.
    for ((_, f), (_, s)) in fast.iter().zip(seen.iter().filter(|(n, _)| n == "slow")) {
        let (fb, sb) = (
            f.otlp_bytes().expect("bytes"),
            s.otlp_bytes().expect("bytes"),
        );
        assert_eq!(fb.as_ptr(), sb.as_ptr(), "fan-out copied a batch");
    }
    // Acks: receiver a's data went through the failing exporter.
    let outcomes: Vec<_> = std::mem::take(&mut *outcomes().lock());
    let mut failed = 0;
    let mut delivered = 0;
    for mut rx in outcomes {
        match rx.try_recv() {
            Ok(Delivery::Delivered) => delivered += 1,
            Ok(Delivery::Failed(reason)) => {
                assert_eq!(reason, "test failure");
                failed += 1;
            }
            Ok(Delivery::Rejected(reason)) => panic!("rejected, not failed: {reason}"),
            Err(e) => panic!("ack not settled after shutdown: {e:?}"),
        }
    }
    assert_eq!((delivered, failed), (20, 30));
}
