//! Configuration of the `ebpf` receiver and its validation.
//!
//! ```kdl
//! receiver "kernel" type="ebpf" {
//!     signals "syscalls" "scheduler" "tcp" "profiles"
//!     interval "10s"            // how often maps are read and batches sent
//!     profile-frequency 99      // Hz, per CPU
//!     max-entries 16384         // entries per map (processes x syscalls, threads, ...)
//! }
//! ```
//!
//! | property | default | meaning |
//! |---|---|---|
//! | `signals` | `"syscalls" "scheduler" "tcp"` | What to collect: `syscalls` (counts, errors and latency per process and system call), `scheduler` (run-queue latency per process), `tcp` (connections, retransmits, resets per process and peer), `profiles` (CPU stacks sampled at `profile-frequency`). |
//! | `interval` | `10s` | How often the maps are read: one metrics batch (cumulative) and one profiles batch (the samples of the interval) per interval. 100 ms to 1 h. |
//! | `profile-frequency` | `99` | Samples per second per CPU (1 to 10000); 99 avoids lockstep with timers. |
//! | `max-entries` | `16384` | Entries of each kernel map; a full map drops new keys and counts them in `weir.ebpf.dropped`. 64 to 1048576. |
//! | `service-name` | `weir-ebpf` | `service.name` of the batches' resource. |

use std::time::Duration;

use weir_config::{ConfigError, ErrorCode, NodeReader};
use weir_engine::registry::{BuildContext, Builder, Built};

use super::receiver::EbpfReceiver;

/// Configuration of an `ebpf` receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EbpfConfig {
    /// System call counts, errors and latency per process.
    pub syscalls: bool,
    /// Run-queue latency per process.
    pub scheduler: bool,
    /// TCP connections, retransmits and resets per process and peer.
    pub tcp: bool,
    /// CPU profiles.
    pub profiles: bool,
    /// How often maps are read. Default [`EbpfConfig::DEFAULT_INTERVAL`].
    pub interval: Duration,
    /// Profile samples per second per CPU. Default
    /// [`EbpfConfig::DEFAULT_PROFILE_FREQUENCY`].
    pub profile_frequency: u64,
    /// Entries per kernel map. Default [`EbpfConfig::DEFAULT_MAX_ENTRIES`].
    pub max_entries: u32,
    /// `service.name` of the resource. Default
    /// [`EbpfConfig::DEFAULT_SERVICE_NAME`].
    pub service_name: String,
}

impl EbpfConfig {
    /// Default `interval`.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
    /// Default `profile-frequency`.
    pub const DEFAULT_PROFILE_FREQUENCY: u64 = 99;
    /// Default `max-entries`.
    pub const DEFAULT_MAX_ENTRIES: u32 = 16384;
    /// Default `service-name`.
    pub const DEFAULT_SERVICE_NAME: &'static str = "weir-ebpf";
    /// The signal names `signals` accepts.
    pub const SIGNALS: [&'static str; 4] = ["syscalls", "scheduler", "tcp", "profiles"];
}

impl Default for EbpfConfig {
    fn default() -> Self {
        EbpfConfig {
            syscalls: true,
            scheduler: true,
            tcp: true,
            profiles: false,
            interval: Self::DEFAULT_INTERVAL,
            profile_frequency: Self::DEFAULT_PROFILE_FREQUENCY,
            max_entries: Self::DEFAULT_MAX_ENTRIES,
            service_name: Self::DEFAULT_SERVICE_NAME.to_string(),
        }
    }
}

/// Reads a `receiver type="ebpf"` block; `None` when it has errors.
pub fn validate(r: &mut NodeReader<'_>) -> Option<Box<dyn Builder>> {
    EbpfConfig::read(r).map(|c| Box::new(c) as Box<dyn Builder>)
}

impl EbpfConfig {
    /// Reads the properties of a `receiver type="ebpf"` block, recording
    /// every problem on `r`; `None` when there was one.
    pub fn read(r: &mut NodeReader<'_>) -> Option<EbpfConfig> {
        let mut c = EbpfConfig::default();
        let mut ok = true;
        if r.present("signals") {
            let (mut syscalls, mut scheduler, mut tcp, mut profiles) = (false, false, false, false);
            let names = r.strings("signals");
            for s in &names {
                match s.value.as_str() {
                    "syscalls" => syscalls = true,
                    "scheduler" => scheduler = true,
                    "tcp" => tcp = true,
                    "profiles" => profiles = true,
                    other => {
                        r.error(
                            ConfigError::new(
                                ErrorCode::InvalidValue,
                                format!("unknown signal {other:?} in an ebpf receiver"),
                            )
                            .at(s.span, "expected syscalls, scheduler, tcp or profiles"),
                        );
                        ok = false;
                    }
                }
            }
            if names.is_empty() && ok {
                let span = r.span();
                r.error(
                    ConfigError::new(ErrorCode::Missing, "`signals` names no signal")
                        .at(span, "this receiver would collect nothing")
                        .help("write `signals \"syscalls\" \"scheduler\" \"tcp\" \"profiles\"`"),
                );
                ok = false;
            }
            (c.syscalls, c.scheduler, c.tcp, c.profiles) = (syscalls, scheduler, tcp, profiles);
        }
        if r.present("interval") {
            match r.duration("interval") {
                Some(d) if d >= Duration::from_millis(100) && d <= Duration::from_secs(3600) => {
                    c.interval = d;
                }
                Some(_) => {
                    if let Some((_, span)) = r.value("interval") {
                        r.invalid(span, "out of range", "an interval from \"100ms\" to \"1h\"");
                    }
                    ok = false;
                }
                None => ok = false,
            }
        }
        if r.present("profile-frequency") {
            match r.u64_in("profile-frequency", 1..=10_000) {
                Some(f) => c.profile_frequency = f,
                None => ok = false,
            }
        }
        if r.present("max-entries") {
            match r
                .u64_in("max-entries", 64..=1_048_576)
                .and_then(|n| u32::try_from(n).ok())
            {
                Some(n) => c.max_entries = n,
                None => ok = false,
            }
        }
        if let Some(name) = r.string("service-name") {
            c.service_name = name.value;
        }
        ok.then_some(c)
    }

    /// The loader's view of the signals.
    pub(crate) fn signals(&self) -> weir_ebpf::Signals {
        weir_ebpf::Signals {
            syscalls: self.syscalls,
            scheduler: self.scheduler,
            tcp: self.tcp,
            profile_hz: self.profiles.then_some(self.profile_frequency),
            include_self: false,
        }
    }

    /// The loader's map sizes.
    pub(crate) fn map_sizes(&self) -> weir_ebpf::MapSizes {
        weir_ebpf::MapSizes {
            syscalls: self.max_entries,
            threads: self.max_entries,
            tcp: self.max_entries / 2,
            stacks: self.max_entries / 2,
        }
    }
}

impl Builder for EbpfConfig {
    fn build(self: Box<Self>, _ctx: &BuildContext<'_>) -> Result<Built, ConfigError> {
        Ok(Built::Receiver(Box::new(EbpfReceiver::new(*self))))
    }
}
