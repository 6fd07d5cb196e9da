//! Every map and global of the probes. Sizes are defaults; the loader sets
//! the real ones from the receiver's configuration.

use aya_ebpf::macros::map;
use aya_ebpf::maps::{HashMap, LruHashMap, PerCpuArray, StackTrace};
use weir_ebpf_common::{
    RunqStats, StackKey, SyscallKey, SyscallStart, SyscallStats, TcpKey, TcpStats, counter, offset,
};

/// Tracepoint field offsets, set by the loader (see `offset`).
#[unsafe(no_mangle)]
pub(super) static OFFSETS: [u32; offset::LEN] = [0; offset::LEN];

/// The loader's own process id: its system calls are not counted.
#[unsafe(no_mangle)]
pub(super) static SELF_TGID: u32 = 0;

/// System call numbers that never return (`exit`, `exit_group` on this
/// architecture), set by the loader: never timed.
#[unsafe(no_mangle)]
pub(super) static NO_RETURN: [u64; 2] = [u64::MAX; 2];

/// Events dropped because a map was full.
#[map]
pub(super) static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::LEN, 0);

/// System calls in flight, by thread id. LRU: a thread that dies inside a
/// call (or never returns, like `exit_group`) is evicted eventually.
#[map]
pub(super) static SYSCALL_START: LruHashMap<u32, SyscallStart> =
    LruHashMap::with_max_entries(16384, 0);

/// Per process and system call.
#[map]
pub(super) static SYSCALLS: HashMap<SyscallKey, SyscallStats> = HashMap::with_max_entries(16384, 0);

/// When each runnable thread became runnable, by thread id.
#[map]
pub(super) static RUNQ_START: LruHashMap<u32, u64> = LruHashMap::with_max_entries(16384, 0);

/// Run-queue latency per thread.
#[map]
pub(super) static RUNQ: HashMap<u32, RunqStats> = HashMap::with_max_entries(16384, 0);

/// Open TCP sockets by kernel address: the key their events count under.
#[map]
pub(super) static TCP_SOCKS: LruHashMap<u64, TcpKey> = LruHashMap::with_max_entries(16384, 0);

/// Per process, direction and peer.
#[map]
pub(super) static TCP: HashMap<TcpKey, TcpStats> = HashMap::with_max_entries(8192, 0);

/// Sample counts per process and stack pair.
#[map]
pub(super) static PROFILE_COUNTS: HashMap<StackKey, u64> = HashMap::with_max_entries(16384, 0);

/// Stacks of the samples (user and kernel), by id.
#[map]
pub(super) static STACKS: StackTrace = StackTrace::with_max_entries(8192, 0);
