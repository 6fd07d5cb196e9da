//! The Prometheus text format / OpenMetrics parser and the ingestion of a
//! scraped body into Arrow tables never panic, whatever the body; what they
//! accept builds valid tables that encode to OTLP.
//!
//! The first input byte picks the format (even: text 0.0.4, odd:
//! OpenMetrics); the rest is the body.

#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_pdata::build::MetricTablesBuilder;
use weir_pdata::{Signal, otlp};
use weir_receivers::prometheus::ingest::{Ingest, Pass, SeriesSet, TargetLabels, ingest};
use weir_receivers::prometheus::parser::{Format, Parser};

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else { return };
    let Ok(body) = std::str::from_utf8(body) else { return };
    let format = if first % 2 == 0 { Format::Text } else { Format::OpenMetrics };
    // The parser alone: every entry or the first error.
    let mut p = Parser::new(body, format);
    while let Some(e) = p.next() {
        if e.is_err() {
            break;
        }
        let _ = p.labels().len();
    }
    // The whole ingestion, live then stale.
    let target = TargetLabels {
        job: "fuzz".into(),
        instance: "h:1".into(),
        extra: vec![("env".into(), "x".into())],
        honor_labels: first & 2 == 0,
        honor_timestamps: first & 4 == 0,
    };
    let hasher = foldhash::fast::FixedState::with_seed(1);
    let mut b = MetricTablesBuilder::default();
    let Ok(r) = b.resource(&[("service.name", "fuzz")]) else { return };
    let Ok(scope_id) = b.scope(r, "fuzz", "") else { return };
    let ing = Ingest { target: &target, metric_relabel: &[], scrape_ms: 1, scope_id, sample_limit: 0, hasher: &hasher };
    let mut current = SeriesSet::default();
    let previous = SeriesSet::default();
    if ingest(&ing, body, format, Pass::Live { current: &mut current, previous: &previous }, &mut b).is_err() {
        return;
    }
    let empty = SeriesSet::default();
    let _ = ingest(&ing, body, format, Pass::Stale { current: &empty }, &mut b);
    let tables = b.finish().expect("accepted bodies build valid tables");
    let _ = otlp::encode(Signal::Metrics, &tables).expect("and encode to OTLP");
});
