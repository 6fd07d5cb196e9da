//! The `weir` command: run, validate and query telemetry pipelines, and
//! the plugin author's tools.

mod cli;
mod components;
mod logging;
mod plugin;
mod reload;
mod run;
mod slo;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match args.command {
        cli::Command::Run(r) => run::run(r, args.log_format),
        cli::Command::Validate(v) => run::validate(v),
        cli::Command::Query(q) => run::query(q),
        cli::Command::Components => {
            run::components();
            ExitCode::SUCCESS
        }
        cli::Command::Plugin(p) => plugin::run(p),
        cli::Command::Slo(s) => slo::run(s),
    }
}
