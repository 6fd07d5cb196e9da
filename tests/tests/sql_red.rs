//! End to end: generated spans -> the SQL processor's windowed RED query ->
//! metric points, compared with a reference computation over the very same
//! spans (written by a second exporter fanned out from the receiver).
//!
//! `weir run` exits on its own once the generator has sent `count` spans;
//! the shutdown drain closes every open window, so the sum of the points of
//! all windows must equal the totals over all spans exactly: calls, errors
//! and every histogram bucket per service and route.

use std::collections::BTreeMap;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point};
use weir_pdata::Signal;
use weir_tests::Weir;

const BOUNDS: [f64; 8] = [5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0, 5000.0];

fn pipeline() -> String {
    let bounds = BOUNDS.map(|b| b.to_string()).join(", ");
    format!(
        r##"
settings {{ admin #false; }}
receiver "gen" type="generate" {{
    signals "traces"
    rate 0
    batch-size 200
    count 6000
    services 4
    seed 11
}}
processor "red" type="sql" {{
    from "gen"
    query #"""
        SELECT service_name, attr(attributes, 'http.route') AS "http.route",
               count(*) AS calls,
               count(*) FILTER (WHERE status.code = 2) AS errors,
               histogram(duration_ms(start_time, end_time), [{bounds}]) AS duration
        FROM spans WHERE kind = 2 GROUP BY 1, 2
        """#
    window {{ size "500ms"; lateness "5s"; }}
    metric "calls" kind="sum"
    metric "errors" kind="sum"
    metric "duration" kind="histogram" unit="ms"
}}
exporter "metrics" type="debug" {{ from "red"; verbosity "detailed"; path "metrics.jsonl"; }}
exporter "spans" type="debug" {{ from "gen"; verbosity "detailed"; path "spans.jsonl"; }}
"##
    )
}

/// Totals of one series.
#[derive(Debug, Default, Clone, PartialEq)]
struct Red {
    calls: i64,
    errors: i64,
    count: u64,
    buckets: Vec<u64>,
    sum: f64,
}

fn string_attr(attrs: &[KeyValue], key: &str) -> String {
    attrs
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref())
        .and_then(|v| match &v.value {
            Some(any_value::Value::StringValue(s)) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn lines<M: prost::Message + Default>(path: &std::path::Path, signal: Signal) -> Vec<M> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let bytes =
                weir_pdata::otlp::json_to_protobuf(signal, l.as_bytes()).expect("OTLP/JSON");
            M::decode(bytes.as_slice()).expect("protobuf")
        })
        .collect()
}

fn reference(spans: &[ExportTraceServiceRequest]) -> BTreeMap<(String, String), Red> {
    let mut out: BTreeMap<(String, String), Red> = BTreeMap::new();
    for req in spans {
        for rs in &req.resource_spans {
            let service = string_attr(
                &rs.resource
                    .as_ref()
                    .map(|r| r.attributes.clone())
                    .unwrap_or_default(),
                "service.name",
            );
            for ss in &rs.scope_spans {
                for s in ss.spans.iter().filter(|s| s.kind == 2) {
                    let route = string_attr(&s.attributes, "http.route");
                    let red = out.entry((service.clone(), route)).or_insert_with(|| Red {
                        buckets: vec![0; BOUNDS.len() + 1],
                        ..Default::default()
                    });
                    let ms =
                        (s.end_time_unix_nano as i64 - s.start_time_unix_nano as i64) as f64 / 1e6;
                    red.calls += 1;
                    red.errors += i64::from(s.status.as_ref().is_some_and(|st| st.code == 2));
                    red.count += 1;
                    red.sum += ms;
                    red.buckets[BOUNDS.partition_point(|b| *b < ms)] += 1;
                }
            }
        }
    }
    out
}

fn new_red() -> Red {
    Red {
        buckets: vec![0; BOUNDS.len() + 1],
        ..Default::default()
    }
}

/// The totals over every window's points, and the number of windows.
fn from_points(
    metrics: &[ExportMetricsServiceRequest],
) -> (BTreeMap<(String, String), Red>, usize) {
    let mut out: BTreeMap<(String, String), Red> = BTreeMap::new();
    let mut windows = std::collections::BTreeSet::new();
    for req in metrics {
        for rm in &req.resource_metrics {
            let resource = rm
                .resource
                .as_ref()
                .map(|r| r.attributes.clone())
                .unwrap_or_default();
            let service = string_attr(&resource, "service.name");
            for sm in &rm.scope_metrics {
                assert_eq!(sm.scope.as_ref().map(|s| s.name.as_str()), Some("weir.sql"));
                for m in &sm.metrics {
                    match &m.data {
                        Some(Data::Sum(s)) => {
                            assert_eq!(s.aggregation_temporality, 1, "delta sums");
                            for p in &s.data_points {
                                assert!(p.time_unix_nano > p.start_time_unix_nano);
                                let _ = windows.insert((p.start_time_unix_nano, p.time_unix_nano));
                                let v = match p.value {
                                    Some(number_data_point::Value::AsInt(i)) => i,
                                    other => panic!("{} is not an int: {other:?}", m.name),
                                };
                                let red = out
                                    .entry((
                                        service.clone(),
                                        string_attr(&p.attributes, "http.route"),
                                    ))
                                    .or_insert_with(new_red);
                                match m.name.as_str() {
                                    "calls" => red.calls += v,
                                    "errors" => red.errors += v,
                                    other => panic!("unexpected sum {other}"),
                                }
                            }
                        }
                        Some(Data::Histogram(h)) => {
                            assert_eq!(m.unit, "ms");
                            for p in &h.data_points {
                                assert_eq!(p.explicit_bounds, BOUNDS.to_vec());
                                let red = out
                                    .entry((
                                        service.clone(),
                                        string_attr(&p.attributes, "http.route"),
                                    ))
                                    .or_insert_with(new_red);
                                red.count += p.count;
                                red.sum += p.sum.unwrap_or_default();
                                for (b, c) in red.buckets.iter_mut().zip(&p.bucket_counts) {
                                    *b += c;
                                }
                            }
                        }
                        other => panic!("unexpected metric {other:?}"),
                    }
                }
            }
        }
    }
    (out, windows.len())
}

#[tokio::test]
async fn red_metrics_equal_a_reference_over_the_same_spans() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut weir = Weir::with_pipeline(dir.path(), &pipeline());
    let status = weir.wait_exit(Duration::from_secs(120)).await;
    assert!(
        status.success(),
        "weir exited with {status}:\n{}",
        weir.log()
    );
    let spans: Vec<ExportTraceServiceRequest> =
        lines(&dir.path().join("spans.jsonl"), Signal::Traces);
    let metrics: Vec<ExportMetricsServiceRequest> =
        lines(&dir.path().join("metrics.jsonl"), Signal::Metrics);
    let total: usize = spans
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    assert_eq!(total, 6000, "every generated span was written");
    let want = reference(&spans);
    let (got, windows) = from_points(&metrics);
    assert!(want.len() >= 8, "several series: {}", want.len());
    assert!(
        want.values().any(|r| r.errors > 0),
        "the generator makes some errors"
    );
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "the same series"
    );
    for (key, w) in &want {
        let g = &got[key];
        assert_eq!(
            (g.calls, g.errors, g.count, &g.buckets),
            (w.calls, w.errors, w.count, &w.buckets),
            "{key:?}"
        );
        assert!(
            (g.sum - w.sum).abs() <= 1e-6 * w.sum.max(1.0),
            "{key:?}: sum {} vs {}",
            g.sum,
            w.sum
        );
    }
    assert!(
        weir.log().contains("Every receiver has finished"),
        "{}",
        weir.log()
    );
    println!("{} series over {windows} windows", want.len());
}
