//! Hostile plugins: the node survives, applies its policy, counts, logs and
//! re-instantiates; incompatible components are refused with a clear
//! message.

use std::time::{Duration, Instant};

use weir_wasm::processor::Outcome;
use weir_wasm::{CallError, OnError, PluginSource, WasmError};

use crate::common::*;

fn batch(n: usize) -> weir_pdata::Batch {
    traces(
        vec![],
        (0..n)
            .map(|i| span(&format!("s{i}"), trace_id(i as u64), vec![kv("k", "v")]))
            .collect(),
    )
}

fn failure_of(o: Outcome) -> CallError {
    match o {
        Outcome::Failed { error: Some(e) } => e,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn an_infinite_loop_times_out_and_the_batch_passes_unchanged() {
    let mut c = config(plugin_file("weir_test_plugin_spin"), &[("every", "2")]);
    c.limits.timeout = Duration::from_millis(50);
    let node = build(&c);
    let stats = node.stats().clone();
    let inputs: Vec<_> = (0..4).map(|_| batch(3)).collect();
    let originals: Vec<_> = inputs.iter().map(|b| b.otlp_bytes().unwrap()).collect();
    let started = Instant::now();
    let run = run(node, inputs).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(run.out.len(), 4, "on-error pass forwards every batch");
    for (m, o) in run.out.iter().zip(&originals) {
        assert_eq!(&m.batch.otlp_bytes().unwrap(), o);
    }
    assert_eq!(stats.failures("timeout"), 2);
    assert_eq!(
        stats
            .reinstantiations
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    let text = weir_wasm::render_metrics();
    assert!(text.contains("kind=\"timeout\"} 2"), "{text}");
}

#[tokio::test]
async fn a_memory_bomb_hits_the_cap_and_the_batch_is_dropped() {
    let mut c = config(plugin_file("weir_test_plugin_bomb"), &[("every", "2")]);
    c.limits.memory = 16 << 20;
    c.on_error = OnError::Drop;
    let node = build(&c);
    let stats = node.stats().clone();
    let run = run(node, (0..4).map(|_| batch(5)).collect()).await;
    assert_eq!(run.out.len(), 2, "the two bombing batches are dropped");
    assert_eq!(stats.failures("memory"), 2);
    assert_eq!(run.metrics.items_dropped(), 10);
}

#[tokio::test]
async fn a_panic_every_third_batch_is_caught_with_its_message_and_the_instance_replaced() {
    let c = config(plugin_file("weir_test_plugin_panic"), &[("every", "3")]);
    let mut node = build(&c);
    let mut seen = Vec::new();
    for i in 0..7 {
        match node.process(&batch(2)) {
            Outcome::Processed(p) => {
                let spans = all_spans(&p.batch);
                seen.push(match attr(&spans[0].attributes, "panic.seen") {
                    Some(opentelemetry_proto::tonic::common::v1::any_value::Value::IntValue(n)) => {
                        *n
                    }
                    other => panic!("batch {i}: {other:?}"),
                });
            }
            o => {
                let e = failure_of(o);
                assert!(matches!(e, CallError::Trap { .. }), "{e}");
                assert!(
                    e.to_string().contains("one too many"),
                    "panic message kept: {e}"
                );
                seen.push(0);
            }
        }
    }
    assert_eq!(
        seen,
        [1, 2, 0, 1, 2, 0, 1],
        "a fresh instance after each panic"
    );
    assert_eq!(node.stats().failures("trap"), 2);
}

#[tokio::test]
async fn a_host_call_storm_is_stopped_by_the_budget() {
    for mode in ["len", "log"] {
        let mut c = config(plugin_file("weir_test_plugin_storm"), &[("mode", mode)]);
        c.limits.host_calls = 1000;
        let mut node = build(&c);
        let started = Instant::now();
        let e = failure_of(node.process(&batch(1)));
        assert!(matches!(e, CallError::HostCalls(1000)), "{mode}: {e}");
        assert!(started.elapsed() < Duration::from_secs(1));
        // The next batch gets a new instance, which storms again.
        let e = failure_of(node.process(&batch(1)));
        assert_eq!(e.kind(), "host_calls");
    }
}

#[tokio::test]
async fn oversized_output_is_refused_even_when_the_plugin_ignores_the_refusal() {
    let mut c = config(
        plugin_file("weir_test_plugin_oversize"),
        &[("size", "300000")],
    );
    c.limits.max_output = 1 << 20;
    let mut node = build(&c);
    let e = failure_of(node.process(&batch(8)));
    assert!(
        matches!(&e, CallError::Failed(m) if m.contains("max-output")),
        "{e}"
    );
    // Within the limit it works.
    let Outcome::Processed(p) = node.process(&batch(2)) else {
        panic!("2 x 300 kB fits in 1 MiB");
    };
    assert_eq!(
        attr_str(&all_spans(&p.batch)[0].attributes, "oversize.blob").map(str::len),
        Some(300_000)
    );

    let mut c = config(
        plugin_file("weir_test_plugin_oversize"),
        &[("size", "300000"), ("ignore-errors", "true")],
    );
    c.limits.max_output = 1 << 20;
    let mut node = build(&c);
    let e = failure_of(node.process(&batch(8)));
    assert!(matches!(e, CallError::Output(n) if n == 1 << 20), "{e}");
}

#[tokio::test]
async fn repeated_failures_open_the_circuit_which_retries_after_a_backoff() {
    let mut c = config(plugin_file("weir_test_plugin_spin"), &[]);
    c.limits.timeout = Duration::from_millis(20);
    c.circuit.failures = 2;
    c.circuit.backoff = Duration::from_millis(300);
    c.circuit.max_backoff = Duration::from_secs(10);
    let mut node = build(&c);
    let stats = node.stats().clone();
    let load = |s: &std::sync::atomic::AtomicU64| s.load(std::sync::atomic::Ordering::Relaxed);
    for _ in 0..2 {
        assert_eq!(failure_of(node.process(&batch(1))).kind(), "timeout");
    }
    assert_eq!(load(&stats.circuit_opened), 1);
    let started = Instant::now();
    for _ in 0..5 {
        assert!(matches!(
            node.process(&batch(1)),
            Outcome::Failed { error: None }
        ));
    }
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "bypassing is immediate"
    );
    assert_eq!(load(&stats.bypassed), 5);
    assert_eq!(load(&stats.calls), 2);
    assert_eq!(load(&stats.circuit_open), 1);
    std::thread::sleep(Duration::from_millis(350));
    // The trial call runs, fails, and re-opens the circuit for longer.
    assert_eq!(failure_of(node.process(&batch(1))).kind(), "timeout");
    assert_eq!(load(&stats.circuit_opened), 2);
    std::thread::sleep(Duration::from_millis(350));
    assert!(
        matches!(node.process(&batch(1)), Outcome::Failed { error: None }),
        "the second pause is twice as long"
    );
}

#[tokio::test]
async fn the_pipeline_keeps_flowing_around_a_failing_plugin() {
    let mut c = config(plugin_file("weir_test_plugin_panic"), &[("every", "1")]);
    c.circuit.failures = 1000;
    let node = build(&c);
    let run = run(node, (0..20).map(|_| batch(4)).collect()).await;
    assert_eq!(run.out.len(), 20);
    assert_eq!(run.metrics.items_out(), 80);
}

/// `on-error "dead-letter"`: every batch the plugin fails on goes, as it
/// came, to the dead-letter exporter and not downstream; the others go on.
#[tokio::test]
async fn failed_batches_go_to_the_dead_letter_exporter() {
    let mut c = config(plugin_file("weir_test_plugin_panic"), &[("every", "2")]);
    c.circuit.failures = 1000;
    c.on_error = OnError::DeadLetter;
    let node = build(&c);
    let batches: Vec<weir_pdata::Batch> = (0..10).map(|_| batch(3)).collect();
    let originals: Vec<_> = batches.iter().map(|b| b.otlp_bytes().unwrap()).collect();
    let (dl_tx, mut dl_rx) = tokio::sync::mpsc::channel(64);
    let run = run_with_dead_letter(node, batches, Some(dl_tx)).await;
    let mut dead = Vec::new();
    while let Ok(m) = dl_rx.try_recv() {
        dead.push(m);
    }
    assert_eq!(run.out.len(), 5, "every other batch passes the plugin");
    assert_eq!(dead.len(), 5, "every failed batch reaches the dead letter");
    for m in &dead {
        let bytes = m.batch.otlp_bytes().unwrap();
        assert!(originals.contains(&bytes), "dead letters are unchanged");
    }
    assert_eq!(run.metrics.items_out(), 15);
}

#[test]
fn a_plugin_for_another_abi_version_is_refused_with_a_clear_message() {
    let c = config(plugin_file("weir_test_plugin_future_abi"), &[]);
    let err = c
        .build_processor("t", engine(), std::path::Path::new("/"))
        .unwrap_err();
    assert!(matches!(err, WasmError::IncompatibleAbi { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("weir:pipeline/processor@0.2.0") && msg.contains("weir:pipeline@0.1.0"),
        "{msg}"
    );
}

#[test]
fn files_that_are_not_components_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    // A valid, empty core module: not a component.
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"definitely not wasm").unwrap();
    for path in [core, junk] {
        let err = config(PluginSource::File(path.clone()), &[])
            .build_processor("t", engine(), std::path::Path::new("/"))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("not a valid WebAssembly component"),
            "{}: {err}",
            path.display()
        );
    }
    let missing = config(PluginSource::File(dir.path().join("nope.wasm")), &[])
        .build_processor("t", engine(), std::path::Path::new("/"))
        .unwrap_err();
    assert!(matches!(missing, WasmError::Read { .. }), "{missing}");
}

#[test]
fn compiled_plugins_are_cached_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let engine = weir_wasm::PluginEngine::new(Some(dir.path().to_path_buf())).unwrap();
    let bytes = weir_wasm::builtin::get("noop").unwrap();
    let first = weir_wasm::Plugin::new(&engine, "noop", bytes).unwrap();
    assert!(!first.compiled().from_cache);
    let second = weir_wasm::Plugin::new(&engine, "noop", bytes).unwrap();
    assert!(second.compiled().from_cache);
    // A corrupted entry is recompiled, not loaded.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let mut data = std::fs::read(&path).unwrap();
        let last = data.len() - 1;
        data[last] ^= 0xff;
        std::fs::write(&path, data).unwrap();
    }
    let third = weir_wasm::Plugin::new(&engine, "noop", bytes).unwrap();
    assert!(!third.compiled().from_cache);
    let fourth = weir_wasm::Plugin::new(&engine, "noop", bytes).unwrap();
    assert!(fourth.compiled().from_cache);
}

#[test]
fn lending_batches_leaks_no_handles() {
    let noop =
        weir_wasm::Plugin::new(engine(), "noop", weir_wasm::builtin::get("noop").unwrap()).unwrap();
    let telemetry = std::sync::Arc::new(weir_wasm::telemetry::PluginTelemetry::default());
    let mut instance = noop
        .instantiate("t", weir_wasm::Limits::default(), telemetry, &[])
        .unwrap();
    instance.set_max_handles(64);
    let b = batch(1);
    for i in 0..500 {
        instance
            .process(&b)
            .unwrap_or_else(|e| panic!("call {i}: {e}"));
    }
}
