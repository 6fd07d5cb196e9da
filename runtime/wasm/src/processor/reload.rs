//! Hot reload of a `wasm` node's plugin.
//!
//! [`PluginReloader`] is what the engine calls on `SIGHUP`, `POST /reload`
//! or a watched file change. It re-reads the component; when its content
//! hash differs from the running version's it prepares the new version on
//! a thread of its own — compile (or load from the compile cache), link,
//! instantiate, `init`, the empty-batch probe — and only then hands it to
//! the node's thread as a job. Jobs run one at a time in arrival order, so
//! the swap happens between two batches: the batch in flight finishes on
//! the old instance, the next one runs on the new one, none is skipped or
//! run twice. The swap itself moves the plugin's state (`snapshot-state`
//! of the old instance into `restore-state` of the new) and is all the
//! stream ever waits for.
//!
//! The old version is kept until the new one has processed `canary`
//! batches. A trap, timeout, limit or plugin error in those rolls back:
//! the old instance (with its state as of the swap) runs again, starting
//! with the very batch that failed, so no batch is lost.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use parking_lot::Mutex;
use weir_engine::node::BoxFuture;
use weir_engine::reload::{PluginReload, Reloadable};

use crate::engine::PluginEngine;
use crate::error::CallError;
use crate::plugin::{Instance, Plugin};
use crate::processor::breaker::Breaker;
use crate::processor::config::{PluginSource, WasmConfig};
use crate::processor::node::{Core, Job, load_bytes, prepare};
use crate::telemetry::{PluginStats, PluginTelemetry};

/// A new version ready to be swapped in.
pub(crate) struct Candidate {
    plugin: Plugin,
    instance: Instance,
    hash: String,
}

/// The version a swap replaced, kept during the canary.
pub(crate) struct Previous {
    plugin: Plugin,
    instance: Option<Instance>,
    breaker: Breaker,
    hash: String,
}

/// The canary of a freshly swapped version.
pub(crate) struct Canary {
    previous: Previous,
    remaining: u32,
}

fn short(hash: &str) -> String {
    hash.chars().take(12).collect()
}

impl Core {
    /// Runs on the node's thread, between two batches.
    pub(crate) fn swap(&mut self, c: Candidate) -> PluginReload {
        let start = Instant::now();
        let from = self.stats.hash();
        let mut instance = c.instance;
        // A previous canary still running is settled first: it passed.
        self.canary = None;
        let mut state_bytes = 0;
        if let Some(old) = self.instance.as_mut() {
            let moved = old.snapshot_state().and_then(|s| {
                state_bytes = s.len();
                if s.is_empty() {
                    Ok(())
                } else {
                    instance.restore_state(&s)
                }
            });
            if let Err(e) = moved {
                let _ = self.stats.reloads_refused.fetch_add(1, Relaxed);
                tracing::error!(node = %self.node, plugin = %self.plugin.name(), hash = %from, new_hash = %c.hash, error = %e, "Plugin reload refused: the state could not be moved; the old version keeps running.");
                return PluginReload::Refused {
                    hash: from,
                    stage: "restore",
                    error: e.to_string(),
                };
            }
        }
        let previous = Previous {
            plugin: std::mem::replace(&mut self.plugin, c.plugin),
            instance: self.instance.replace(instance),
            breaker: std::mem::replace(&mut self.breaker, Breaker::new(self.config.circuit)),
            hash: from.clone(),
        };
        self.stats.set_hash(&c.hash);
        self.stats.circuit_open.store(0, Relaxed);
        let _ = self.stats.reloads.fetch_add(1, Relaxed);
        let canary_batches = self.config.canary;
        if canary_batches > 0 {
            self.canary = Some(Canary {
                previous,
                remaining: canary_batches,
            });
        }
        let pause = start.elapsed();
        tracing::info!(
            node = %self.node,
            plugin = %self.plugin.name(),
            from = %from,
            to = %c.hash,
            state_bytes,
            pause_us = pause.as_micros() as u64,
            canary_batches,
            "Plugin reloaded."
        );
        PluginReload::Swapped {
            from,
            to: c.hash,
            state_bytes,
            pause_us: u64::try_from(pause.as_micros()).unwrap_or(u64::MAX),
            canary_batches,
        }
    }

    /// A call of the new version succeeded: one canary batch less.
    pub(crate) fn canary_passed(&mut self) {
        if let Some(c) = self.canary.as_mut() {
            c.remaining = c.remaining.saturating_sub(1);
            if c.remaining == 0 {
                let previous = c.previous.hash.clone();
                self.canary = None;
                tracing::info!(node = %self.node, plugin = %self.plugin.name(), hash = %self.stats.hash(), previous = %previous, "Plugin version passed its canary; the previous one is released.");
            }
        }
    }

    /// A call of the new version failed during its canary: back to the
    /// previous one. Returns whether it rolled back (the caller then runs
    /// the same batch again, on the previous version).
    pub(crate) fn roll_back(&mut self, e: &CallError) -> bool {
        let Some(c) = self.canary.take() else {
            return false;
        };
        let failed = self.stats.hash();
        self.stats.failure(e.kind());
        let _ = self.stats.rollbacks.fetch_add(1, Relaxed);
        self.plugin = c.previous.plugin;
        self.instance = c.previous.instance;
        self.breaker = c.previous.breaker;
        self.stats.set_hash(&c.previous.hash);
        self.stats.set_rolled_back(&failed);
        tracing::error!(
            node = %self.node,
            plugin = %self.plugin.name(),
            failed = %failed,
            hash = %c.previous.hash,
            kind = e.kind(),
            error = %e,
            "Plugin version failed during its canary; rolled back to the previous one."
        );
        true
    }
}

/// The engine's handle to reload one `wasm` node's plugin.
#[derive(Clone, Debug)]
pub struct PluginReloader(Arc<Inner>);

struct Inner {
    node: String,
    source: PluginSource,
    base_dir: PathBuf,
    config: WasmConfig,
    jobs: Mutex<std::sync::mpsc::Sender<Job>>,
    stats: Arc<PluginStats>,
    telemetry: Arc<PluginTelemetry>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginReloader")
            .field("node", &self.node)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// What a reloader is made of (see [`PluginReloader::new`]).
pub(crate) struct ReloaderParts {
    pub node: String,
    pub base_dir: PathBuf,
    pub config: WasmConfig,
    pub jobs: std::sync::mpsc::Sender<Job>,
    pub stats: Arc<PluginStats>,
    pub telemetry: Arc<PluginTelemetry>,
}

impl PluginReloader {
    pub(crate) fn new(p: ReloaderParts) -> Self {
        PluginReloader(Arc::new(Inner {
            node: p.node,
            source: p.config.plugin.value.clone(),
            base_dir: p.base_dir,
            config: p.config,
            jobs: Mutex::new(p.jobs),
            stats: p.stats,
            telemetry: p.telemetry,
        }))
    }

    /// Reloads now, blocking the calling thread (not a runtime worker):
    /// re-reads the component, and swaps it in if its content changed.
    pub fn reload_blocking(&self) -> PluginReload {
        self.0.reload_blocking()
    }
}

impl Inner {
    fn refused(&self, stage: &'static str, error: String) -> PluginReload {
        let _ = self.stats.reloads_refused.fetch_add(1, Relaxed);
        tracing::error!(node = %self.node, plugin = %self.stats.plugin, hash = %self.stats.hash(), stage, error = %error, "Plugin reload refused; the running version keeps going.");
        PluginReload::Refused {
            hash: self.stats.hash(),
            stage,
            error,
        }
    }

    /// Compiles, instantiates and initialises the new version (blocking:
    /// call it off the runtime's workers).
    fn prepare(&self, bytes: &[u8], hash: String) -> Result<Candidate, PluginReload> {
        let engine = PluginEngine::shared().map_err(|e| self.refused("compile", e.to_string()))?;
        let name = self.source.display_name();
        let plugin = Plugin::new(engine, &name, bytes)
            .map_err(|e| self.refused("compile", e.to_string()))?;
        let instance = prepare(
            &plugin,
            &self.node,
            &self.config,
            &self.stats,
            &self.telemetry,
        )
        .map_err(|e| self.refused("init", e.to_string()))?;
        Ok(Candidate {
            plugin,
            instance,
            hash,
        })
    }

    fn reload_blocking(&self) -> PluginReload {
        let bytes = match load_bytes(&self.source, &self.base_dir) {
            Ok(b) => b,
            Err(e) => return self.refused("read", e.to_string()),
        };
        let sha256 = crate::cache::sha256_hex(&bytes);
        let hash = short(&sha256);
        if hash == self.stats.hash() {
            return PluginReload::Unchanged { hash };
        }
        if hash == self.stats.rolled_back() {
            return self.refused(
                "canary",
                format!("version {hash} was rolled back after failing its canary; change the component to try again"),
            );
        }
        let candidate = match self.prepare(&bytes, hash) {
            Ok(c) => c,
            Err(refused) => return refused,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let reply = Box::new(move |r| {
            let _ = tx.send(r);
        });
        if self
            .jobs
            .lock()
            .send(Job::Swap(Box::new(candidate), reply))
            .is_err()
        {
            return self.refused("swap", "the node has stopped".to_string());
        }
        rx.recv()
            .unwrap_or_else(|_| self.refused("swap", "the node has stopped".to_string()))
    }
}

impl Reloadable for PluginReloader {
    fn watched(&self) -> Vec<PathBuf> {
        match &self.0.source {
            PluginSource::File(p) => vec![self.0.base_dir.join(p)],
            PluginSource::Builtin(_) => Vec::new(),
        }
    }

    fn reload(&self) -> BoxFuture<PluginReload> {
        let this = self.0.clone();
        Box::pin(async move {
            let (tx, rx) = tokio::sync::oneshot::channel();
            // Compiling takes milliseconds to seconds and instantiating may
            // run WASI: a thread of its own, with the small runtime that
            // wasmtime-wasi's synchronous calls need.
            let spawned = std::thread::Builder::new()
                .name(format!("weir-reload-{}", this.node))
                .spawn(move || {
                    let outcome = match tokio::runtime::Builder::new_current_thread().build() {
                        Ok(rt) => {
                            let _entered = rt.enter();
                            this.reload_blocking()
                        }
                        Err(e) => this.refused("compile", format!("cannot start a runtime: {e}")),
                    };
                    let _ = tx.send(outcome);
                });
            if let Err(e) = spawned {
                return PluginReload::Refused {
                    hash: String::new(),
                    stage: "compile",
                    error: format!("cannot start the reload thread: {e}"),
                };
            }
            rx.await.unwrap_or(PluginReload::Refused {
                hash: String::new(),
                stage: "compile",
                error: "the reload thread ended".to_string(),
            })
        })
    }
}
