//! The programs and their maps (compiled only for the BPF target).

mod maps;
mod profile;
mod scheduler;
mod syscalls;
mod tcp;

use weir_ebpf_common::{Latency, latency_slot};

/// Adds `v` to the `u64` at `p` atomically (a BPF `XADD`).
///
/// # Safety
/// `p` must point into a map value the program looked up.
#[inline(always)]
unsafe fn add(p: *mut u64, v: u64) {
    // SAFETY: the caller passes a pointer into a live map value; map
    // values are 8-byte aligned. `lock ... +=` is BPF_ATOMIC | BPF_ADD.
    unsafe {
        core::arch::asm!(
            "lock *(u64 *)({p} + 0) += {v}",
            p = in(reg) p,
            v = in(reg) v,
            options(nostack),
        );
    }
}

/// Records one latency of `ns` into the histogram at `h`.
///
/// # Safety
/// `h` must point into a map value the program looked up.
#[inline(always)]
unsafe fn record(h: *mut Latency, ns: u64) {
    let slot = latency_slot(ns);
    // SAFETY: `h` is a map value (caller); the slot is in bounds by
    // construction of `latency_slot`, checked again by `get_mut`.
    unsafe {
        add(&raw mut (*h).count, 1);
        add(&raw mut (*h).sum_ns, ns);
        if let Some(s) = (*h).slots.get_mut(slot) {
            add(s, 1);
        }
    }
}

/// Counts one dropped event in `COUNTERS`.
#[inline(always)]
fn lost(counter: u32) {
    if let Some(p) = maps::COUNTERS.get_ptr_mut(counter) {
        // SAFETY: a per-CPU array slot of this CPU; no other writer.
        unsafe { *p += 1 };
    }
}

/// The offset of a tracepoint field, as the loader found it in tracefs.
#[inline(always)]
fn offset(i: usize) -> usize {
    // SAFETY: a read of a global the loader initialised before loading;
    // `read_volatile` keeps the compiler from folding the zero default.
    let offsets = unsafe { core::ptr::read_volatile(&raw const maps::OFFSETS) };
    offsets.get(i).copied().unwrap_or(0) as usize
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

/// The license the kernel checks before granting GPL-only helpers.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
