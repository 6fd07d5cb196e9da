//! `builtin:enrich` on crafted batches: static upserts, CSV and JSON lookup
//! tables read through a granted directory, reloads, and the errors a user
//! sees for a missing file or a missing grant.

use std::time::{Duration, SystemTime};

use weir_wasm::{Grant, PluginSource, WasmError};

use crate::common::*;

fn enrich(pairs: &[(&str, &str)], dir: Option<&std::path::Path>) -> weir_wasm::WasmConfig {
    let mut c = config(PluginSource::Builtin("enrich".to_string()), pairs);
    if let Some(d) = dir {
        c.grants = vec![Grant {
            host: d.to_path_buf(),
            guest: "/lookups".to_string(),
        }];
    }
    c
}

fn resource_attr<'a>(
    req: &'a opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
    i: usize,
    key: &str,
) -> Option<&'a str> {
    attr_str(&req.resource_spans[i].resource.as_ref()?.attributes, key)
}

#[tokio::test]
async fn static_values_are_upserted_on_resources_and_records() {
    let node = build(&enrich(
        &[
            ("resource.deployment.environment", "prod"),
            ("record.region", "eu-west-1"),
        ],
        None,
    ));
    let batch = traces(
        vec![kv("service.name", "a"), kv("deployment.environment", "dev")],
        vec![
            span("x", trace_id(1), vec![kv("region", "us")]),
            span("y", trace_id(2), vec![]),
        ],
    );
    let run = run(node, vec![batch]).await;
    let req = decode_traces(&run.out[0].batch);
    assert_eq!(
        resource_attr(&req, 0, "deployment.environment"),
        Some("prod")
    );
    assert_eq!(resource_attr(&req, 0, "service.name"), Some("a"));
    for s in all_spans(&run.out[0].batch) {
        assert_eq!(attr_str(&s.attributes, "region"), Some("eu-west-1"));
    }
}

#[tokio::test]
async fn a_csv_lookup_adds_columns_and_rows_without_a_match_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("teams.csv"),
        "service.name,team,tier\ncheckout,payments,1\n\"cart, v2\",shop,2\n",
    )
    .unwrap();
    let node = build(&enrich(
        &[
            ("lookup.teams.file", "/lookups/teams.csv"),
            ("lookup.teams.key", "service.name"),
            ("lookup.teams.prefix", "owner."),
        ],
        Some(dir.path()),
    ));
    let batch = traces_of(vec![
        (
            vec![kv("service.name", "checkout")],
            vec![span("a", trace_id(1), vec![])],
        ),
        (
            vec![kv("service.name", "cart, v2")],
            vec![span("b", trace_id(2), vec![])],
        ),
        (
            vec![kv("service.name", "unknown"), kv("owner.team", "kept")],
            vec![span("c", trace_id(3), vec![])],
        ),
    ]);
    let run = run(node, vec![batch]).await;
    let req = decode_traces(&run.out[0].batch);
    assert_eq!(resource_attr(&req, 0, "owner.team"), Some("payments"));
    assert_eq!(resource_attr(&req, 0, "owner.tier"), Some("1"));
    assert_eq!(resource_attr(&req, 1, "owner.team"), Some("shop"));
    assert_eq!(resource_attr(&req, 2, "owner.team"), Some("kept"));
    assert_eq!(resource_attr(&req, 2, "owner.tier"), None);
}

#[tokio::test]
async fn a_changed_table_is_reloaded_and_a_broken_one_keeps_the_old() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("teams.json");
    std::fs::write(&file, r#"{"checkout": {"team": "payments"}}"#).unwrap();
    let mut node = build(&enrich(
        &[
            ("lookup.t.file", "/lookups/teams.json"),
            ("lookup.t.key", "service.name"),
            ("lookup.t.reload", "0s"),
        ],
        Some(dir.path()),
    ));
    let batch = || {
        traces(
            vec![kv("service.name", "checkout")],
            vec![span("a", trace_id(1), vec![])],
        )
    };
    let team = |node: &mut weir_wasm::WasmProcessor| match node.process(&batch()) {
        weir_wasm::processor::Outcome::Processed(p) => {
            resource_attr(&decode_traces(&p.batch), 0, "team").map(str::to_string)
        }
        weir_wasm::processor::Outcome::Failed { error } => panic!("{error:?}"),
    };
    assert_eq!(team(&mut node).as_deref(), Some("payments"));
    let later = |s: u64| SystemTime::now() + Duration::from_secs(s);
    std::fs::write(&file, r#"{"checkout": {"team": "billing"}}"#).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(later(10))
        .unwrap();
    assert_eq!(team(&mut node).as_deref(), Some("billing"));
    std::fs::write(&file, "{not json").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(later(20))
        .unwrap();
    assert_eq!(
        team(&mut node).as_deref(),
        Some("billing"),
        "the previous table stays"
    );
    assert_eq!(
        node.telemetry()
            .counter("lookup_reload_failures_total", &[("lookup", "t")]),
        Some(1)
    );
}

#[tokio::test]
async fn a_missing_file_or_grant_refuses_the_configuration_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = [
        ("lookup.t.file", "/lookups/nope.csv"),
        ("lookup.t.key", "service.name"),
    ];
    for (grant, needle) in [
        (Some(dir.path()), "cannot read /lookups/nope.csv"),
        (None, "grants"),
    ] {
        let err = enrich(&pairs, grant)
            .build_processor("test", engine(), std::path::Path::new("/"))
            .map(|_| ())
            .expect_err("refused");
        match &err {
            WasmError::Start { source, .. } => {
                assert!(source.to_string().contains(needle), "{err}")
            }
            other => panic!("{other}"),
        }
    }
    let err = enrich(&[], None)
        .build_processor("test", engine(), std::path::Path::new("/"))
        .map(|_| ())
        .expect_err("refused");
    assert!(err.to_string().contains("nothing to add"), "{err}");
}
