//! Configuration of the `wasm` processor, read from KDL.
//!
//! ```kdl
//! processor "redact" type="wasm" {
//!     from "otlp"
//!     plugin "builtin:redact"          // or a path to a component, relative
//!                                      // to the pipeline file
//!     config {                         // handed to the plugin's `init`
//!         rule "pw" { keys "db.statement"; pattern "password=\\S*"; }
//!     }
//!     on-error "pass"                  // or "drop", or "dead-letter" (with
//!                                      // `dead-letter "exporter"`); default "pass"
//!     limits {
//!         memory "64MiB"               // linear memory cap
//!         timeout "100ms"              // per call
//!         max-output "64MiB"           // bytes written per call
//!         host-calls 10000             // host calls per call
//!     }
//!     circuit {
//!         failures 5                   // consecutive failures that open it
//!         backoff "1s"                 // first pause, doubling...
//!         max-backoff "1m"             // ...up to this
//!     }
//!     tick "10s"                       // call the plugin's `tick`; default never
//!     forward #false                   // send on only the metric points the
//!                                      // plugin emits; default #true
//!     grants { read "./lookups" }      // preopened read-only as /lookups
//!     canary 8                         // batches a reloaded version must
//!                                      // pass before the old one goes
//! }
//! ```

use std::path::PathBuf;
use std::time::Duration;

use kdl::{KdlNode, KdlValue};
use weir_config::{ConfigError, ErrorCode, NodeReader, SourceSpan, Spanned};

use crate::builtin;
use crate::limits::Limits;

/// Where the plugin comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// A builtin embedded in the binary (`builtin:redact`).
    Builtin(String),
    /// A component file; relative paths resolve against the pipeline
    /// file's directory.
    File(PathBuf),
}

impl PluginSource {
    /// The name used in logs and metrics: `builtin:NAME` or the path.
    pub fn display_name(&self) -> String {
        match self {
            PluginSource::Builtin(n) => format!("{}{n}", builtin::PREFIX),
            PluginSource::File(p) => p.display().to_string(),
        }
    }
}

/// What the node does with a batch the plugin failed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Forward the batch unchanged (the default: nothing is lost, but
    /// nothing is redacted or sampled either).
    #[default]
    Pass,
    /// Drop the batch (counted as dropped; use it for redaction, where
    /// letting unredacted data through is worse than losing it).
    Drop,
    /// Send the batch, unchanged, to the node's `dead-letter` exporter
    /// (which keeps it for inspection or replay) and not downstream.
    DeadLetter,
}

/// The circuit breaker's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitConfig {
    /// Consecutive failures that open the circuit. Default 5.
    pub failures: u32,
    /// How long the circuit stays open the first time. Default 1 s.
    pub backoff: Duration,
    /// The longest it stays open (the pause doubles each time a trial call
    /// fails). Default 60 s.
    pub max_backoff: Duration,
}

impl CircuitConfig {
    /// Default `failures`.
    pub const DEFAULT_FAILURES: u32 = 5;
    /// Default `backoff`.
    pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);
    /// Default `max-backoff`.
    pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(60);
}

impl Default for CircuitConfig {
    fn default() -> Self {
        CircuitConfig {
            failures: Self::DEFAULT_FAILURES,
            backoff: Self::DEFAULT_BACKOFF,
            max_backoff: Self::DEFAULT_MAX_BACKOFF,
        }
    }
}

/// A directory the pipeline lets a plugin read (`grants { read "DIR" }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The directory on the host; relative to the pipeline file's
    /// directory until the node is built.
    pub host: PathBuf,
    /// Where the plugin sees it (`/NAME` by default: the directory's last
    /// component).
    pub guest: String,
}

/// A validated `processor type="wasm"` node.
#[derive(Debug, Clone)]
pub struct WasmConfig {
    /// The plugin, with where it was written.
    pub plugin: Spanned<PluginSource>,
    /// The `config { ... }` block as pairs (see [`flatten_config`]).
    pub config: Vec<(String, String)>,
    /// Where the `config` block is (or the node, without one).
    pub config_span: SourceSpan,
    /// `on-error`.
    pub on_error: OnError,
    /// `limits { ... }`.
    pub limits: Limits,
    /// `circuit { ... }`.
    pub circuit: CircuitConfig,
    /// `tick`: how often to call the plugin's `tick`; never by default.
    pub tick: Option<Duration>,
    /// `grants { read "DIR" }`: directories preopened read-only. Nothing
    /// else of the filesystem is visible to the plugin.
    pub grants: Vec<Grant>,
    /// `forward`: whether the batches the plugin processed go on
    /// downstream (the default), or only the metric points it emits (a
    /// side branch that derives metrics, like the SLOs' `builtin:sli`).
    pub forward: bool,
    /// `canary`: batches a hot-reloaded version must process without a
    /// failure before the previous version is let go; a failure in them
    /// rolls back. Default [`WasmConfig::DEFAULT_CANARY`].
    pub canary: u32,
}

impl WasmConfig {
    /// Default `canary`.
    pub const DEFAULT_CANARY: u32 = 8;

    /// A configuration for `plugin` with every default (for programmatic
    /// use and tests).
    pub fn new(plugin: PluginSource) -> Self {
        WasmConfig {
            plugin: Spanned::new(plugin, SourceSpan::from(0..0)),
            config: Vec::new(),
            config_span: SourceSpan::from(0..0),
            on_error: OnError::default(),
            limits: Limits::default(),
            circuit: CircuitConfig::default(),
            tick: None,
            grants: Vec::new(),
            forward: true,
            canary: Self::DEFAULT_CANARY,
        }
    }
}

/// Reads `grants { read "DIR" [at="/PATH"] ... }`.
fn read_grants(r: &mut NodeReader<'_>) -> Vec<Grant> {
    let mut grants = Vec::new();
    let _ = r.block("grants", |g| {
        g.mark_used("read");
        let node = g.node();
        let Some(doc) = node.children() else {
            return;
        };
        for n in doc.nodes().iter().filter(|n| n.name().value() == "read") {
            let dir = n
                .entries()
                .iter()
                .find(|e| e.name().is_none())
                .and_then(|e| e.value().as_string().map(|s| (s.to_string(), e.span())));
            let Some((dir, span)) = dir else {
                g.invalid(
                    n.name().span(),
                    "`read` needs a directory",
                    "write `read \"./lookups\"`",
                );
                continue;
            };
            let at = n
                .entries()
                .iter()
                .find(|e| e.name().is_some_and(|k| k.value() == "at"))
                .and_then(|e| e.value().as_string().map(str::to_string));
            let guest = match at {
                Some(a) if a.starts_with('/') && !a.contains("..") => a,
                Some(_) => {
                    g.invalid(
                        span,
                        "`at` must be an absolute path without `..`",
                        "write `at=\"/data\"`",
                    );
                    continue;
                }
                None => match std::path::Path::new(&dir).file_name() {
                    Some(name) => format!("/{}", name.to_string_lossy()),
                    None => {
                        g.invalid(
                            span,
                            "this directory has no name to show it under",
                            "say where the plugin sees it: `at=\"/data\"`",
                        );
                        continue;
                    }
                },
            };
            grants.push(Grant {
                host: PathBuf::from(dir),
                guest,
            });
        }
    });
    grants
}

fn value_text(v: &KdlValue) -> Option<String> {
    match v {
        KdlValue::String(s) => Some(s.clone()),
        KdlValue::Integer(i) => Some(i.to_string()),
        KdlValue::Float(f) => Some(f.to_string()),
        KdlValue::Bool(b) => Some(b.to_string()),
        KdlValue::Null => None,
    }
}

/// Flattens a `config { ... }` block into the pairs a plugin's `init` gets:
/// `key "v"` gives `("key", "v")`; `key "a" "b"` two pairs; `key x=1` gives
/// `("key.x", "1")`; a child block `rule "pw" { action "mask" }` gives
/// `("rule.pw.action", "mask")` (and `rule { ... }` gives `rule.action`).
/// Numbers and booleans become their text. Problems are recorded on `r`.
pub fn flatten_config(
    r: &mut NodeReader<'_>,
    node: &KdlNode,
    prefix: &str,
    out: &mut Vec<(String, String)>,
) {
    let Some(doc) = node.children() else {
        return;
    };
    for child in doc.nodes() {
        let name = child.name().value();
        let key = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        };
        let args: Vec<_> = child
            .entries()
            .iter()
            .filter(|e| e.name().is_none())
            .collect();
        for e in child.entries().iter() {
            if let Some(prop) = e.name() {
                match value_text(e.value()) {
                    Some(v) => out.push((format!("{key}.{}", prop.value()), v)),
                    None => r.invalid(e.span(), "#null is not a setting", "write a value"),
                }
            }
        }
        if child.children().is_some() {
            let nested = match args.as_slice() {
                [] => key,
                [label] => match label.value().as_string() {
                    Some(l) if !l.contains('.') && !l.is_empty() => format!("{key}.{l}"),
                    _ => {
                        r.invalid(
                            label.span(),
                            "a block's label must be a string without dots",
                            format!("write it as `{name} \"label\" {{ ... }}`"),
                        );
                        continue;
                    }
                },
                [_, extra, ..] => {
                    r.invalid(
                        extra.span(),
                        "a block takes at most one label",
                        format!("write it as `{name} \"label\" {{ ... }}`"),
                    );
                    continue;
                }
            };
            flatten_config(r, child, &nested, out);
            continue;
        }
        if args.is_empty() && child.entries().iter().all(|e| e.name().is_none()) {
            r.invalid(
                child.name().span(),
                format!("`{name}` has no value"),
                format!("write it as `{name} \"value\"`"),
            );
        }
        for a in args {
            match value_text(a.value()) {
                Some(v) => out.push((key.clone(), v)),
                None => r.invalid(a.span(), "#null is not a setting", "write a value"),
            }
        }
    }
}

/// Reads a `processor type="wasm"` block.
pub fn validate(r: &mut NodeReader<'_>) -> Option<WasmConfig> {
    let plugin = r.string("plugin");
    let plugin = r.require("plugin", plugin, "plugin \"builtin:redact\"");
    let plugin = plugin.and_then(|p| {
        let source = match p.value.strip_prefix(builtin::PREFIX) {
            Some(name) => {
                if builtin::get(name).is_none() {
                    r.invalid(
                        p.span,
                        format!("no builtin plugin {name:?}"),
                        format!(
                            "builtins: {}",
                            builtin::names()
                                .iter()
                                .map(|n| format!("{}{n}", builtin::PREFIX))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                    return None;
                }
                PluginSource::Builtin(name.to_string())
            }
            None if p.value.trim().is_empty() => {
                r.invalid(
                    p.span,
                    "an empty path",
                    "name a .wasm component or builtin:NAME",
                );
                return None;
            }
            None => PluginSource::File(PathBuf::from(&p.value)),
        };
        Some(Spanned::new(source, p.span))
    });

    let mut config = Vec::new();
    let mut config_span = r.span();
    let node = r.node();
    let block = node
        .children()
        .and_then(|d| d.nodes().iter().find(|n| n.name().value() == "config"));
    if let Some(block) = block {
        config_span = block.name().span();
        let _ = r.block("config", |inner| {
            if let Some(doc) = block.children() {
                for n in doc.nodes() {
                    inner.mark_used(n.name().value());
                }
            }
            flatten_config(inner, block, "", &mut config);
        });
    }

    let on_error = match r.one_of("on-error", &["pass", "drop", "dead-letter"]) {
        Some(s) if s.value == "drop" => OnError::Drop,
        Some(s) if s.value == "dead-letter" => {
            if r.value("dead-letter").is_none() {
                r.error(
                    ConfigError::new(
                        ErrorCode::Missing,
                        "`on-error \"dead-letter\"` needs a `dead-letter` exporter",
                    )
                    .at(s.span, "no `dead-letter` in this node")
                    .help("add `dead-letter \"<exporter>\"` to the block: the exporter that keeps failed batches"),
                );
            }
            OnError::DeadLetter
        }
        _ => OnError::Pass,
    };

    let mut limits = Limits::default();
    let _ = r.block("limits", |l| {
        if let Some(b) = l.byte_size("memory") {
            if b.0 < 1 << 20 {
                l.invalid(
                    l.span(),
                    "`memory` below 1MiB",
                    "a plugin needs at least \"1MiB\"",
                );
            }
            limits.memory = usize::try_from(b.0).unwrap_or(usize::MAX);
        }
        if let Some(t) = l.duration("timeout") {
            if t.is_zero() {
                l.invalid(
                    l.span(),
                    "`timeout` of zero",
                    "give a plugin call at least \"1ms\"",
                );
            }
            limits.timeout = t;
        }
        if let Some(b) = l.byte_size("max-output") {
            limits.max_output = b.0;
        }
        if let Some(n) = l.u64_in("host-calls", 1..=100_000_000) {
            limits.host_calls = n;
        }
    });

    let mut circuit = CircuitConfig::default();
    let _ = r.block("circuit", |c| {
        if let Some(n) = c.u64_in("failures", 1..=1_000_000) {
            circuit.failures = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if let Some(d) = c.duration("backoff") {
            circuit.backoff = d;
        }
        if let Some(d) = c.duration("max-backoff") {
            circuit.max_backoff = d;
        }
    });
    if circuit.max_backoff < circuit.backoff {
        circuit.max_backoff = circuit.backoff;
    }

    let grants = read_grants(r);
    let canary = r
        .u64_in("canary", 0..=1_000_000)
        .map_or(WasmConfig::DEFAULT_CANARY, |n| {
            u32::try_from(n).unwrap_or(u32::MAX)
        });

    let tick = r.duration("tick");
    if tick.is_some_and(|t| t < Duration::from_millis(10)) {
        let span = r.span();
        r.invalid(span, "`tick` below 10ms", "tick at most every \"10ms\"");
    }

    let forward = r.bool("forward").unwrap_or(true);

    Some(WasmConfig {
        plugin: plugin?,
        config,
        config_span,
        on_error,
        limits,
        circuit,
        tick,
        grants,
        forward,
        canary,
    })
}
