//! What a plugin instance's store holds: its sandboxed WASI context, the
//! resource table its batch handles live in, the memory limiter, and the
//! budget of the call in progress.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

use crate::bindings::weir::pipeline::types::MetricPoint;
use crate::host::regex::RegexCache;
use crate::limits::Limits;
use crate::processor::config::Grant;
use crate::telemetry::PluginTelemetry;

/// Who a store belongs to, for logs.
#[derive(Debug, Clone)]
pub struct PluginIdentity {
    /// The node's name.
    pub node: String,
    /// The plugin's name (`builtin:redact`, a file name).
    pub plugin: String,
    /// The first 12 hex digits of the component's SHA-256.
    pub hash: String,
}

/// The guest's linear memory cap.
#[derive(Debug)]
pub struct MemoryLimiter {
    max_memory: usize,
    max_table_elements: usize,
    exceeded: bool,
}

impl MemoryLimiter {
    fn new(max_memory: usize) -> Self {
        MemoryLimiter {
            max_memory,
            max_table_elements: 100_000,
            exceeded: false,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.exceeded = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_table_elements {
            self.exceeded = true;
            return Ok(false);
        }
        Ok(true)
    }
}

/// Why a call broke one of the node's limits (other than time and memory,
/// which wasmtime enforces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// Too many host calls; the call was trapped.
    HostCalls(u64),
    /// Too many bytes written; the write was refused.
    Output(u64),
}

/// The budget and side outputs of the call in progress.
#[derive(Debug, Default)]
pub struct CallState {
    /// Host calls made so far.
    pub host_calls: u64,
    /// Bytes written (columns, attributes, metric points) so far.
    pub output_bytes: u64,
    /// The first limit broken.
    pub violation: Option<Violation>,
    /// Log lines accepted.
    pub logs: u32,
    /// Log lines dropped beyond the budget.
    pub logs_dropped: u32,
    /// Metric points emitted.
    pub metrics: Vec<MetricPoint>,
}

/// Per-call log budget: a plugin logging in a loop must not flood weir's
/// log.
pub const MAX_LOGS_PER_CALL: u32 = 32;

/// The data of a plugin instance's store.
pub struct HostState {
    wasi: WasiCtx,
    /// Resources the guest holds handles to (its batch, WASI streams).
    pub table: ResourceTable,
    /// The memory cap.
    pub limiter: MemoryLimiter,
    /// The node's limits.
    pub limits: Limits,
    /// The call in progress.
    pub call: CallState,
    /// Who this is, for logs.
    pub identity: Arc<PluginIdentity>,
    /// The plugin's own counters and histograms.
    pub telemetry: Arc<PluginTelemetry>,
    /// Compiled patterns of the redact kernel.
    pub regexes: RegexCache,
    /// What the guest wrote to stderr (a panic message), bounded.
    pub stderr: CapturedOutput,
}

impl HostState {
    /// A sandbox with nothing granted: no files, no environment, no
    /// arguments, no network; stdout is discarded and stderr kept (bounded)
    /// for failure reports.
    ///
    /// # Errors
    /// A granted directory that cannot be opened.
    pub fn new(
        limits: Limits,
        identity: Arc<PluginIdentity>,
        telemetry: Arc<PluginTelemetry>,
        grants: &[Grant],
    ) -> Result<Self, String> {
        let stderr = CapturedOutput::new(4096);
        let mut wasi = WasiCtx::builder();
        let _ = wasi
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        for g in grants {
            let _ = wasi
                .preopened_dir(&g.host, &g.guest, FsPerms::ReadOnly)
                .map_err(|e| format!("cannot grant {}: {e}", g.host.display()))?;
        }
        let wasi = wasi.build();
        Ok(HostState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(limits.memory),
            limits,
            call: CallState::default(),
            identity,
            telemetry,
            regexes: RegexCache::default(),
            stderr,
        })
    }

    /// Starts a new call's budget.
    pub fn begin_call(&mut self) {
        self.call = CallState::default();
        self.limiter.exceeded = false;
        self.stderr.clear();
    }

    /// Whether the memory cap refused a growth during the call.
    pub fn memory_exceeded(&self) -> bool {
        self.limiter.exceeded
    }

    /// Counts one host call; past the budget, traps the guest.
    ///
    /// # Errors
    /// A trap once the call has made more than `limits.host_calls` calls.
    pub fn host_call(&mut self) -> wasmtime::Result<()> {
        self.call.host_calls += 1;
        if self.call.host_calls > self.limits.host_calls {
            let n = self.limits.host_calls;
            let _ = self.call.violation.get_or_insert(Violation::HostCalls(n));
            return Err(wasmtime::Error::msg(format!(
                "plugin made more than {n} host calls in one call"
            )));
        }
        Ok(())
    }

    /// Counts `bytes` of output; `false` (and a recorded violation) when
    /// that goes past `limits.max_output`.
    pub fn take_output(&mut self, bytes: u64) -> bool {
        let total = self.call.output_bytes.saturating_add(bytes);
        if total > self.limits.max_output {
            let _ = self
                .call
                .violation
                .get_or_insert(Violation::Output(self.limits.max_output));
            return false;
        }
        self.call.output_bytes = total;
        true
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A bounded in-memory stdout/stderr: keeps the first `capacity` bytes of a
/// call and silently drops the rest (a guest must never fail or trap
/// because it printed).
#[derive(Clone)]
pub struct CapturedOutput {
    buffer: Arc<Mutex<Vec<u8>>>,
    truncated: Arc<AtomicBool>,
    capacity: usize,
}

impl CapturedOutput {
    fn new(capacity: usize) -> Self {
        CapturedOutput {
            buffer: Arc::new(Mutex::new(Vec::new())),
            truncated: Arc::new(AtomicBool::new(false)),
            capacity,
        }
    }

    fn clear(&self) {
        self.buffer.lock().clear();
        self.truncated.store(false, Ordering::Relaxed);
    }

    fn append(&self, bytes: &[u8]) {
        let mut b = self.buffer.lock();
        let room = self.capacity.saturating_sub(b.len());
        if bytes.len() > room {
            self.truncated.store(true, Ordering::Relaxed);
        }
        b.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// What was written during the current call, lossily decoded, trimmed.
    pub fn text(&self) -> String {
        let b = self.buffer.lock();
        let mut s = String::from_utf8_lossy(&b).trim().to_string();
        if self.truncated.load(Ordering::Relaxed) {
            s.push_str(" [truncated]");
        }
        s
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.append(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
