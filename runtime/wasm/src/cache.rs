//! The on-disk cache of compiled plugin components.
//!
//! Compiling a component with Cranelift takes tens of milliseconds for a
//! small Rust plugin and seconds for a Python or JavaScript one (their
//! interpreters are inside). A node compiles once when it is built, never on
//! the hot path, and stores `Component::serialize` here so that the next
//! start (or the next node with the same plugin) only maps the artifact.
//!
//! An entry is keyed by the SHA-256 of the component's bytes and a hash of
//! everything in the engine that changes generated code (wasmtime's version,
//! the target CPU, the epoch/fuel settings: `precompile_compatibility_hash`).
//! Its file starts with the SHA-256 of the artifact, checked before the
//! artifact is handed to wasmtime, so a torn or corrupted file is recompiled
//! rather than loaded. The directory must be writable by weir's user only:
//! wasmtime trusts the artifacts it loads.

use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A [`Hasher`] over SHA-256, stable across Rust versions (unlike
/// `DefaultHasher`), to fingerprint the engine configuration.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first)
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// Compiled components on disk.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

impl CompileCache {
    /// The default directory: `$WEIR_WASM_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/weir/wasm`, else `$HOME/.cache/weir/wasm`; `None`
    /// when none of them is set (no cache).
    pub fn default_dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("WEIR_WASM_CACHE_DIR") {
            return (!dir.is_empty()).then(|| PathBuf::from(dir));
        }
        if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
            return Some(PathBuf::from(dir).join("weir").join("wasm"));
        }
        std::env::var_os("HOME")
            .filter(|d| !d.is_empty())
            .map(|h| PathBuf::from(h).join(".cache").join("weir").join("wasm"))
    }

    /// A cache in `dir` for artifacts of `engine`.
    pub fn new(dir: PathBuf, engine: &Engine) -> Self {
        let mut h = ShaHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut h);
        CompileCache {
            dir,
            engine_key: format!("{:016x}", h.finish()),
        }
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!(
            "{}-{}.cwasm",
            &sha256[..sha256.len().min(32)],
            self.engine_key
        ))
    }

    /// The compiled component for the component whose bytes hash to
    /// `sha256`, if cached and intact.
    pub fn load(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.path(sha256);
        let data = std::fs::read(&path).ok()?;
        if data.len() < 32 {
            return None;
        }
        let (sum, artifact) = data.split_at(32);
        if Sha256::digest(artifact).as_slice() != sum {
            tracing::warn!(path = %path.display(), "Corrupted compiled plugin in the cache; recompiling.");
            return None;
        }
        // SAFETY: `Component::deserialize` runs the machine code in the
        // artifact, so the bytes must come from `Component::serialize` of a
        // compatible engine. They do: only `store` below writes this
        // directory's `.cwasm` files, the name carries the engine's
        // compatibility hash (and wasmtime checks it again), and the
        // checksum above rejects torn or corrupted files. The directory is
        // documented as private to weir's user.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(engine, artifact) };
        match component {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "Compiled plugin in the cache not usable; recompiling.");
                None
            }
        }
    }

    /// Stores the compiled `component`; failures are logged, not fatal.
    pub fn store(&self, sha256: &str, component: &Component) {
        if let Err(e) = self.try_store(sha256, component) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "Could not cache a compiled plugin.");
        }
    }

    fn try_store(&self, sha256: &str, component: &Component) -> std::io::Result<()> {
        let artifact = component.serialize().map_err(std::io::Error::other)?;
        std::fs::create_dir_all(&self.dir)?;
        let path = self.path(sha256);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&Sha256::digest(&artifact))?;
        f.write_all(&artifact)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &path)
    }
}
