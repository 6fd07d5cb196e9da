//! The pipeline parser: shape checks and the reader's error collection.

use weir_config::{ErrorCode, NodeKind, parse};

fn codes(text: &str) -> Vec<ErrorCode> {
    match parse("t.kdl", text) {
        Ok(_) => Vec::new(),
        Err(d) => d.errors.iter().map(|e| e.code).collect(),
    }
}

#[test]
fn parses_nodes_edges_and_settings() {
    let p = parse(
        "t.kdl",
        r#"
        settings { admin "127.0.0.1:9999"; shutdown-timeout "3s"; channel-capacity 8; threads 1 }
        receiver "a" type="otlp" { grpc "127.0.0.1:4317" }
        receiver "b" type="generate"
        processor "batch" type="batch" { from "a" "b" }
        exporter "x" type="debug" { from "batch" }
        exporter "y" type="parquet" { from "batch"; from "a" }
        "#,
    )
    .expect("valid");
    assert_eq!(p.nodes.len(), 5);
    assert_eq!(
        p.settings.shutdown_timeout,
        std::time::Duration::from_secs(3)
    );
    assert_eq!(p.settings.channel_capacity, 8);
    assert_eq!(p.settings.threads, 1);
    assert_eq!(
        p.settings.admin.as_ref().map(|a| a.value.port()),
        Some(9999)
    );
    let batch = p.node("batch").expect("batch");
    assert_eq!(batch.kind, NodeKind::Processor);
    let from: Vec<_> = batch.from.iter().map(|f| f.value.as_str()).collect();
    assert_eq!(from, ["a", "b"]);
    let y = p.node("y").expect("y");
    assert_eq!(y.from.len(), 2, "two `from` lines add up");
    let consumers: Vec<_> = p.consumers("a").map(|n| n.id.value.as_str()).collect();
    assert_eq!(consumers, ["batch", "y"]);
}

#[test]
fn admin_can_be_turned_off() {
    let p = parse(
        "t.kdl",
        "settings { admin #false }\nreceiver \"a\" type=\"otlp\"\nexporter \"x\" type=\"debug\" { from \"a\" }",
    )
    .expect("valid");
    assert!(p.settings.admin.is_none());
}

#[test]
fn reports_every_shape_error_at_once() {
    let c = codes(
        r#"
        reciever "a" type="otlp"
        receiver "r" type="otlp" { from "x" }
        processor "p" type="batch" { from "nowhere" }
        processor "p" type="batch" { from "r" }
        exporter "e" type="debug"
        exporter "f" type="debug" { from "e" }
        processor "q" { from "r" }
        "#,
    );
    for expected in [
        ErrorCode::UnknownNode,
        ErrorCode::InvalidValue,
        ErrorCode::UnknownSource,
        ErrorCode::Duplicate,
        ErrorCode::Unconnected,
        ErrorCode::Missing,
    ] {
        assert!(c.contains(&expected), "missing {expected:?} in {c:?}");
    }
    assert!(c.len() >= 7, "{c:?}");
}

#[test]
fn finds_cycles() {
    let c = codes(
        r#"
        receiver "r" type="otlp"
        processor "a" type="batch" { from "r" "c" }
        processor "b" type="batch" { from "a" }
        processor "c" type="batch" { from "b" }
        exporter "e" type="debug" { from "c" }
        "#,
    );
    assert!(c.contains(&ErrorCode::Cycle), "{c:?}");
    let c = codes("receiver \"r\" type=\"otlp\"\nprocessor \"a\" type=\"batch\" { from \"a\" }");
    assert!(c.contains(&ErrorCode::Cycle), "self loop: {c:?}");
}

#[test]
fn syntax_errors_have_spans() {
    let err = parse("t.kdl", "receiver \"a\" type=\"otlp\" {\n grpc \"x\n}").expect_err("invalid");
    assert!(!err.errors.is_empty());
    assert!(
        err.errors
            .iter()
            .all(|e| e.code == ErrorCode::Syntax && e.span.is_some())
    );
}

#[test]
fn reader_collects_typed_errors_and_unknown_properties() {
    let p = parse(
        "t.kdl",
        r#"receiver "a" type="otlp" {
            max-items "lots"
            timeout "soon"
            size "4 parsecs"
            addr "nowhere"
            flag 3
            colour "blue"
            max-itemz 3
        }
        exporter "x" type="debug" { from "a" }"#,
    )
    .expect("shape is valid");
    let decl = p.node("a").expect("a");
    let mut errors = Vec::new();
    {
        let mut r = decl.reader(&mut errors);
        assert_eq!(r.u64("max-items"), None);
        assert_eq!(r.duration("timeout"), None);
        assert_eq!(r.byte_size("size"), None);
        assert!(r.socket_addr("addr").is_none());
        assert_eq!(r.bool("flag"), None);
        assert!(r.one_of("colour", &["red", "green"]).is_none());
        assert!(r.require("needed", None::<u64>, "needed 1").is_none());
        r.finish();
    }
    let codes: Vec<_> = errors.iter().map(|e| e.code).collect();
    assert_eq!(
        codes
            .iter()
            .filter(|c| **c == ErrorCode::InvalidValue)
            .count(),
        6,
        "{errors:#?}"
    );
    assert!(codes.contains(&ErrorCode::Missing));
    let unknown = errors
        .iter()
        .find(|e| e.code == ErrorCode::UnknownProperty)
        .expect("unknown property reported");
    assert!(unknown.message.contains("max-itemz"));
    assert_eq!(unknown.help.as_deref(), Some("did you mean `max-items`?"));
}

#[test]
fn reader_reads_values() {
    let p = parse(
        "t.kdl",
        r#"receiver "a" type="otlp" short=#true {
            n 5
            d "1m 30s"
            ms 250
            s "16MiB"
            addr "127.0.0.1:4317"
            words "x" "y"
            nested { inner "v" }
        }
        exporter "x" type="debug" { from "a" }"#,
    )
    .expect("valid");
    let decl = p.node("a").expect("a");
    let mut errors = Vec::new();
    {
        let mut r = decl.reader(&mut errors);
        assert_eq!(r.u64("n"), Some(5));
        assert_eq!(r.duration("d"), Some(std::time::Duration::from_secs(90)));
        assert_eq!(
            r.duration("ms"),
            Some(std::time::Duration::from_millis(250))
        );
        assert_eq!(r.byte_size("s").map(|b| b.0), Some(16 << 20));
        assert_eq!(r.socket_addr("addr").map(|a| a.value.port()), Some(4317));
        assert_eq!(r.bool("short"), Some(true));
        let words: Vec<_> = r.strings("words").into_iter().map(|s| s.value).collect();
        assert_eq!(words, ["x", "y"]);
        let inner = r.block("nested", |n| n.string("inner").map(|s| s.value));
        assert_eq!(inner, Some(Some("v".to_string())));
        r.finish();
    }
    assert!(errors.is_empty(), "{errors:#?}");
}
