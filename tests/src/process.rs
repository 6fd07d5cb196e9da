//! The `weir` binary as a real process: locating it, running `weir run` on a
//! pipeline in a working directory, waiting until it is ready, stopping it
//! with a signal, and running its one-shot subcommands (`validate`, `query`).
//!
//! A [`Weir`] is killed when dropped; when the test is failing, its output
//! (stdout and stderr, interleaved) is printed so the failure explains
//! itself.

use std::fs::File;
use std::io::{Read as _, Seek as _};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// How long `weir run` may take to answer `/readyz`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a one-shot subcommand (`validate`, `query`) may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The `weir` binary: `$WEIR_BIN`, else `weir` next to the test's `deps/`
/// directory (`<target>/debug/weir`, built by `cargo test --workspace`).
///
/// # Panics
/// When the binary does not exist, saying how to build it.
pub fn weir_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("WEIR_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    // <target>/debug/deps/<test>-<hash> -> <target>/debug/weir
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in <target>/<profile>/deps");
    let bin = profile_dir.join(format!("weir{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "the weir binary is not at {}: run the tests with `scripts/test` or \
         `cargo test --workspace` (which build it), build it with `cargo build -p weir-cli`, \
         or set WEIR_BIN",
        bin.display()
    );
    bin
}

/// Runs `cmd` with stdin closed, capturing stdout and stderr, and kills it
/// if it runs longer than `timeout`.
///
/// # Errors
/// When it cannot start, its output cannot be read, or it times out (the
/// message then holds what it printed).
pub fn output_within(mut cmd: Command, timeout: Duration) -> Result<Output, String> {
    let program = format!("{:?}", cmd.get_program());
    let mut stdout = tempfile::tempfile().map_err(|e| format!("a temporary file: {e}"))?;
    let mut stderr = tempfile::tempfile().map_err(|e| format!("a temporary file: {e}"))?;
    let out_handle = stdout
        .try_clone()
        .map_err(|e| format!("a file handle: {e}"))?;
    let err_handle = stderr
        .try_clone()
        .map_err(|e| format!("a file handle: {e}"))?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out_handle)
        .stderr(err_handle)
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {program}: {e}")),
        }
    };
    let read = |f: &mut File| -> Result<Vec<u8>, String> {
        let mut buf = Vec::new();
        let _ = f
            .rewind()
            .and_then(|()| f.read_to_end(&mut buf))
            .map_err(|e| e.to_string())?;
        Ok(buf)
    };
    let stdout = read(&mut stdout)?;
    let stderr = read(&mut stderr)?;
    match status {
        Some(status) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        None => Err(format!(
            "{program} did not finish within {timeout:?}; it printed:\n{}\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        )),
    }
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0 to find a free port")
        .port()
}

/// `127.0.0.1:<free port>`.
pub fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// The addresses a test pipeline listens on, each a free port on 127.0.0.1.
#[derive(Debug, Clone, Copy)]
pub struct Addrs {
    /// OTLP/gRPC.
    pub grpc: SocketAddr,
    /// OTLP/HTTP.
    pub http: SocketAddr,
    /// The admin endpoint (`/readyz`, `/metrics`).
    pub admin: SocketAddr,
}

impl Addrs {
    /// Three free addresses.
    pub fn free() -> Addrs {
        Addrs {
            grpc: free_addr(),
            http: free_addr(),
            admin: free_addr(),
        }
    }
}

/// Runs `weir ARGS` in `dir` and returns its output.
///
/// # Panics
/// When it cannot run or takes longer than [`COMMAND_TIMEOUT`].
pub fn weir_output(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(weir_bin());
    let _ = cmd.args(args).current_dir(dir).env("NO_COLOR", "1");
    output_within(cmd, COMMAND_TIMEOUT).unwrap_or_else(|e| panic!("weir {args:?}: {e}"))
}

/// Runs `weir query SQL --store STORE` and returns the cells of its table's
/// data rows.
///
/// # Panics
/// When the query fails.
pub fn query(store: &Path, sql: &str) -> Vec<Vec<String>> {
    let store_arg = store.to_string_lossy();
    let out = weir_output(
        store.parent().unwrap_or(store),
        &["query", sql, "--store", &store_arg],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "weir query {sql:?} --store {} failed ({}):\n{stdout}\n{}",
        store.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    parse_table(&stdout)
}

/// Runs a query whose answer is one integer (`SELECT count(*) ...`).
///
/// # Panics
/// When the query fails or does not print one integer.
pub fn query_u64(store: &Path, sql: &str) -> u64 {
    let rows = query(store, sql);
    match rows.as_slice() {
        [row] if row.len() == 1 => row[0]
            .parse()
            .unwrap_or_else(|e| panic!("weir query {sql:?} printed {:?}: {e}", row[0])),
        _ => panic!("weir query {sql:?} printed rows {rows:?}, not one integer"),
    }
}

/// The data rows of a table printed by `weir query` (Arrow's pretty format:
/// `+---+` rules, a header row, then data rows, cells between `|`).
pub fn parse_table(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with('|'))
        .skip(1)
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

/// A running `weir run` process.
#[derive(Debug)]
pub struct Weir {
    child: Child,
    dir: PathBuf,
    log: PathBuf,
}

impl Weir {
    /// Writes `pipeline` to `dir/pipeline.kdl` and runs it with `dir` as the
    /// working directory.
    ///
    /// # Panics
    /// When the file cannot be written or weir cannot start.
    pub fn with_pipeline(dir: &Path, pipeline: &str) -> Weir {
        let file = dir.join("pipeline.kdl");
        std::fs::write(&file, pipeline).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
        Weir::start(dir, &["pipeline.kdl"])
    }

    /// Runs `weir run ARGS` with `dir` as the working directory; output
    /// goes to `dir/weir.log`.
    ///
    /// # Panics
    /// When weir cannot start.
    pub fn start(dir: &Path, args: &[&str]) -> Weir {
        let log = dir.join("weir.log");
        let file = File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let err_file = file.try_clone().expect("clone the log file handle");
        let child = Command::new(weir_bin())
            .arg("run")
            .args(args)
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", weir_bin().display()));
        Weir {
            child,
            dir: dir.to_path_buf(),
            log,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The working directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What weir printed so far (stdout and stderr interleaved).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics with weir's output if it has exited.
    #[track_caller]
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "weir exited unexpectedly ({status}); its output:\n{}",
                self.log()
            );
        }
    }

    /// Waits until `GET http://ADMIN/readyz` answers 200 and every address in
    /// `listening` accepts TCP connections.
    ///
    /// # Panics
    /// When weir exits first or [`READY_TIMEOUT`] passes.
    pub async fn wait_ready(&mut self, admin: SocketAddr, listening: &[SocketAddr]) {
        self.wait_ready_within(admin, listening, READY_TIMEOUT)
            .await;
    }

    /// [`Weir::wait_ready`] with another timeout (a pipeline that compiles
    /// a large plugin at start-up).
    ///
    /// # Panics
    /// When weir exits first or `timeout` passes.
    pub async fn wait_ready_within(
        &mut self,
        admin: SocketAddr,
        listening: &[SocketAddr],
        timeout: Duration,
    ) {
        let deadline = Instant::now() + timeout;
        let client = http_client();
        let url = format!("http://{admin}/readyz");
        loop {
            self.assert_running();
            let ready = match client.get(&url).send().await {
                Ok(r) => r.status() == reqwest::StatusCode::OK,
                Err(_) => false,
            };
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "weir was not ready ({url}) within {timeout:?}; its output:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        for addr in listening {
            loop {
                self.assert_running();
                if tokio::net::TcpStream::connect(addr).await.is_ok() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "weir is ready but nothing listens on {addr}; its output:\n{}",
                    self.log()
                );
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
    }

    /// Sends SIGTERM.
    ///
    /// # Panics
    /// When the signal cannot be sent.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("run kill(1)");
        assert!(
            status.success(),
            "kill -TERM {} failed: {status}",
            self.pid()
        );
    }

    /// `kill -9`: the process dies at once, with no chance to flush
    /// anything; waits until it is gone.
    ///
    /// # Panics
    /// When the signal cannot be sent.
    pub fn kill_hard(&mut self) {
        self.child.kill().expect("SIGKILL weir");
        let _ = self.child.wait();
    }

    /// Peak and current resident memory (`VmHWM`, `VmRSS` of
    /// `/proc/<pid>/status`), in bytes.
    pub fn memory(&self) -> (u64, u64) {
        let text =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map_or(0, |kb| kb * 1024)
        };
        (field("VmHWM:"), field("VmRSS:"))
    }

    /// Waits for the process to exit.
    ///
    /// # Panics
    /// When it is still running after `timeout` (it is then killed).
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    panic!(
                        "weir did not exit within {timeout:?} of being asked to; its output:\n{}",
                        self.log()
                    );
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(e) => panic!("waiting for weir: {e}"),
            }
        }
    }

    /// SIGTERM, then waits for a successful exit.
    ///
    /// # Panics
    /// When weir does not exit with status 0 within `timeout`.
    pub async fn stop(&mut self, timeout: Duration) {
        self.terminate();
        let status = self.wait_exit(timeout).await;
        assert!(
            status.success(),
            "weir exited with {status} after SIGTERM; its output:\n{}",
            self.log()
        );
    }

    /// The admin endpoint's `/metrics` text.
    ///
    /// # Panics
    /// When it cannot be fetched.
    pub async fn metrics(&self, admin: SocketAddr) -> String {
        let url = format!("http://{admin}/metrics");
        let response = http_client()
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        response
            .text()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }
}

impl Drop for Weir {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "---- weir output ({}) ----\n{}",
                self.log.display(),
                self.log()
            );
        }
    }
}

/// An HTTP/1.1 client with a short timeout, for admin endpoints.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("build an HTTP client")
}

/// The value of a Prometheus sample `name{labels}` in `text`: every label
/// given must match; other labels are ignored.
pub fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = match series.split_once('{') {
                Some((m, rest)) => (m, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let all = labels
                .iter()
                .all(|(k, v)| rest.split(',').any(|kv| kv == format!("{k}=\"{v}\"")));
            if all { value.parse().ok() } else { None }
        })
}
