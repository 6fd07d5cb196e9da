//! The probes in a real kernel: load, attach, see a child's system calls.
//! Needs root (CI sets WEIR_REQUIRE_EBPF=1, which turns a skip into a failure).

use std::process::Command;

use weir_ebpf::{MapSizes, Probes, Signals};

fn load(signals: Signals) -> Option<Probes> {
    match Probes::load(signals, MapSizes::default()) {
        Ok(p) => Some(p),
        Err(e) => {
            if std::env::var("WEIR_REQUIRE_EBPF").is_ok_and(|v| v == "1") {
                panic!("eBPF required (WEIR_REQUIRE_EBPF=1) but unavailable: {e}");
            }
            eprintln!("skipped: eBPF unavailable: {e}");
            None
        }
    }
}

#[test]
fn counts_the_system_calls_of_a_child() {
    let Some(mut probes) = load(Signals {
        syscalls: true,
        scheduler: true,
        tcp: true,
        profile_hz: Some(99),
        include_self: false,
    }) else {
        return;
    };
    let out = Command::new("sh")
        .args(["-c", "for i in 1 2 3 4 5; do /bin/true; done; sleep 0.05"])
        .output()
        .expect("sh runs");
    assert!(out.status.success());
    let calls = probes.syscalls().expect("read");
    assert!(!calls.is_empty());
    let execve = syscalls::Sysno::execve.id() as u32;
    let n: u64 = calls
        .iter()
        .filter(|(k, _)| k.nr == execve)
        .map(|(_, v)| v.latency.count)
        .sum();
    assert!(n >= 6, "{n} execve calls");
    let runq = probes.runq().expect("read");
    assert!(!runq.is_empty());
    let _ = probes.take_profile().expect("profile");
    eprintln!("dropped: {:?}", probes.dropped().expect("counters"));
}
