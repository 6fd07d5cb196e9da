//! The subcommands' bodies.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use miette::{GraphicalReportHandler, GraphicalTheme};
use weir_config::{Diagnostics, NodeKind};
use weir_engine::EngineError;
use weir_engine::graph::{self, Readiness};

use crate::cli::{LogFormat, QueryArgs, RunArgs, ValidateArgs};
use crate::components::registry;
use crate::logging;
use crate::reload;

/// The built-in default pipeline.
pub const DEFAULT_PIPELINE: &str = include_str!("../../../pipelines/default.kdl");

/// Renders diagnostics as miette does, without colour unless stderr is a
/// terminal and `NO_COLOR` is unset.
pub fn render(diags: &Diagnostics) -> String {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
    let mut out = String::new();
    if handler.render_report(&mut out, diags).is_err() {
        out = format!("{diags}\n");
        for e in &diags.errors {
            out.push_str(&format!("  - {e}\n"));
        }
    }
    out
}

fn read_pipeline(file: Option<&Path>) -> Result<(String, String), String> {
    match file {
        None => Ok((
            "<default pipeline>".to_string(),
            DEFAULT_PIPELINE.to_string(),
        )),
        Some(path) => std::fs::read_to_string(path)
            .map(|text| (path.display().to_string(), text))
            .map_err(|e| format!("cannot read {}: {e}", path.display())),
    }
}

/// Parses and validates a pipeline's text.
pub(crate) fn load(name: &str, text: &str) -> Result<graph::ValidatedPipeline, Diagnostics> {
    let (pipeline, shape_errors) = weir_config::parse_partial(name, text)?;
    graph::validate_with(pipeline, shape_errors, &registry())
}

/// `weir validate FILE...`
pub fn validate(args: ValidateArgs) -> ExitCode {
    let mut ok = true;
    for file in &args.files {
        match read_pipeline(Some(file)) {
            Err(e) => {
                eprintln!("error: {e}");
                ok = false;
            }
            Ok((name, text)) => match load(&name, &text) {
                Ok(v) => {
                    println!("{name}: valid ({} nodes)", v.pipeline.nodes.len());
                    print_slo_wiring(&v.pipeline);
                }
                Err(d) => {
                    eprint!("{}", render(&d));
                    ok = false;
                }
            },
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// What the `slo` blocks add: one line per SLI processor.
fn print_slo_wiring(p: &weir_config::Pipeline) {
    if p.slos.is_empty() {
        return;
    }
    println!(
        "  {} SLO{}",
        p.slos.len(),
        if p.slos.len() == 1 { "" } else { "s" }
    );
    for n in p.sli_nodes() {
        let from: Vec<&str> = n.from.iter().map(|f| f.value.as_str()).collect();
        let readers: Vec<&str> = p
            .consumers(&n.id.value)
            .map(|c| c.id.value.as_str())
            .collect();
        println!(
            "  processor {:?} (builtin:sli, generated) reads {} and feeds {}",
            n.id.value,
            from.join(", "),
            readers.join(", ")
        );
    }
    println!(
        "  (`weir slo wiring FILE` prints the generated nodes; `weir slo rules FILE` the Prometheus rules)"
    );
}

/// `weir components`
pub fn components() {
    let r = registry();
    for kind in [NodeKind::Receiver, NodeKind::Processor, NodeKind::Exporter] {
        println!("{}s:", kind.as_str());
        for c in r.all().filter(|c| c.kind == kind) {
            println!("  {:<12} {}", c.type_name, c.summary);
        }
    }
}

/// `weir run [FILE]`
pub fn run(args: RunArgs, log_format: LogFormat) -> ExitCode {
    if args.print_default {
        print!("{DEFAULT_PIPELINE}");
        return ExitCode::SUCCESS;
    }
    logging::init(log_format);
    let (name, text) = match read_pipeline(args.file.as_deref()) {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(error = %e, "Cannot read the pipeline.");
            return ExitCode::from(1);
        }
    };
    let validated = match load(&name, &text) {
        Ok(v) => v,
        Err(d) => {
            eprint!("{}", render(&d));
            return ExitCode::from(1);
        }
    };
    let threads = validated.pipeline.settings.threads;
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    let _ = rt.enable_all().thread_name("weir");
    if threads > 0 {
        let _ = rt.worker_threads(threads);
    }
    let rt = match rt.build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "Cannot start the runtime.");
            return ExitCode::from(2);
        }
    };
    let base_dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    rt.block_on(run_pipeline(name, args.file, validated, base_dir))
}

async fn run_pipeline(
    name: String,
    file: Option<PathBuf>,
    validated: graph::ValidatedPipeline,
    base_dir: PathBuf,
) -> ExitCode {
    let settings = validated.pipeline.settings.clone();
    let mut running = match graph::start(validated, base_dir) {
        Ok(r) => r,
        Err(EngineError::Config(d)) => {
            eprint!("{}", render(&d));
            return ExitCode::from(1);
        }
        Err(e) => {
            tracing::error!(error = %e, "Cannot start the pipeline.");
            return ExitCode::from(2);
        }
    };
    let ready = Readiness::default();
    let (reload_tx, mut reload_rx) = tokio::sync::mpsc::channel(4);
    let mut admin = None;
    if let Some(addr) = &settings.admin {
        let served = weir_engine::admin::serve_with_reload(
            addr.value,
            running.metrics.clone(),
            ready.clone(),
            Some(reload_tx.clone()),
        )
        .await;
        match served {
            Ok((local, handle)) => {
                tracing::info!(address = %local, "Admin endpoint listening (/metrics, /healthz, /readyz, POST /reload).");
                admin = Some(handle);
            }
            Err(e) => {
                tracing::error!(error = %e, "Cannot start the admin endpoint.");
                let _ = running.shutdown(settings.shutdown_timeout).await;
                return ExitCode::from(1);
            }
        }
    }
    let mut watch = None;
    if settings.watch {
        let files = reload::watched_files(&running, file.as_deref());
        match reload::FileWatch::start(files, settings.watch_debounce, reload_tx.clone()) {
            Ok(w) => watch = Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "Cannot watch files; reload with SIGHUP or POST /reload.")
            }
        }
    }
    spawn_sighup(reload_tx);
    ready.set(true);
    tracing::info!(pipeline = %name, "weir is running; stop with Ctrl-C or SIGTERM, reload with SIGHUP.");

    let mut code = ExitCode::SUCCESS;
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            sig = &mut signal => {
                tracing::info!(signal = sig, timeout = ?settings.shutdown_timeout, "Shutting down: draining queues.");
                break;
            }
            Some(request) = reload_rx.recv() => {
                let report = reload::reload(&mut running, file.as_deref(), request.trigger).await;
                if let Some(w) = watch.as_mut() {
                    w.set(reload::watched_files(&running, file.as_deref()));
                }
                if let Some(reply) = request.reply {
                    let _ = reply.send(report);
                }
            }
            (node, result) = running.wait_node_exit() => {
                match result {
                    Ok(()) if running.receivers_running() > 0 => {
                        tracing::info!(node = %node, "Node finished.");
                    }
                    Ok(()) => {
                        tracing::info!(node = %node, "Every receiver has finished; draining and stopping.");
                        break;
                    }
                    Err(e) => {
                        tracing::error!(node = %node, error = %e, "A node failed; shutting down.");
                        code = ExitCode::from(2);
                        break;
                    }
                }
            }
        }
    }
    ready.set(false);
    let report = running.shutdown(settings.shutdown_timeout).await;
    for (node, err) in &report.failed {
        tracing::error!(node = %node, error = %err, "Node ended with an error.");
        code = ExitCode::from(2);
    }
    if report.drained {
        tracing::info!("Shutdown complete: every queue drained.");
    } else {
        tracing::warn!(aborted = ?report.aborted, "Shutdown deadline reached: some data was not drained.");
        code = ExitCode::from(2);
    }
    if let Some(h) = admin {
        h.abort();
    }
    code
}

/// Turns every `SIGHUP` into a reload request.
fn spawn_sighup(tx: tokio::sync::mpsc::Sender<weir_engine::reload::ReloadRequest>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "Cannot listen for SIGHUP; reload with POST /reload.");
            return;
        }
    };
    drop(tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP received; reloading.");
            let request = weir_engine::reload::ReloadRequest {
                trigger: "sighup",
                reply: None,
            };
            if tx.send(request).await.is_err() {
                return;
            }
        }
    }));
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

/// `weir query SQL`
pub fn query(args: QueryArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(weir_sql::query(&args.store, &args.sql)) {
        Ok(batches) => {
            println!("{}", weir_sql::format_table(&batches));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
