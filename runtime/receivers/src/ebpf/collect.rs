//! One read of the probes' maps: cumulative metric points per process,
//! the profile samples of the interval, and the pruning of exited
//! processes.
//!
//! Kernel counters are cumulative from the moment their map entry was
//! created; a point's `start_time` is when the probes were attached (for
//! entries seen at the first read) or the previous read (for entries that
//! appeared since). Run-queue latency is kept per thread in the kernel and
//! summed per process here; threads that exit are folded into their
//! process's `retired` total so the process's counters never go down. A
//! process that has exited gets one last point, then its entries are
//! deleted from the kernel maps and from here.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{ResourceMetrics, ScopeMetrics};
use opentelemetry_proto::tonic::resource::v1::Resource;
use weir_ebpf::common::{Latency, SyscallKey, TcpKey, counter, direction};
use weir_ebpf::procfs::{self, Cgroups};
use weir_ebpf::{Error, Frame, Probes, Symbolizer};
use weir_pdata::{Batch, Signal, profiles};

use super::config::EbpfConfig;
use super::points::{MetricPoints, kv_int, kv_str, merge};

/// The name of the scope of every batch.
pub(super) const SCOPE: &str = "weir.ebpf";

/// Run-queue totals of one process.
struct ProcessRunq {
    start_ns: u64,
    /// Threads that exited, summed.
    retired: Latency,
}

/// What one read produced.
#[derive(Debug, Default)]
pub(super) struct Collected {
    /// A metrics batch, a profiles batch (either may be absent).
    pub(super) batches: Vec<Batch>,
    /// Processes whose entries were deleted because they exited.
    pub(super) exited: usize,
}

/// The state kept between reads.
pub(super) struct Collector {
    probes: Probes,
    profile_period_ns: i64,
    attached_ns: u64,
    last_ns: u64,
    first: bool,
    resource: Resource,
    syscall_starts: HashMap<SyscallKey, u64>,
    runq: HashMap<u32, ProcessRunq>,
    thread_process: HashMap<u32, u32>,
    tcp_starts: HashMap<TcpKey, u64>,
    comms: HashMap<u32, String>,
    cgroups: Cgroups,
    symbolizer: Symbolizer,
    reads: u64,
}

pub(super) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The resource of every batch: the host and `service.name`.
pub(super) fn resource(service_name: &str) -> Resource {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    Resource {
        attributes: vec![
            kv_str("service.name", service_name),
            kv_str("host.name", host),
            kv_str("os.type", "linux"),
        ],
        dropped_attributes_count: 0,
        entity_refs: Vec::new(),
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: SCOPE.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        attributes: Vec::new(),
        dropped_attributes_count: 0,
    }
}

impl Collector {
    /// State for freshly attached `probes`.
    pub(super) fn new(probes: Probes, config: &EbpfConfig) -> Self {
        let now = now_ns();
        Collector {
            probes,
            profile_period_ns: 1_000_000_000
                / i64::try_from(config.profile_frequency.max(1)).unwrap_or(1),
            attached_ns: now,
            last_ns: now,
            first: true,
            resource: resource(&config.service_name),
            syscall_starts: HashMap::new(),
            runq: HashMap::new(),
            thread_process: HashMap::new(),
            tcp_starts: HashMap::new(),
            comms: HashMap::new(),
            cgroups: Cgroups::new(),
            symbolizer: Symbolizer::new(),
            reads: 0,
        }
    }

    /// When a key first seen now started counting.
    fn start_for_new(&self) -> u64 {
        if self.first {
            self.attached_ns
        } else {
            self.last_ns
        }
    }

    /// The name of process `tgid`: `/proc/<tgid>/comm` while it runs (cached),
    /// else `fallback` (the kernel's `comm` of one of its threads).
    fn process_name(&mut self, tgid: u32, fallback: &[u8]) -> String {
        if let Some(n) = self.comms.get(&tgid) {
            return n.clone();
        }
        let name = std::fs::read_to_string(format!("/proc/{tgid}/comm"))
            .map(|s| s.trim_end().to_string())
            .unwrap_or_else(|_| procfs::comm_str(fallback));
        let _ = self.comms.insert(tgid, name.clone());
        name
    }

    fn process_attrs(&mut self, tgid: u32, comm: &[u8]) -> Vec<KeyValue> {
        vec![
            kv_int("process.pid", i64::from(tgid)),
            kv_str("process.executable.name", self.process_name(tgid, comm)),
        ]
    }

    /// Reads every map once.
    ///
    /// # Errors
    /// [`Error::Map`] when the kernel refuses a read or delete.
    pub(super) fn collect(&mut self) -> Result<Collected, Error> {
        let now = now_ns();
        let signals = self.probes.signals();
        let mut metrics: Vec<MetricPoints> = Vec::new();
        let mut exited = HashSet::new();
        if signals.syscalls {
            self.syscalls(now, &mut metrics, &mut exited)?;
        }
        if signals.scheduler {
            self.scheduler(now, &mut metrics, &mut exited)?;
        }
        if signals.tcp {
            self.tcp(now, &mut metrics, &mut exited)?;
        }
        self.dropped(now, &mut metrics)?;
        let mut batches = Vec::new();
        if metrics.iter().any(|m| m.len() > 0) {
            let request = ExportMetricsServiceRequest {
                resource_metrics: vec![ResourceMetrics {
                    resource: Some(self.resource.clone()),
                    scope_metrics: vec![ScopeMetrics {
                        scope: Some(scope()),
                        metrics: metrics
                            .into_iter()
                            .filter_map(MetricPoints::finish)
                            .collect(),
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                }],
            };
            match weir_pdata::otlp::arrow::metrics_tables(&request) {
                Ok(tables) => batches.push(Batch::from_tables(Signal::Metrics, tables)),
                Err(e) => {
                    tracing::error!(error = %e, "eBPF metrics could not be built; this interval is lost.")
                }
            }
        }
        if signals.profile_hz.is_some()
            && let Some(batch) = self.profiles(now)?
        {
            batches.push(batch);
        }
        for tgid in &exited {
            let _ = self.comms.remove(tgid);
        }
        self.last_ns = now;
        self.first = false;
        self.reads += 1;
        if self.reads.is_multiple_of(360) {
            // Binaries change on disk and processes come and go: drop the
            // symbol caches and names now and then.
            self.symbolizer.clear();
            self.comms.clear();
        }
        Ok(Collected {
            batches,
            exited: exited.len(),
        })
    }

    fn syscalls(
        &mut self,
        now: u64,
        out: &mut Vec<MetricPoints>,
        exited: &mut HashSet<u32>,
    ) -> Result<(), Error> {
        let entries = self.probes.syscalls()?;
        let mut duration = MetricPoints::new(
            "process.syscall.duration",
            "Time from entry to exit of system calls, per process and system call.",
            "s",
        );
        let mut errors = MetricPoints::new(
            "process.syscall.errors",
            "System calls that returned an error, per process and system call.",
            "{call}",
        );
        let mut gone = Vec::new();
        let new_start = self.start_for_new();
        for (key, stats) in entries {
            let start = *self.syscall_starts.entry(key).or_insert(new_start);
            let mut attrs = self.process_attrs(key.tgid, &stats.comm);
            if let Some(path) = self.cgroups.path(stats.cgroup_id) {
                attrs.push(kv_str("process.cgroup", path));
            }
            let name =
                weir_ebpf::syscall_name(key.nr).map_or_else(|| key.nr.to_string(), str::to_string);
            attrs.push(kv_str("syscall.name", name));
            errors.sum(attrs.clone(), start, now, stats.errors);
            duration.histogram(attrs, start, now, &stats.latency);
            if !procfs::alive(key.tgid) {
                gone.push(key);
                let _ = exited.insert(key.tgid);
            }
        }
        self.probes.remove_syscalls(&gone)?;
        for k in &gone {
            let _ = self.syscall_starts.remove(k);
        }
        out.push(duration);
        out.push(errors);
        Ok(())
    }

    fn scheduler(
        &mut self,
        now: u64,
        out: &mut Vec<MetricPoints>,
        exited: &mut HashSet<u32>,
    ) -> Result<(), Error> {
        let entries = self.probes.runq()?;
        let mut per_process: BTreeMap<u32, (Latency, [u8; 16])> = BTreeMap::new();
        let mut dead_threads = Vec::new();
        for (tid, stats) in entries {
            let tgid = if stats.tgid != 0 {
                stats.tgid
            } else if let Some(t) = self.thread_process.get(&tid) {
                *t
            } else {
                // Not seen switched out yet: ask /proc; a thread that is
                // already gone is taken for a single-threaded process.
                procfs::tgid_of(tid).unwrap_or(tid)
            };
            let _ = self.thread_process.insert(tid, tgid);
            let entry = per_process
                .entry(tgid)
                .or_insert((Latency::ZERO, stats.comm));
            merge(&mut entry.0, &stats.latency);
            if tid == tgid {
                entry.1 = stats.comm;
            }
            if !procfs::alive(tid) {
                dead_threads.push((tid, tgid, stats.latency));
            }
        }
        let mut latency = MetricPoints::new(
            "process.runqueue.latency",
            "Time threads of a process waited on a run queue between becoming runnable and running.",
            "s",
        );
        let new_start = self.start_for_new();
        let mut gone_processes = Vec::new();
        for (tgid, (mut total, comm)) in per_process {
            let state = self.runq.entry(tgid).or_insert(ProcessRunq {
                start_ns: new_start,
                retired: Latency::ZERO,
            });
            merge(&mut total, &state.retired);
            let start = state.start_ns;
            let attrs = self.process_attrs(tgid, &comm);
            latency.histogram(attrs, start, now, &total);
            if !procfs::alive(tgid) {
                gone_processes.push(tgid);
                let _ = exited.insert(tgid);
            }
        }
        // Fold exited threads into their process, then forget them.
        let tids: Vec<u32> = dead_threads.iter().map(|(tid, _, _)| *tid).collect();
        for (tid, tgid, l) in &dead_threads {
            if let Some(state) = self.runq.get_mut(tgid) {
                merge(&mut state.retired, l);
            }
            let _ = self.thread_process.remove(tid);
        }
        self.probes.remove_runq(&tids)?;
        for tgid in gone_processes {
            let _ = self.runq.remove(&tgid);
        }
        out.push(latency);
        Ok(())
    }

    fn tcp(
        &mut self,
        now: u64,
        out: &mut Vec<MetricPoints>,
        exited: &mut HashSet<u32>,
    ) -> Result<(), Error> {
        let entries = self.probes.tcp()?;
        let mut m = [
            MetricPoints::new(
                "tcp.connections.opened",
                "TCP connections opened, per process, direction and peer.",
                "{connection}",
            ),
            MetricPoints::new(
                "tcp.connections.closed",
                "TCP connections closed, per process, direction and peer.",
                "{connection}",
            ),
            MetricPoints::new(
                "tcp.retransmits",
                "TCP segments retransmitted, per process, direction and peer.",
                "{segment}",
            ),
            MetricPoints::new(
                "tcp.resets.sent",
                "TCP resets sent, per process, direction and peer.",
                "{segment}",
            ),
            MetricPoints::new(
                "tcp.resets.received",
                "TCP resets received, per process, direction and peer.",
                "{segment}",
            ),
        ];
        let new_start = self.start_for_new();
        let mut gone = Vec::new();
        for (key, stats) in entries {
            let start = *self.tcp_starts.entry(key).or_insert(new_start);
            let mut attrs = if key.tgid != 0 {
                self.process_attrs(key.tgid, &stats.comm)
            } else {
                Vec::new()
            };
            attrs.extend(tcp_attrs(&key));
            let values = [
                stats.opened,
                stats.closed,
                stats.retransmits,
                stats.resets_sent,
                stats.resets_received,
            ];
            for (metric, value) in m.iter_mut().zip(values) {
                metric.sum(attrs.clone(), start, now, value);
            }
            if key.tgid != 0 && !procfs::alive(key.tgid) {
                gone.push(key);
                let _ = exited.insert(key.tgid);
            }
        }
        self.probes.remove_tcp(&gone)?;
        for k in &gone {
            let _ = self.tcp_starts.remove(k);
        }
        out.extend(m);
        Ok(())
    }

    fn dropped(&mut self, now: u64, out: &mut Vec<MetricPoints>) -> Result<(), Error> {
        let counts = self.probes.dropped()?;
        let mut m = MetricPoints::new(
            "weir.ebpf.dropped",
            "Kernel events the eBPF probes dropped because a map was full.",
            "{event}",
        );
        let names = [
            (counter::SYSCALLS_FULL, "syscalls"),
            (counter::RUNQ_FULL, "scheduler"),
            (counter::TCP_FULL, "tcp"),
            (counter::PROFILE_LOST, "profiles"),
        ];
        for (i, name) in names {
            m.sum(
                vec![kv_str("signal", name)],
                self.attached_ns,
                now,
                counts[i as usize],
            );
        }
        out.push(m);
        Ok(())
    }

    fn profiles(&mut self, now: u64) -> Result<Option<Batch>, Error> {
        let sample = self.probes.take_profile()?;
        if sample.counts.is_empty() {
            return Ok(None);
        }
        // Symbolise each distinct address once: kernel addresses in one
        // call, user addresses in one call per process.
        let mut kernel_ips: Vec<u64> = Vec::new();
        let mut user_ips: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
        for (key, _) in &sample.counts {
            kernel_ips.extend_from_slice(sample.stacks.get(key.kernel_stack));
            user_ips
                .entry(key.tgid)
                .or_default()
                .extend_from_slice(sample.stacks.get(key.user_stack));
        }
        kernel_ips.sort_unstable();
        kernel_ips.dedup();
        let kernel: HashMap<u64, Frame> = kernel_ips
            .iter()
            .copied()
            .zip(self.symbolizer.kernel(&kernel_ips))
            .collect();
        let mut user: HashMap<(u32, u64), Frame> = HashMap::new();
        for (tgid, mut ips) in user_ips {
            ips.sort_unstable();
            ips.dedup();
            let frames = self.symbolizer.user(tgid, &ips);
            user.extend(ips.into_iter().zip(frames).map(|(ip, f)| ((tgid, ip), f)));
        }
        let frame = |f: &Frame| profiles::Frame {
            function: f.function.clone(),
            module: f.module.clone(),
            address: f.address,
        };
        let mut rows = Vec::with_capacity(sample.counts.len());
        for (key, count) in &sample.counts {
            let frames = sample
                .stacks
                .get(key.kernel_stack)
                .iter()
                .filter_map(|ip| kernel.get(ip))
                .chain(
                    sample
                        .stacks
                        .get(key.user_stack)
                        .iter()
                        .filter_map(|ip| user.get(&(key.tgid, *ip))),
                )
                .map(frame)
                .collect();
            let mut attributes = self.process_attrs(key.tgid, &key.comm);
            attributes.push(kv_int("thread.id", i64::from(key.pid)));
            attributes.push(kv_str("thread.name", procfs::comm_str(&key.comm)));
            rows.push(profiles::Sample {
                start_time_ns: self.last_ns,
                time_ns: now,
                profile_type: "cpu".to_string(),
                period_ns: self.profile_period_ns,
                samples: i64::try_from(*count).unwrap_or(i64::MAX),
                frames,
                attributes,
            });
        }
        match profiles::tables(Some(&self.resource), Some(&scope()), &rows) {
            Ok(tables) => Ok(Some(Batch::from_tables(Signal::Profiles, tables))),
            Err(e) => {
                tracing::error!(error = %e, "eBPF profile could not be built; this interval is lost.");
                Ok(None)
            }
        }
    }
}

/// The peer and direction attributes of a TCP key.
fn tcp_attrs(key: &TcpKey) -> Vec<KeyValue> {
    let mut attrs = Vec::with_capacity(4);
    let dir = match key.direction {
        direction::OUTBOUND => "outbound",
        direction::INBOUND => "inbound",
        _ => "unknown",
    };
    attrs.push(kv_str("tcp.direction", dir));
    if key.direction == 0 {
        return attrs; // a socket opened before the probes were attached
    }
    let (ty, addr) = match key.family {
        2 => {
            let a: [u8; 4] = [key.addr[0], key.addr[1], key.addr[2], key.addr[3]];
            ("ipv4", std::net::IpAddr::from(a))
        }
        _ => ("ipv6", std::net::IpAddr::from(key.addr)),
    };
    attrs.push(kv_str("network.type", ty));
    attrs.push(kv_str("network.peer.address", addr.to_string()));
    // The tracepoint reports ports in host order.
    let port = i64::from(key.port);
    if key.direction == direction::OUTBOUND {
        attrs.push(kv_int("network.peer.port", port));
    } else {
        attrs.push(kv_int("network.local.port", port));
    }
    attrs
}
