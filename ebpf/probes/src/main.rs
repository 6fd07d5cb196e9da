//! weir's eBPF programs, compiled for `bpfel-unknown-none` by
//! `ebpf/loader/build.rs` and embedded in the loader.
//!
//! - `syscalls`: raw tracepoints `sys_enter` / `sys_exit`: per process and
//!   system call, a count, errors and a latency histogram.
//! - `scheduler`: tracepoints `sched_wakeup`, `sched_wakeup_new`,
//!   `sched_switch`: per thread, a run-queue latency histogram (runnable to
//!   running).
//! - `tcp`: tracepoints `sock:inet_sock_set_state`, `tcp:tcp_retransmit_skb`,
//!   `tcp:tcp_send_reset`, `tcp:tcp_receive_reset`: per process, direction
//!   and peer, connections opened and closed, retransmits, resets.
//! - `profile`: a `perf_event` program on the software cpu-clock: per
//!   process and stack pair, a sample count; stacks in a stack-trace map.
//!
//! Every map is bounded (the loader may resize them); a failed insert is
//! counted in `COUNTERS`, never retried. The loader drains the maps on an
//! interval and deletes the entries of exited processes.
//!
//! On the host (`cargo build --workspace`, clippy) this is an empty program.

#![cfg_attr(target_arch = "bpf", no_std, no_main)]
// BPF has no compare-and-swap, so `core`'s atomics offer no `fetch_add`;
// the atomic add instruction is written in assembly (`probes::add`). The
// nested build already runs with RUSTC_BOOTSTRAP=1 for `-Z build-std`.
#![cfg_attr(target_arch = "bpf", feature(asm_experimental_arch))]
// Reading kernel memory and map values through raw pointers is what an
// eBPF program does; the verifier checks every access at load time.
#![cfg_attr(target_arch = "bpf", allow(unsafe_code))]

#[cfg(target_arch = "bpf")]
mod probes;

#[cfg(not(target_arch = "bpf"))]
fn main() {}
