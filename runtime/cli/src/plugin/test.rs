//! `weir plugin test PLUGIN --input FILE [--config K=V]... [--expect FILE]`
//!
//! Runs the plugin in weir's real plugin host (the same sandbox, limits and
//! kernels as a pipeline) on one OTLP/JSON request and prints the request
//! that comes out, the metric points the plugin emitted, and its own
//! metrics. With `--expect`, compares the output with an OTLP/JSON file
//! (as JSON values: key order and number spelling aside) and exits 1 with
//! a line diff when they differ.

use std::path::Path;
use std::process::ExitCode;

use serde_json::Value;
use weir_pdata::{Batch, Signal};
use weir_plugin_test::Harness;
use weir_wasm::PluginSource;

use crate::cli::PluginTestArgs;

fn signal_of(json: &Value) -> Result<Signal, String> {
    weir_plugin_test::request_signal(json)
        .ok_or_else(|| weir_plugin_test::NOT_A_REQUEST.to_string())
}

fn read_json(path: &Path) -> Result<(Value, Vec<u8>), String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let value = serde_json::from_slice(&text)
        .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    Ok((value, text))
}

fn pretty(json: &str) -> String {
    serde_json::from_str::<Value>(json)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| json.to_string())
}

pub fn run(a: &PluginTestArgs) -> Result<ExitCode, String> {
    let (input, text) = read_json(&a.input)?;
    let signal = signal_of(&input)?;
    let request = weir_pdata::otlp::json_to_protobuf(signal, &text)
        .map_err(|e| format!("{}: {e}", a.input.display()))?;
    let batch = Batch::from_otlp(signal, request.into())
        .map_err(|e| format!("{}: {e}", a.input.display()))?;

    let config: Vec<(String, String)> = a
        .config
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("--config {kv:?}: write KEY=VALUE"))
        })
        .collect::<Result<_, _>>()?;

    let source = match a.plugin.strip_prefix(weir_wasm::builtin::PREFIX) {
        Some(name) => PluginSource::Builtin(name.to_string()),
        None => PluginSource::File(a.plugin.clone().into()),
    };
    let bytes = weir_wasm::processor::node::load_bytes(&source, Path::new("."))
        .map_err(|e| e.to_string())?;
    let mut harness = Harness::from_bytes(&a.plugin, &bytes).map_err(|e| e.to_string())?;
    for (k, v) in &config {
        harness = harness.config(k, v);
    }
    let mut runner = harness.instantiate().map_err(|e| e.to_string())?;
    let processed = runner.process(&batch).map_err(|e| e.to_string())?;
    let out = serde_json::to_string(&processed.json).map_err(|e| e.to_string())?;
    println!("{}", pretty(&out));
    if let Some(metrics) = &processed.metrics {
        eprintln!("metric points emitted:\n{}", pretty(&metrics.to_string()));
    }
    if !processed.plugin_metrics.is_empty() {
        eprintln!("plugin metrics:\n{}", processed.plugin_metrics);
    }

    let Some(expect) = &a.expect else {
        return Ok(ExitCode::SUCCESS);
    };
    let (expected, text) = read_json(expect)?;
    let expected_signal = signal_of(&expected)?;
    // Through protobuf and back, so both sides are spelled the same way.
    let canonical = weir_pdata::otlp::json_to_protobuf(expected_signal, &text)
        .and_then(|pb| weir_pdata::otlp::protobuf_to_json(expected_signal, &pb))
        .map_err(|e| format!("{}: {e}", expect.display()))?;
    let want: Value = serde_json::from_str(&canonical).map_err(|e| e.to_string())?;
    let got: Value = serde_json::from_str(&out).map_err(|e| e.to_string())?;
    if want == got && expected_signal == signal {
        eprintln!("ok: the output equals {}", expect.display());
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("FAILED: the output differs from {}:", expect.display());
    let (w, g) = (pretty(&canonical), pretty(&out));
    for (i, (lw, lg)) in w.lines().zip(g.lines()).enumerate() {
        if lw != lg {
            eprintln!("line {}:\n  expected: {lw}\n  got:      {lg}", i + 1);
            break;
        }
    }
    if w.lines().count() != g.lines().count() {
        eprintln!(
            "({} lines expected, {} got)",
            w.lines().count(),
            g.lines().count()
        );
    }
    Ok(ExitCode::from(1))
}
