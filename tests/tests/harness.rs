//! Tests of the harness itself, without weir: the Python SDK's recorded
//! requests equal what a server receives, and the comparison catches any
//! changed field while ignoring regrouping.

use std::io::Read as _;
use std::sync::OnceLock;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use weir_tests::otlp::{OtlpSignal, diff};
use weir_tests::process::{metric_value, parse_table};
use weir_tests::raw::{crc32_of_zeros, gzip_bomb};
use weir_tests::{Logs, Metrics, Protocol, SendPlan, Sent, Sink, Traces, assert_same};

/// What the Python SDK sent straight to a sink (gRPC, gzip), and what the
/// sink received. Sent once per test process: the tests below share it.
struct Recorded {
    sent: Sent,
    traces: Vec<<Traces as OtlpSignal>::Request>,
    metrics: Vec<<Metrics as OtlpSignal>::Request>,
    logs: Vec<<Logs as OtlpSignal>::Request>,
}

fn recorded() -> &'static Recorded {
    static RECORDED: OnceLock<Recorded> = OnceLock::new();
    RECORDED.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        rt.block_on(async {
            let sink = Sink::start().await;
            let sent = SendPlan::new(Protocol::Grpc, sink.addr())
                .gzip()
                .spans(40)
                .run()
                .await;
            Recorded {
                traces: sink.received::<Traces>(),
                metrics: sink.received::<Metrics>(),
                logs: sink.received::<Logs>(),
                sent,
            }
        })
    })
}

#[test]
fn python_sdk_recording_equals_what_a_server_receives() {
    let Recorded {
        sent,
        traces,
        metrics,
        logs,
    } = recorded();
    assert_eq!(sent.spans(), 84);
    assert!(sent.points() > 20, "too few data points: {}", sent.points());
    assert!(
        sent.log_records() > 10,
        "too few log records: {}",
        sent.log_records()
    );
    // Every request was acknowledged before send.py recorded it, so the
    // sink already holds the same requests, byte for byte (in an order that
    // depends on the SDK's export threads).
    fn sorted<M: prost::Message>(requests: &[M]) -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = requests.iter().map(M::encode_to_vec).collect();
        v.sort();
        v
    }
    assert!(
        sorted(traces) == sorted(&sent.traces),
        "trace requests differ"
    );
    assert!(
        sorted(metrics) == sorted(&sent.metrics),
        "metric requests differ"
    );
    assert!(sorted(logs) == sorted(&sent.logs), "log requests differ");
    assert_same::<Traces>(&sent.traces, traces);
    assert_same::<Metrics>(&sent.metrics, metrics);
    assert_same::<Logs>(&sent.logs, logs);
}

/// Every metric data type the SDK exports is present.
#[test]
fn python_sdk_sends_every_metric_type_and_exemplars() {
    let sent = &recorded().sent;
    let metrics: Vec<_> = sent
        .metrics
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .collect();
    let has = |f: fn(&Data) -> bool| metrics.iter().any(|m| m.data.as_ref().is_some_and(f));
    assert!(has(|d| matches!(d, Data::Gauge(_))), "no gauge");
    assert!(
        has(|d| matches!(d, Data::Sum(s) if s.is_monotonic)),
        "no monotonic sum"
    );
    assert!(
        has(|d| matches!(d, Data::Sum(s) if !s.is_monotonic)),
        "no non-monotonic sum"
    );
    assert!(has(|d| matches!(d, Data::Histogram(_))), "no histogram");
    assert!(
        has(
            |d| matches!(d, Data::ExponentialHistogram(h) if h.data_points.iter().any(|p| p.positive.is_some()))
        ),
        "no exponential histogram"
    );
    assert!(
        has(|d| matches!(d, Data::Sum(s) if s.aggregation_temporality == 1)),
        "no delta sum"
    );
    assert!(
        has(
            |d| matches!(d, Data::Histogram(h) if h.data_points.iter().any(|p| !p.exemplars.is_empty()))
        ),
        "no exemplar"
    );
}

fn set_first_attr(attrs: &mut [KeyValue], value: Value) {
    let kv = attrs.first_mut().expect("an attribute to change");
    kv.value = Some(AnyValue { value: Some(value) });
}

fn assert_detects<S: OtlpSignal>(
    what: &str,
    sent: &[S::Request],
    mutate: impl Fn(&mut Vec<S::Request>),
) {
    let mut changed = sent.to_vec();
    mutate(&mut changed);
    assert_ne!(
        changed.as_slice(),
        sent,
        "{what}: the mutation changed nothing"
    );
    let err = diff::<S>(sent, &changed).expect_err(what);
    assert!(err.contains("were not received"), "{what}: {err}");
}

#[test]
fn comparison_catches_any_changed_field_and_ignores_regrouping() {
    let sent = &recorded().sent;

    // Regrouping: one request per item, in reverse order, compares equal.
    let mut regrouped: Vec<_> = sent.traces.iter().flat_map(Traces::flatten).collect();
    regrouped.reverse();
    assert_same::<Traces>(&sent.traces, &regrouped);
    let merged = vec![
        opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest {
            resource_metrics: sent
                .metrics
                .iter()
                .flat_map(|r| r.resource_metrics.clone())
                .collect(),
        },
    ];
    assert_same::<Metrics>(&sent.metrics, &merged);

    // One item lost, one item duplicated.
    assert_detects::<Traces>("a lost span", &sent.traces, |r| {
        let _ = r[0].resource_spans[0].scope_spans[0].spans.pop();
    });
    assert_detects::<Traces>("a duplicated span", &sent.traces, |r| {
        let s = r[0].resource_spans[0].scope_spans[0].spans[0].clone();
        r[0].resource_spans[0].scope_spans[0].spans.push(s);
    });

    // Fields at every depth.
    assert_detects::<Traces>("resource attribute", &sent.traces, |r| {
        let res = r[0].resource_spans[0].resource.as_mut().expect("resource");
        set_first_attr(&mut res.attributes, Value::StringValue("changed".into()));
    });
    assert_detects::<Traces>("resource schema url", &sent.traces, |r| {
        r[0].resource_spans[0].schema_url.push('x');
    });
    assert_detects::<Traces>("scope version", &sent.traces, |r| {
        let scope = r[0].resource_spans[0].scope_spans[0]
            .scope
            .as_mut()
            .expect("scope");
        scope.version.push('x');
    });
    assert_detects::<Traces>("span end time", &sent.traces, |r| {
        r[0].resource_spans[0].scope_spans[0].spans[0].end_time_unix_nano += 1;
    });
    assert_detects::<Traces>("span array attribute element", &sent.traces, |r| {
        let kv = r
            .iter_mut()
            .flat_map(|r| &mut r.resource_spans)
            .flat_map(|r| &mut r.scope_spans)
            .flat_map(|s| &mut s.spans)
            .flat_map(|s| &mut s.attributes)
            .find(|kv| kv.key == "array.int")
            .expect("a span attribute array.int");
        if let Some(AnyValue {
            value: Some(Value::ArrayValue(a)),
        }) = kv.value.as_mut()
        {
            a.values[1] = AnyValue {
                value: Some(Value::IntValue(-3)),
            };
        }
    });
    assert_detects::<Traces>("span trace state", &sent.traces, |r| {
        let span = r
            .iter_mut()
            .flat_map(|r| &mut r.resource_spans)
            .flat_map(|r| &mut r.scope_spans)
            .flat_map(|s| &mut s.spans)
            .find(|s| !s.trace_state.is_empty())
            .expect("a span with a trace state");
        span.trace_state.push('x');
    });
    assert_detects::<Traces>("link attribute", &sent.traces, |r| {
        let link = r
            .iter_mut()
            .flat_map(|r| &mut r.resource_spans)
            .flat_map(|r| &mut r.scope_spans)
            .flat_map(|s| &mut s.spans)
            .flat_map(|s| &mut s.links)
            .find(|l| !l.attributes.is_empty())
            .expect("a link with attributes");
        set_first_attr(&mut link.attributes, Value::IntValue(-1));
    });
    assert_detects::<Traces>("event attribute", &sent.traces, |r| {
        let event = r
            .iter_mut()
            .flat_map(|r| &mut r.resource_spans)
            .flat_map(|r| &mut r.scope_spans)
            .flat_map(|s| &mut s.spans)
            .flat_map(|s| &mut s.events)
            .find(|e| !e.attributes.is_empty())
            .expect("an event with attributes");
        set_first_attr(&mut event.attributes, Value::BoolValue(false));
    });
    assert_detects::<Traces>("status message", &sent.traces, |r| {
        let status = r
            .iter_mut()
            .flat_map(|r| &mut r.resource_spans)
            .flat_map(|r| &mut r.scope_spans)
            .flat_map(|s| &mut s.spans)
            .find_map(|s| s.status.as_mut().filter(|st| !st.message.is_empty()))
            .expect("a status with a message");
        status.message.push('x');
    });
    assert_detects::<Metrics>("exponential histogram bucket", &sent.metrics, |r| {
        let point = r
            .iter_mut()
            .flat_map(|r| &mut r.resource_metrics)
            .flat_map(|r| &mut r.scope_metrics)
            .flat_map(|s| &mut s.metrics)
            .find_map(|m| match m.data.as_mut() {
                Some(Data::ExponentialHistogram(h)) => h.data_points.first_mut(),
                _ => None,
            })
            .expect("an exponential histogram point");
        let buckets = point.positive.as_mut().expect("positive buckets");
        buckets.bucket_counts[0] += 1;
    });
    assert_detects::<Metrics>("exemplar span id", &sent.metrics, |r| {
        let exemplar = r
            .iter_mut()
            .flat_map(|r| &mut r.resource_metrics)
            .flat_map(|r| &mut r.scope_metrics)
            .flat_map(|s| &mut s.metrics)
            .find_map(|m| match m.data.as_mut() {
                Some(Data::Histogram(h)) => h
                    .data_points
                    .iter_mut()
                    .find_map(|p| p.exemplars.first_mut()),
                _ => None,
            })
            .expect("an exemplar");
        exemplar.span_id[0] ^= 1;
    });
    assert_detects::<Metrics>("sum temporality", &sent.metrics, |r| {
        let sum = r
            .iter_mut()
            .flat_map(|r| &mut r.resource_metrics)
            .flat_map(|r| &mut r.scope_metrics)
            .flat_map(|s| &mut s.metrics)
            .find_map(|m| match m.data.as_mut() {
                Some(Data::Sum(s)) => Some(s),
                _ => None,
            })
            .expect("a sum");
        sum.aggregation_temporality = 3 - sum.aggregation_temporality;
    });
    assert_detects::<Logs>("nested log body", &sent.logs, |r| {
        let body = r
            .iter_mut()
            .flat_map(|r| &mut r.resource_logs)
            .flat_map(|r| &mut r.scope_logs)
            .flat_map(|s| &mut s.log_records)
            .find_map(|l| match l.body.as_mut() {
                Some(AnyValue {
                    value: Some(Value::KvlistValue(kv)),
                }) => Some(kv),
                _ => None,
            })
            .expect("a kvlist body");
        body.values[0].key.push('x');
    });
    assert_detects::<Logs>("log trace id", &sent.logs, |r| {
        let record = r
            .iter_mut()
            .flat_map(|r| &mut r.resource_logs)
            .flat_map(|r| &mut r.scope_logs)
            .flat_map(|s| &mut s.log_records)
            .find(|l| !l.trace_id.is_empty())
            .expect("a log with a trace id");
        record.trace_id[15] ^= 1;
    });
}

#[test]
fn gzip_bomb_inflates_to_the_promised_zeros() {
    for len in [0usize, 1, 257, 258, 259, 1 << 20, (1 << 20) + 1234] {
        let bomb = gzip_bomb(len);
        let mut out = Vec::new();
        let _ = flate2::read::GzDecoder::new(bomb.as_slice())
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("a {len}-byte bomb does not inflate: {e}"));
        assert_eq!(out.len(), len);
        assert!(out.iter().all(|&b| b == 0));
    }
    let big = gzip_bomb(1 << 30);
    // 13 bits per 258 bytes: a ratio of about 1:159.
    assert!(
        big.len() < (1 << 30) / 150,
        "a 1 GiB bomb is {} bytes",
        big.len()
    );
}

#[test]
fn crc32_of_zeros_matches_flate2() {
    for n in [0u64, 1, 7, 8, 1000, 65_537] {
        let mut crc = flate2::Crc::new();
        crc.update(&vec![0u8; n as usize]);
        assert_eq!(crc32_of_zeros(n), crc.sum(), "n = {n}");
    }
}

#[test]
fn parses_query_tables_and_prometheus_text() {
    let table = "+----------+\n| count(*) |\n+----------+\n| 400      |\n+----------+\n";
    assert_eq!(parse_table(table), vec![vec!["400".to_string()]]);
    let text = "# TYPE weir_node_items_in_total counter\n\
                weir_node_items_in_total{node=\"in\",kind=\"receiver\",type=\"otlp\"} 12\n\
                weir_node_items_in_total{node=\"out\",kind=\"exporter\",type=\"otlp\"} 3\n";
    assert_eq!(
        metric_value(text, "weir_node_items_in_total", &[("node", "out")]),
        Some(3.0)
    );
    assert_eq!(
        metric_value(text, "weir_node_items_in_total", &[("node", "in")]),
        Some(12.0)
    );
    assert_eq!(
        metric_value(text, "weir_node_items_in_total", &[("node", "x")]),
        None
    );
}
