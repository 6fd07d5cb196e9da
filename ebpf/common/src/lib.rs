//! The layout of every map key and value shared by weir's eBPF probes
//! (`ebpf/probes`, compiled for `bpfel-unknown-none`) and their loader
//! (`ebpf/loader`, the user side).
//!
//! Everything is `#[repr(C)]`, `Copy`, without padding the compiler could
//! leave uninitialised (padding is spelled out as fields), so that the
//! kernel's hash of a key is the hash of its bytes. With the `user` feature
//! every type implements `aya::Pod`.
//!
//! # Latency histograms
//! Latencies are counted in [`LATENCY_SLOTS`] power-of-two slots of
//! nanoseconds: slot `s` holds values `v` with `2^(s-1) < v <= 2^s` (slot 0
//! holds 0 and 1 ns), the last slot everything above. [`latency_slot`] is
//! the one definition both sides use; the upper bound of slot `s` is
//! `2^s` ns ([`slot_upper_bound_ns`]).

#![no_std]

/// Length of a task's `comm` (its executable name, truncated).
pub const COMM_LEN: usize = 16;

/// Slots of a latency histogram: up to `2^38` ns (about 275 s); the last
/// slot counts everything above `2^38` ns.
pub const LATENCY_SLOTS: usize = 40;

/// The slot of a latency of `ns` nanoseconds: the bit length of `ns - 1`,
/// capped at `LATENCY_SLOTS - 1`.
#[inline(always)]
pub fn latency_slot(ns: u64) -> usize {
    let mut x = ns.saturating_sub(1);
    let mut bits = 0usize;
    // A branchy binary search: the verifier accepts it, and it needs no
    // count-leading-zeros instruction (BPF has none).
    if x >> 32 != 0 {
        x >>= 32;
        bits += 32;
    }
    if x >> 16 != 0 {
        x >>= 16;
        bits += 16;
    }
    if x >> 8 != 0 {
        x >>= 8;
        bits += 8;
    }
    if x >> 4 != 0 {
        x >>= 4;
        bits += 4;
    }
    if x >> 2 != 0 {
        x >>= 2;
        bits += 2;
    }
    if x >> 1 != 0 {
        x >>= 1;
        bits += 1;
    }
    bits += x as usize;
    if bits >= LATENCY_SLOTS {
        LATENCY_SLOTS - 1
    } else {
        bits
    }
}

/// The largest latency slot `s` counts, in nanoseconds (`2^s`); the last
/// slot has no upper bound.
pub const fn slot_upper_bound_ns(slot: usize) -> u64 {
    1u64 << slot
}

/// A latency histogram: count, sum and per-slot counts.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Latency {
    /// Number of measurements.
    pub count: u64,
    /// Sum of the measured nanoseconds.
    pub sum_ns: u64,
    /// Counts per slot (see the crate documentation).
    pub slots: [u64; LATENCY_SLOTS],
}

impl Latency {
    /// An empty histogram.
    pub const ZERO: Latency = Latency {
        count: 0,
        sum_ns: 0,
        slots: [0; LATENCY_SLOTS],
    };
}

/// Key of the `SYSCALLS` map: one process and one system call.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SyscallKey {
    /// The process (thread group) id.
    pub tgid: u32,
    /// The system call number (of the kernel's native ABI).
    pub nr: u32,
}

/// Value of the `SYSCALLS` map.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallStats {
    /// Latency from entry to exit.
    pub latency: Latency,
    /// Calls that returned an error (a return value in `-4095..0`).
    pub errors: u64,
    /// The cgroup (v2) id of the thread that made the first call.
    pub cgroup_id: u64,
    /// The `comm` of the thread that made the first call.
    pub comm: [u8; COMM_LEN],
}

/// An in-flight system call of one thread (the `SYSCALL_START` map).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallStart {
    /// `bpf_ktime_get_ns()` at entry.
    pub start_ns: u64,
    /// The system call number.
    pub nr: u64,
}

/// Value of the `RUNQ` map, keyed by thread id: how long the thread waited
/// on a run queue between becoming runnable and running.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunqStats {
    /// The wait.
    pub latency: Latency,
    /// The thread's process id, set when the thread is seen switched out
    /// (0 until then).
    pub tgid: u32,
    /// Padding.
    pub _pad: u32,
    /// The thread's `comm` when it was switched in.
    pub comm: [u8; COMM_LEN],
}

/// Which way a TCP connection was opened.
pub mod direction {
    /// This host connected (`connect()`).
    pub const OUTBOUND: u8 = 1;
    /// This host accepted.
    pub const INBOUND: u8 = 2;
}

/// Key of the `TCP` map: one process, one direction, one peer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TcpKey {
    /// The connecting process for outbound connections; 0 for inbound ones
    /// and sockets of unknown owner (the kernel accepts in softirq context).
    pub tgid: u32,
    /// `AF_INET` (2) or `AF_INET6` (10).
    pub family: u16,
    /// The remote port for outbound connections, the local port for
    /// inbound ones (the remote port of an inbound connection is ephemeral).
    pub port: u16,
    /// [`direction`]: outbound or inbound; 0 unknown.
    pub direction: u8,
    /// Padding.
    pub _pad: [u8; 3],
    /// The remote address: 4 bytes for IPv4, 16 for IPv6 (network order).
    pub addr: [u8; 16],
}

/// Value of the `TCP` map.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpStats {
    /// Connections opened (outbound: `connect()` called; inbound: established).
    pub opened: u64,
    /// Connections closed (reached `TCP_CLOSE` after being opened).
    pub closed: u64,
    /// Segments retransmitted.
    pub retransmits: u64,
    /// Resets sent.
    pub resets_sent: u64,
    /// Resets received.
    pub resets_received: u64,
    /// The `comm` of the process when the entry was created.
    pub comm: [u8; COMM_LEN],
}

/// Key of the `PROFILE_COUNTS` map: one process and one pair of stacks.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StackKey {
    /// The sampled process.
    pub tgid: u32,
    /// The sampled thread.
    pub pid: u32,
    /// Id of the user stack in `STACKS`, negative when there is none.
    pub user_stack: i32,
    /// Id of the kernel stack in `STACKS`, negative when there is none.
    pub kernel_stack: i32,
    /// The thread's `comm`.
    pub comm: [u8; COMM_LEN],
}

/// Indices into the `COUNTERS` per-CPU array: events the probes had to drop.
pub mod counter {
    /// A `SYSCALLS` insert failed (the map is full).
    pub const SYSCALLS_FULL: u32 = 0;
    /// A `RUNQ` insert failed (the map is full).
    pub const RUNQ_FULL: u32 = 1;
    /// A `TCP` or `TCP_SOCKS` insert failed (the map is full).
    pub const TCP_FULL: u32 = 2;
    /// A profile sample was lost (stack map or count map full, collision).
    pub const PROFILE_LOST: u32 = 3;
    /// Number of counters.
    pub const LEN: u32 = 4;
}

/// Indices into the `OFFSETS` global: where the fields of the classic
/// tracepoints are on this kernel, read by the loader from tracefs
/// `format` files so the probes do not depend on one kernel's layout.
pub mod offset {
    /// `sched_switch.prev_pid`.
    pub const SWITCH_PREV_PID: usize = 0;
    /// `sched_switch.prev_state`.
    pub const SWITCH_PREV_STATE: usize = 1;
    /// `sched_switch.next_comm`.
    pub const SWITCH_NEXT_COMM: usize = 2;
    /// `sched_switch.next_pid`.
    pub const SWITCH_NEXT_PID: usize = 3;
    /// `sched_wakeup.pid` (also `sched_wakeup_new.pid`).
    pub const WAKEUP_PID: usize = 4;
    /// `inet_sock_set_state.skaddr`.
    pub const SET_STATE_SKADDR: usize = 5;
    /// `inet_sock_set_state.oldstate`.
    pub const SET_STATE_OLDSTATE: usize = 6;
    /// `inet_sock_set_state.newstate`.
    pub const SET_STATE_NEWSTATE: usize = 7;
    /// `inet_sock_set_state.sport`.
    pub const SET_STATE_SPORT: usize = 8;
    /// `inet_sock_set_state.dport`.
    pub const SET_STATE_DPORT: usize = 9;
    /// `inet_sock_set_state.family`.
    pub const SET_STATE_FAMILY: usize = 10;
    /// `inet_sock_set_state.protocol`.
    pub const SET_STATE_PROTOCOL: usize = 11;
    /// `inet_sock_set_state.daddr`.
    pub const SET_STATE_DADDR: usize = 12;
    /// `inet_sock_set_state.daddr_v6`.
    pub const SET_STATE_DADDR_V6: usize = 13;
    /// `tcp_retransmit_skb.skaddr`.
    pub const RETRANSMIT_SKADDR: usize = 14;
    /// `tcp_send_reset.skaddr`.
    pub const SEND_RESET_SKADDR: usize = 15;
    /// `tcp_receive_reset.skaddr`.
    pub const RECEIVE_RESET_SKADDR: usize = 16;
    /// Number of offsets.
    pub const LEN: usize = 17;
}

#[cfg(feature = "user")]
mod pod {
    #![allow(unsafe_code)]
    // SAFETY: every type is `#[repr(C)]`, `Copy`, made only of integers and
    // integer arrays, with explicit padding: any bit pattern is valid.
    unsafe impl aya::Pod for super::Latency {}
    unsafe impl aya::Pod for super::SyscallKey {}
    unsafe impl aya::Pod for super::SyscallStats {}
    unsafe impl aya::Pod for super::SyscallStart {}
    unsafe impl aya::Pod for super::RunqStats {}
    unsafe impl aya::Pod for super::TcpKey {}
    unsafe impl aya::Pod for super::TcpStats {}
    unsafe impl aya::Pod for super::StackKey {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_power_of_two_bounds() {
        assert_eq!(latency_slot(0), 0);
        assert_eq!(latency_slot(1), 0);
        assert_eq!(latency_slot(2), 1);
        assert_eq!(latency_slot(3), 2);
        assert_eq!(latency_slot(4), 2);
        assert_eq!(latency_slot(5), 3);
        assert_eq!(latency_slot(1024), 10);
        assert_eq!(latency_slot(1025), 11);
        assert_eq!(latency_slot(u64::MAX), LATENCY_SLOTS - 1);
        for s in 1..LATENCY_SLOTS - 1 {
            let upper = slot_upper_bound_ns(s);
            assert_eq!(latency_slot(upper), s);
            assert_eq!(latency_slot(upper + 1), s + 1);
        }
    }
}
