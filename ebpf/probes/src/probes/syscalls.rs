//! System calls: latency from `sys_enter` to `sys_exit`, per process.

use aya_ebpf::helpers::{
    bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_ktime_get_ns,
};
use aya_ebpf::macros::raw_tracepoint;
use aya_ebpf::programs::RawTracePointContext;
use weir_ebpf_common::{COMM_LEN, Latency, SyscallKey, SyscallStart, SyscallStats, counter};

use super::maps::{NO_RETURN, SELF_TGID, SYSCALL_START, SYSCALLS};
use super::{add, lost, record};

fn self_tgid() -> u32 {
    // SAFETY: a global set by the loader before loading.
    unsafe { core::ptr::read_volatile(&raw const SELF_TGID) }
}

/// `raw_syscalls:sys_enter(struct pt_regs *regs, long id)`.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn weir_sys_enter(ctx: RawTracePointContext) -> i32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    if (pid_tgid >> 32) as u32 == self_tgid() {
        return 0;
    }
    let nr: u64 = ctx.arg(1);
    // SAFETY: a global set by the loader before loading.
    let no_return = unsafe { core::ptr::read_volatile(&raw const NO_RETURN) };
    if no_return.contains(&nr) {
        return 0;
    }
    // SAFETY: a helper without preconditions.
    let start_ns = unsafe { bpf_ktime_get_ns() };
    let _ = SYSCALL_START.insert(pid_tgid as u32, SyscallStart { start_ns, nr }, 0);
    0
}

/// `raw_syscalls:sys_exit(struct pt_regs *regs, long ret)`.
#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn weir_sys_exit(ctx: RawTracePointContext) -> i32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tid = pid_tgid as u32;
    let Some(start) = SYSCALL_START.get_ptr(tid) else {
        return 0;
    };
    // SAFETY: a value of the map just looked up; copied before removal.
    let start = unsafe { *start };
    let _ = SYSCALL_START.remove(tid);
    // SAFETY: a helper without preconditions.
    let ns = unsafe { bpf_ktime_get_ns() }.saturating_sub(start.start_ns);
    let ret: i64 = ctx.arg(1);
    let key = SyscallKey {
        tgid: (pid_tgid >> 32) as u32,
        nr: start.nr as u32,
    };
    let stats = match SYSCALLS.get_ptr_mut(key) {
        Some(p) => p,
        None => {
            let fresh = SyscallStats {
                latency: Latency::ZERO,
                errors: 0,
                // SAFETY: a helper without preconditions.
                cgroup_id: unsafe { bpf_get_current_cgroup_id() },
                comm: bpf_get_current_comm().unwrap_or([0; COMM_LEN]),
            };
            // BPF_NOEXIST: another CPU may have created it meanwhile; then
            // the lookup below finds that one.
            let _ = SYSCALLS.insert(key, fresh, 1);
            match SYSCALLS.get_ptr_mut(key) {
                Some(p) => p,
                None => {
                    lost(counter::SYSCALLS_FULL);
                    return 0;
                }
            }
        }
    };
    // SAFETY: `stats` points at a live value of SYSCALLS.
    unsafe {
        record(&raw mut (*stats).latency, ns);
        if (-4095..0).contains(&ret) {
            add(&raw mut (*stats).errors, 1);
        }
    }
    0
}
