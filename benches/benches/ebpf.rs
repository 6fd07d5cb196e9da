//! The cost the eBPF probes add to one system call: `getppid` (about the
//! cheapest call there is, so the probes' share is as large as it gets)
//! without probes, then with the `syscalls` probes (raw tracepoints
//! `sys_enter`/`sys_exit`: an LRU insert, a lookup, a delete and three
//! atomic adds per call), then with `syscalls`, `scheduler` and `tcp`.
//! Needs root; without it the benchmark says why and measures nothing.
//!
//! Run: `sudo cargo bench -p weir-benches --bench ebpf`. The whole-process
//! overhead (a workload at 200K calls/s with and without `weir run`) is
//! `benches/harness/ebpf/overhead.py`; figures in docs/benchmarks.md.

use std::hint::black_box;

use criterion::{Criterion, criterion_main};

#[allow(unsafe_code)] // one libc call without arguments
fn getppid() -> i32 {
    // SAFETY: getppid takes no arguments and cannot fail.
    unsafe { libc::getppid() }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("syscall getppid");
    g.bench_function("no probes", |b| b.iter(|| black_box(getppid())));
    let sets = [
        (
            "syscalls probes",
            weir_ebpf::Signals {
                syscalls: true,
                include_self: true,
                ..Default::default()
            },
        ),
        (
            "syscalls+scheduler+tcp probes",
            weir_ebpf::Signals {
                syscalls: true,
                scheduler: true,
                tcp: true,
                profile_hz: None,
                include_self: true,
            },
        ),
    ];
    for (name, signals) in sets {
        let probes = match weir_ebpf::Probes::load(signals, weir_ebpf::MapSizes::default()) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("SKIPPED `{name}`: eBPF is unavailable here: {e}");
                continue;
            }
        };
        // `include_self`: the probes count this process's calls too (they
        // skip the loader's own process by default).
        g.bench_function(name, |b| b.iter(|| black_box(getppid())));
        drop(probes);
    }
    g.finish();
}

/// The criterion group (its generated function has no docs of its own).
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}

criterion_main!(group::benches);
