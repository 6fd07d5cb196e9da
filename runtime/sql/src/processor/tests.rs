//! The `sql` processor on fixed batches: per-batch transforms, validation
//! diagnostics, windows with out-of-order and late rows, memory bound,
//! lookup joins and their reload, acknowledgements.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message as _;
use tokio::sync::mpsc;
use weir_config::ConfigError;
use weir_engine::channel::{Input, Output};
use weir_engine::metrics::{MetricsRegistry, NodeMetrics};
use weir_engine::node::ProcessorContext;
use weir_engine::registry::{BuildContext, Builder as _, Built};
use weir_engine::{Ack, Delivery, Message};
use weir_pdata::{Batch, Signal};

use super::config::SqlConfig;

/// One span: (service, route, status code (0 ok, 2 error), end time in
/// seconds, duration in ms).
#[derive(Clone, Copy)]
struct S(&'static str, &'static str, i32, u64, u64);

const BASE: u64 = 1_700_000_000_000_000_000;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn spans(items: &[S]) -> Batch {
    let mut services: Vec<&str> = items.iter().map(|s| s.0).collect();
    services.dedup();
    services.sort();
    services.dedup();
    let req = ExportTraceServiceRequest {
        resource_spans: services
            .iter()
            .map(|svc| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", svc)],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: items
                        .iter()
                        .filter(|s| s.0 == *svc)
                        .map(|s| {
                            let end = BASE + s.3 * 1_000_000_000;
                            Span {
                                trace_id: vec![1; 16],
                                span_id: vec![2; 8],
                                name: format!("GET {}", s.1),
                                kind: 2,
                                start_time_unix_nano: end - s.4 * 1_000_000,
                                end_time_unix_nano: end,
                                attributes: vec![kv("http.route", s.1)],
                                status: (s.2 != 0).then(|| Status {
                                    code: s.2,
                                    message: String::new(),
                                }),
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    };
    Batch::from_otlp(Signal::Traces, Bytes::from(req.encode_to_vec())).expect("valid")
}

fn read(body: &str) -> Result<SqlConfig, Vec<ConfigError>> {
    let text = format!(
        "receiver \"in\" type=\"otlp\"\nprocessor \"sql\" type=\"sql\" {{\n from \"in\"\n{body}\n}}\n"
    );
    let pipeline = weir_config::parse("test.kdl", &text).expect("valid KDL");
    let decl = pipeline.node("sql").expect("node sql");
    let mut errors = Vec::new();
    let mut r = decl.reader(&mut errors);
    let c = SqlConfig::read(&mut r);
    r.finish();
    match c {
        Some(c) if errors.is_empty() => Ok(c),
        _ => Err(errors),
    }
}

fn config(body: &str) -> SqlConfig {
    match read(body) {
        Ok(c) => c,
        Err(e) => panic!(
            "config errors: {:?}",
            e.iter().map(|e| &e.message).collect::<Vec<_>>()
        ),
    }
}

fn errors(body: &str) -> Vec<ConfigError> {
    match read(body) {
        Ok(_) => panic!("expected errors for {body}"),
        Err(e) => e,
    }
}

/// A running node: send, then close and collect.
struct Harness {
    tx: Option<mpsc::Sender<Message>>,
    rx: mpsc::Receiver<Message>,
    metrics: Arc<NodeMetrics>,
    task: tokio::task::JoinHandle<()>,
}

impl Harness {
    fn start(c: SqlConfig) -> Harness {
        let registry = MetricsRegistry::default();
        let ctx = BuildContext {
            id: "sql",
            metrics: &registry,
            base_dir: std::env::temp_dir(),
        };
        let Ok(Built::Processor(p)) = Box::new(c).build(&ctx) else {
            panic!("not a processor");
        };
        let metrics = Arc::new(NodeMetrics::new("sql", "processor", "sql"));
        let (tx, in_rx) = mpsc::channel(16);
        let (out_tx, rx) = mpsc::channel(64);
        let pctx = ProcessorContext {
            dead_letter: None,
            id: "sql".into(),
            input: Input::new(in_rx, metrics.clone()),
            output: Output::new(vec![out_tx], metrics.clone()),
            metrics: metrics.clone(),
        };
        let task = tokio::spawn(async move {
            p.run(pctx).await.expect("node ran");
        });
        Harness {
            tx: Some(tx),
            rx,
            metrics,
            task,
        }
    }

    async fn send(&self, m: Message) {
        if let Some(tx) = &self.tx {
            tx.send(m).await.expect("node alive");
        }
    }

    /// Waits for the next output, at most 5 s.
    async fn next(&mut self) -> Option<Message> {
        tokio::time::timeout(Duration::from_secs(5), self.rx.recv())
            .await
            .ok()
            .flatten()
    }

    /// Closes the input and returns everything still emitted.
    async fn finish(mut self) -> (Vec<Message>, Arc<NodeMetrics>) {
        drop(self.tx.take());
        let mut out = Vec::new();
        while let Some(m) = self.rx.recv().await {
            out.push(m);
        }
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("node stopped")
            .expect("node did not panic");
        (out, self.metrics)
    }
}

async fn run(c: SqlConfig, batches: Vec<Batch>) -> (Vec<Batch>, Arc<NodeMetrics>) {
    let h = Harness::start(c);
    for b in batches {
        h.send(Message::new(b)).await;
    }
    let (out, m) = h.finish().await;
    (out.into_iter().map(|m| m.batch).collect(), m)
}

fn decode_spans(b: &Batch) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest::decode(b.otlp_bytes().expect("encodes")).expect("decodes")
}

fn decode_metrics(b: &Batch) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest::decode(b.otlp_bytes().expect("encodes")).expect("decodes")
}

fn sample() -> Vec<S> {
    vec![
        S("cart", "/a", 0, 1, 10),
        S("cart", "/b", 2, 1, 20),
        S("shop", "/a", 0, 2, 30),
        S("shop", "/a", 2, 2, 40),
    ]
}

#[tokio::test]
async fn filter_keeps_rows_and_prunes_empty_resources() {
    let c =
        config(r#"query "SELECT * FROM spans WHERE service_name = 'shop' AND status.code = 2""#);
    let (out, m) = run(c, vec![spans(&sample())]).await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].items(), 1);
    let req = decode_spans(&out[0]);
    assert_eq!(
        req.resource_spans.len(),
        1,
        "the cart resource has no span left"
    );
    let rs = &req.resource_spans[0];
    assert_eq!(
        rs.resource.as_ref().map(|r| r.attributes.clone()),
        Some(vec![kv("service.name", "shop")])
    );
    let span = &rs.scope_spans[0].spans[0];
    assert_eq!(span.name, "GET /a");
    assert_eq!(span.status.as_ref().map(|s| s.code), Some(2));
    assert_eq!(span.end_time_unix_nano, BASE + 2_000_000_000);
    assert_eq!(m.items_dropped(), 3);
}

#[tokio::test]
async fn empty_result_drops_the_batch() {
    let c = config(r#"query "SELECT * FROM spans WHERE name = 'nothing'""#);
    let (out, m) = run(c, vec![spans(&sample())]).await;
    assert!(out.is_empty());
    assert_eq!(m.items_dropped(), 4);
}

#[tokio::test]
async fn attr_set_and_delete_rewrite_attributes() {
    let c = config(
        r#"query "SELECT * REPLACE (attr_set(attr_delete(attributes, 'http.route'), 'route.len', length(attr(attributes, 'http.route'))) AS attributes) FROM spans""#,
    );
    let (out, _) = run(c, vec![spans(&sample()[..1])]).await;
    let req = decode_spans(&out[0]);
    let span = &req.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(
        span.attributes,
        vec![KeyValue {
            key: "route.len".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::IntValue(2)),
            }),
            ..Default::default()
        }]
    );
    // Everything else is unchanged.
    let original = decode_spans(&spans(&sample()[..1]));
    let mut expected = original.resource_spans[0].scope_spans[0].spans[0].clone();
    expected.attributes = span.attributes.clone();
    assert_eq!(span, &expected);
}

#[tokio::test]
async fn projection_resets_dropped_columns_to_defaults() {
    let c = config(
        r#"query "SELECT scope_id, name, start_time, end_time, trace_id, span_id FROM spans""#,
    );
    let (out, _) = run(c, vec![spans(&sample()[..1])]).await;
    let span = decode_spans(&out[0]).resource_spans[0].scope_spans[0].spans[0].clone();
    assert!(span.attributes.is_empty());
    assert_eq!(span.kind, 0);
    assert_eq!(span.name, "GET /a");
    assert_eq!(span.trace_id, vec![1; 16]);
}

#[tokio::test]
async fn other_signals_pass_through() {
    let c = config(r#"query "SELECT * FROM logs WHERE severity_number > 100""#);
    let b = spans(&sample());
    let (out, _) = run(c, vec![b.clone()]).await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].otlp_bytes().ok(), b.otlp_bytes().ok());
}

#[test]
fn validate_reports_query_errors_with_codes() {
    let code = |body: &str| {
        let e = errors(body);
        assert_eq!(
            e.len(),
            1,
            "{:?}",
            e.iter().map(|e| &e.message).collect::<Vec<_>>()
        );
        (
            e[0].code.as_str(),
            e[0].message.clone(),
            e[0].help.clone().unwrap_or_default(),
        )
    };
    let (c, m, _) = code(r#"query "SELECT * FROM spans WHERE no_such_column = 1""#);
    assert_eq!(c, "weir::config::query");
    assert!(m.contains("no_such_column"), "{m}");
    let (c, m, _) = code(r#"query "SELEC * FROM spans""#);
    assert_eq!(c, "weir::config::query");
    assert!(m.to_lowercase().contains("selec"), "{m}");
    let (c, m, _) = code(r#"query "SELECT * FROM spans WHERE attr(name, 'x') = 'y'""#);
    assert_eq!(c, "weir::config::query");
    assert!(m.contains("attribute column"), "{m}");
    let (c, m, h) = code(r#"query "SELECT *, attr(attributes, 'http.route') AS route FROM spans""#);
    assert_eq!(c, "weir::config::query_result");
    assert!(m.contains("`route` is not a column of spans"), "{m}");
    assert!(h.contains("attr_set"), "{h}");
    let (c, m, _) = code(r#"query "SELECT name FROM spans""#);
    assert_eq!(c, "weir::config::query_result");
    assert!(m.contains("no `scope_id`"), "{m}");
    let (_, m, _) = code(r#"query "SELECT scope_id, 'x' AS kind FROM spans""#);
    assert!(m.contains("`kind` is Utf8 but spans.kind is Int32"), "{m}");
    let (_, m, _) =
        code(r#"query "SELECT scope_id, upper(service_name) AS service_name FROM spans""#);
    assert!(m.contains("read-only"), "{m}");
    let (c, m, _) =
        code(r#"query "SELECT s.* FROM spans s JOIN logs l ON s.trace_id = l.trace_id""#);
    assert_eq!(c, "weir::config::query");
    assert!(m.contains("spans and logs"), "{m}");
    let (_, m, _) = code(r#"query "CREATE TABLE t AS SELECT 1""#);
    assert!(m.contains("only a SELECT"), "{m}");
    let (_, m, _) = code(r#"query "SELECT 1""#);
    assert!(m.contains("no signal table"), "{m}");
    let e = errors("");
    assert_eq!(e[0].code.as_str(), "weir::config::missing");
}

fn red_body(window: &str) -> String {
    format!(
        r##"query #"""
            SELECT service_name, attr(attributes, 'http.route') AS "http.route",
                   count(*) AS calls,
                   count(*) FILTER (WHERE status.code = 2) AS errors,
                   histogram(duration_ms(start_time, end_time), [15, 35]) AS duration
            FROM spans GROUP BY 1, 2 ORDER BY 1, 2
            """#
        window {{ {window} }}
        metric "calls" kind="sum" name="calls" unit="1"
        metric "errors" kind="sum" name="errors"
        metric "duration" kind="histogram" name="duration" unit="ms""##
    )
}

/// (window start s, window end s, service, route, metric, value).
type Point = (i64, i64, String, String, String, String);

fn points(batches: &[Batch]) -> Vec<Point> {
    let mut out = Vec::new();
    for b in batches {
        assert_eq!(b.signal(), Signal::Metrics);
        for rm in decode_metrics(b).resource_metrics {
            let svc = rm.resource.as_ref().map_or(String::new(), |r| {
                r.attributes
                    .iter()
                    .find(|a| a.key == "service.name")
                    .and_then(|a| a.value.as_ref())
                    .map(|v| format!("{:?}", v.value))
                    .unwrap_or_default()
            });
            for sm in rm.scope_metrics {
                assert_eq!(sm.scope.as_ref().map(|s| s.name.as_str()), Some("weir.sql"));
                for m in sm.metrics {
                    let mut push = |attrs: &[KeyValue], start: u64, end: u64, v: String| {
                        let route = attrs
                            .iter()
                            .find(|a| a.key == "http.route")
                            .and_then(|a| a.value.as_ref())
                            .map(|v| format!("{:?}", v.value))
                            .unwrap_or_default();
                        let secs = |t: u64| (t as i64 - BASE as i64) / 1_000_000_000;
                        out.push((
                            secs(start),
                            secs(end),
                            svc.clone(),
                            route,
                            m.name.clone(),
                            v,
                        ));
                    };
                    match &m.data {
                        Some(Data::Sum(s)) => {
                            assert_eq!(s.aggregation_temporality, 1, "delta");
                            assert!(s.is_monotonic);
                            for p in &s.data_points {
                                let v = match p.value {
                                    Some(number_data_point::Value::AsInt(i)) => i.to_string(),
                                    other => format!("{other:?}"),
                                };
                                push(&p.attributes, p.start_time_unix_nano, p.time_unix_nano, v);
                            }
                        }
                        Some(Data::Histogram(h)) => {
                            for p in &h.data_points {
                                let v = format!(
                                    "n={} sum={} min={:?} max={:?} b={:?} c={:?}",
                                    p.count,
                                    p.sum.unwrap_or(f64::NAN),
                                    p.min,
                                    p.max,
                                    p.explicit_bounds,
                                    p.bucket_counts
                                );
                                push(&p.attributes, p.start_time_unix_nano, p.time_unix_nano, v);
                            }
                        }
                        other => panic!("unexpected metric {other:?}"),
                    }
                }
            }
        }
    }
    out.sort();
    out
}

fn p(start: i64, end: i64, svc: &str, route: &str, metric: &str, v: &str) -> Point {
    (
        start,
        end,
        format!("{:?}", Some(any_value::Value::StringValue(svc.into()))),
        format!("{:?}", Some(any_value::Value::StringValue(route.into()))),
        metric.into(),
        v.into(),
    )
}

#[tokio::test]
async fn tumbling_window_counts_out_of_order_rows_and_drops_late_ones() {
    let c = config(&red_body(r#"size "10s"; lateness "5s""#));
    let mut h = Harness::start(c);
    // Window [0, 10) gets rows at 1 and 2, then 8 after a row at 12 (out of
    // order, within lateness); a row at 21 closes it; a row at 3 after that
    // is late.
    h.send(Message::new(spans(&[
        S("cart", "/a", 0, 1, 10),
        S("cart", "/a", 2, 2, 30),
    ])))
    .await;
    h.send(Message::new(spans(&[S("cart", "/a", 0, 12, 10)])))
        .await;
    h.send(Message::new(spans(&[S("cart", "/a", 0, 8, 40)])))
        .await;
    h.send(Message::new(spans(&[S("cart", "/a", 0, 21, 10)])))
        .await;
    let first = h.next().await.expect("window [0,10) closed");
    h.send(Message::new(spans(&[S("cart", "/a", 0, 3, 10)])))
        .await;
    let (rest, metrics) = h.finish().await;
    let got = points(&[first.batch]);
    assert_eq!(
        got,
        vec![
            p(0, 10, "cart", "/a", "calls", "3"),
            p(
                0,
                10,
                "cart",
                "/a",
                "duration",
                "n=3 sum=80 min=Some(10.0) max=Some(40.0) b=[15.0, 35.0] c=[1, 1, 1]"
            ),
            p(0, 10, "cart", "/a", "errors", "1"),
        ]
    );
    let got = points(&rest.into_iter().map(|m| m.batch).collect::<Vec<_>>());
    let calls: Vec<&Point> = got.iter().filter(|p| p.4 == "calls").collect();
    assert_eq!(
        calls,
        vec![
            &p(10, 20, "cart", "/a", "calls", "1"),
            &p(20, 30, "cart", "/a", "calls", "1")
        ]
    );
    assert!(
        got.iter()
            .any(|x| x == &p(10, 20, "cart", "/a", "errors", "0")),
        "{got:?}"
    );
    assert_eq!(metrics.items_dropped(), 1, "the late row");
}

#[tokio::test]
async fn hopping_windows_count_each_row_in_every_window() {
    let c = config(&red_body(r#"size "10s"; hop "5s""#));
    let rows = [
        S("shop", "/a", 0, 1, 10),
        S("shop", "/a", 0, 6, 10),
        S("shop", "/a", 0, 12, 10),
    ];
    let (out, _) = run(c, rows.iter().map(|r| spans(&[*r])).collect()).await;
    let got = points(&out);
    let calls: Vec<(i64, i64, String)> = got
        .iter()
        .filter(|p| p.4 == "calls")
        .map(|p| (p.0, p.1, p.5.clone()))
        .collect();
    // Windows: [-5,5) {1}, [0,10) {1,6}, [5,15) {6,12}, [10,20) {12}.
    let want: Vec<(i64, i64, String)> = [(-5, 5, "1"), (0, 10, "2"), (5, 15, "2"), (10, 20, "1")]
        .iter()
        .map(|(a, b, c)| (*a, *b, (*c).to_string()))
        .collect();
    assert_eq!(calls, want);
}

#[tokio::test]
async fn memory_limit_closes_windows_early_without_losing_rows() {
    let c = config(&red_body(r#"size "1h"; max-memory 1"#));
    let batches: Vec<Batch> = (0..5)
        .map(|i| spans(&[S("cart", "/a", 0, i, 10), S("shop", "/b", 0, i, 10)]))
        .collect();
    let (out, _) = run(c, batches).await;
    assert!(out.len() >= 2, "closed early more than once: {}", out.len());
    let got = points(&out);
    let total: u64 = got
        .iter()
        .filter(|p| p.4 == "calls")
        .map(|p| p.5.parse::<u64>().unwrap_or(0))
        .sum();
    assert_eq!(total, 10, "every row is in some window");
}

#[tokio::test]
async fn window_holds_acks_until_its_points_are_emitted() {
    let c = config(&red_body(r#"size "10s""#));
    let mut h = Harness::start(c);
    let (ack, mut outcome) = Ack::new();
    h.send(Message::with_ack(spans(&[S("cart", "/a", 0, 1, 10)]), ack))
        .await;
    h.send(Message::new(spans(&[S("cart", "/a", 0, 5, 10)])))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        outcome.try_recv().is_err(),
        "settled before the window closed"
    );
    h.send(Message::new(spans(&[S("cart", "/a", 0, 11, 10)])))
        .await;
    let msg = h.next().await.expect("window emitted");
    assert_eq!(msg.acks.len(), 1);
    assert!(
        outcome.try_recv().is_err(),
        "the emitted message carries the ack"
    );
    drop(msg);
    assert_eq!(outcome.try_recv().ok(), Some(Delivery::Delivered));
    let _ = h.finish().await;
}

#[tokio::test]
async fn idle_input_closes_windows() {
    let c = config(&red_body(r#"size "10s"; idle-timeout "200ms""#));
    let mut h = Harness::start(c);
    h.send(Message::new(spans(&[S("cart", "/a", 0, 1, 10)])))
        .await;
    let msg = h.next().await.expect("closed after idle-timeout");
    assert_eq!(
        points(&[msg.batch])[0],
        p(0, 10, "cart", "/a", "calls", "1")
    );
    let _ = h.finish().await;
}

#[test]
fn windowed_validation_errors() {
    let body = red_body(r#"size "10s"; time "name""#);
    let e = errors(&body);
    assert!(
        e[0].message.contains("`name` is Dictionary"),
        "{}",
        e[0].message
    );
    let e = errors(&red_body(r#"size "10s"; hop "3s""#));
    assert!(e[0].message.contains("must divide"), "{}", e[0].message);
    let e = errors(
        r#"query "SELECT service_name, count(*) AS n FROM spans GROUP BY 1"
        window { size "10s" }
        metric "m" kind="sum""#,
    );
    assert!(
        e[0].message.contains("metric `m` names no column"),
        "{}",
        e[0].message
    );
    let e = errors(
        r#"query "SELECT service_name, count(*) AS n, [1] AS l FROM spans GROUP BY 1"
        window { size "10s" }
        metric "n" kind="histogram""#,
    );
    let m = &e[0].message;
    assert!(m.contains("kind needs a histogram"), "{m}");
    assert!(m.contains("`l` is List"), "{m}");
    let e = errors(
        r#"query "SELECT * FROM spans"
        window { size "10s" }
        metric "n" kind="sum""#,
    );
    assert!(e[0].message.contains("GROUP BY"), "{}", e[0].message);
    let e = errors(
        r#"query "SELECT count(*) AS n, histogram(1.0, [2, 1]) AS h FROM spans"
        window { size "10s" }
        metric "n" kind="sum""#,
    );
    assert!(e[0].message.contains("increasing"), "{}", e[0].message);
    let e = errors(
        r#"query "SELECT * FROM spans"
        metric "n" kind="sum""#,
    );
    assert!(
        e[0].message.contains("needs a `window`"),
        "{}",
        e[0].message
    );
}

#[tokio::test]
async fn lookup_join_enriches_and_reloads_when_the_file_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("teams.csv");
    std::fs::write(&csv, "service,team\ncart,payments\nshop,storefront\n").expect("write");
    let body = format!(
        r##"query #"SELECT s.* REPLACE (attr_set(s.attributes, 'team', t.team) AS attributes) FROM spans s LEFT JOIN teams t ON s.service_name = t.service"#
        lookup "teams" path="{}"
        reload-interval "10ms""##,
        csv.display()
    );
    let c = config(&body);
    let mut h = Harness::start(c);
    let team_of = |b: &Batch| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = decode_spans(b)
            .resource_spans
            .iter()
            .flat_map(|rs| {
                let svc = format!(
                    "{:?}",
                    rs.resource.as_ref().map(|r| r.attributes[0].value.clone())
                );
                rs.scope_spans[0].spans.iter().map(move |s| {
                    let team = s
                        .attributes
                        .iter()
                        .find(|a| a.key == "team")
                        .map(|a| format!("{:?}", a.value.as_ref().and_then(|v| v.value.clone())))
                        .unwrap_or_default();
                    (svc.clone(), team)
                })
            })
            .collect();
        v.sort();
        v.dedup();
        v
    };
    h.send(Message::new(spans(&sample()))).await;
    let first = h.next().await.expect("output");
    let teams = team_of(&first.batch);
    assert_eq!(teams.len(), 2);
    assert!(teams[0].1.contains("payments"), "{teams:?}");
    assert!(teams[1].1.contains("storefront"), "{teams:?}");
    std::fs::write(&csv, "service,team\ncart,checkout-team\n").expect("rewrite");
    tokio::time::sleep(Duration::from_millis(50)).await;
    h.send(Message::new(spans(&sample()))).await;
    let second = h.next().await.expect("output");
    let teams = team_of(&second.batch);
    assert!(teams[0].1.contains("checkout-team"), "{teams:?}");
    assert_eq!(teams[1].1, "", "no team for shop any more: {teams:?}");
    // A broken file is refused and the last good table stays.
    std::fs::write(&csv, "service\n").expect("rewrite");
    tokio::time::sleep(Duration::from_millis(50)).await;
    h.send(Message::new(spans(&sample()))).await;
    let third = h.next().await.expect("output");
    assert_eq!(team_of(&third.batch), teams);
    let _ = h.finish().await;
}

#[test]
fn lookup_errors_are_reported() {
    let e = errors(
        r#"query "SELECT * FROM spans"
        lookup "teams" path="/no/such/file.csv""#,
    );
    assert!(
        e[0].message.contains("cannot load lookup table"),
        "{}",
        e[0].message
    );
    let e = errors(
        r#"query "SELECT * FROM spans"
        lookup "spans" path="x.csv""#,
    );
    assert!(e[0].message.contains("taken"), "{}", e[0].message);
}
