//! The `ebpf` receiver node: loads the probes, then reads their maps every
//! `interval` and sends what it read.

use tokio::sync::{mpsc, oneshot};
use weir_engine::node::{BoxFuture, Receiver, ReceiverContext};
use weir_engine::{Message, NodeError};

use super::collect::{Collected, Collector};
use super::config::EbpfConfig;

/// A built `ebpf` receiver.
///
/// # Lifecycle
/// Building acquires nothing. Running loads and attaches the probes of the
/// configured signals (off the async threads); if that fails (not root, no
/// tracefs, a kernel that refuses a program) it logs the reason once, as an
/// error, and idles until shutdown so the rest of the pipeline runs. Then
/// every `interval` it reads the maps and sends a metrics batch (cumulative
/// counters and histograms) and, with `profiles`, a profiles batch (the
/// samples of the interval). At shutdown it reads once more, sends, and
/// detaches the probes.
///
/// # Errors
/// None: a failed read is logged and counted, and the next interval tries
/// again.
#[derive(Debug)]
pub struct EbpfReceiver {
    config: EbpfConfig,
}

impl EbpfReceiver {
    /// A receiver collecting as `config` says.
    pub fn new(config: EbpfConfig) -> Self {
        EbpfReceiver { config }
    }
}

/// The probes' reader: an OS thread that owns the probes and the
/// collector (the symboliser's caches are not `Send`, and map reads are
/// blocking system calls), answering one read per request.
struct Reader {
    requests: mpsc::Sender<()>,
    results: mpsc::Receiver<Result<Collected, weir_ebpf::Error>>,
}

impl Reader {
    /// Starts the thread; `Err` with the reason when the probes cannot be
    /// loaded.
    async fn start(config: &EbpfConfig) -> Result<Reader, weir_ebpf::Error> {
        let (loaded_tx, loaded_rx) = oneshot::channel();
        let (requests, mut request_rx) = mpsc::channel::<()>(1);
        let (result_tx, results) = mpsc::channel(1);
        let config = config.clone();
        let spawned = std::thread::Builder::new()
            .name("weir-ebpf".into())
            .spawn(move || {
                let probes = match weir_ebpf::Probes::load(config.signals(), config.map_sizes()) {
                    Ok(p) => {
                        let _ = loaded_tx.send(Ok(()));
                        p
                    }
                    Err(e) => {
                        let _ = loaded_tx.send(Err(e));
                        return;
                    }
                };
                let mut collector = Collector::new(probes, &config);
                while request_rx.blocking_recv().is_some() {
                    if result_tx.blocking_send(collector.collect()).is_err() {
                        break;
                    }
                }
                // Dropping the collector detaches the probes.
            });
        if let Err(e) = spawned {
            return Err(weir_ebpf::Error::Io {
                path: "a thread for the eBPF reader".into(),
                source: e,
            });
        }
        match loaded_rx.await {
            Ok(Ok(())) => Ok(Reader { requests, results }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(weir_ebpf::Error::Io {
                path: "the eBPF reader thread".into(),
                source: std::io::Error::other("the thread ended while loading"),
            }),
        }
    }

    /// One read; `None` if the thread is gone.
    async fn read(&mut self) -> Option<Result<Collected, weir_ebpf::Error>> {
        self.requests.send(()).await.ok()?;
        self.results.recv().await
    }
}

impl Receiver for EbpfReceiver {
    fn run(self: Box<Self>, mut ctx: ReceiverContext) -> BoxFuture<Result<(), NodeError>> {
        let config = self.config;
        Box::pin(async move {
            let mut reader = match Reader::start(&config).await {
                Ok(r) => r,
                Err(e) => {
                    ctx.metrics.record_error();
                    tracing::error!(node = %ctx.id, reason = %e, "eBPF receiver unavailable; the rest of the pipeline runs without it.");
                    ctx.shutdown.wait().await;
                    return Ok(());
                }
            };
            let signals = config.signals();
            tracing::info!(node = %ctx.id, ?signals, interval = ?config.interval, "eBPF probes attached.");
            let mut ticker = tokio::time::interval(config.interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let _ = ticker.tick().await; // the first tick is immediate
            loop {
                let stopping = tokio::select! {
                    _ = ticker.tick() => false,
                    () = ctx.shutdown.wait() => true,
                };
                let Some(result) = reader.read().await else {
                    return Err(NodeError::Internal("the eBPF reader thread stopped".into()));
                };
                match result {
                    Ok(collected) => {
                        if collected.exited > 0 {
                            tracing::debug!(node = %ctx.id, processes = collected.exited, "Entries of exited processes deleted.");
                        }
                        for batch in collected.batches {
                            if ctx.output.send(Message::new(batch)).await.is_err() {
                                return Ok(());
                            }
                        }
                    }
                    Err(e) => {
                        ctx.metrics.record_error();
                        tracing::warn!(node = %ctx.id, error = %e, "Reading the eBPF maps failed; retrying next interval.");
                    }
                }
                if stopping {
                    break;
                }
            }
            Ok(())
        })
    }
}
