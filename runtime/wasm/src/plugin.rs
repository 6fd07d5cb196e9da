//! A loaded plugin ([`Plugin`]: compiled, checked, linked once) and its
//! instances ([`Instance`]: a store with limits, made from the
//! pre-instantiated component in well under a millisecond).

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker, Resource};
use wasmtime::{Store, Trap};
use weir_pdata::Batch;

use crate::bindings;
use crate::bindings::weir::pipeline::types::{MetricPoint, PluginError};
use crate::engine::{Compiled, PluginEngine};
use crate::error::{CallError, WasmError};
use crate::host::batch::BatchState;
use crate::host::state::{HostState, PluginIdentity, Violation};
use crate::limits::Limits;
use crate::processor::config::Grant;
use crate::telemetry::PluginTelemetry;

/// A plugin compiled and linked against the host, ready to instantiate.
#[derive(Clone)]
pub struct Plugin {
    name: String,
    compiled: Compiled,
    pre: bindings::PluginPre<HostState>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("compiled", &self.compiled)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    /// Compiles (or loads from the cache) and links the component `bytes`
    /// of the plugin called `name`.
    ///
    /// # Errors
    /// [`WasmError`] when the bytes are not a component, the component is
    /// not a compatible processor, or it imports what the host does not
    /// offer.
    pub fn new(engine: &PluginEngine, name: &str, bytes: &[u8]) -> Result<Plugin, WasmError> {
        let compiled = engine.compile(name, bytes)?;
        let link = |source| WasmError::Link {
            plugin: name.to_string(),
            source,
        };
        let mut linker = Linker::<HostState>::new(engine.engine());
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(link)?;
        bindings::Plugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(link)?;
        let pre = linker
            .instantiate_pre(&compiled.component)
            .and_then(bindings::PluginPre::new)
            .map_err(link)?;
        Ok(Plugin {
            name: name.to_string(),
            compiled,
            pre,
        })
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The hex SHA-256 of the component.
    pub fn sha256(&self) -> &str {
        &self.compiled.sha256
    }

    /// How the component was obtained (compiled or from the cache).
    pub fn compiled(&self) -> &Compiled {
        &self.compiled
    }

    /// A new instance, initialised with `config`.
    ///
    /// # Errors
    /// [`CallError::InvalidConfig`] when the plugin refuses its
    /// configuration; any trap or limit while starting.
    pub fn instantiate(
        &self,
        node: &str,
        limits: Limits,
        telemetry: Arc<PluginTelemetry>,
        config: &[(String, String)],
    ) -> Result<Instance, CallError> {
        self.instantiate_granted(node, limits, telemetry, config, &[])
    }

    /// [`Plugin::instantiate`] with directories the plugin may read
    /// (preopened read-only; host paths must be resolved already).
    ///
    /// # Errors
    /// As [`Plugin::instantiate`]; a grant that cannot be opened is a
    /// [`CallError::Trap`] naming it.
    pub fn instantiate_granted(
        &self,
        node: &str,
        limits: Limits,
        telemetry: Arc<PluginTelemetry>,
        config: &[(String, String)],
        grants: &[Grant],
    ) -> Result<Instance, CallError> {
        let identity = Arc::new(PluginIdentity {
            node: node.to_string(),
            plugin: self.name.clone(),
            hash: self.sha256().chars().take(12).collect(),
        });
        let mut store = Store::new(
            self.pre.engine(),
            HostState::new(limits, identity, telemetry, grants)
                .map_err(|message| CallError::Trap { message })?,
        );
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_trap();
        let mut instance = Instance {
            store,
            plugin: None,
            timeout: limits.timeout,
        };
        instance.arm();
        let plugin = self
            .pre
            .instantiate(&mut instance.store)
            .map_err(|e| instance.classify(e))?;
        instance.plugin = Some(plugin);
        instance.init(config)?;
        Ok(instance)
    }
}

/// What a `process` call produced.
#[derive(Debug)]
pub struct Processed {
    /// The batch to forward: a new one when the plugin changed anything,
    /// else the input itself.
    pub batch: Batch,
    /// Metric points the plugin emitted.
    pub metrics: Vec<MetricPoint>,
    /// Log lines dropped by the per-call budget.
    pub logs_dropped: u32,
}

/// One instance of a plugin: its store and exports.
///
/// Calls are synchronous. Make them from a thread that is not a tokio
/// worker: wasmtime-wasi's synchronous WASI (a guest writing to stderr, as
/// a panic does) blocks on a runtime of its own and panics on a worker. The
/// `wasm` node runs its instance on a dedicated thread for this reason.
pub struct Instance {
    store: Store<HostState>,
    plugin: Option<bindings::Plugin>,
    timeout: Duration,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("plugin", &self.store.data().identity)
            .finish_non_exhaustive()
    }
}

fn plugin_error(e: PluginError) -> CallError {
    match e {
        PluginError::InvalidConfig(m) => CallError::InvalidConfig(m),
        PluginError::Failed(m) => CallError::Failed(m),
    }
}

impl Instance {
    /// Starts a call: a fresh budget and deadline.
    fn arm(&mut self) {
        self.store.data_mut().begin_call();
        self.store
            .set_epoch_deadline(PluginEngine::deadline_ticks(self.timeout));
    }

    /// Why a call trapped.
    fn classify(&self, e: wasmtime::Error) -> CallError {
        let state = self.store.data();
        if state.memory_exceeded() {
            return CallError::Memory {
                limit: state.limits.memory,
            };
        }
        if let Some(Violation::HostCalls(n)) = state.call.violation {
            return CallError::HostCalls(n);
        }
        if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return CallError::Timeout(self.timeout);
        }
        let stderr = state.stderr.text();
        let mut message = format!("{e}");
        if let Some(trap) = e.downcast_ref::<Trap>() {
            message = format!("{trap}");
        }
        if !stderr.is_empty() {
            message = format!("{message}; the plugin wrote: {stderr}");
        }
        CallError::Trap { message }
    }

    /// The store and the exports, borrowed apart.
    fn parts(&mut self) -> Result<(&mut Store<HostState>, &bindings::Plugin), CallError> {
        match &self.plugin {
            Some(p) => Ok((&mut self.store, p)),
            None => Err(CallError::Trap {
                message: "the instance was not started".to_string(),
            }),
        }
    }

    /// Calls `init`.
    fn init(&mut self, config: &[(String, String)]) -> Result<(), CallError> {
        self.arm();
        let result = {
            let (store, exports) = self.parts()?;
            exports.weir_pipeline_processor().call_init(store, config)
        };
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(plugin_error(e)),
            Err(e) => Err(self.classify(e)),
        }
    }

    /// Runs `process` on `batch`.
    ///
    /// # Errors
    /// [`CallError`]: the plugin failed, trapped or broke a limit. After an
    /// error for which [`CallError::poisons_instance`] is true the instance
    /// must be dropped.
    pub fn process(&mut self, batch: &Batch) -> Result<Processed, CallError> {
        let state = BatchState::of(batch)?;
        let res = self
            .store
            .data_mut()
            .table
            .push(state)
            .map_err(|e| CallError::Trap {
                message: format!("cannot lend the batch: {e}"),
            })?;
        let rep = res.rep();
        self.arm();
        // Lend it as a plain borrow: an owned handle lowered into a
        // `borrow` parameter would take a slot in the store's host handle
        // table that is never given back.
        let lent = Resource::<BatchState>::new_borrow(rep);
        let result = {
            let (store, exports) = self.parts()?;
            exports.weir_pipeline_processor().call_process(store, lent)
        };
        let returned = match result {
            Ok(r) => r,
            Err(e) => return Err(self.classify(e)),
        };
        let state = self
            .store
            .data_mut()
            .table
            .delete(res)
            .map_err(|e| CallError::Trap {
                message: format!("cannot take the batch back: {e}"),
            })?;
        returned.map_err(plugin_error)?;
        let call = std::mem::take(&mut self.store.data_mut().call);
        if let Some(Violation::Output(n)) = call.violation {
            return Err(CallError::Output(n));
        }
        let out = state.into_changed().into_batch(batch);
        Ok(Processed {
            batch: out,
            metrics: call.metrics,
            logs_dropped: call.logs_dropped,
        })
    }

    /// Caps the component-model handles the instance's store may hold at
    /// once (wasmtime's default is 100 000). Lowering it makes a handle
    /// leak show after a few calls instead of a hundred thousand.
    pub fn set_max_handles(&mut self, limit: usize) {
        self.store.set_max_component_handles(limit);
    }

    /// Runs `tick` with the time `now` (nanoseconds since the epoch).
    ///
    /// # Errors
    /// As [`Instance::process`].
    pub fn tick(&mut self, now: i64) -> Result<Vec<MetricPoint>, CallError> {
        self.arm();
        let result = {
            let (store, exports) = self.parts()?;
            exports.weir_pipeline_processor().call_tick(store, now)
        };
        match result {
            Ok(Ok(points)) => {
                let size: u64 = points.iter().map(crate::host::emit::size).sum();
                if !self.store.data_mut().take_output(size) {
                    return Err(CallError::Output(self.store.data().limits.max_output));
                }
                if let Some(e) = points
                    .iter()
                    .find_map(|p| crate::host::emit::check(p).err())
                {
                    return Err(CallError::Failed(crate::host::describe(&e)));
                }
                Ok(points)
            }
            Ok(Err(e)) => Err(plugin_error(e)),
            Err(e) => Err(self.classify(e)),
        }
    }

    /// The plugin's state for a hot reload (`snapshot-state`).
    ///
    /// # Errors
    /// As [`Instance::process`].
    pub fn snapshot_state(&mut self) -> Result<Vec<u8>, CallError> {
        self.arm();
        let result = {
            let (store, exports) = self.parts()?;
            exports.weir_pipeline_processor().call_snapshot_state(store)
        };
        result.map_err(|e| self.classify(e))
    }

    /// Hands the previous version's state to this instance
    /// (`restore-state`).
    ///
    /// # Errors
    /// As [`Instance::process`].
    pub fn restore_state(&mut self, state: &[u8]) -> Result<(), CallError> {
        self.arm();
        let result = {
            let (store, exports) = self.parts()?;
            exports
                .weir_pipeline_processor()
                .call_restore_state(store, state)
        };
        match result {
            Ok(r) => r.map_err(plugin_error),
            Err(e) => Err(self.classify(e)),
        }
    }
}
