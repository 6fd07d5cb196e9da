//! Node-harness tests of the `ebpf` receiver against the real kernel: a
//! workload child (compiled here from `workload.c` with frame pointers)
//! makes known system calls, sleeps, connects to a loopback server and
//! spins in `weir_hot_loop`; the receiver's batches must show exactly that.
//!
//! Needs root. Without it the kernel tests skip with the reason printed,
//! unless `WEIR_REQUIRE_EBPF=1` (CI), which turns the skip into a failure.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{HistogramDataPoint, NumberDataPoint, metric::Data};
use prost::Message as _;
use tokio::sync::mpsc;
use weir_config::ErrorCode;
use weir_engine::channel::Output;
use weir_engine::metrics::NodeMetrics;
use weir_engine::node::{Receiver as _, ReceiverContext, Shutdown};
use weir_pdata::{Batch, Signal, profiles};

use super::{EbpfConfig, EbpfReceiver};

/// Whether the probes can be loaded here; prints why not (or panics when
/// `WEIR_REQUIRE_EBPF=1`).
fn ebpf_available() -> bool {
    let signals = weir_ebpf::Signals {
        syscalls: true,
        ..Default::default()
    };
    match weir_ebpf::Probes::load(signals, weir_ebpf::MapSizes::default()) {
        Ok(_) => true,
        Err(e) => {
            if std::env::var("WEIR_REQUIRE_EBPF").is_ok_and(|v| v == "1") {
                panic!("WEIR_REQUIRE_EBPF=1 but eBPF is unavailable: {e}");
            }
            eprintln!("SKIPPED: eBPF is unavailable here: {e}");
            false
        }
    }
}

/// Compiles the workload with frame pointers into `dir`.
fn build_workload(dir: &std::path::Path) -> std::path::PathBuf {
    let src = dir.join("workload.c");
    std::fs::write(&src, include_str!("workload.c")).expect("write workload.c");
    let bin = dir.join("weir-workload");
    let out = Command::new("cc")
        .args(["-O2", "-fno-omit-frame-pointer", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("a C compiler (cc) runs");
    assert!(
        out.status.success(),
        "cc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn attr_int(attrs: &[KeyValue], key: &str) -> Option<i64> {
    match attr(attrs, key)? {
        any_value::Value::IntValue(i) => Some(*i),
        _ => None,
    }
}

fn attr_str<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attr(attrs, key)? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

/// The points of one metrics batch, by metric name (through OTLP, which
/// also proves the Arrow tables follow the schema).
#[derive(Default, Debug)]
struct Points {
    histograms: BTreeMap<String, Vec<HistogramDataPoint>>,
    sums: BTreeMap<String, Vec<NumberDataPoint>>,
}

fn points(batch: &Batch) -> Points {
    let bytes = batch.otlp_bytes().expect("metrics encode to OTLP");
    let req = ExportMetricsServiceRequest::decode(bytes).expect("valid OTLP");
    let mut p = Points::default();
    for m in req
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
    {
        match m.data.as_ref() {
            Some(Data::Histogram(h)) => p
                .histograms
                .entry(m.name.clone())
                .or_default()
                .extend(h.data_points.iter().cloned()),
            Some(Data::Sum(s)) => p
                .sums
                .entry(m.name.clone())
                .or_default()
                .extend(s.data_points.iter().cloned()),
            other => panic!("unexpected data {other:?} for {}", m.name),
        }
    }
    p
}

fn of_pid<T>(points: &[T], pid: u32, attrs: impl Fn(&T) -> &[KeyValue]) -> Vec<&T> {
    points
        .iter()
        .filter(|p| attr_int(attrs(p), "process.pid") == Some(i64::from(pid)))
        .collect()
}

fn int_value(p: &NumberDataPoint) -> i64 {
    match p.value {
        Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(i)) => i,
        other => panic!("not an int: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_show_the_workloads_syscalls_latency_connections_and_hot_function() {
    if !ebpf_available() {
        return;
    }
    const GETPPID: i64 = 4321;
    const SLEEPS: u64 = 10;
    const CONNECTS: i64 = 7;
    let dir = tempfile::tempdir().expect("tempdir");
    let workload = build_workload(dir.path());

    // The loopback server: accepts, reads to EOF, closes.
    let server = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = server.local_addr().expect("addr").port();
    let refused = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port() // closed when `l` drops
    };
    std::thread::spawn(move || {
        for stream in server.incoming().flatten() {
            let mut s = stream;
            let mut buf = [0u8; 64];
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
        }
    });

    let config = EbpfConfig {
        profiles: true,
        interval: Duration::from_millis(400),
        ..EbpfConfig::default()
    };
    let (tx, mut rx) = mpsc::channel(1024);
    let metrics = Arc::new(NodeMetrics::new("kernel", "receiver", "ebpf"));
    let (trigger, shutdown) = Shutdown::new();
    let ctx = ReceiverContext {
        id: "kernel".to_string(),
        output: Output::new(vec![tx], metrics.clone()),
        shutdown,
        metrics,
    };
    let task = tokio::spawn(Box::new(EbpfReceiver::new(config)).run(ctx));
    // Let it attach (the first read is at one interval).
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let mut child = Command::new(&workload)
        .args([
            port.to_string(),
            refused.to_string(),
            GETPPID.to_string(),
            SLEEPS.to_string(),
            CONNECTS.to_string(),
            "1500".to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("workload starts");
    let pid = child.id();
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        line
    })
    .await
    .expect("read");
    assert!(line.starts_with("done"), "workload said {line:?}");
    // Two reads while the child is alive (its maps are needed to
    // symbolise), then let it exit and wait for two more reads.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    drop(child.stdin.take());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(status.success());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let _ = trigger.send(true);
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops")
        .expect("no panic")
        .expect("no error");

    let mut batches = Vec::new();
    while let Ok(m) = rx.try_recv() {
        batches.push(m.batch);
    }
    let metric_batches: Vec<&Batch> = batches
        .iter()
        .filter(|b| b.signal() == Signal::Metrics)
        .collect();
    assert!(
        metric_batches.len() >= 4,
        "{} metrics batches",
        metric_batches.len()
    );

    // The last batch that mentions the child has its final, cumulative values.
    let all: Vec<Points> = metric_batches.iter().map(|b| points(b)).collect();
    let mentions = |p: &Points| {
        p.histograms
            .get("process.syscall.duration")
            .is_some_and(|h| !of_pid(h, pid, |x| &x.attributes).is_empty())
    };
    let last = all
        .iter()
        .rposition(mentions)
        .expect("the child's system calls were seen");
    assert!(
        last + 1 < all.len() && !all[last + 1..].iter().any(mentions),
        "the exited child's entries are deleted after its final point"
    );
    let p = &all[last];

    // System calls: exact count of getppid, clock_nanosleep latencies.
    let durations = of_pid(&p.histograms["process.syscall.duration"], pid, |x| {
        &x.attributes
    });
    let by_name = |name: &str| {
        durations
            .iter()
            .find(|d| attr_str(&d.attributes, "syscall.name") == Some(name))
            .unwrap_or_else(|| panic!("no {name} point for the child"))
    };
    let getppid = by_name("getppid");
    assert_eq!(getppid.count, GETPPID as u64);
    assert_eq!(getppid.bucket_counts.iter().sum::<u64>(), getppid.count);
    assert_eq!(
        attr_str(&getppid.attributes, "process.executable.name"),
        Some("weir-workload")
    );
    let sleep = by_name("clock_nanosleep");
    assert_eq!(sleep.count, SLEEPS);
    let sum = sleep.sum.expect("a sum");
    assert!((0.2..2.0).contains(&sum), "sleep sum {sum}");
    // 20 ms sleeps: nothing at or below the 2^24 ns (16.8 ms) bound.
    let below: u64 = sleep
        .explicit_bounds
        .iter()
        .zip(&sleep.bucket_counts)
        .filter(|(b, _)| **b <= 0.0168)
        .map(|(_, n)| n)
        .sum();
    assert_eq!(below, 0, "{sleep:?}");
    let errors = of_pid(&p.sums["process.syscall.errors"], pid, |x| &x.attributes);
    let connect_errors: i64 = errors
        .iter()
        .filter(|e| attr_str(&e.attributes, "syscall.name") == Some("connect"))
        .map(|e| int_value(e))
        .sum();
    assert_eq!(connect_errors, 1, "the refused connect failed");

    // Scheduler: every wakeup from a sleep waited on a run queue.
    let runq = of_pid(&p.histograms["process.runqueue.latency"], pid, |x| {
        &x.attributes
    });
    assert_eq!(runq.len(), 1);
    assert!(runq[0].count >= SLEEPS, "{:?}", runq[0]);

    // TCP: the connects, their closes, the refused connect's reset.
    let tcp = |name: &str, peer_port: u16| -> i64 {
        of_pid(&p.sums[name], pid, |x| &x.attributes)
            .iter()
            .filter(|s| attr_int(&s.attributes, "network.peer.port") == Some(i64::from(peer_port)))
            .map(|s| int_value(s))
            .sum()
    };
    assert_eq!(tcp("tcp.connections.opened", port), CONNECTS);
    assert_eq!(tcp("tcp.connections.closed", port), CONNECTS);
    assert_eq!(tcp("tcp.connections.opened", refused), 1);
    assert_eq!(tcp("tcp.resets.received", refused), 1);
    let outbound = of_pid(&p.sums["tcp.connections.opened"], pid, |x| &x.attributes);
    assert!(outbound.iter().all(|s| {
        attr_str(&s.attributes, "tcp.direction") == Some("outbound")
            && attr_str(&s.attributes, "network.peer.address") == Some("127.0.0.1")
    }));
    // The server side: inbound on the server's port (no owning process).
    let inbound: i64 = all.last().expect("a batch").sums["tcp.connections.opened"]
        .iter()
        .filter(|s| {
            attr_str(&s.attributes, "tcp.direction") == Some("inbound")
                && attr_int(&s.attributes, "network.local.port") == Some(i64::from(port))
        })
        .map(int_value)
        .sum();
    assert_eq!(inbound, CONNECTS);

    // Profiles: the hot function is the innermost user frame of most of
    // the child's samples.
    let mut total = 0;
    let mut hot = 0;
    for b in batches.iter().filter(|b| b.signal() == Signal::Profiles) {
        assert!(b.otlp_bytes().is_err(), "profiles have no OTLP form");
        for group in profiles::read(&b.tables().expect("tables")).expect("profiles table") {
            for s in group.samples {
                if attr_int(&s.attributes, "process.pid") != Some(i64::from(pid)) {
                    continue;
                }
                assert_eq!(s.profile_type, "cpu");
                assert_eq!(s.period_ns, 1_000_000_000 / 99);
                total += s.samples;
                let leaf_user = s.frames.iter().find(|f| f.module != "[kernel]");
                if leaf_user.is_some_and(|f| f.function == "weir_hot_loop") {
                    hot += s.samples;
                    // Frame pointers: the caller is there too.
                    assert!(
                        s.frames.iter().any(|f| f.function == "main"),
                        "{:?}",
                        s.frames
                    );
                }
            }
        }
    }
    // 1.5 s of CPU at 99 Hz is about 150 samples.
    assert!(total >= 100, "{total} samples of the child");
    assert!(
        hot * 10 >= total * 8,
        "{hot} of {total} samples in weir_hot_loop"
    );
}

fn read(text: &str) -> (Option<EbpfConfig>, Vec<weir_config::ConfigError>) {
    let text = format!(
        "receiver \"k\" type=\"ebpf\" {{\n{text}\n}}\nexporter \"out\" type=\"debug\" {{\n    from \"k\"\n}}\n"
    );
    let pipeline = weir_config::parse("test.kdl", &text).expect("valid shape");
    let decl = pipeline.node("k").expect("node");
    let mut errors = Vec::new();
    let mut reader = decl.reader(&mut errors);
    let config = EbpfConfig::read(&mut reader);
    reader.finish();
    (config, errors)
}

#[test]
fn validation_reads_defaults_values_and_errors() {
    let (config, errors) = read("");
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(config, Some(EbpfConfig::default()));

    let (config, errors) = read(
        "    signals \"profiles\" \"tcp\"\n    interval \"2s\"\n    profile-frequency 49\n    max-entries 1024\n    service-name \"node-agent\"",
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        config,
        Some(EbpfConfig {
            syscalls: false,
            scheduler: false,
            tcp: true,
            profiles: true,
            interval: Duration::from_secs(2),
            profile_frequency: 49,
            max_entries: 1024,
            service_name: "node-agent".to_string(),
        })
    );

    let (config, errors) = read(
        "    signals \"kprobes\"\n    interval \"1ms\"\n    profile-frequency 0\n    max-entries 10\n    intervall \"1s\"",
    );
    assert!(config.is_none());
    let codes: Vec<ErrorCode> = errors.iter().map(|e| e.code).collect();
    assert_eq!(
        codes,
        [
            ErrorCode::InvalidValue,
            ErrorCode::InvalidValue,
            ErrorCode::InvalidValue,
            ErrorCode::InvalidValue,
            ErrorCode::UnknownProperty,
        ],
        "{errors:?}"
    );
}
