//! The wasmtime engine shared by every plugin node, its epoch ticker, and
//! compiling (or loading from the on-disk cache) a plugin's component.
//!
//! # Why epochs rather than fuel
//! Fuel counts every instruction: it adds 30-45% to compile time and up to
//! ~50% to small calls (measured on this kind of machine, see
//! `docs/plugin-abi.md`). Epoch interruption only adds a check of one
//! counter at function entries and loop headers (~10-20% on the smallest
//! calls, nothing measurable on batch-sized ones). A deadline is a wall
//! clock budget, which is what an operator means by `timeout "100ms"`; its
//! resolution is [`EPOCH_TICK`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use wasmtime::component::Component;
use wasmtime::{Config, Engine, OptLevel};

use crate::cache::CompileCache;
use crate::error::WasmError;

/// How often the ticker thread advances the engine's epoch: the resolution
/// of call deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The engine plugins are compiled for and run on.
pub struct PluginEngine {
    engine: Engine,
    cache: Option<CompileCache>,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for PluginEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEngine")
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

/// A compiled plugin component and what identifies it.
#[derive(Clone)]
pub struct Compiled {
    /// The component.
    pub component: Component,
    /// Hex SHA-256 of the component's bytes.
    pub sha256: String,
    /// Whether it came from the on-disk cache rather than the compiler.
    pub from_cache: bool,
    /// How long compiling or loading took.
    pub took: Duration,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("sha256", &self.sha256)
            .field("from_cache", &self.from_cache)
            .field("took", &self.took)
            .finish_non_exhaustive()
    }
}

static SHARED: OnceLock<Result<PluginEngine, String>> = OnceLock::new();

impl PluginEngine {
    /// The process-wide engine, created on first use with the default cache
    /// directory ([`CompileCache::default_dir`]).
    ///
    /// # Errors
    /// [`WasmError::Engine`] when wasmtime refuses the configuration (an
    /// unsupported CPU).
    pub fn shared() -> Result<&'static PluginEngine, WasmError> {
        let r = SHARED.get_or_init(|| {
            PluginEngine::new(CompileCache::default_dir()).map_err(|e| e.to_string())
        });
        r.as_ref()
            .map_err(|e| WasmError::Engine(wasmtime::Error::msg(e.clone())))
    }

    /// An engine with its own epoch ticker thread, caching compiled
    /// components in `cache_dir` (no cache when `None`).
    ///
    /// # Errors
    /// [`WasmError::Engine`] when wasmtime refuses the configuration.
    pub fn new(cache_dir: Option<PathBuf>) -> Result<PluginEngine, WasmError> {
        let mut config = Config::new();
        let _ = config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .cranelift_opt_level(OptLevel::Speed)
            // Plugins are sandboxed processors, not deep recursions.
            .max_wasm_stack(1 << 20);
        let engine = Engine::new(&config).map_err(WasmError::Engine)?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker_engine = engine.clone();
        let ticker_stop = stop.clone();
        let spawned = std::thread::Builder::new()
            .name("weir-wasm-epoch".to_string())
            .spawn(move || {
                while !ticker_stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    ticker_engine.increment_epoch();
                }
            });
        if let Err(e) = spawned {
            return Err(WasmError::Engine(wasmtime::Error::msg(format!(
                "cannot start the epoch thread: {e}"
            ))));
        }
        let cache = cache_dir.map(|dir| CompileCache::new(dir, &engine));
        Ok(PluginEngine {
            engine,
            cache,
            stop,
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The compile cache, if any.
    pub fn cache(&self) -> Option<&CompileCache> {
        self.cache.as_ref()
    }

    /// Deadline in epoch ticks for a call of at most `timeout`.
    pub fn deadline_ticks(timeout: Duration) -> u64 {
        let tick = EPOCH_TICK.as_nanos().max(1);
        u64::try_from(timeout.as_nanos().div_ceil(tick))
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Compiles `bytes` (the component of plugin `name`), or loads the
    /// compiled artifact from the cache. Checks the plugin's ABI first.
    ///
    /// # Errors
    /// [`WasmError::Compile`] for bytes that are not a valid component;
    /// [`WasmError::IncompatibleAbi`] / [`WasmError::NotAProcessor`] for a
    /// component that is not a `weir:pipeline@0.1` processor.
    pub fn compile(&self, name: &str, bytes: &[u8]) -> Result<Compiled, WasmError> {
        let start = Instant::now();
        let sha256 = crate::cache::sha256_hex(bytes);
        if let Some(cache) = &self.cache
            && let Some(component) = cache.load(&self.engine, &sha256)
        {
            crate::abi::check(name, &component, &self.engine)?;
            return Ok(Compiled {
                component,
                sha256,
                from_cache: true,
                took: start.elapsed(),
            });
        }
        let component =
            Component::new(&self.engine, bytes).map_err(|source| WasmError::Compile {
                plugin: name.to_string(),
                source,
            })?;
        crate::abi::check(name, &component, &self.engine)?;
        if let Some(cache) = &self.cache {
            cache.store(&sha256, &component);
        }
        Ok(Compiled {
            component,
            sha256,
            from_cache: false,
            took: start.elapsed(),
        })
    }
}

impl Drop for PluginEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
