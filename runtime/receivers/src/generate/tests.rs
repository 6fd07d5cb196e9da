//! Node-harness tests of the `generate` receiver: exact counts, valid
//! protobuf, realistic content, pacing and shutdown.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message as _;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use weir_config::ErrorCode;
use weir_engine::channel::Output;
use weir_engine::metrics::NodeMetrics;
use weir_engine::node::{Receiver as _, ReceiverContext, Shutdown};
use weir_engine::{Message, NodeError};
use weir_pdata::{Batch, Signal};

use super::{GenerateConfig, GenerateReceiver};

const WAIT: Duration = Duration::from_secs(20);

fn start(
    config: GenerateConfig,
    capacity: usize,
) -> (
    mpsc::Receiver<Message>,
    watch::Sender<bool>,
    JoinHandle<Result<(), NodeError>>,
) {
    let (tx, rx) = mpsc::channel(capacity);
    let metrics = std::sync::Arc::new(NodeMetrics::new("gen", "receiver", "generate"));
    let (trigger, shutdown) = Shutdown::new();
    let ctx = ReceiverContext {
        id: "gen".to_string(),
        output: Output::new(vec![tx], metrics.clone()),
        shutdown,
        metrics,
    };
    let task = tokio::spawn(Box::new(GenerateReceiver::new(config)).run(ctx));
    (rx, trigger, task)
}

/// Every message until the receiver ends and its output closes.
async fn drain(rx: &mut mpsc::Receiver<Message>) -> Vec<Batch> {
    let mut out = Vec::new();
    while let Some(msg) = tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("the receiver ends")
    {
        out.push(msg.batch);
    }
    out
}

fn counted(config: GenerateConfig) -> GenerateConfig {
    GenerateConfig { rate: 0, ..config }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produces_exactly_count_items_per_signal_as_valid_protobuf() {
    let config = counted(GenerateConfig {
        batch_size: 64,
        count: Some(1000),
        services: 4,
        ..GenerateConfig::default()
    });
    let (mut rx, _trigger, task) = start(config, 8);
    let batches = drain(&mut rx).await;
    tokio::time::timeout(WAIT, task)
        .await
        .expect("ends")
        .expect("no panic")
        .expect("no error");

    let mut items: BTreeMap<Signal, usize> = BTreeMap::new();
    for batch in &batches {
        assert!(batch.items() <= 64 && batch.items() > 0, "{batch:?}");
        *items.entry(batch.signal()).or_default() += batch.items();
        let bytes = batch.otlp_bytes().expect("bytes");
        // The wire scan agrees with the count the generator declared.
        let scanned = Batch::from_otlp(batch.signal(), bytes.clone()).expect("valid OTLP");
        assert_eq!(scanned.items(), batch.items(), "{:?}", batch.signal());
        let decoded = match batch.signal() {
            Signal::Traces => ExportTraceServiceRequest::decode(bytes)
                .expect("traces")
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum::<usize>(),
            Signal::Logs => ExportLogsServiceRequest::decode(bytes)
                .expect("logs")
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .map(|s| s.log_records.len())
                .sum(),
            Signal::Metrics => ExportMetricsServiceRequest::decode(bytes)
                .expect("metrics")
                .resource_metrics
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .map(|m| match &m.data {
                    Some(Data::Gauge(g)) => g.data_points.len(),
                    Some(Data::Sum(s)) => s.data_points.len(),
                    Some(Data::Histogram(h)) => h.data_points.len(),
                    Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
                    Some(Data::Summary(s)) => s.data_points.len(),
                    None => 0,
                })
                .sum(),
            Signal::Profiles => unreachable!("generate makes no profiles"),
        };
        assert_eq!(decoded, batch.items());
    }
    assert_eq!(
        items,
        BTreeMap::from([
            (Signal::Traces, 1000),
            (Signal::Metrics, 1000),
            (Signal::Logs, 1000)
        ])
    );
}

fn traces_of(batches: &[Batch]) -> Vec<ExportTraceServiceRequest> {
    batches
        .iter()
        .filter(|b| b.signal() == Signal::Traces)
        .map(|b| ExportTraceServiceRequest::decode(b.otlp_bytes().expect("bytes")).expect("traces"))
        .collect()
}

fn string_attr<'a>(
    attrs: &'a [opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<&'a str> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_looks_like_a_web_application() {
    let config = counted(GenerateConfig {
        batch_size: 500,
        count: Some(2000),
        services: 5,
        ..GenerateConfig::default()
    });
    let (mut rx, _trigger, _task) = start(config, 64);
    let batches = drain(&mut rx).await;

    // Traces: services as resources, server roots with HTTP attributes,
    // children pointing at a parent of the same trace, some 5xx errors.
    let mut services = BTreeSet::new();
    let mut span_ids: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut parents = Vec::new();
    let mut errors = 0;
    let mut routes = BTreeSet::new();
    for req in traces_of(&batches) {
        for rs in &req.resource_spans {
            let attrs = &rs.resource.as_ref().expect("a resource").attributes;
            let _ = services.insert(
                string_attr(attrs, "service.name")
                    .expect("service.name")
                    .to_string(),
            );
            assert!(string_attr(attrs, "host.name").is_some());
            assert!(string_attr(attrs, "service.version").is_some());
            for span in rs.scope_spans.iter().flat_map(|s| &s.spans) {
                assert_eq!(span.trace_id.len(), 16);
                assert_eq!(span.span_id.len(), 8);
                assert!(span.start_time_unix_nano <= span.end_time_unix_nano);
                let _ = span_ids.insert(span.span_id.clone(), span.trace_id.clone());
                if span.parent_span_id.is_empty() {
                    let _ = routes.insert(
                        string_attr(&span.attributes, "http.route")
                            .expect("http.route")
                            .to_string(),
                    );
                    assert!(string_attr(&span.attributes, "http.method").is_some());
                } else {
                    parents.push((span.parent_span_id.clone(), span.trace_id.clone()));
                }
                if span.status.as_ref().is_some_and(|s| s.code == 2) {
                    errors += 1;
                }
            }
        }
    }
    assert_eq!(services.len(), 5, "{services:?}");
    assert!(routes.len() >= 5, "{routes:?}");
    assert!(!parents.is_empty(), "traces have child spans");
    for (parent, trace) in &parents {
        assert_eq!(
            span_ids.get(parent),
            Some(trace),
            "a child's parent is in its trace"
        );
    }
    assert!(errors > 0 && errors < 200, "{errors} error spans in 2000");

    // Logs: severities and trace context.
    let mut severities = BTreeSet::new();
    for b in batches.iter().filter(|b| b.signal() == Signal::Logs) {
        let req = ExportLogsServiceRequest::decode(b.otlp_bytes().expect("bytes")).expect("logs");
        for log in req
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records)
        {
            let _ = severities.insert(log.severity_number);
            assert_eq!(log.trace_id.len(), 16);
            assert!(log.body.is_some());
        }
    }
    assert!(severities.len() >= 3, "{severities:?}");

    // Metrics: every kind.
    let mut kinds = BTreeSet::new();
    for b in batches.iter().filter(|b| b.signal() == Signal::Metrics) {
        let req =
            ExportMetricsServiceRequest::decode(b.otlp_bytes().expect("bytes")).expect("metrics");
        for m in req
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
        {
            let kind = match m.data.as_ref().expect("data") {
                Data::Gauge(_) => "gauge",
                Data::Sum(s) => {
                    assert!(s.is_monotonic);
                    "sum"
                }
                Data::Histogram(h) => {
                    for p in &h.data_points {
                        assert_eq!(p.bucket_counts.iter().sum::<u64>(), p.count);
                        assert_eq!(p.bucket_counts.len(), p.explicit_bounds.len() + 1);
                    }
                    "histogram"
                }
                Data::ExponentialHistogram(h) => {
                    for p in &h.data_points {
                        let buckets = p.positive.as_ref().expect("positive buckets");
                        assert_eq!(
                            buckets.bucket_counts.iter().sum::<u64>() + p.zero_count,
                            p.count
                        );
                    }
                    "exponential histogram"
                }
                Data::Summary(_) => "summary",
            };
            let _ = kinds.insert(kind);
        }
    }
    assert_eq!(kinds.len(), 5, "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_makes_runs_reproducible() {
    let names = |batches: Vec<Batch>| -> Vec<String> {
        traces_of(&batches)
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .map(|s| s.name.clone())
            .collect()
    };
    let config = counted(GenerateConfig {
        signals: vec![Signal::Traces],
        count: Some(300),
        ..GenerateConfig::default()
    });
    let (mut rx, _t, _task) = start(config.clone(), 64);
    let first = names(drain(&mut rx).await);
    let (mut rx, _t, _task) = start(config.clone(), 64);
    let second = names(drain(&mut rx).await);
    let (mut rx, _t, _task) = start(GenerateConfig { seed: 7, ..config }, 64);
    let other = names(drain(&mut rx).await);
    assert_eq!(first.len(), 300);
    assert_eq!(first, second);
    assert_ne!(first, other);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_paces_the_batches() {
    let config = GenerateConfig {
        signals: vec![Signal::Logs],
        rate: 1000,
        batch_size: 50,
        count: Some(200),
        ..GenerateConfig::default()
    };
    let started = Instant::now();
    let (mut rx, _t, _task) = start(config, 64);
    let batches = drain(&mut rx).await;
    let elapsed = started.elapsed();
    assert_eq!(batches.iter().map(Batch::items).sum::<usize>(), 200);
    // Four batches at 0, 50, 100 and 150 ms.
    assert!(elapsed >= Duration::from_millis(140), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stops_at_shutdown_even_under_backpressure() {
    let config = counted(GenerateConfig::default());
    // A channel of one that nobody reads: the generator waits on it.
    let (rx, trigger, task) = start(config, 1);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!task.is_finished());
    let _ = trigger.send(true);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops promptly")
        .expect("no panic")
        .expect("no error");
    drop(rx);
}

fn read(text: &str) -> (Option<GenerateConfig>, Vec<weir_config::ConfigError>) {
    let text = format!(
        "receiver \"gen\" type=\"generate\" {{\n{text}\n}}\nexporter \"out\" type=\"debug\" {{\n    from \"gen\"\n}}\n"
    );
    let pipeline = weir_config::parse("test.kdl", &text).expect("valid shape");
    let decl = pipeline.node("gen").expect("node");
    let mut errors = Vec::new();
    let mut reader = decl.reader(&mut errors);
    let config = GenerateConfig::read(&mut reader);
    reader.finish();
    (config, errors)
}

#[test]
fn validation_reads_defaults_values_and_errors() {
    let (config, errors) = read("");
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(config, Some(GenerateConfig::default()));

    let (config, errors) = read(
        "    signals \"logs\" \"traces\"\n    rate 0\n    batch-size 10\n    count 500\n    services 3\n    seed 9",
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        config,
        Some(GenerateConfig {
            signals: vec![Signal::Logs, Signal::Traces],
            rate: 0,
            batch_size: 10,
            count: Some(500),
            services: 3,
            seed: 9,
        })
    );

    let (config, errors) =
        read("    signals \"spans\"\n    batch-size 0\n    services \"many\"\n    rat 5");
    assert!(config.is_none());
    let codes: Vec<ErrorCode> = errors.iter().map(|e| e.code).collect();
    assert_eq!(
        codes,
        [
            ErrorCode::InvalidValue,
            ErrorCode::InvalidValue,
            ErrorCode::InvalidValue,
            ErrorCode::UnknownProperty
        ],
        "{errors:?}"
    );
    assert_eq!(errors[3].help.as_deref(), Some("did you mean `rate`?"));
}
