//! The node traits: receivers, processors and exporters.
//!
//! Every node owns its loop: the engine hands it a context (its input, its
//! output, its counters, a shutdown signal) and spawns [`Receiver::run`],
//! [`Processor::run`] or [`Exporter::run`] as a task.
//!
//! # Lifecycle
//! 1. *Validate*: the component reads its configuration (pure, no I/O).
//! 2. *Build*: the component acquires resources (binds sockets, opens
//!    files); failures are reported as configuration diagnostics.
//! 3. *Run*: the engine spawns the node. Receivers run until the shutdown
//!    signal; processors and exporters run until their input is closed and
//!    drained, then flush and return. That order — receivers stop first,
//!    everything downstream drains — is how graceful shutdown loses nothing.
//!
//! # Errors
//! A node that returns an error has stopped; the engine logs it and shuts
//! the pipeline down. Errors about one batch are not node errors: the node
//! counts them, fails the batch's acks and goes on.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;
use weir_pdata::Batch;

use crate::channel::{Input, Output};
use crate::error::NodeError;
use crate::message::Message;
use crate::metrics::NodeMetrics;
use crate::reload::Reloadable;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The signal that tells receivers to stop accepting data.
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// A signal and its trigger.
    pub fn new() -> (watch::Sender<bool>, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (tx, Shutdown(rx))
    }

    /// A signal over an existing trigger.
    pub fn from_watch(rx: watch::Receiver<bool>) -> Shutdown {
        Shutdown(rx)
    }

    /// Waits until shutdown is requested (or the trigger is gone).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|v| *v).await;
    }

    /// Whether shutdown has been requested.
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }
}

/// What a receiver gets to run with.
pub struct ReceiverContext {
    /// The node's name.
    pub id: String,
    /// Where to send what it receives.
    pub output: Output,
    /// Fires when the receiver must stop accepting data.
    pub shutdown: Shutdown,
    /// The node's counters.
    pub metrics: Arc<NodeMetrics>,
}

/// What a processor gets to run with.
pub struct ProcessorContext {
    /// The node's name.
    pub id: String,
    /// Its input; closed once every upstream node is done.
    pub input: Input,
    /// Where to send results.
    pub output: Output,
    /// The input of the exporter named by the node's `dead-letter`, if
    /// any: where a processor sends the batches it fails on when its
    /// failure policy says so (`on-error "dead-letter"` of a wasm node).
    pub dead_letter: Option<Output>,
    /// The node's counters.
    pub metrics: Arc<NodeMetrics>,
}

/// What an exporter gets to run with.
pub struct ExporterContext {
    /// The node's name.
    pub id: String,
    /// Its input; closed once every upstream node is done.
    pub input: Input,
    /// The node's counters.
    pub metrics: Arc<NodeMetrics>,
}

/// A node that brings data into the pipeline.
pub trait Receiver: Send + 'static {
    /// Runs until `ctx.shutdown` fires, then returns (dropping its output is
    /// what lets the rest of the pipeline drain).
    fn run(self: Box<Self>, ctx: ReceiverContext) -> BoxFuture<Result<(), NodeError>>;
}

/// A node that transforms data.
pub trait Processor: Send + 'static {
    /// Runs until its input is closed and drained, flushes, returns.
    fn run(self: Box<Self>, ctx: ProcessorContext) -> BoxFuture<Result<(), NodeError>>;

    /// A handle to swap the node's code while it runs (a plugin), asked
    /// once before [`Processor::run`]; `None` (the default) for nodes
    /// whose code is built in.
    fn reloader(&self) -> Option<Arc<dyn Reloadable>> {
        None
    }
}

/// A node that sends data out of the pipeline.
pub trait Exporter: Send + 'static {
    /// Runs until its input is closed and drained, flushes, returns.
    fn run(self: Box<Self>, ctx: ExporterContext) -> BoxFuture<Result<(), NodeError>>;
}

/// A processor that maps one batch to zero or one batch, synchronously.
///
/// Most processors are this; [`batch_processor`] turns one into a node that
/// times each call and keeps the acks of the input on the output.
pub trait BatchProcessor: Send + 'static {
    /// Processes one batch. `Ok(None)` drops it (its acks settle as
    /// delivered: dropping was the intent).
    ///
    /// # Errors
    /// An error about this batch: the node counts it, fails the batch's acks
    /// and goes on.
    fn process(&mut self, batch: Batch) -> Result<Option<Batch>, NodeError>;
}

/// Wraps a [`BatchProcessor`] as a [`Processor`] node.
pub fn batch_processor<P: BatchProcessor>(p: P) -> Box<dyn Processor> {
    Box::new(BatchProcessorNode(p))
}

struct BatchProcessorNode<P>(P);

impl<P: BatchProcessor> Processor for BatchProcessorNode<P> {
    fn run(self: Box<Self>, mut ctx: ProcessorContext) -> BoxFuture<Result<(), NodeError>> {
        let mut p = self.0;
        Box::pin(async move {
            while let Some(msg) = ctx.input.recv().await {
                let start = Instant::now();
                let items = msg.batch.items();
                let result = p.process(msg.batch.clone());
                ctx.metrics.record_latency(start.elapsed());
                match result {
                    Ok(Some(out)) => {
                        let dropped = items.saturating_sub(out.items());
                        if dropped > 0 {
                            ctx.metrics.record_dropped(dropped);
                        }
                        if ctx.output.send(msg.map(out)).await.is_err() {
                            break;
                        }
                    }
                    Ok(None) => ctx.metrics.record_dropped(items),
                    Err(e) => {
                        ctx.metrics.record_error();
                        ctx.metrics.record_failed(items);
                        tracing::warn!(node = %ctx.id, error = %e, items, "Batch failed in processor.");
                        msg.fail(&format!("processor {}: {e}", ctx.id));
                    }
                }
            }
            Ok(())
        })
    }
}

/// An exporter that sends one batch at a time.
///
/// [`batch_exporter`] turns one into a node: it calls
/// [`BatchExporter::export`] for each message, fails the message's acks when
/// that returns an error (after the exporter's own retries), and calls
/// [`BatchExporter::shutdown`] once the input is drained.
pub trait BatchExporter: Send + 'static {
    /// Exports one batch (retrying as the exporter sees fit).
    ///
    /// # Errors
    /// The batch could not be delivered; it is counted as failed.
    fn export(&mut self, batch: &Batch) -> impl Future<Output = Result<(), NodeError>> + Send;

    /// Flushes and releases resources after the last batch.
    ///
    /// # Errors
    /// Data buffered in the exporter could not be written.
    fn shutdown(&mut self) -> impl Future<Output = Result<(), NodeError>> + Send {
        async { Ok(()) }
    }
}

/// Wraps a [`BatchExporter`] as an [`Exporter`] node.
pub fn batch_exporter<E: BatchExporter>(e: E) -> Box<dyn Exporter> {
    Box::new(BatchExporterNode(e))
}

struct BatchExporterNode<E>(E);

impl<E: BatchExporter> Exporter for BatchExporterNode<E> {
    fn run(self: Box<Self>, mut ctx: ExporterContext) -> BoxFuture<Result<(), NodeError>> {
        let mut e = self.0;
        Box::pin(async move {
            while let Some(msg) = ctx.input.recv().await {
                export_one(&mut e, &ctx, msg).await;
            }
            e.shutdown().await
        })
    }
}

async fn export_one<E: BatchExporter>(e: &mut E, ctx: &ExporterContext, msg: Message) {
    let start = Instant::now();
    let items = msg.batch.items();
    let result = e.export(&msg.batch).await;
    ctx.metrics.record_latency(start.elapsed());
    match result {
        Ok(()) => ctx.metrics.record_out(items),
        Err(err) => {
            ctx.metrics.record_error();
            ctx.metrics.record_failed(items);
            if err.is_permanent() {
                tracing::error!(node = %ctx.id, error = %err, items, "Export rejected; batch not delivered and not retried.");
            } else {
                tracing::error!(node = %ctx.id, error = %err, items, "Export failed; batch not delivered.");
            }
            msg.fail_with(&err, &format!("exporter {}: {err}", ctx.id));
        }
    }
}
