//! The OpenTelemetry Python SDK as a real client.
//!
//! [`python`] makes sure the test venv exists (`scripts/python-env`, once per
//! test process; the script itself is idempotent and locked across
//! processes). [`SendPlan`] runs `tests/python/send.py`, which emits traces,
//! metrics and logs through the SDK's OTLP exporters and records the exact
//! request bytes they sent; [`Sent`] holds them decoded.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::otlp::{self, Logs, Metrics, OtlpSignal, Traces};
use crate::process::output_within;

/// How long `scripts/python-env` may take (a first run installs packages).
const VENV_TIMEOUT: Duration = Duration::from_secs(300);
/// How long one `send.py` run may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(90);

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the repository")
        .to_path_buf()
}

/// The venv's Python interpreter, building the venv first if needed.
///
/// # Panics
/// When the venv cannot be built, with the script's output: an end-to-end
/// test never silently skips.
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let result = PYTHON.get_or_init(|| {
        let script = repo_root().join("scripts/python-env");
        let mut cmd = Command::new("bash");
        let _ = cmd.arg(&script);
        let out = output_within(cmd, VENV_TIMEOUT)?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(format!(
                "{} failed ({}):\n{stderr}",
                script.display(),
                out.status
            ));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let path = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
        if !path.is_file() {
            return Err(format!(
                "{} printed {stdout:?}, not the path of an interpreter:\n{stderr}",
                script.display()
            ));
        }
        Ok(path)
    });
    match result {
        Ok(p) => p.clone(),
        Err(e) => panic!("The Python SDK for end-to-end tests is not available: {e}"),
    }
}

/// The OTLP transport `send.py` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/gRPC.
    Grpc,
    /// OTLP/HTTP with protobuf bodies.
    Http,
}

/// One run of `send.py`: what to send where.
#[derive(Debug, Clone)]
pub struct SendPlan {
    protocol: Protocol,
    endpoint: String,
    signals: String,
    gzip: bool,
    spans: usize,
}

impl SendPlan {
    /// Sends with `protocol` to `addr` (`host:port`): all signals, 200
    /// spans per resource, no compression.
    pub fn new(protocol: Protocol, addr: impl std::fmt::Display) -> SendPlan {
        SendPlan {
            protocol,
            endpoint: format!("http://{addr}"),
            signals: "traces,metrics,logs".to_string(),
            gzip: false,
            spans: 200,
        }
    }

    /// Only these signals (comma-separated: `traces,metrics,logs`).
    pub fn signals(mut self, signals: &str) -> SendPlan {
        self.signals = signals.to_string();
        self
    }

    /// Compress requests with gzip.
    pub fn gzip(mut self) -> SendPlan {
        self.gzip = true;
        self
    }

    /// Spans per resource (the script uses two resources).
    pub fn spans(mut self, n: usize) -> SendPlan {
        self.spans = n;
        self
    }

    /// Runs `send.py` (on a blocking thread) and returns what it sent.
    ///
    /// # Panics
    /// When the script fails (an export was refused, the SDK is missing) or
    /// its recordings disagree with what it says it created.
    pub async fn run(self) -> Sent {
        tokio::task::spawn_blocking(move || self.run_blocking())
            .await
            .expect("the send.py thread panicked")
    }

    /// [`SendPlan::run`] for synchronous callers.
    ///
    /// # Panics
    /// As [`SendPlan::run`].
    pub fn run_blocking(self) -> Sent {
        let python = python();
        let dir = tempfile::tempdir().expect("a temporary directory for send.py");
        let script = repo_root().join("tests/python/send.py");
        let mut cmd = Command::new(&python);
        let _ = cmd
            .arg(&script)
            .arg("--protocol")
            .arg(match self.protocol {
                Protocol::Grpc => "grpc",
                Protocol::Http => "http",
            })
            .arg("--endpoint")
            .arg(&self.endpoint)
            .arg("--out")
            .arg(dir.path())
            .arg("--signals")
            .arg(&self.signals)
            .arg("--compression")
            .arg(if self.gzip { "gzip" } else { "none" })
            .arg("--spans")
            .arg(self.spans.to_string())
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        let out = output_within(cmd, SEND_TIMEOUT).unwrap_or_else(|e| panic!("send.py: {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "send.py {:?} to {} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
            self.protocol,
            self.endpoint,
            out.status
        );
        let summary: serde_json::Value = stdout
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or_else(|| panic!("send.py printed no JSON summary:\n{stdout}\n{stderr}"));
        let sent = Sent {
            traces: read_frames::<Traces>(dir.path()),
            metrics: read_frames::<Metrics>(dir.path()),
            logs: read_frames::<Logs>(dir.path()),
            summary,
        };
        for (name, recorded) in [
            ("traces", otlp::count::<Traces>(&sent.traces)),
            ("logs", otlp::count::<Logs>(&sent.logs)),
        ] {
            if let Some(created) = sent.summary[name]["items"].as_u64() {
                assert_eq!(
                    recorded as u64, created,
                    "send.py created {created} {name} items but recorded {recorded} as sent \
                     and acknowledged:\n{stderr}"
                );
            }
        }
        for signal in self.signals.split(',') {
            let requests = sent.summary[signal]["requests"].as_u64().unwrap_or(0);
            assert!(
                requests > 0,
                "send.py recorded no {signal} request:\n{stderr}"
            );
        }
        sent
    }
}

fn read_frames<S: OtlpSignal>(dir: &Path) -> Vec<S::Request> {
    let path = dir.join(format!("{}.bin", S::NAME));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    otlp::decode_frames::<S>(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What one `send.py` run sent, request by request, as the SDK encoded it.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Trace requests.
    pub traces: Vec<ExportTraceServiceRequest>,
    /// Metric requests.
    pub metrics: Vec<ExportMetricsServiceRequest>,
    /// Log requests.
    pub logs: Vec<ExportLogsServiceRequest>,
    /// The script's summary: `{"traces": {"requests": n, "items": m}, ...}`.
    pub summary: serde_json::Value,
}

impl Sent {
    /// Spans sent.
    pub fn spans(&self) -> usize {
        otlp::count::<Traces>(&self.traces)
    }

    /// Metric data points sent (a metric without points counts as one).
    pub fn points(&self) -> usize {
        otlp::count::<Metrics>(&self.metrics)
    }

    /// Log records sent.
    pub fn log_records(&self) -> usize {
        otlp::count::<Logs>(&self.logs)
    }

    /// Everything sent by both runs.
    pub fn merge(mut self, other: Sent) -> Sent {
        self.traces.extend(other.traces);
        self.metrics.extend(other.metrics);
        self.logs.extend(other.logs);
        self
    }
}
