//! Record columns, resource indexes, emitted metric points and ticks,
//! through a test plugin and a real node.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::trace::v1::Status;
use prost::Message as _;
use weir_pdata::Signal;

use crate::common::*;

fn metric_points(batch: &weir_pdata::Batch) -> Vec<(String, f64)> {
    let req = ExportMetricsServiceRequest::decode(batch.otlp_bytes().unwrap()).unwrap();
    let mut out = Vec::new();
    for rm in req.resource_metrics {
        for sm in rm.scope_metrics {
            for m in sm.metrics {
                let v = match m.data {
                    Some(Data::Sum(s)) => s.data_points[0].value,
                    Some(Data::Gauge(g)) => g.data_points[0].value,
                    other => panic!("unexpected {other:?}"),
                };
                let v = match v {
                    Some(
                        opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsDouble(
                            d,
                        ),
                    ) => d,
                    other => panic!("unexpected {other:?}"),
                };
                out.push((m.name, v));
            }
        }
    }
    out
}

#[tokio::test]
async fn columns_are_read_and_written_and_points_emitted_on_batches_and_ticks() {
    let mut c = config(plugin_file("weir_test_plugin_columns"), &[]);
    c.tick = Some(Duration::from_millis(20));
    let node = build(&c);
    let mut failed = span("db query", trace_id(7), vec![]);
    failed.status = Some(Status {
        code: 2,
        message: "boom".to_string(),
    });
    let batch = traces_of(vec![
        (
            vec![kv("service.name", "a")],
            vec![span("get user", trace_id(1), vec![])],
        ),
        (
            vec![kv("service.name", "b")],
            vec![failed, span("get user", vec![], vec![])],
        ),
    ]);
    let run = run(node, vec![batch]).await;
    let traces: Vec<_> = run
        .out
        .iter()
        .filter(|m| m.batch.signal() == Signal::Traces)
        .collect();
    let metrics: Vec<_> = run
        .out
        .iter()
        .filter(|m| m.batch.signal() == Signal::Metrics)
        .collect();
    assert_eq!(traces.len(), 1);
    let spans = all_spans(&traces[0].batch);
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["GET USER", "DB QUERY", "GET USER"]);
    let ints = |key: &str| -> Vec<Option<i64>> {
        spans
            .iter()
            .map(|s| match attr(&s.attributes, key) {
                Some(Value::IntValue(n)) => Some(*n),
                _ => None,
            })
            .collect()
    };
    assert_eq!(ints("resource.row"), [Some(0), Some(1), Some(1)]);
    assert_eq!(ints("status.code"), [None, Some(2), None]);
    assert_eq!(ints("trace_id.width"), [Some(16), Some(16), None]);
    assert_eq!(spans[1].status.as_ref().unwrap().message, "boom");
    assert!(!metrics.is_empty());
    let points: Vec<(String, f64)> = metrics
        .iter()
        .flat_map(|m| metric_points(&m.batch))
        .collect();
    assert!(
        points.contains(&("spans_seen".to_string(), 3.0)),
        "{points:?}"
    );
    assert!(
        points.iter().any(|(n, _)| n == "ticks"),
        "the final tick at shutdown emits: {points:?}"
    );
}
