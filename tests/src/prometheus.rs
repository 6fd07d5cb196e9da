//! A real Prometheus server (Debian package `prometheus`) and a real
//! `prometheus_client` application, as test processes.
//!
//! [`setup`] runs `scripts/setup-prometheus` once per test process (it
//! installs the packages when missing). [`Prometheus::start`] runs the
//! server with its remote-write receiver on a free loopback port and a
//! TSDB in a temporary directory; [`Prometheus::query`] asks its HTTP API.
//! [`PromApp::start`] runs `tests/python/prom_app.py`. Both are killed when
//! dropped.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::process::{free_addr, output_within};
use crate::python::{python, repo_root};

/// How long the setup script may take (a first run installs packages).
const SETUP_TIMEOUT: Duration = Duration::from_secs(600);
/// How long a process may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Ensures `prometheus` and `vmagent` are installed.
///
/// # Panics
/// When the setup script fails: a test never skips.
pub fn setup() {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    let r = DONE.get_or_init(|| {
        let script = repo_root().join("scripts/setup-prometheus");
        let mut cmd = Command::new("bash");
        let _ = cmd.arg(&script);
        let out = output_within(cmd, SETUP_TIMEOUT)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} failed ({}):\n{}{}",
                script.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    if let Err(e) = r {
        panic!("Prometheus is not available for the end-to-end tests: {e}");
    }
}

/// One sample of a query result: labels and value.
pub type QuerySample = (BTreeMap<String, String>, f64);

/// A running Prometheus server.
#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    /// Its HTTP address.
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Prometheus {
    /// Starts Prometheus in `dir` (TSDB, config and log there) with the
    /// remote-write receiver, and waits until it is ready.
    ///
    /// # Panics
    /// When it does not start or become ready in time.
    pub async fn start(dir: &Path) -> Prometheus {
        Self::start_with_config(dir, "global:\n  scrape_interval: 1h\n").await
    }

    /// Starts Prometheus like [`Prometheus::start`], evaluating the rule
    /// file `rules` every `evaluation_interval`.
    ///
    /// # Panics
    /// When it does not start or become ready in time.
    pub async fn start_with_rules(
        dir: &Path,
        rules: &Path,
        evaluation_interval: Duration,
    ) -> Prometheus {
        let config = format!(
            "global:\n  scrape_interval: 1h\n  evaluation_interval: {}ms\nrule_files:\n  - {:?}\n",
            evaluation_interval.as_millis(),
            rules.display().to_string()
        );
        Self::start_with_config(dir, &config).await
    }

    async fn start_with_config(dir: &Path, config_text: &str) -> Prometheus {
        setup();
        let addr = free_addr();
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, config_text).expect("write prometheus.yml");
        let log = dir.join("prometheus.log");
        let out = std::fs::File::create(&log).expect("create prometheus.log");
        let err = out.try_clone().expect("clone the log handle");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--web.enable-remote-write-receiver")
            .arg("--storage.tsdb.retention.time=1d")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start prometheus (scripts/setup-prometheus installs it)");
        let mut p = Prometheus { child, addr, log };
        let client = crate::process::http_client();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = p.child.try_wait() {
                panic!("prometheus exited ({status}):\n{}", p.log());
            }
            if let Ok(r) = client.get(format!("http://{addr}/-/ready")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus was not ready in {READY_TIMEOUT:?}:\n{}",
                p.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        p
    }

    /// The remote-write URL.
    pub fn write_url(&self) -> String {
        format!("http://{}/api/v1/write", self.addr)
    }

    /// What it printed.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// An instant query's vector result.
    ///
    /// # Panics
    /// When the API does not answer a vector.
    pub async fn query(&self, q: &str) -> Vec<QuerySample> {
        let url = format!("http://{}/api/v1/query", self.addr);
        let resp = crate::process::http_client()
            .get(&url)
            .query(&[("query", q)])
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}?query={q}: {e}"));
        let text = resp
            .text()
            .await
            .unwrap_or_else(|e| panic!("query {q}: {e}"));
        let v: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("query {q}: {e}: {text}"));
        assert_eq!(v["status"], "success", "query {q}: {v}");
        v["data"]["result"]
            .as_array()
            .unwrap_or_else(|| panic!("query {q}: no vector in {v}"))
            .iter()
            .map(|s| {
                let labels = s["metric"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                let value = s["value"][1]
                    .as_str()
                    .and_then(|x| x.parse().ok())
                    .unwrap_or(f64::NAN);
                (labels, value)
            })
            .collect()
    }

    /// Polls `q` until `check` accepts the result; returns it.
    ///
    /// # Panics
    /// After `timeout`, with the last result and the server's log.
    pub async fn wait_for(
        &self,
        q: &str,
        timeout: Duration,
        mut check: impl FnMut(&[QuerySample]) -> bool,
    ) -> Vec<QuerySample> {
        let deadline = Instant::now() + timeout;
        loop {
            let r = self.query(q).await;
            if check(&r) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "query {q} never gave what was expected; last result {r:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- prometheus log ----\n{}", self.log());
        }
    }
}

/// A running `tests/python/prom_app.py`.
#[derive(Debug)]
pub struct PromApp {
    child: Child,
    /// Where it serves `/metrics`.
    pub addr: SocketAddr,
}

impl PromApp {
    /// Starts the app and waits until it serves.
    ///
    /// # Panics
    /// When it does not start in time.
    pub async fn start() -> PromApp {
        let addr = free_addr();
        let child = Command::new(python())
            .arg(repo_root().join("tests/python/prom_app.py"))
            .arg("--port")
            .arg(addr.port().to_string())
            .arg("--lifetime")
            .arg("300")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start prom_app.py");
        let mut app = PromApp { child, addr };
        let deadline = Instant::now() + READY_TIMEOUT;
        let client = crate::process::http_client();
        loop {
            if let Ok(Some(status)) = app.child.try_wait() {
                panic!("prom_app.py exited ({status})");
            }
            if let Ok(r) = client.get(format!("http://{addr}/metrics")).send().await
                && r.status().is_success()
            {
                return app;
            }
            assert!(
                Instant::now() < deadline,
                "prom_app.py did not serve within {READY_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for PromApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
