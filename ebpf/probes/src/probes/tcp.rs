//! TCP connections per process, direction and peer.
//!
//! `inet_sock_set_state` tells opens and closes: `CLOSE -> SYN_SENT` is a
//! `connect()` (in the connecting process's context, so its process id is
//! right), `SYN_RECV -> ESTABLISHED` an accepted connection (in softirq
//! context: no owning process is known, the key has process 0 and the
//! local port). The socket's key is remembered by socket address so that
//! its close, retransmits and resets count under the same key; sockets
//! opened before the probes were attached count under the zero key.

use aya_ebpf::EbpfContext as _;
use aya_ebpf::helpers::bpf_get_current_comm;
use aya_ebpf::macros::tracepoint;
use aya_ebpf::programs::TracePointContext;
use weir_ebpf_common::{COMM_LEN, TcpKey, TcpStats, counter, direction, offset as off};

use super::maps::{TCP, TCP_SOCKS};
use super::{add, lost, offset};

const TCP_ESTABLISHED: i32 = 1;
const TCP_SYN_SENT: i32 = 2;
const TCP_SYN_RECV: i32 = 3;
const TCP_CLOSE: i32 = 7;
const IPPROTO_TCP: u16 = 6;
const AF_INET: u16 = 2;

/// Which counter of [`TcpStats`] an event adds to.
#[derive(Clone, Copy)]
enum Event {
    Opened,
    Closed,
    Retransmit,
    ResetSent,
    ResetReceived,
}

fn count(key: &TcpKey, event: Event) {
    let stats = match TCP.get_ptr_mut(key) {
        Some(p) => p,
        None => {
            let comm = if key.tgid == 0 {
                [0; COMM_LEN]
            } else {
                bpf_get_current_comm().unwrap_or([0; COMM_LEN])
            };
            let fresh = TcpStats {
                opened: 0,
                closed: 0,
                retransmits: 0,
                resets_sent: 0,
                resets_received: 0,
                comm,
            };
            let _ = TCP.insert(key, fresh, 1);
            match TCP.get_ptr_mut(key) {
                Some(p) => p,
                None => {
                    lost(counter::TCP_FULL);
                    return;
                }
            }
        }
    };
    // SAFETY: a live value of TCP.
    unsafe {
        let field = match event {
            Event::Opened => &raw mut (*stats).opened,
            Event::Closed => &raw mut (*stats).closed,
            Event::Retransmit => &raw mut (*stats).retransmits,
            Event::ResetSent => &raw mut (*stats).resets_sent,
            Event::ResetReceived => &raw mut (*stats).resets_received,
        };
        add(field, 1);
    }
}

/// The key of a known socket, else the zero key.
fn key_of(sk: u64) -> TcpKey {
    match TCP_SOCKS.get_ptr(sk) {
        // SAFETY: a live value, copied.
        Some(k) => unsafe { *k },
        None => TcpKey {
            tgid: 0,
            family: 0,
            port: 0,
            direction: 0,
            _pad: [0; 3],
            addr: [0; 16],
        },
    }
}

/// `sock:inet_sock_set_state`.
#[tracepoint(category = "sock", name = "inet_sock_set_state")]
pub fn weir_inet_sock_set_state(ctx: TracePointContext) -> i32 {
    // SAFETY (all reads): bounded probe reads of the tracepoint record.
    let protocol: u16 = unsafe { ctx.read_at(offset(off::SET_STATE_PROTOCOL)) }.unwrap_or(0);
    if protocol != IPPROTO_TCP {
        return 0;
    }
    let sk: u64 = unsafe { ctx.read_at(offset(off::SET_STATE_SKADDR)) }.unwrap_or(0);
    let old: i32 = unsafe { ctx.read_at(offset(off::SET_STATE_OLDSTATE)) }.unwrap_or(0);
    let new: i32 = unsafe { ctx.read_at(offset(off::SET_STATE_NEWSTATE)) }.unwrap_or(0);
    let outbound = new == TCP_SYN_SENT;
    let inbound = old == TCP_SYN_RECV && new == TCP_ESTABLISHED;
    if outbound || inbound {
        let family: u16 = unsafe { ctx.read_at(offset(off::SET_STATE_FAMILY)) }.unwrap_or(0);
        let mut addr = [0u8; 16];
        if family == AF_INET {
            if let Ok(a) = unsafe { ctx.read_at::<[u8; 4]>(offset(off::SET_STATE_DADDR)) } {
                addr[..4].copy_from_slice(&a);
            }
        } else if let Ok(a) = unsafe { ctx.read_at::<[u8; 16]>(offset(off::SET_STATE_DADDR_V6)) } {
            addr = a;
        }
        let (tgid, port, dir) = if outbound {
            let dport: u16 = unsafe { ctx.read_at(offset(off::SET_STATE_DPORT)) }.unwrap_or(0);
            (ctx.tgid(), dport, direction::OUTBOUND)
        } else {
            let sport: u16 = unsafe { ctx.read_at(offset(off::SET_STATE_SPORT)) }.unwrap_or(0);
            (0, sport, direction::INBOUND)
        };
        let key = TcpKey {
            tgid,
            family,
            port,
            direction: dir,
            _pad: [0; 3],
            addr,
        };
        if TCP_SOCKS.insert(sk, key, 0).is_err() {
            lost(counter::TCP_FULL);
        }
        count(&key, Event::Opened);
    } else if new == TCP_CLOSE && TCP_SOCKS.get_ptr(sk).is_some() {
        let key = key_of(sk);
        let _ = TCP_SOCKS.remove(sk);
        count(&key, Event::Closed);
    }
    0
}

fn on_socket(ctx: &TracePointContext, field: usize, event: Event) -> i32 {
    // SAFETY: a bounded probe read of the tracepoint record.
    let sk: u64 = unsafe { ctx.read_at(offset(field)) }.unwrap_or(0);
    count(&key_of(sk), event);
    0
}

/// `tcp:tcp_retransmit_skb`.
#[tracepoint(category = "tcp", name = "tcp_retransmit_skb")]
pub fn weir_tcp_retransmit_skb(ctx: TracePointContext) -> i32 {
    on_socket(&ctx, off::RETRANSMIT_SKADDR, Event::Retransmit)
}

/// `tcp:tcp_send_reset`.
#[tracepoint(category = "tcp", name = "tcp_send_reset")]
pub fn weir_tcp_send_reset(ctx: TracePointContext) -> i32 {
    on_socket(&ctx, off::SEND_RESET_SKADDR, Event::ResetSent)
}

/// `tcp:tcp_receive_reset`.
#[tracepoint(category = "tcp", name = "tcp_receive_reset")]
pub fn weir_tcp_receive_reset(ctx: TracePointContext) -> i32 {
    on_socket(&ctx, off::RECEIVE_RESET_SKADDR, Event::ResetReceived)
}
