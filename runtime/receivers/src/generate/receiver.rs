//! The `generate` receiver node: one paced loop per configured signal.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use weir_engine::channel::Output;
use weir_engine::node::{BoxFuture, Receiver, ReceiverContext, Shutdown};
use weir_engine::{Message, NodeError};
use weir_pdata::{Batch, Signal};

use super::config::GenerateConfig;
use super::data::Generator;

/// A built `generate` receiver.
///
/// # Lifecycle
/// Building acquires nothing. Running sends batches of `batch-size` items
/// of every configured signal, paced to `rate` items per second per signal
/// (unpaced when `rate` is 0; [`Output::send`] then waits for room, so the
/// pipeline's speed sets the pace). It returns after `count` items per
/// signal, or at shutdown, whichever comes first.
///
/// # Errors
/// None: a closed output (the pipeline is stopping) ends the loop quietly.
#[derive(Debug)]
pub struct GenerateReceiver {
    config: GenerateConfig,
}

impl GenerateReceiver {
    /// A receiver generating as `config` says.
    pub fn new(config: GenerateConfig) -> Self {
        GenerateReceiver { config }
    }
}

impl Receiver for GenerateReceiver {
    fn run(self: Box<Self>, ctx: ReceiverContext) -> BoxFuture<Result<(), NodeError>> {
        let config = self.config;
        Box::pin(async move {
            let loops = config
                .signals
                .iter()
                .map(|signal| generate(*signal, &config, &ctx.output, ctx.shutdown.clone()));
            let sent = futures::future::join_all(loops).await;
            for (signal, items) in config.signals.iter().zip(sent) {
                tracing::info!(node = %ctx.id, %signal, items, "Generator stopped.");
            }
            Ok(())
        })
    }
}

/// Sends batches of `signal` until `count` or shutdown; returns the number
/// of items sent.
async fn generate(
    signal: Signal,
    config: &GenerateConfig,
    output: &Output,
    mut shutdown: Shutdown,
) -> u64 {
    let mut generator = Generator::new(signal, config.services, config.seed);
    let batch_size = config.batch_size as u64;
    let mut start = Instant::now();
    let mut sent: u64 = 0;
    loop {
        let n = match config.count {
            Some(count) => batch_size.min(count - sent),
            None => batch_size,
        };
        if n == 0 || shutdown.is_triggered() {
            break;
        }
        if config.rate > 0 {
            let due = start + Duration::from_secs_f64(sent as f64 / config.rate as f64);
            // After a long stall (a slow pipeline), resume the pace instead
            // of bursting to catch up.
            let now = Instant::now();
            if now > due + Duration::from_secs(1) {
                start += now - due;
            } else {
                tokio::select! {
                    () = tokio::time::sleep_until(due) => {}
                    () = shutdown.wait() => break,
                }
            }
        }
        let items = usize::try_from(n).unwrap_or(usize::MAX);
        let bytes = Bytes::from(generator.request(signal, items));
        let msg = Message::new(Batch::from_otlp_unchecked(signal, bytes, items));
        tokio::select! {
            biased;
            () = shutdown.wait() => break,
            sent_ok = output.send(msg) => {
                if sent_ok.is_err() {
                    break;
                }
            }
        }
        sent += n;
    }
    sent
}
