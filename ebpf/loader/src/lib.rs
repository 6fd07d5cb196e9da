//! The user side of weir's eBPF probes: loads the object that `build.rs`
//! compiled from `ebpf/probes`, attaches the programs of the signals asked
//! for, and reads (and prunes) their maps.
//!
//! - [`Probes::load`] checks what the kernel needs (permissions, tracefs,
//!   the probes being built at all) and says exactly what is missing.
//! - `syscalls()`, `runq()`, `tcp()`, `take_profile()` read the maps; the
//!   `remove_*` functions delete entries (of exited processes).
//! - [`procfs`] answers questions about processes (name, cgroup, alive),
//!   [`Symbolizer`] turns stack addresses into function names (kernel via
//!   kallsyms, user via the ELF symbols of the process's mapped files).
//!
//! Nothing here knows about Arrow or the pipeline: the `ebpf` receiver in
//! `weir-receivers` turns what it reads into batches.

mod error;
mod load;
mod maps;
pub mod procfs;
mod symbolize;
mod tracefs;

pub use error::Error;
pub use load::{MapSizes, Probes, Signals};
pub use maps::{ProfileSample, Stacks};
pub use symbolize::{Frame, Symbolizer};
pub use weir_ebpf_common as common;

/// The name of system call `nr` of this architecture (`"read"`), if known.
pub fn syscall_name(nr: u32) -> Option<&'static str> {
    syscalls::Sysno::new(nr as usize).map(|s| s.name())
}

/// The eBPF object built from `ebpf/probes` (empty when `bpf-linker` was
/// missing at build time).
static PROBES: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/weir-probes"));

/// Whether the probes were compiled into this binary.
pub fn probes_built() -> bool {
    !PROBES.is_empty()
}
