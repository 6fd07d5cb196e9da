use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt32Type};
use arrow_array::{Array, MapArray, RecordBatch};

use super::*;
use crate::prometheus::relabel::{Action, RelabelRule};

/// One row of the records table, read back for assertions.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    name: String,
    ty: u8,
    attrs: BTreeMap<String, String>,
    value: Option<f64>,
    count: Option<u64>,
    sum: Option<f64>,
    bounds: Vec<f64>,
    buckets: Vec<u64>,
    quantiles: Vec<(f64, f64)>,
    time: i64,
    flags: u32,
    exemplars: usize,
}

fn rows(records: &RecordBatch) -> Vec<Row> {
    let col = |n: &str| records.column_by_name(n).unwrap().clone();
    let names = col("metric_name");
    let names = names.as_dictionary::<UInt32Type>();
    let values = names.values().as_string::<i32>().clone();
    let ty = col("metric_type");
    let attrs = col("attributes");
    let attrs = attrs.as_any().downcast_ref::<MapArray>().unwrap();
    let value = col("value_double");
    let value = value.as_primitive::<Float64Type>();
    let count = col("count");
    let count = count.as_primitive::<arrow_array::types::UInt64Type>();
    let sum = col("sum");
    let sum = sum.as_primitive::<Float64Type>();
    let bounds = col("explicit_bounds");
    let bounds = bounds.as_list::<i32>();
    let buckets = col("bucket_counts");
    let buckets = buckets.as_list::<i32>();
    let q = col("quantile_values");
    let q = q.as_list::<i32>();
    let time = col("time");
    let time = time.as_primitive::<arrow_array::types::TimestampNanosecondType>();
    let flags = col("flags");
    let flags = flags.as_primitive::<UInt32Type>();
    let ex = col("exemplars");
    let ex = ex.as_list::<i32>();
    (0..records.num_rows())
        .map(|i| {
            let key = names.keys().value(i) as usize;
            let entries = attrs.value(i);
            let keys = entries.column(0).as_string::<i32>();
            let vals = entries.column(1).as_struct().column(1).as_string::<i32>();
            let attrs = (0..keys.len())
                .map(|j| (keys.value(j).to_string(), vals.value(j).to_string()))
                .collect();
            let f64s = |l: &arrow_array::ListArray| -> Vec<f64> {
                if l.is_null(i) {
                    return vec![];
                }
                l.value(i).as_primitive::<Float64Type>().values().to_vec()
            };
            Row {
                name: values.value(key).to_string(),
                ty: ty.as_primitive::<arrow_array::types::UInt8Type>().value(i),
                attrs,
                value: value.is_valid(i).then(|| value.value(i)),
                count: count.is_valid(i).then(|| count.value(i)),
                sum: sum.is_valid(i).then(|| sum.value(i)),
                bounds: f64s(bounds),
                buckets: if buckets.is_null(i) {
                    vec![]
                } else {
                    buckets
                        .value(i)
                        .as_primitive::<arrow_array::types::UInt64Type>()
                        .values()
                        .to_vec()
                },
                quantiles: if q.is_null(i) {
                    vec![]
                } else {
                    let s = q.value(i);
                    let s = s.as_struct();
                    let a = s.column(0).as_primitive::<Float64Type>();
                    let b = s.column(1).as_primitive::<Float64Type>();
                    (0..a.len()).map(|j| (a.value(j), b.value(j))).collect()
                },
                time: time.value(i),
                flags: flags.value(i),
                exemplars: if ex.is_null(i) { 0 } else { ex.value(i).len() },
            }
        })
        .collect()
}

struct Fixture {
    target: TargetLabels,
    rules: Vec<RelabelRule>,
    hasher: foldhash::fast::FixedState,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            target: TargetLabels {
                job: "app".into(),
                instance: "h:1".into(),
                extra: vec![("env".into(), "prod".into())],
                honor_labels: false,
                honor_timestamps: true,
            },
            rules: Vec::new(),
            hasher: foldhash::fast::FixedState::with_seed(1),
        }
    }

    fn run(
        &self,
        body: &str,
        format: Format,
        pass: Pass<'_>,
    ) -> Result<(Outcome, Vec<Row>), IngestError> {
        let mut b = MetricTablesBuilder::default();
        let r = b.resource(&[]).unwrap();
        let sid = b.scope(r, "t", "").unwrap();
        let ing = Ingest {
            target: &self.target,
            metric_relabel: &self.rules,
            scrape_ms: 1000,
            scope_id: sid,
            sample_limit: 0,
            hasher: &self.hasher,
        };
        let o = ingest(&ing, body, format, pass, &mut b)?;
        let t = b.finish()?;
        Ok((o, rows(&t.records)))
    }

    fn live(&self, body: &str, format: Format) -> (Outcome, Vec<Row>) {
        let mut cur = SeriesSet::default();
        let prev = SeriesSet::default();
        self.run(
            body,
            format,
            Pass::Live {
                current: &mut cur,
                previous: &prev,
            },
        )
        .unwrap()
    }
}

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

const TEXT: &str = "# HELP reqs_total Requests.\n# TYPE reqs_total counter\n\
reqs_total{code=\"200\"} 10\nreqs_total{code=\"500\"} 2 500\n\
# TYPE temp gauge\ntemp 21.5\n\
# TYPE lat histogram\nlat_bucket{le=\"0.1\"} 1\nlat_bucket{le=\"1\"} 3\nlat_bucket{le=\"+Inf\"} 4\nlat_sum 2.5\nlat_count 4\n\
# TYPE rpc summary\nrpc{quantile=\"0.5\"} 0.2\nrpc{quantile=\"0.9\"} 0.7\nrpc_sum 9\nrpc_count 30\n\
untyped_thing{job=\"other\"} 7\n";

#[test]
fn families_become_points_of_the_otlp_model() {
    let f = Fixture::new();
    let (o, rows) = f.live(TEXT, Format::Text);
    assert_eq!(o.samples, 13);
    assert_eq!(o.added, 13);
    assert_eq!(rows.len(), 6);
    let r = &rows[0];
    assert_eq!(
        (r.name.as_str(), r.ty, r.value),
        ("reqs_total", 2, Some(10.0))
    );
    assert_eq!(r.attrs, attrs(&[("code", "200"), ("env", "prod")]));
    assert_eq!(r.time, 1_000_000_000);
    // honor-timestamps: the exposed timestamp wins.
    assert_eq!(rows[1].time, 500_000_000);
    assert_eq!((rows[2].name.as_str(), rows[2].ty), ("temp", 1));
    let h = &rows[3];
    assert_eq!((h.name.as_str(), h.ty), ("lat", 3));
    assert_eq!(h.bounds, vec![0.1, 1.0]);
    assert_eq!(h.buckets, vec![1, 2, 1]);
    assert_eq!((h.count, h.sum), (Some(4), Some(2.5)));
    let s = &rows[4];
    assert_eq!((s.name.as_str(), s.ty), ("rpc", 5));
    assert_eq!(s.quantiles, vec![(0.5, 0.2), (0.9, 0.7)]);
    assert_eq!((s.count, s.sum), (Some(30), Some(9.0)));
    // A scraped `job` clashes with the target's: exported_job.
    assert_eq!(
        rows[5].attrs,
        attrs(&[("exported_job", "other"), ("env", "prod")])
    );
}

#[test]
fn honor_labels_keeps_the_scraped_value() {
    let mut f = Fixture::new();
    f.target.honor_labels = true;
    let (_, rows) = f.live("a{env=\"dev\",job=\"x\"} 1\n", Format::Text);
    assert_eq!(rows[0].attrs, attrs(&[("env", "dev"), ("job", "x")]));
}

#[test]
fn openmetrics_counters_created_and_exemplars() {
    let f = Fixture::new();
    let body = "# TYPE foo counter\n# HELP foo Foos.\nfoo_total{a=\"1\"} 3 # {trace_id=\"0102030405060708090a0b0c0d0e0f10\"} 1 0.5\nfoo_created{a=\"1\"} 1700000000\n\
# TYPE h histogram\nh_bucket{le=\"1.0\"} 1 # {x=\"y\"} 0.3\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 1.5\n# EOF\n";
    let (_, rows) = f.live(body, Format::OpenMetrics);
    assert_eq!(rows.len(), 3);
    assert_eq!((rows[0].name.as_str(), rows[0].exemplars), ("foo_total", 1));
    assert_eq!((rows[1].name.as_str(), rows[1].ty), ("foo_created", 1));
    assert_eq!((rows[2].name.as_str(), rows[2].exemplars), ("h", 1));
    assert_eq!(rows[2].buckets, vec![1, 1]);
}

#[test]
fn duplicates_are_dropped_and_counted() {
    let f = Fixture::new();
    let (o, rows) = f.live("a 1\na 2\nb 1\n", Format::Text);
    assert_eq!((o.duplicates, rows.len()), (1, 2));
    assert_eq!(rows[0].value, Some(1.0));
}

#[test]
fn stale_pass_marks_only_disappeared_series() {
    let f = Fixture::new();
    let prev_body = "a{x=\"1\"} 1\na{x=\"2\"} 1\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 1\n";
    let now_body = "a{x=\"1\"} 2\n";
    let mut prev = SeriesSet::default();
    let empty = SeriesSet::default();
    let _ = f
        .run(
            prev_body,
            Format::Text,
            Pass::Live {
                current: &mut prev,
                previous: &empty,
            },
        )
        .unwrap();
    let mut cur = SeriesSet::default();
    let (o, _) = f
        .run(
            now_body,
            Format::Text,
            Pass::Live {
                current: &mut cur,
                previous: &prev,
            },
        )
        .unwrap();
    assert_eq!((o.seen_again, o.added), (1, 0));
    let (_, stale) = f
        .run(prev_body, Format::Text, Pass::Stale { current: &cur })
        .unwrap();
    assert_eq!(stale.len(), 2, "{stale:?}");
    assert_eq!(stale[0].attrs, attrs(&[("x", "2"), ("env", "prod")]));
    assert_eq!(stale[0].flags, NO_RECORDED_VALUE);
    assert_eq!(stale[0].value.map(f64::to_bits), Some(STALE_NAN));
    assert_eq!(
        (stale[1].name.as_str(), stale[1].flags),
        ("h", NO_RECORDED_VALUE)
    );
}

#[test]
fn metric_relabel_drops_and_rewrites() {
    let mut f = Fixture::new();
    let mut drop = RelabelRule::new(Action::Drop, "go_.*").unwrap();
    drop.source_labels = vec!["__name__".into()];
    let mut rename = RelabelRule::new(Action::Replace, "(.*)").unwrap();
    rename.source_labels = vec!["code".into()];
    rename.target_label = "status".into();
    let drop_code = RelabelRule::new(Action::LabelDrop, "code").unwrap();
    f.rules = vec![drop, rename, drop_code];
    let (o, rows) = f.live("go_gc 1\nreqs{code=\"200\"} 5\n", Format::Text);
    assert_eq!((o.samples, o.post_relabel), (2, 1));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].attrs, attrs(&[("env", "prod"), ("status", "200")]));
}

#[test]
fn bad_bodies_are_refused_whole() {
    let f = Fixture::new();
    let mut cur = SeriesSet::default();
    let prev = SeriesSet::default();
    let err = f
        .run(
            "a 1\nb{ 2\n",
            Format::Text,
            Pass::Live {
                current: &mut cur,
                previous: &prev,
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    let err = f
        .run(
            "# TYPE h histogram\nh_bucket 1\n",
            Format::Text,
            Pass::Live {
                current: &mut cur,
                previous: &prev,
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("`le`"), "{err}");
}

#[test]
fn sample_limit_fails_the_scrape() {
    let f = Fixture::new();
    let mut b = MetricTablesBuilder::default();
    let mut cur = SeriesSet::default();
    let prev = SeriesSet::default();
    let ing = Ingest {
        target: &f.target,
        metric_relabel: &[],
        scrape_ms: 0,
        scope_id: 0,
        sample_limit: 1,
        hasher: &f.hasher,
    };
    let _ = Arc::new(());
    let err = ingest(
        &ing,
        "a 1\nb 2\n",
        Format::Text,
        Pass::Live {
            current: &mut cur,
            previous: &prev,
        },
        &mut b,
    )
    .unwrap_err();
    assert!(matches!(err, IngestError::SampleLimit(1)));
}
