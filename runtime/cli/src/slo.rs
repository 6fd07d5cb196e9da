//! `weir slo rules|dashboard|wiring FILE`: what the `slo` blocks of a
//! pipeline generate (see `docs/slo.md`).

use std::path::Path;
use std::process::ExitCode;

use weir_config::slo::Slo;
use weir_config::{ErrorCode, Pipeline};

use crate::cli::SloCommand;
use crate::components::registry;
use crate::run::render;

/// Reads `file` and checks it as `weir validate` does. A file with only
/// `slo` blocks (no receivers, processors or exporters) is checked for its
/// SLOs alone.
fn load(file: &Path) -> Result<Pipeline, ExitCode> {
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| {
        eprintln!("error: cannot read {name}: {e}");
        ExitCode::from(1)
    })?;
    let (pipeline, shape_errors) = weir_config::parse_partial(&name, &text).map_err(|d| {
        eprint!("{}", render(&d));
        ExitCode::from(1)
    })?;
    let user_nodes = pipeline.nodes.len() - pipeline.sli_nodes().count();
    let pipeline = if user_nodes == 0 {
        // Only SLOs: their `spans`/`logs` sources name nodes of the real
        // pipeline, which is elsewhere; the rules do not depend on them.
        let shape_errors: Vec<_> = shape_errors
            .into_iter()
            .filter(|e| !matches!(e.code, ErrorCode::UnknownSource | ErrorCode::Unconnected))
            .collect();
        if !shape_errors.is_empty() {
            eprint!("{}", render(&pipeline.diagnostics(shape_errors)));
            return Err(ExitCode::from(1));
        }
        pipeline
    } else {
        weir_engine::graph::validate_with(pipeline, shape_errors, &registry())
            .map_err(|d| {
                eprint!("{}", render(&d));
                ExitCode::from(1)
            })?
            .pipeline
    };
    if pipeline.slos.is_empty() {
        eprintln!("error: {name} has no `slo` block (see docs/slo.md)");
        return Err(ExitCode::from(1));
    }
    Ok(pipeline)
}

fn emit(out: Option<&Path>, text: &str) -> ExitCode {
    match out {
        None => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Some(path) => match std::fs::write(path, text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                ExitCode::from(1)
            }
        },
    }
}

fn rules(file: &Path, slos: &[Slo]) -> Result<String, ExitCode> {
    weir_slo::to_yaml(&weir_slo::rule_file(slos), &file.display().to_string()).map_err(|e| {
        eprintln!("error: cannot write the rules as YAML: {e}");
        ExitCode::from(2)
    })
}

/// Runs `weir slo ...`.
pub fn run(cmd: SloCommand) -> ExitCode {
    match cmd {
        SloCommand::Rules(a) => match load(&a.file).and_then(|p| rules(&a.file, &p.slos)) {
            Ok(text) => emit(a.out.as_deref(), &text),
            Err(code) => code,
        },
        SloCommand::Dashboard(a) => match load(&a.file) {
            Ok(p) => {
                let d = weir_slo::dashboard(&p.slos, &a.title);
                match serde_json::to_string_pretty(&d) {
                    Ok(text) => emit(a.out.as_deref(), &format!("{text}\n")),
                    Err(e) => {
                        eprintln!("error: cannot write the dashboard: {e}");
                        ExitCode::from(2)
                    }
                }
            }
            Err(code) => code,
        },
        SloCommand::Wiring(a) => match load(&a.file) {
            Ok(p) => {
                let nodes: Vec<String> = p.sli_nodes().map(|n| n.node.to_string()).collect();
                if nodes.is_empty() {
                    println!(
                        "// No SLO reads spans or logs: every SLI comes from existing metrics, and the rules read them directly."
                    );
                } else {
                    println!(
                        "// Generated from the `slo` blocks of {}: exporters read the SLI counters with `from \"slo\"`.",
                        a.file.display()
                    );
                    for n in nodes {
                        println!("{}", n.trim_end());
                    }
                }
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
    }
}
