//! The OTLP -> Prometheus mapping on tables decoded from OTLP requests.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
    exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
    summary_data_point::ValueAtQuantile,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;
use weir_pdata::{Signal, otlp};

use super::*;

#[derive(Default)]
struct Collect(Vec<(BTreeMap<String, String>, f64, i64, String)>);

impl SeriesSink for Collect {
    fn sample(&mut self, family: &Family<'_>, labels: &[(&str, &str)], value: f64, ts: i64) {
        let mut sorted = labels.to_vec();
        sorted.sort();
        assert_eq!(sorted, labels, "labels must come sorted");
        self.0.push((
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
            ts,
            family.name.to_string(),
        ));
    }
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        key_strindex: 0,
    }
}

fn int_kv(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        key_strindex: 0,
    }
}

fn point(v: f64, attrs: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        time_unix_nano: 2_000_000_000,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

fn metric(name: &str, unit: &str, data: Data) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        description: "d".into(),
        data: Some(data),
        ..Default::default()
    }
}

fn convert_request(metrics: Vec<Metric>, opts: Options) -> (Collect, Stats) {
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "shop"),
                    kv("service.namespace", "prod"),
                    kv("service.instance.id", "pod-1"),
                    kv("k8s.pod.name", "pod-1"),
                ],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    };
    let tables = otlp::decode(Signal::Metrics, &req.encode_to_vec()).unwrap();
    let mut c = Collect::default();
    let stats = convert(&tables, &opts, &mut c).unwrap();
    (c, stats)
}

fn find<'c>(
    c: &'c Collect,
    name: &str,
    extra: &[(&str, &str)],
) -> Vec<&'c (BTreeMap<String, String>, f64, i64, String)> {
    c.0.iter()
        .filter(|(l, ..)| l.get("__name__").map(String::as_str) == Some(name))
        .filter(|(l, ..)| {
            extra
                .iter()
                .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

#[test]
fn every_kind_maps_per_the_spec() {
    let metrics = vec![
        metric(
            "http.requests",
            "{request}",
            Data::Sum(Sum {
                data_points: vec![point(
                    5.0,
                    vec![kv("http.method", "GET"), int_kv("code", 200)],
                )],
                aggregation_temporality: 2,
                is_monotonic: true,
            }),
        ),
        metric(
            "queue.size",
            "1",
            Data::Gauge(Gauge {
                data_points: vec![point(0.5, vec![])],
            }),
        ),
        metric(
            "temp",
            "Cel",
            Data::Sum(Sum {
                data_points: vec![point(-3.0, vec![])],
                aggregation_temporality: 2,
                is_monotonic: false,
            }),
        ),
        metric(
            "latency",
            "s",
            Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    time_unix_nano: 3_000_000_000,
                    count: 6,
                    sum: Some(4.5),
                    bucket_counts: vec![1, 2, 3],
                    explicit_bounds: vec![0.1, 1.0],
                    ..Default::default()
                }],
                aggregation_temporality: 2,
            }),
        ),
        metric(
            "rpc",
            "ms",
            Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    time_unix_nano: 3_000_000_000,
                    count: 10,
                    sum: 20.0,
                    quantile_values: vec![ValueAtQuantile {
                        quantile: 0.99,
                        value: 7.0,
                    }],
                    ..Default::default()
                }],
            }),
        ),
        metric(
            "delta.things",
            "",
            Data::Sum(Sum {
                data_points: vec![point(1.0, vec![])],
                aggregation_temporality: 1,
                is_monotonic: true,
            }),
        ),
    ];
    let (c, stats) = convert_request(metrics, Options::default());
    let counter = find(&c, "http_requests_total", &[]);
    assert_eq!(counter.len(), 1);
    let (labels, value, ts, family) = counter[0];
    assert_eq!(
        (*value, *ts, family.as_str()),
        (5.0, 2000, "http_requests_total")
    );
    assert_eq!(labels.get("job").map(String::as_str), Some("prod/shop"));
    assert_eq!(labels.get("instance").map(String::as_str), Some("pod-1"));
    assert_eq!(labels.get("http_method").map(String::as_str), Some("GET"));
    assert_eq!(labels.get("code").map(String::as_str), Some("200"));
    assert_eq!(find(&c, "queue_size_ratio", &[])[0].1, 0.5);
    assert_eq!(find(&c, "temp_celsius", &[])[0].1, -3.0);
    let buckets: Vec<(String, f64)> = find(&c, "latency_seconds_bucket", &[])
        .iter()
        .map(|(l, v, ..)| (l["le"].clone(), *v))
        .collect();
    assert_eq!(
        buckets,
        vec![("0.1".into(), 1.0), ("1".into(), 3.0), ("+Inf".into(), 6.0)]
    );
    assert_eq!(find(&c, "latency_seconds_sum", &[])[0].1, 4.5);
    assert_eq!(find(&c, "latency_seconds_count", &[])[0].1, 6.0);
    assert_eq!(
        find(&c, "rpc_milliseconds", &[("quantile", "0.99")])[0].1,
        7.0
    );
    assert_eq!(find(&c, "rpc_milliseconds_count", &[])[0].1, 10.0);
    assert_eq!(stats.delta, vec!["delta.things".to_string()]);
    let info = find(&c, "target_info", &[]);
    assert_eq!(info.len(), 1);
    assert_eq!(
        info[0].0.get("k8s_pod_name").map(String::as_str),
        Some("pod-1")
    );
    assert_eq!(info[0].0.get("job").map(String::as_str), Some("prod/shop"));
    assert!(!info[0].0.contains_key("service_name"));
}

#[test]
fn suffixes_and_target_info_can_be_turned_off() {
    let metrics = vec![metric(
        "io",
        "By",
        Data::Sum(Sum {
            data_points: vec![point(1.0, vec![])],
            aggregation_temporality: 2,
            is_monotonic: true,
        }),
    )];
    let (c, _) = convert_request(
        metrics,
        Options {
            add_suffixes: false,
            target_info: false,
        },
    );
    assert_eq!(find(&c, "io", &[]).len(), 1);
    assert!(find(&c, "target_info", &[]).is_empty());
}

#[test]
fn exponential_histograms_become_cumulative_buckets() {
    let metrics = vec![metric(
        "size",
        "By",
        Data::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![ExponentialHistogramDataPoint {
                time_unix_nano: 1_000_000,
                count: 7,
                sum: Some(30.0),
                scale: 0,
                zero_count: 1,
                positive: Some(Buckets {
                    offset: 0,
                    bucket_counts: vec![2, 3],
                }),
                negative: Some(Buckets {
                    offset: 1,
                    bucket_counts: vec![1],
                }),
                ..Default::default()
            }],
            aggregation_temporality: 2,
        }),
    )];
    let (c, _) = convert_request(metrics, Options::default());
    let buckets: Vec<(String, f64)> = find(&c, "size_bytes_bucket", &[])
        .iter()
        .map(|(l, v, ..)| (l["le"].clone(), *v))
        .collect();
    // negative index 1 covers [-4, -2): upper bound -2; zero bucket at 0;
    // positive index 0 covers (1, 2], index 1 covers (2, 4].
    assert_eq!(
        buckets,
        vec![
            ("-2".into(), 1.0),
            ("0".into(), 2.0),
            ("2".into(), 4.0),
            ("4".into(), 7.0),
            ("+Inf".into(), 7.0)
        ]
    );
}

#[test]
fn no_recorded_value_is_a_stale_marker() {
    let mut p = point(1.0, vec![]);
    p.flags = 1;
    let metrics = vec![metric(
        "g",
        "",
        Data::Gauge(Gauge {
            data_points: vec![p],
        }),
    )];
    let (c, _) = convert_request(metrics, Options::default());
    assert_eq!(find(&c, "g", &[])[0].1.to_bits(), STALE_NAN);
}
