//! Every component type weir knows, registered in one place.
//!
//! Adding a component is adding its folder in its crate and one line here.

use weir_config::NodeKind;
use weir_engine::registry::{Component, Registry};

/// The registry of every built-in component.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    let _ = r
        .register(Component {
            kind: NodeKind::Receiver,
            type_name: "otlp",
            summary: "OTLP over gRPC and HTTP (protobuf and JSON).",
            validate: weir_receivers::otlp::validate,
        })
        .register(Component {
            kind: NodeKind::Receiver,
            type_name: "ebpf",
            summary: "Kernel signals from eBPF: syscalls, run-queue latency, TCP, CPU profiles.",
            validate: weir_receivers::ebpf::validate,
        })
        .register(Component {
            kind: NodeKind::Receiver,
            type_name: "generate",
            summary: "Synthetic traces, logs and metrics at a configured rate.",
            validate: weir_receivers::generate::validate,
        })
        .register(Component {
            kind: NodeKind::Receiver,
            type_name: "prometheus",
            summary: "Scrapes Prometheus and OpenMetrics endpoints (static targets, target files, relabelling).",
            validate: weir_receivers::prometheus::validate,
        })
        .register(Component {
            kind: NodeKind::Processor,
            type_name: "batch",
            summary: "Groups batches by item count, size and time.",
            validate: weir_engine::processors::batch::validate,
        })
        .register(Component {
            kind: NodeKind::Processor,
            type_name: "wasm",
            summary: "A WebAssembly component plugin (builtin:redact, builtin:sample, your own .wasm).",
            validate: weir_wasm::validate,
        })
        .register(Component {
            kind: NodeKind::Processor,
            type_name: "sql",
            summary: "DataFusion SQL per batch, or windowed aggregation into metric points.",
            validate: weir_sql::processor::validate,
        })
        .register(Component {
            kind: NodeKind::Exporter,
            type_name: "otlp",
            summary: "OTLP over gRPC or HTTP to any OTLP backend (Tempo, a collector).",
            validate: weir_exporters::otlp::validate,
        })
        .register(Component {
            kind: NodeKind::Exporter,
            type_name: "loki",
            summary: "Logs to Grafana Loki's push API (protobuf + snappy or JSON), labels you choose.",
            validate: weir_exporters::loki::validate,
        })
        .register(Component {
            kind: NodeKind::Exporter,
            type_name: "debug",
            summary: "A summary line per batch, or OTLP/JSON lines to a file.",
            validate: weir_exporters::debug::validate,
        })
        .register(Component {
            kind: NodeKind::Exporter,
            type_name: "pyroscope",
            summary: "CPU profiles to Grafana Pyroscope's ingest API as pprof.",
            validate: weir_exporters::pyroscope::validate,
        })
        .register(Component {
            kind: NodeKind::Exporter,
            type_name: "remote-write",
            summary: "Prometheus remote write 1.0 to Prometheus, Mimir, VictoriaMetrics.",
            validate: weir_exporters::remote_write::validate,
        })
        .register(Component {
            kind: NodeKind::Exporter,
            type_name: "prometheus",
            summary: "Serves the pipeline's metrics on /metrics for Prometheus to scrape.",
            validate: weir_exporters::prometheus::validate,
        })
        .register(Component {
            kind: NodeKind::Exporter,
            type_name: "parquet",
            summary: "The embedded store: Parquet files queried with `weir query`.",
            validate: weir_exporters::parquet::validate,
        });
    r
}
