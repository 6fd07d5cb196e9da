//! Why the probes could not be loaded or read.

use std::io;

/// An error of the eBPF probes, worded for the person who must act.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The binary was built without the probes.
    #[error(
        "this weir binary was built without its eBPF probes (bpf-linker was missing at build time); run scripts/setup-ebpf and rebuild"
    )]
    NotBuilt,
    /// The process lacks the privileges to load eBPF programs.
    #[error(
        "loading eBPF programs needs root or the capabilities CAP_BPF and CAP_PERFMON (this process runs as uid {uid} without them){lockdown}"
    )]
    NotPermitted {
        /// The effective user id.
        uid: u32,
        /// A note about kernel lockdown, if it is on.
        lockdown: String,
    },
    /// tracefs is needed (classic tracepoints) and is not there.
    #[error(
        "tracefs is not mounted (looked at /sys/kernel/tracing and /sys/kernel/debug/tracing) and mounting it at /sys/kernel/tracing failed: {0}"
    )]
    Tracefs(io::Error),
    /// A tracepoint's format file lacks a field the probes read.
    #[error("tracepoint {event} has no field `{field}` on this kernel")]
    TracepointField {
        /// `category/name`.
        event: String,
        /// The field.
        field: &'static str,
    },
    /// Reading a file of /proc or /sys failed.
    #[error("reading {path} failed: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: io::Error,
    },
    /// The kernel refused the object (a map could not be created).
    #[error("the kernel refused the eBPF object: {0}")]
    Load(#[source] Box<aya::EbpfError>),
    /// The kernel refused to load or attach a program.
    #[error("eBPF program {program} could not be {action}: {source}")]
    Program {
        /// The program's name.
        program: &'static str,
        /// `loaded` or `attached to <hook>`.
        action: String,
        /// The cause (for a verifier rejection, the verifier's log).
        #[source]
        source: Box<aya::programs::ProgramError>,
    },
    /// Reading or writing a map failed.
    #[error("eBPF map {map}: {source}")]
    Map {
        /// The map's name.
        map: &'static str,
        /// The cause.
        #[source]
        source: Box<aya::maps::MapError>,
    },
}

impl Error {
    pub(crate) fn map(map: &'static str, source: aya::maps::MapError) -> Error {
        Error::Map {
            map,
            source: Box::new(source),
        }
    }

    pub(crate) fn program(
        program: &'static str,
        action: impl Into<String>,
        source: aya::programs::ProgramError,
    ) -> Error {
        let source = Box::new(source);
        match permission_denied(&source) {
            true => crate::load::not_permitted(),
            false => Error::Program {
                program,
                action: action.into(),
                source,
            },
        }
    }
}

fn permission_denied(e: &aya::programs::ProgramError) -> bool {
    use aya::programs::ProgramError;
    let io = match e {
        ProgramError::SyscallError(s) => &s.io_error,
        ProgramError::LoadError { io_error, .. } => io_error,
        _ => return false,
    };
    matches!(io.raw_os_error(), Some(libc::EPERM | libc::EACCES))
}
