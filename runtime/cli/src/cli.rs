//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// weir: a telemetry pipeline runtime you extend with WebAssembly.
#[derive(Debug, Parser)]
#[command(name = "weir", version, about)]
pub struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "WEIR_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline (the built-in default pipeline when no file is given).
    Run(RunArgs),
    /// Check a pipeline file and report every problem; exit 1 if invalid.
    Validate(ValidateArgs),
    /// Run SQL over the embedded Parquet store.
    Query(QueryArgs),
    /// List the component types weir knows.
    Components,
    /// Tools for plugin authors: scaffold, test, componentize.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// SLOs: Prometheus rules, a Grafana dashboard and the in-stream
    /// wiring generated from a pipeline's `slo` blocks.
    #[command(subcommand)]
    Slo(SloCommand),
}

/// `weir slo ...`
#[derive(Debug, Subcommand)]
pub enum SloCommand {
    /// Prometheus recording rules (SLI, burn rates, error budget) and
    /// multi-window multi-burn-rate alerts, for `promtool check rules`.
    Rules(SloArgs),
    /// A Grafana dashboard (JSON) over the recording rules.
    Dashboard(SloDashboardArgs),
    /// The SLI processors the `slo` blocks add to the pipeline, as KDL.
    Wiring(SloFileArgs),
}

/// The pipeline file with the `slo` blocks.
#[derive(Debug, clap::Args)]
pub struct SloFileArgs {
    /// The KDL pipeline file.
    pub file: PathBuf,
}

/// Arguments of `weir slo rules`.
#[derive(Debug, clap::Args)]
pub struct SloArgs {
    /// The KDL pipeline file.
    pub file: PathBuf,
    /// Write to this file instead of stdout.
    #[arg(short, long)]
    pub out: Option<PathBuf>,
}

/// Arguments of `weir slo dashboard`.
#[derive(Debug, clap::Args)]
pub struct SloDashboardArgs {
    /// The KDL pipeline file.
    pub file: PathBuf,
    /// Write to this file instead of stdout.
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    /// The dashboard's title.
    #[arg(long, default_value = "SLOs")]
    pub title: String,
}

/// `weir plugin ...`
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Create a plugin project that builds and passes its own test.
    New(PluginNewArgs),
    /// Run a plugin through weir's plugin host on an OTLP/JSON request.
    Test(PluginTestArgs),
    /// Make a WASI preview1 reactor module (from C) into a component.
    Componentize(ComponentizeArgs),
}

/// Languages `weir plugin new` scaffolds.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Lang {
    /// Rust, with the weir-plugin SDK (cargo, target wasm32-wasip2).
    Rust,
    /// Python, with componentize-py.
    Python,
    /// JavaScript, with componentize-js.
    Js,
    /// C, with clang for wasm32-wasi and the generated bindings.
    C,
}

/// Arguments of `weir plugin new`.
#[derive(Debug, clap::Args)]
pub struct PluginNewArgs {
    /// The plugin's language.
    #[arg(long, value_enum)]
    pub lang: Lang,
    /// The plugin's name (lower case, digits, '-' and '_').
    pub name: String,
    /// Where to create it (default: ./NAME).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Arguments of `weir plugin test`.
#[derive(Debug, clap::Args)]
pub struct PluginTestArgs {
    /// The component (`.wasm`) or `builtin:NAME`.
    pub plugin: String,
    /// An OTLP/JSON export request (traces, logs or metrics).
    #[arg(long)]
    pub input: PathBuf,
    /// A setting for the plugin's `init`, as the flattened `config` pair
    /// `KEY=VALUE` (`rule.pw.keys=db.statement`); repeatable.
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// The OTLP/JSON request the output must equal; exit 1 when it differs.
    #[arg(long)]
    pub expect: Option<PathBuf>,
}

/// Arguments of `weir plugin componentize`.
#[derive(Debug, clap::Args)]
pub struct ComponentizeArgs {
    /// The core module (wasm32-wasi reactor, with the bindings' component type).
    pub module: PathBuf,
    /// The component to write.
    #[arg(short, long)]
    pub out: PathBuf,
}

/// Arguments of `weir run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The KDL pipeline file; without it, the built-in default pipeline runs
    /// (OTLP on 127.0.0.1:4317/4318 -> batch -> Parquet store ./weir-data).
    pub file: Option<PathBuf>,
    /// Print the built-in default pipeline and exit.
    #[arg(long)]
    pub print_default: bool,
}

/// Arguments of `weir validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The KDL pipeline files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Arguments of `weir query`.
#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// The SQL query; tables are `spans`, `logs` and `metrics`.
    pub sql: String,
    /// The store directory (the `path` of the parquet exporter).
    #[arg(long, default_value = "./weir-data", env = "WEIR_STORE")]
    pub store: PathBuf,
}
