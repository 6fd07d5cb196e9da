//! Run-queue latency: from the moment a thread becomes runnable (woken, or
//! preempted while running) to the moment it is switched in.

use aya_ebpf::helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns};
use aya_ebpf::macros::tracepoint;
use aya_ebpf::programs::TracePointContext;
use weir_ebpf_common::{COMM_LEN, Latency, RunqStats, counter, offset as off};

use super::maps::{RUNQ, RUNQ_START};
use super::{lost, offset, record};

fn now() -> u64 {
    // SAFETY: a helper without preconditions.
    unsafe { bpf_ktime_get_ns() }
}

fn runnable(ctx: &TracePointContext, field: usize) -> i32 {
    // SAFETY: `read_at` is a bounded probe read of the tracepoint record.
    let pid: i32 = unsafe { ctx.read_at(offset(field)) }.unwrap_or(0);
    if pid > 0 {
        let _ = RUNQ_START.insert(pid as u32, now(), 0);
    }
    0
}

/// `sched:sched_wakeup`: a sleeping thread became runnable.
#[tracepoint(category = "sched", name = "sched_wakeup")]
pub fn weir_sched_wakeup(ctx: TracePointContext) -> i32 {
    runnable(&ctx, off::WAKEUP_PID)
}

/// `sched:sched_wakeup_new`: a new thread became runnable.
#[tracepoint(category = "sched", name = "sched_wakeup_new")]
pub fn weir_sched_wakeup_new(ctx: TracePointContext) -> i32 {
    runnable(&ctx, off::WAKEUP_PID)
}

/// `sched:sched_switch`: `prev` leaves the CPU (in its own context), `next`
/// gets it.
#[tracepoint(category = "sched", name = "sched_switch")]
pub fn weir_sched_switch(ctx: TracePointContext) -> i32 {
    let ts = now();
    // SAFETY (all reads): bounded probe reads of the tracepoint record.
    let prev_pid: i32 = unsafe { ctx.read_at(offset(off::SWITCH_PREV_PID)) }.unwrap_or(0);
    let prev_state: i64 = unsafe { ctx.read_at(offset(off::SWITCH_PREV_STATE)) }.unwrap_or(1);
    let next_pid: i32 = unsafe { ctx.read_at(offset(off::SWITCH_NEXT_PID)) }.unwrap_or(0);

    if prev_pid > 0 {
        let prev = prev_pid as u32;
        // Still runnable (preempted or yielding): it waits again from now.
        // The low byte holds the sleeping states; 0x100 marks preemption.
        if prev_state & 0xff == 0 {
            let _ = RUNQ_START.insert(prev, ts, 0);
        }
        // We run in prev's context: this is where its process id is known.
        if let Some(stats) = RUNQ.get_ptr_mut(prev) {
            // SAFETY: a live value of RUNQ.
            unsafe {
                if (*stats).tgid == 0 {
                    (*stats).tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
                }
            }
        }
    }
    if next_pid <= 0 {
        return 0;
    }
    let next = next_pid as u32;
    let Some(start) = RUNQ_START.get_ptr(next) else {
        return 0;
    };
    // SAFETY: a live value, copied before removal.
    let start = unsafe { *start };
    let _ = RUNQ_START.remove(next);
    let ns = ts.saturating_sub(start);
    let stats = match RUNQ.get_ptr_mut(next) {
        Some(p) => p,
        None => {
            let mut comm = [0u8; COMM_LEN];
            // SAFETY: a bounded probe read of the tracepoint record.
            if let Ok(c) = unsafe { ctx.read_at::<[u8; COMM_LEN]>(offset(off::SWITCH_NEXT_COMM)) } {
                comm = c;
            }
            let fresh = RunqStats {
                latency: Latency::ZERO,
                tgid: 0,
                _pad: 0,
                comm,
            };
            let _ = RUNQ.insert(next, fresh, 1);
            match RUNQ.get_ptr_mut(next) {
                Some(p) => p,
                None => {
                    lost(counter::RUNQ_FULL);
                    return 0;
                }
            }
        }
    };
    // SAFETY: a live value of RUNQ.
    unsafe { record(&raw mut (*stats).latency, ns) };
    0
}
