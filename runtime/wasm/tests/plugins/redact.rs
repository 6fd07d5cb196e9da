//! `builtin:redact` on crafted batches.

use opentelemetry_proto::tonic::common::v1::any_value;
use sha2::{Digest, Sha256};
use weir_wasm::{CallError, PluginSource, WasmError};

use crate::common::*;

fn redact(pairs: &[(&str, &str)]) -> weir_wasm::WasmConfig {
    config(PluginSource::Builtin("redact".to_string()), pairs)
}

#[tokio::test]
async fn masks_matches_of_a_value_pattern_in_listed_keys() {
    let node = build(&redact(&[
        ("rule.pw.keys", "db.statement"),
        ("rule.pw.pattern", r"password=[^&\s]*"),
        ("rule.pw.replacement", "password=***"),
    ]));
    let telemetry = node.telemetry().clone();
    // The node's counters stay rendered while someone holds them.
    let _stats = node.stats().clone();
    let batch = traces(
        vec![kv("db.statement", "password=resource-level")],
        vec![
            span(
                "q1",
                trace_id(1),
                vec![
                    kv("db.statement", "SELECT 1 WHERE password=hunter2 AND x=1"),
                    kv("other", "password=untouched"),
                ],
            ),
            span("q2", trace_id(2), vec![kv("db.statement", "SELECT 2")]),
            span("q3", trace_id(3), vec![kv_int("db.statement", 42)]),
        ],
    );
    let run = run(node, vec![batch]).await;
    assert_eq!(run.out.len(), 1);
    let out = &run.out[0].batch;
    let req = decode_traces(out);
    let resource = req.resource_spans[0].resource.as_ref().unwrap();
    assert_eq!(
        attr_str(&resource.attributes, "db.statement"),
        Some("password=resource-level"),
        "the default scope is record only"
    );
    let spans = all_spans(out);
    assert_eq!(
        attr_str(&spans[0].attributes, "db.statement"),
        Some("SELECT 1 WHERE password=*** AND x=1")
    );
    assert_eq!(
        attr_str(&spans[0].attributes, "other"),
        Some("password=untouched")
    );
    assert_eq!(
        attr_str(&spans[1].attributes, "db.statement"),
        Some("SELECT 2")
    );
    assert_eq!(
        attr(&spans[2].attributes, "db.statement"),
        Some(&any_value::Value::IntValue(42)),
        "non-string values are not redacted"
    );
    assert_eq!(spans[0].name, "q1");
    assert_eq!(spans[0].trace_id, trace_id(1));
    assert_eq!(
        telemetry.counter(
            "redacted_values_total",
            &[("rule", "pw"), ("action", "mask")]
        ),
        Some(1)
    );
    assert!(weir_wasm::render_metrics().contains("weir_plugin_redacted_values_total{"));
}

/// `scopes "body"` masks matches in string log bodies (and, with
/// `record`, in record attributes too); bodies of other types, absent
/// bodies and spans are left alone.
#[tokio::test]
async fn masks_matches_in_string_log_bodies() {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::AnyValue;
    use opentelemetry_proto::tonic::logs::v1::LogRecord;
    use prost::Message as _;

    let node = build(&redact(&[
        ("rule.email.pattern", r"[\w.+-]+@[\w-]+\.[\w.]+"),
        ("rule.email.replacement", "<email>"),
        ("rule.email.scopes", "body"),
        ("rule.email.scopes", "record"),
    ]));
    let telemetry = node.telemetry().clone();
    let _stats = node.stats().clone();
    let body = |v: any_value::Value| Some(AnyValue { value: Some(v) });
    let record = |b: Option<AnyValue>, attrs: Vec<_>| LogRecord {
        time_unix_nano: 1_700_000_000_000_000_000,
        severity_text: "INFO".to_string(),
        body: b,
        attributes: attrs,
        ..Default::default()
    };
    let batch = logs(vec![
        record(
            body(any_value::Value::StringValue(
                "login by ada@example.com from grace.h@example.org".to_string(),
            )),
            vec![kv("user", "alan@example.net"), kv("route", "/login")],
        ),
        record(
            body(any_value::Value::StringValue("no address here".to_string())),
            vec![],
        ),
        record(body(any_value::Value::IntValue(7)), vec![]),
        record(None, vec![kv("note", "x@y.io")]),
    ]);
    let done = run(node, vec![batch]).await;
    assert_eq!(done.out.len(), 1);
    let out = done.out[0].batch.otlp_bytes().unwrap();
    let req = ExportLogsServiceRequest::decode(out).unwrap();
    let records = &req.resource_logs[0].scope_logs[0].log_records;
    assert_eq!(records.len(), 4, "no record lost");
    let body_of = |i: usize| records[i].body.as_ref().and_then(|b| b.value.clone());
    assert_eq!(
        body_of(0),
        Some(any_value::Value::StringValue(
            "login by <email> from <email>".to_string()
        ))
    );
    assert_eq!(
        body_of(1),
        Some(any_value::Value::StringValue("no address here".to_string()))
    );
    assert_eq!(body_of(2), Some(any_value::Value::IntValue(7)));
    assert_eq!(records[3].body, None, "an absent body stays absent");
    assert_eq!(attr_str(&records[0].attributes, "user"), Some("<email>"));
    assert_eq!(attr_str(&records[0].attributes, "route"), Some("/login"));
    assert_eq!(attr_str(&records[3].attributes, "note"), Some("<email>"));
    assert_eq!(records[0].severity_text, "INFO");
    // Two attributes and one body.
    assert_eq!(
        telemetry.counter(
            "redacted_values_total",
            &[("rule", "email"), ("action", "mask")]
        ),
        Some(3)
    );

    // Spans have no body: the rule leaves them as they came.
    let node = build(&redact(&[
        ("rule.email.pattern", "@"),
        ("rule.email.scopes", "body"),
    ]));
    let batch = traces(vec![], vec![span("a@b", trace_id(1), vec![kv("k", "a@b")])]);
    let original = batch.otlp_bytes().unwrap();
    let done = run(node, vec![batch]).await;
    assert_eq!(done.out[0].batch.otlp_bytes().unwrap(), original);
}

#[tokio::test]
async fn deletes_keys_by_glob_in_every_scope() {
    let node = build(&redact(&[
        ("rule.headers.keys", "http.request.header.*"),
        ("rule.headers.keys", "secret"),
        ("rule.headers.action", "delete"),
        ("rule.headers.scopes", "all"),
    ]));
    let batch = traces(
        vec![kv("secret", "r"), kv("service.name", "api")],
        vec![span(
            "s",
            trace_id(1),
            vec![
                kv("http.request.header.authorization", "Bearer x"),
                kv("http.request.header.cookie", "c"),
                kv("http.route", "/users"),
                kv("secret", "s"),
            ],
        )],
    );
    let run = run(node, vec![batch]).await;
    let req = decode_traces(&run.out[0].batch);
    let resource = req.resource_spans[0].resource.as_ref().unwrap();
    let keys: Vec<&str> = resource.attributes.iter().map(|k| k.key.as_str()).collect();
    assert_eq!(keys, ["service.name"]);
    let spans = all_spans(&run.out[0].batch);
    let keys: Vec<&str> = spans[0].attributes.iter().map(|k| k.key.as_str()).collect();
    assert_eq!(keys, ["http.route"]);
}

#[tokio::test]
async fn hashes_values_with_a_salt() {
    let node = build(&redact(&[
        ("rule.users.keys", "user.email"),
        ("rule.users.keys", "user.id"),
        ("rule.users.action", "hash"),
        ("rule.users.salt", "pepper"),
    ]));
    let batch = traces(
        vec![],
        vec![span(
            "s",
            trace_id(1),
            vec![
                kv("user.email", "ada@example.com"),
                kv_int("user.id", 42),
                kv("keep", "me"),
            ],
        )],
    );
    let run = run(node, vec![batch]).await;
    let spans = all_spans(&run.out[0].batch);
    let expect = |v: &str| hex::encode(Sha256::digest(format!("pepper{v}").as_bytes()));
    assert_eq!(
        attr_str(&spans[0].attributes, "user.email"),
        Some(expect("ada@example.com").as_str())
    );
    assert_eq!(
        attr_str(&spans[0].attributes, "user.id"),
        Some(expect("42").as_str()),
        "an int is hashed as its text and becomes a string"
    );
    assert_eq!(attr_str(&spans[0].attributes, "keep"), Some("me"));
}

#[tokio::test]
async fn a_pattern_without_keys_applies_to_every_key_and_masking_without_pattern_masks_whole_values()
 {
    let node = build(&redact(&[
        ("rule.cards.pattern", r"\b\d(?:[ -]?\d){12,15}\b"),
        ("rule.cards.replacement", "[card]"),
        ("rule.tokens.keys", "api.token"),
    ]));
    let batch = traces(
        vec![],
        vec![span(
            "s",
            trace_id(1),
            vec![
                kv("note", "paid with 4111 1111 1111 1111 today"),
                kv("card", "5500-0000-0000-0004"),
                kv("api.token", "abc"),
                kv("count", "12"),
            ],
        )],
    );
    let run = run(node, vec![batch]).await;
    let spans = all_spans(&run.out[0].batch);
    assert_eq!(
        attr_str(&spans[0].attributes, "note"),
        Some("paid with [card] today")
    );
    assert_eq!(attr_str(&spans[0].attributes, "card"), Some("[card]"));
    assert_eq!(attr_str(&spans[0].attributes, "api.token"), Some("***"));
    assert_eq!(attr_str(&spans[0].attributes, "count"), Some("12"));
}

#[tokio::test]
async fn a_batch_nothing_matches_goes_on_with_its_original_bytes() {
    let node = build(&redact(&[
        ("rule.pw.keys", "password"),
        ("rule.pw.action", "delete"),
    ]));
    let batch = traces(
        vec![],
        vec![span("s", trace_id(1), vec![kv("user", "ada")])],
    );
    let original = batch.otlp_bytes().unwrap();
    let run = run(node, vec![batch]).await;
    assert_eq!(run.out.len(), 1);
    let out = &run.out[0].batch;
    assert_eq!(out.otlp_bytes().unwrap(), original, "not re-encoded");
}

#[tokio::test]
async fn invalid_rules_are_refused_at_build_with_the_reason() {
    let bad_pattern = redact(&[("rule.pw.keys", "x"), ("rule.pw.pattern", "(unclosed")]);
    let err = bad_pattern
        .build_processor("test", engine(), std::path::Path::new("/"))
        .unwrap_err();
    match &err {
        WasmError::Start {
            source: CallError::InvalidConfig(m),
            ..
        } => assert!(m.contains("rule \"pw\"") && m.contains("pattern"), "{m}"),
        other => panic!("unexpected {other}"),
    }
    for (pairs, needle) in [
        (
            vec![("rule.x.action", "mask")],
            "needs `keys`, `pattern` or `scopes \"body\"`",
        ),
        (
            vec![
                ("rule.x.keys", "k"),
                ("rule.x.action", "hash"),
                ("rule.x.scopes", "body"),
            ],
            "the `body` scope is only for `mask`",
        ),
        (
            vec![("rule.x.keys", "k"), ("rule.x.scopes", "body")],
            "the only scope is `body`",
        ),
        (
            vec![("rule.x.keys", "k"), ("rule.x.action", "shred")],
            "unknown action",
        ),
        (
            vec![
                ("rule.x.keys", "k"),
                ("rule.x.action", "delete"),
                ("rule.x.pattern", "a"),
            ],
            "takes no `pattern`",
        ),
        (
            vec![("rule.x.keys", "k"), ("rule.x.scopes", "span")],
            "unknown scope",
        ),
        (
            vec![("rules.x.keys", "k")],
            "unknown setting `rules.x.keys`",
        ),
        (vec![], "no rules"),
    ] {
        let err = redact(&pairs)
            .build_processor("test", engine(), std::path::Path::new("/"))
            .unwrap_err();
        assert!(err.to_string().contains(needle), "{pairs:?}: {err}");
    }
}

/// The redaction kernels run on the request bytes while a batch is not
/// decoded, and on Arrow once it is: both must give the same result, for
/// every action and scope.
#[tokio::test]
async fn kernels_on_bytes_and_on_arrow_agree() {
    let rules = [
        ("rule.pw.keys", "db.statement"),
        ("rule.pw.pattern", r"password=[^&\s]*"),
        ("rule.pw.replacement", "password=***"),
        ("rule.pw.scopes", "all"),
        ("rule.cards.pattern", r"\b\d{4}(?: ?\d{4}){3}\b"),
        ("rule.cards.replacement", "[card]"),
        ("rule.h.keys", "user.id"),
        ("rule.h.action", "hash"),
        ("rule.h.salt", "s"),
        ("rule.h.scopes", "record"),
        ("rule.h.scopes", "resource"),
        ("rule.d.keys", "http.request.header.*"),
        ("rule.d.action", "delete"),
        ("rule.d.scopes", "all"),
    ];
    let make = || {
        traces_of(vec![
            (
                vec![
                    kv("db.statement", "password=res"),
                    kv_int("user.id", 7),
                    kv("http.request.header.cookie", "c"),
                ],
                vec![
                    span(
                        "a",
                        trace_id(1),
                        vec![
                            kv("db.statement", "x password=p1&y"),
                            kv("note", "card 4111 1111 1111 1111 seen"),
                            kv_int("user.id", 42),
                            kv("http.request.header.authorization", "Bearer t"),
                        ],
                    ),
                    span("b", trace_id(2), vec![kv("db.statement", "clean")]),
                ],
            ),
            (
                vec![kv("service.name", "other")],
                vec![span("c", trace_id(3), vec![kv("user.id", "ada")])],
            ),
        ])
    };
    let bytes_batch = make();
    assert!(bytes_batch.has_otlp() && !bytes_batch.has_tables());
    let tables = bytes_batch.tables().expect("decodes");
    let arrow_batch = weir_pdata::Batch::from_tables(weir_pdata::Signal::Traces, (*tables).clone());
    let from_bytes = run(build(&redact(&rules)), vec![make()]).await;
    let from_arrow = run(build(&redact(&rules)), vec![arrow_batch]).await;
    let a = decode_traces(&from_bytes.out[0].batch);
    let b = decode_traces(&from_arrow.out[0].batch);
    assert_eq!(a, b, "bytes path vs Arrow path");
    // And the rules did act.
    let spans = all_spans(&from_bytes.out[0].batch);
    assert_eq!(
        attr_str(&spans[0].attributes, "db.statement"),
        Some("x password=***&y")
    );
    assert_eq!(
        attr_str(&spans[0].attributes, "note"),
        Some("card [card] seen")
    );
    assert!(attr(&spans[0].attributes, "http.request.header.authorization").is_none());
    assert_eq!(
        attr_str(&spans[0].attributes, "user.id").map(str::len),
        Some(64)
    );
    // The bytes path never decoded: the output is bytes only.
    assert!(!from_bytes.out[0].batch.has_tables());
}
