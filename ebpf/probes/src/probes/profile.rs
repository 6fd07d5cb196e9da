//! CPU profiles: a `perf_event` program on the software cpu-clock of each
//! CPU counts samples per process and (user stack, kernel stack).

use aya_ebpf::helpers::{bpf_get_current_comm, bpf_get_current_pid_tgid};
use aya_ebpf::macros::perf_event;
use aya_ebpf::programs::PerfEventContext;
use aya_ebpf::programs::tracing::StackIdContext as _;
use weir_ebpf_common::{COMM_LEN, StackKey, counter};

use super::maps::{PROFILE_COUNTS, STACKS};
use super::{add, lost};

/// `BPF_F_USER_STACK`: walk the user stack (frame pointers).
const USER_STACK: u64 = 1 << 8;

/// One sample of whatever runs on this CPU.
#[perf_event]
pub fn weir_profile(ctx: PerfEventContext) -> i32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    if tgid == 0 {
        return 0; // the idle task
    }
    let user = ctx
        .get_stackid(&STACKS, USER_STACK)
        .map_or(-1, |id| id as i32);
    let kernel = ctx.get_stackid(&STACKS, 0).map_or(-1, |id| id as i32);
    if user < 0 && kernel < 0 {
        lost(counter::PROFILE_LOST);
        return 0;
    }
    let key = StackKey {
        tgid,
        pid: pid_tgid as u32,
        user_stack: user,
        kernel_stack: kernel,
        comm: bpf_get_current_comm().unwrap_or([0; COMM_LEN]),
    };
    if let Some(n) = PROFILE_COUNTS.get_ptr_mut(key) {
        // SAFETY: a live value of PROFILE_COUNTS.
        unsafe { add(n, 1) };
    } else if PROFILE_COUNTS.insert(key, 1u64, 1).is_err() {
        // Created meanwhile by another CPU (add to it), or the map is full.
        match PROFILE_COUNTS.get_ptr_mut(key) {
            // SAFETY: a live value of PROFILE_COUNTS.
            Some(n) => unsafe { add(n, 1) },
            None => lost(counter::PROFILE_LOST),
        }
    }
    0
}
