//! Errors of the plugin host, classified by who must act.
//!
//! [`WasmError`] is about loading a plugin (the user's file or
//! configuration, or the machine); [`CallError`] is about one call into a
//! plugin instance (the plugin's fault, or the batch's), which the node
//! turns into its `on-error` policy rather than a failure of the pipeline.

use std::path::PathBuf;

/// Loading, compiling or instantiating a plugin failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WasmError {
    /// The plugin file could not be read.
    #[error("cannot read plugin {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A directory in `grants { read ... }` is not one.
    #[error("cannot grant {path}: it is not a directory")]
    Grant {
        /// The directory.
        path: PathBuf,
    },
    /// `builtin:NAME` names no builtin plugin.
    #[error("no builtin plugin {0:?} (builtins: {builtins})", builtins = crate::builtin::names().join(", "))]
    UnknownBuiltin(String),
    /// The bytes are not a WebAssembly component wasmtime accepts.
    #[error("plugin {plugin} is not a valid WebAssembly component: {source}")]
    Compile {
        /// The plugin's name.
        plugin: String,
        /// wasmtime's reason.
        #[source]
        source: wasmtime::Error,
    },
    /// The component was built for another version of the plugin ABI.
    #[error(
        "plugin {plugin} was built for {found}, but this weir implements weir:pipeline@{expected}; \
         rebuild the plugin against weir's wit/pipeline.wit (weir:pipeline@{expected})"
    )]
    IncompatibleAbi {
        /// The plugin's name.
        plugin: String,
        /// The interface and version the plugin uses.
        found: String,
        /// The version this host implements.
        expected: &'static str,
    },
    /// The component does not export the processor interface at all.
    #[error(
        "plugin {plugin} is not a weir processor: it exports no weir:pipeline/processor \
         interface (its exports: {exports})"
    )]
    NotAProcessor {
        /// The plugin's name.
        plugin: String,
        /// What it exports instead.
        exports: String,
    },
    /// The component imports something the host does not provide.
    #[error("plugin {plugin} cannot be linked: {source}")]
    Link {
        /// The plugin's name.
        plugin: String,
        /// wasmtime's reason (names the missing import).
        #[source]
        source: wasmtime::Error,
    },
    /// The wasmtime engine could not be created.
    #[error("cannot create the WebAssembly engine: {0}")]
    Engine(#[source] wasmtime::Error),
    /// The first instance of the plugin failed.
    #[error("plugin {plugin} failed to start: {source}")]
    Start {
        /// The plugin's name.
        plugin: String,
        /// What happened.
        #[source]
        source: CallError,
    },
}

/// One call into a plugin instance failed. None of these stop the
/// pipeline: the node applies its `on-error` policy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The call ran past the node's `timeout`.
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// The plugin tried to grow its memory past the node's `memory` limit.
    #[error("memory limit of {limit} bytes exceeded")]
    Memory {
        /// The limit in bytes.
        limit: usize,
    },
    /// The plugin made more host calls in one call than allowed.
    #[error("more than {0} host calls in one call")]
    HostCalls(u64),
    /// The plugin wrote more than the node's `max-output`.
    #[error("output larger than {0} bytes")]
    Output(u64),
    /// The plugin trapped (a panic, an `unreachable`, a bad memory access).
    #[error("trapped: {message}")]
    Trap {
        /// wasmtime's description, with what the plugin wrote to stderr
        /// (a Rust panic message) when there is any.
        message: String,
    },
    /// The plugin returned an error for this batch.
    #[error("failed: {0}")]
    Failed(String),
    /// The plugin refused its configuration.
    #[error("refused its configuration: {0}")]
    InvalidConfig(String),
    /// The batch could not be decoded into columns (a bug upstream).
    #[error("invalid batch: {0}")]
    Data(#[from] weir_pdata::PdataError),
}

impl CallError {
    /// A short stable name for metrics labels (`timeout`, `memory`,
    /// `host_calls`, `output`, `trap`, `failed`, `config`, `data`).
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Timeout(_) => "timeout",
            CallError::Memory { .. } => "memory",
            CallError::HostCalls(_) => "host_calls",
            CallError::Output(_) => "output",
            CallError::Trap { .. } => "trap",
            CallError::Failed(_) => "failed",
            CallError::InvalidConfig(_) => "config",
            CallError::Data(_) => "data",
        }
    }

    /// Whether the instance is unusable afterwards (it trapped) and must be
    /// replaced.
    pub fn poisons_instance(&self) -> bool {
        matches!(
            self,
            CallError::Timeout(_)
                | CallError::Memory { .. }
                | CallError::HostCalls(_)
                | CallError::Trap { .. }
        )
    }
}
