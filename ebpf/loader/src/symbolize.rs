//! Stack addresses to function names, with blazesym: kernel frames from
//! `/proc/kallsyms`, user frames from the ELF symbol tables of the files a
//! process maps (`/proc/<pid>/maps`; the process must still be running).

use blazesym::Pid;
use blazesym::symbolize::source::{Kernel, Process, Source};
use blazesym::symbolize::{Input, Symbolized, Symbolizer as Inner};

/// One symbolised frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The function (demangled), or the address in hex when unknown.
    pub function: String,
    /// The file the function is in (`[kernel]` for kernel frames), empty
    /// when unknown.
    pub module: String,
    /// The instruction pointer.
    pub address: u64,
}

/// Resolves stack addresses; caches parsed files between calls.
pub struct Symbolizer {
    inner: Inner,
}

impl std::fmt::Debug for Symbolizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Symbolizer")
    }
}

impl Default for Symbolizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Symbolizer {
    /// A symbolizer with empty caches.
    pub fn new() -> Self {
        Symbolizer {
            inner: Inner::builder().enable_code_info(false).build(),
        }
    }

    /// Forgets cached files (call now and then: binaries change on disk).
    pub fn clear(&mut self) {
        *self = Self::new();
    }

    /// The kernel frames `ips`, innermost first.
    pub fn kernel(&self, ips: &[u64]) -> Vec<Frame> {
        let kernel = Kernel {
            vmlinux: blazesym::MaybeDefault::None,
            ..Kernel::default()
        };
        self.resolve(&Source::Kernel(kernel), ips, "[kernel]")
    }

    /// The user frames `ips` of process `pid`, innermost first.
    pub fn user(&self, pid: u32, ips: &[u64]) -> Vec<Frame> {
        let mut process = Process::new(Pid::from(pid));
        process.debug_syms = false;
        process.perf_map = true;
        self.resolve(&Source::Process(process), ips, "")
    }

    fn resolve(&self, src: &Source<'_>, ips: &[u64], default_module: &str) -> Vec<Frame> {
        let unknown = |ip: u64| Frame {
            function: format!("{ip:#x}"),
            module: default_module.to_string(),
            address: ip,
        };
        let Ok(syms) = self.inner.symbolize(src, Input::AbsAddr(ips)) else {
            // The process is gone (its maps with it): addresses only.
            return ips.iter().map(|ip| unknown(*ip)).collect();
        };
        ips.iter()
            .zip(syms)
            .map(|(ip, s)| match s {
                Symbolized::Sym(sym) => Frame {
                    function: sym.name.into_owned(),
                    module: sym.module.map_or_else(
                        || default_module.to_string(),
                        |m| m.to_string_lossy().into_owned(),
                    ),
                    address: *ip,
                },
                Symbolized::Unknown(_) => unknown(*ip),
            })
            .collect()
    }
}
