//! Hot reload in `weir run`: the triggers (`SIGHUP`, `POST /reload`, a
//! watched file changing) and what one reload does.
//!
//! A reload re-reads the pipeline file (when weir runs one), validates it
//! — an invalid file is refused with its diagnostics and nothing changes —
//! and applies it to the running pipeline (only what differs is touched,
//! see `weir_engine::graph`), then asks every plugin node to re-read its
//! component and swap it if its content changed. See `docs/reload.md`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher as _};
use parking_lot::Mutex;
use tokio::sync::mpsc;
use weir_config::Diagnostics;
use weir_engine::EngineError;
use weir_engine::graph::RunningPipeline;
use weir_engine::reload::{ReloadReport, ReloadRequest};

/// Renders diagnostics without colour (for a JSON answer or a log line).
fn plain(diags: &Diagnostics) -> String {
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100);
    let mut out = String::new();
    if handler.render_report(&mut out, diags).is_err() {
        out = diags.to_string();
    }
    out
}

/// Runs one reload.
pub async fn reload(
    running: &mut RunningPipeline,
    file: Option<&Path>,
    trigger: &str,
) -> ReloadReport {
    let mut report = ReloadReport {
        trigger: trigger.to_string(),
        ok: true,
        ..ReloadReport::default()
    };
    if let Some(path) = file {
        let refused = match std::fs::read_to_string(path) {
            Err(e) => Some(format!("cannot read {}: {e}", path.display())),
            Ok(text) => match crate::run::load(&path.display().to_string(), &text) {
                Err(d) => Some(plain(&d)),
                Ok(validated) => match running.reload(validated).await {
                    Ok(changes) => {
                        tracing::info!(
                            trigger,
                            added = ?changes.added,
                            removed = ?changes.removed,
                            changed = ?changes.changed,
                            rewired = ?changes.rewired,
                            "Pipeline reloaded."
                        );
                        if !changes.restart_required.is_empty() {
                            tracing::warn!(settings = ?changes.restart_required, "Changed settings apply at the next start only.");
                        }
                        report.pipeline = Some(changes);
                        None
                    }
                    Err(EngineError::Config(d)) => Some(plain(&d)),
                    Err(e) => Some(e.to_string()),
                },
            },
        };
        if let Some(why) = refused {
            tracing::warn!(trigger, file = %path.display(), "Pipeline reload refused; the running pipeline is unchanged.");
            eprint!("{why}");
            report.ok = false;
            report.refused = Some(why);
            return report;
        }
    }
    report.plugins = running.reload_plugins().await;
    report
}

/// The files worth watching: the pipeline and every plugin component.
pub fn watched_files(running: &RunningPipeline, file: Option<&Path>) -> BTreeSet<PathBuf> {
    let mut files: BTreeSet<PathBuf> = running
        .reloadables()
        .iter()
        .flat_map(|(_, r)| r.watched())
        .collect();
    if let Some(f) = file {
        let _ = files.insert(f.to_path_buf());
    }
    files.into_iter().map(|f| absolute(&f)).collect()
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Watches files (through their directories: editors and `cp`/`mv` replace
/// a file rather than write it in place) and asks for a reload once they
/// have been quiet for the debounce time.
pub struct FileWatch {
    files: Arc<Mutex<BTreeSet<PathBuf>>>,
    dirs: BTreeSet<PathBuf>,
    watcher: notify::RecommendedWatcher,
}

impl FileWatch {
    /// Starts watching; changes become [`ReloadRequest`]s on `tx`.
    ///
    /// # Errors
    /// The watcher could not start (inotify limits).
    pub fn start(
        files: BTreeSet<PathBuf>,
        debounce: Duration,
        tx: mpsc::Sender<ReloadRequest>,
    ) -> notify::Result<FileWatch> {
        let shared = Arc::new(Mutex::new(BTreeSet::new()));
        let (events_tx, mut events_rx) = mpsc::unbounded_channel::<()>();
        let filter = shared.clone();
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let Ok(event) = res else { return };
            if event.kind.is_access() {
                return;
            }
            let files = filter.lock();
            if event.paths.iter().any(|p| files.contains(p)) {
                let _ = events_tx.send(());
            }
        })?;
        drop(tokio::spawn(async move {
            while events_rx.recv().await.is_some() {
                // Quiet for `debounce` since the last event.
                loop {
                    match tokio::time::timeout(debounce, events_rx.recv()).await {
                        Ok(Some(())) => continue,
                        Ok(None) => return,
                        Err(_) => break,
                    }
                }
                tracing::info!("Watched files changed; reloading.");
                let request = ReloadRequest {
                    trigger: "watch",
                    reply: None,
                };
                if tx.send(request).await.is_err() {
                    return;
                }
            }
        }));
        let mut w = FileWatch {
            files: shared,
            dirs: BTreeSet::new(),
            watcher,
        };
        w.set(files);
        Ok(w)
    }

    /// Watches exactly `files` from now on.
    pub fn set(&mut self, files: BTreeSet<PathBuf>) {
        let dirs: BTreeSet<PathBuf> = files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect();
        for d in dirs.difference(&self.dirs) {
            if let Err(e) = self.watcher.watch(d, RecursiveMode::NonRecursive) {
                tracing::warn!(dir = %d.display(), error = %e, "Cannot watch a directory for reloads.");
            }
        }
        for d in self.dirs.difference(&dirs) {
            let _ = self.watcher.unwatch(d);
        }
        tracing::debug!(files = ?files, "Watching for reloads.");
        self.dirs = dirs;
        *self.files.lock() = files;
    }
}
