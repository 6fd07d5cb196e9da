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
