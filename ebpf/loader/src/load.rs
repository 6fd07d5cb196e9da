//! Loading the object and attaching the programs of the enabled signals.

#![allow(unsafe_code)] // libc::geteuid, libc::setrlimit

use aya::programs::perf_event::{PerfEventConfig, PerfEventScope, SamplePolicy, SoftwareEvent};
use aya::programs::{PerfEvent, RawTracePoint, TracePoint};
use aya::{Ebpf, EbpfLoader};
use weir_ebpf_common::offset;

use crate::{Error, PROBES, tracefs};

/// Which signals to collect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Signals {
    /// System call counts, errors and latency per process.
    pub syscalls: bool,
    /// Run-queue latency per thread.
    pub scheduler: bool,
    /// TCP connections, retransmits and resets per process and peer.
    pub tcp: bool,
    /// CPU profile sampling frequency in Hz; `None` = no profiles.
    pub profile_hz: Option<u64>,
    /// Count the loading process's own system calls too (benchmarks); by
    /// default the probes skip them, so weir does not measure itself.
    pub include_self: bool,
}

/// Entries of the bounded maps (each insert beyond them is counted as
/// dropped, never grows memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapSizes {
    /// Processes x system calls.
    pub syscalls: u32,
    /// Threads with run-queue histograms.
    pub threads: u32,
    /// Processes x peers of TCP connections (and open sockets).
    pub tcp: u32,
    /// Distinct stacks per profile window.
    pub stacks: u32,
}

impl Default for MapSizes {
    fn default() -> Self {
        MapSizes {
            syscalls: 16384,
            threads: 16384,
            tcp: 8192,
            stacks: 8192,
        }
    }
}

/// The loaded, attached probes. Dropping it detaches everything.
pub struct Probes {
    pub(crate) bpf: Ebpf,
    pub(crate) signals: Signals,
}

impl std::fmt::Debug for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probes")
            .field("signals", &self.signals)
            .finish()
    }
}

/// The error for a process without the privileges, with the lockdown state.
pub(crate) fn not_permitted() -> Error {
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    let lockdown = std::fs::read_to_string("/sys/kernel/security/lockdown")
        .ok()
        .and_then(|s| {
            // "none [integrity] confidentiality": the bracketed one is active.
            let active = s.split('[').nth(1)?.split(']').next()?.to_string();
            (active != "none").then(|| {
                format!("; note: kernel lockdown is `{active}`, which may forbid eBPF tracing even for root")
            })
        })
        .unwrap_or_default();
    Error::NotPermitted { uid, lockdown }
}

/// Whether this process may load tracing programs: root, or CAP_BPF (39)
/// with CAP_PERFMON (38), or CAP_SYS_ADMIN (21).
fn privileged() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return true; // let the kernel decide
    };
    let Some(caps) = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
    else {
        return true;
    };
    let has = |bit: u32| caps & (1u64 << bit) != 0;
    has(21) || (has(38) && has(39))
}

/// Raises RLIMIT_MEMLOCK for kernels that still charge map memory to it
/// (before 5.11); harmless elsewhere.
fn raise_memlock() {
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: a valid rlimit struct; failure is ignored (the map creation
    // then reports the real error).
    let _ = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) };
}

fn no_return_syscalls() -> [u64; 2] {
    [syscalls::Sysno::exit, syscalls::Sysno::exit_group].map(|s| s.id() as u64)
}

/// Reads the offsets the probes need for the enabled classic tracepoints.
fn read_offsets(signals: &Signals) -> Result<[u32; offset::LEN], Error> {
    let mut offsets = [0u32; offset::LEN];
    if !(signals.scheduler || signals.tcp) {
        return Ok(offsets);
    }
    let tracefs = tracefs::ensure()?;
    let mut fill = |category, name, fields: &[(&'static str, usize)]| -> Result<(), Error> {
        let names: Vec<&'static str> = fields.iter().map(|(f, _)| *f).collect();
        let found = tracefs::offsets(&tracefs, category, name, &names)?;
        for ((_, slot), off) in fields.iter().zip(found) {
            offsets[*slot] = off;
        }
        Ok(())
    };
    if signals.scheduler {
        fill(
            "sched",
            "sched_switch",
            &[
                ("prev_pid", offset::SWITCH_PREV_PID),
                ("prev_state", offset::SWITCH_PREV_STATE),
                ("next_comm", offset::SWITCH_NEXT_COMM),
                ("next_pid", offset::SWITCH_NEXT_PID),
            ],
        )?;
        fill("sched", "sched_wakeup", &[("pid", offset::WAKEUP_PID)])?;
    }
    if signals.tcp {
        fill(
            "sock",
            "inet_sock_set_state",
            &[
                ("skaddr", offset::SET_STATE_SKADDR),
                ("oldstate", offset::SET_STATE_OLDSTATE),
                ("newstate", offset::SET_STATE_NEWSTATE),
                ("sport", offset::SET_STATE_SPORT),
                ("dport", offset::SET_STATE_DPORT),
                ("family", offset::SET_STATE_FAMILY),
                ("protocol", offset::SET_STATE_PROTOCOL),
                ("daddr", offset::SET_STATE_DADDR),
                ("daddr_v6", offset::SET_STATE_DADDR_V6),
            ],
        )?;
        fill(
            "tcp",
            "tcp_retransmit_skb",
            &[("skaddr", offset::RETRANSMIT_SKADDR)],
        )?;
        fill(
            "tcp",
            "tcp_send_reset",
            &[("skaddr", offset::SEND_RESET_SKADDR)],
        )?;
        fill(
            "tcp",
            "tcp_receive_reset",
            &[("skaddr", offset::RECEIVE_RESET_SKADDR)],
        )?;
    }
    Ok(offsets)
}

impl Probes {
    /// Loads the probes and attaches the programs of `signals`.
    ///
    /// # Errors
    /// [`Error::NotBuilt`], [`Error::NotPermitted`] (checked before trying,
    /// and when the kernel says EPERM), [`Error::Tracefs`] when the
    /// scheduler or TCP signals need tracefs and it cannot be mounted; a
    /// verifier rejection as [`Error::Program`].
    pub fn load(signals: Signals, sizes: MapSizes) -> Result<Probes, Error> {
        if !crate::probes_built() {
            return Err(Error::NotBuilt);
        }
        if !privileged() {
            return Err(not_permitted());
        }
        raise_memlock();
        let offsets = read_offsets(&signals)?;
        let self_tgid = if signals.include_self {
            0 // no process has id 0: nothing is skipped
        } else {
            std::process::id()
        };
        let no_return = no_return_syscalls();
        // Maps of signals that are off get one entry: they are created with
        // the object but never written.
        let size = |on: bool, n: u32| if on { n.max(1) } else { 1 };
        let mut loader = EbpfLoader::new();
        let _ = loader
            .override_global("OFFSETS", &offsets, true)
            .override_global("SELF_TGID", &self_tgid, true)
            .override_global("NO_RETURN", &no_return, true)
            .map_max_entries("SYSCALL_START", size(signals.syscalls, sizes.syscalls))
            .map_max_entries("SYSCALLS", size(signals.syscalls, sizes.syscalls))
            .map_max_entries("RUNQ_START", size(signals.scheduler, sizes.threads))
            .map_max_entries("RUNQ", size(signals.scheduler, sizes.threads))
            .map_max_entries("TCP_SOCKS", size(signals.tcp, sizes.tcp.saturating_mul(2)))
            .map_max_entries("TCP", size(signals.tcp, sizes.tcp))
            .map_max_entries(
                "PROFILE_COUNTS",
                size(signals.profile_hz.is_some(), sizes.stacks.saturating_mul(2)),
            )
            .map_max_entries("STACKS", size(signals.profile_hz.is_some(), sizes.stacks));
        let bpf = loader.load(PROBES).map_err(|e| match &e {
            aya::EbpfError::MapError(aya::maps::MapError::CreateError { io_error, .. })
                if matches!(io_error.raw_os_error(), Some(libc::EPERM | libc::EACCES)) =>
            {
                not_permitted()
            }
            _ => Error::Load(Box::new(e)),
        })?;
        let mut probes = Probes { bpf, signals };
        probes.attach()?;
        Ok(probes)
    }

    /// The signals the probes collect.
    pub fn signals(&self) -> Signals {
        self.signals
    }

    fn attach(&mut self) -> Result<(), Error> {
        let s = self.signals;
        if s.syscalls {
            self.raw_tracepoint("weir_sys_enter", "sys_enter")?;
            self.raw_tracepoint("weir_sys_exit", "sys_exit")?;
        }
        if s.scheduler {
            self.tracepoint("weir_sched_wakeup", "sched", "sched_wakeup")?;
            self.tracepoint("weir_sched_wakeup_new", "sched", "sched_wakeup_new")?;
            self.tracepoint("weir_sched_switch", "sched", "sched_switch")?;
        }
        if s.tcp {
            self.tracepoint("weir_inet_sock_set_state", "sock", "inet_sock_set_state")?;
            self.tracepoint("weir_tcp_retransmit_skb", "tcp", "tcp_retransmit_skb")?;
            self.tracepoint("weir_tcp_send_reset", "tcp", "tcp_send_reset")?;
            self.tracepoint("weir_tcp_receive_reset", "tcp", "tcp_receive_reset")?;
        }
        if let Some(hz) = s.profile_hz {
            self.perf_event("weir_profile", hz)?;
        }
        Ok(())
    }

    fn program<P>(&mut self, name: &'static str) -> Result<&mut P, Error>
    where
        for<'a> &'a mut P:
            TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
    {
        let program = self.bpf.program_mut(name).ok_or_else(|| Error::Program {
            program: name,
            action: "found in the object".into(),
            source: Box::new(aya::programs::ProgramError::NotLoaded),
        })?;
        program
            .try_into()
            .map_err(|e| Error::program(name, "loaded", e))
    }

    fn raw_tracepoint(&mut self, name: &'static str, hook: &str) -> Result<(), Error> {
        let p: &mut RawTracePoint = self.program(name)?;
        p.load().map_err(|e| Error::program(name, "loaded", e))?;
        let _ = p
            .attach(hook)
            .map_err(|e| Error::program(name, format!("attached to raw tracepoint {hook}"), e))?;
        Ok(())
    }

    fn tracepoint(&mut self, name: &'static str, category: &str, event: &str) -> Result<(), Error> {
        let p: &mut TracePoint = self.program(name)?;
        p.load().map_err(|e| Error::program(name, "loaded", e))?;
        let _ = p.attach(category, event).map_err(|e| {
            Error::program(
                name,
                format!("attached to tracepoint {category}/{event}"),
                e,
            )
        })?;
        Ok(())
    }

    fn perf_event(&mut self, name: &'static str, hz: u64) -> Result<(), Error> {
        let cpus = aya::util::online_cpus().map_err(|(path, source)| Error::Io {
            path: path.to_string(),
            source,
        })?;
        let p: &mut PerfEvent = self.program(name)?;
        p.load().map_err(|e| Error::program(name, "loaded", e))?;
        for cpu in cpus {
            let _ = p
                .attach(
                    PerfEventConfig::Software(SoftwareEvent::CpuClock),
                    PerfEventScope::AllProcessesOneCpu { cpu },
                    SamplePolicy::Frequency(hz),
                    false,
                )
                .map_err(|e| {
                    Error::program(name, format!("attached to cpu-clock of CPU {cpu}"), e)
                })?;
        }
        Ok(())
    }
}
