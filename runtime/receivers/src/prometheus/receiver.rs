//! The `prometheus` receiver node: keeps one scrape loop per target,
//! following target files.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use weir_engine::NodeError;
use weir_engine::node::{BoxFuture, Receiver, ReceiverContext};

use super::config::{JobConfig, PrometheusConfig};
use super::discovery::{self, FileTargets, Target};
use super::target::{Stop, TargetLoop};

/// How long stopping target loops may take at shutdown.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A built `prometheus` receiver.
///
/// # Lifecycle
/// Building creates the HTTP client (no I/O). Running reads the target
/// files, starts one scrape loop per target, and every `file-sd-refresh`
/// re-reads changed target files: loops of targets that disappeared write
/// staleness markers and stop, new targets get new loops. At shutdown every
/// loop stops (without markers) and the receiver returns.
///
/// # Errors
/// None at run time: failed scrapes are `up` 0 and a log line.
pub struct PrometheusReceiver {
    jobs: Vec<Arc<JobConfig>>,
    base_dir: std::path::PathBuf,
    client: reqwest::Client,
}

/// Why the receiver could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot create the HTTP client: {0}")]
pub struct SetupError(#[source] reqwest::Error);

impl PrometheusReceiver {
    /// A receiver for `config`.
    ///
    /// # Errors
    /// The HTTP client cannot be created.
    pub fn new(config: PrometheusConfig) -> Result<Self, SetupError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")))
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(300))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(SetupError)?;
        Ok(PrometheusReceiver {
            jobs: config.jobs.into_iter().map(Arc::new).collect(),
            base_dir: config.base_dir,
            client,
        })
    }
}

struct Running {
    stop: watch::Sender<Stop>,
    handle: JoinHandle<()>,
}

impl Receiver for PrometheusReceiver {
    fn run(self: Box<Self>, mut ctx: ReceiverContext) -> BoxFuture<Result<(), NodeError>> {
        Box::pin(async move {
            let mut files: Vec<FileTargets> =
                self.jobs.iter().map(|_| FileTargets::default()).collect();
            let mut running: HashMap<String, Running> = HashMap::new();
            let mut stopping: Vec<JoinHandle<()>> = Vec::new();
            let refresh = self
                .jobs
                .iter()
                .filter(|j| !j.file_sd.is_empty())
                .map(|j| j.file_sd_refresh)
                .min();
            let mut first = true;
            loop {
                let mut changed = first;
                for (job, f) in self.jobs.iter().zip(files.iter_mut()) {
                    if !job.file_sd.is_empty() {
                        changed |= f.refresh(&ctx.id, &self.base_dir, &job.file_sd);
                    }
                }
                first = false;
                if changed {
                    let mut desired: Vec<(Arc<JobConfig>, Target)> = Vec::new();
                    for (job, f) in self.jobs.iter().zip(&files) {
                        for t in discovery::targets(job, f) {
                            desired.push((job.clone(), t));
                        }
                    }
                    let keys: Vec<&str> = desired.iter().map(|(_, t)| t.key.as_str()).collect();
                    let gone: Vec<String> = running
                        .keys()
                        .filter(|k| !keys.contains(&k.as_str()))
                        .cloned()
                        .collect();
                    for k in gone {
                        if let Some(r) = running.remove(&k) {
                            let _ = r.stop.send(Stop::Removed);
                            stopping.push(r.handle);
                        }
                    }
                    for (job, target) in desired {
                        if running.contains_key(&target.key) {
                            continue;
                        }
                        let (tx, rx) = watch::channel(Stop::Run);
                        let key = target.key.clone();
                        tracing::debug!(node = %ctx.id, job = %job.name, target = %target.url, "Scraping a new target.");
                        let lp = TargetLoop {
                            node: ctx.id.clone(),
                            job,
                            target,
                            client: self.client.clone(),
                            output: ctx.output.clone(),
                        };
                        let handle = tokio::spawn(lp.run(rx));
                        let _ = running.insert(key, Running { stop: tx, handle });
                    }
                    tracing::info!(node = %ctx.id, targets = running.len(), "Scrape targets updated.");
                }
                stopping.retain(|h| !h.is_finished());
                let wait = refresh.unwrap_or(Duration::from_secs(3600));
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = ctx.shutdown.wait() => break,
                }
            }
            for r in running.values() {
                let _ = r.stop.send(Stop::Shutdown);
            }
            let handles = running.into_values().map(|r| r.handle).chain(stopping);
            let all = futures::future::join_all(handles);
            if tokio::time::timeout(STOP_TIMEOUT, all).await.is_err() {
                tracing::warn!(node = %ctx.id, "Scrape loops did not stop in time.");
            }
            Ok(())
        })
    }
}
