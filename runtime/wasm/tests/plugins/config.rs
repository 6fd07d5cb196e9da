//! The `wasm` processor's KDL: flattening `config { ... }`, limits,
//! policies, and the errors a user sees; then a whole pipeline file built
//! through the engine's registry.

use std::time::Duration;

use weir_config::{ConfigError, NodeKind};
use weir_engine::registry::{Component, Registry};
use weir_wasm::processor::config::validate;
use weir_wasm::{OnError, PluginSource, WasmConfig};

fn read(kdl: &str) -> (Option<WasmConfig>, Vec<ConfigError>) {
    let text = format!(
        "receiver \"in\" type=\"otlp\"\n{kdl}\nexporter \"out\" type=\"debug\" {{ from \"p\" }}\n"
    );
    let pipeline = weir_config::parse("test.kdl", &text).expect("valid pipeline shape");
    let decl = pipeline
        .nodes
        .iter()
        .find(|n| n.id.value == "p")
        .expect("node p");
    let mut errors = Vec::new();
    let mut r = decl.reader(&mut errors);
    let c = validate(&mut r);
    r.finish();
    (c, errors)
}

#[test]
fn reads_every_setting_and_flattens_the_config_block() {
    let (c, errors) = read(
        r#"processor "p" type="wasm" {
            from "in"
            plugin "builtin:redact"
            config {
                rule "pw" {
                    keys "db.statement" "http.url"
                    pattern "password=\\S*"
                    action "mask"
                }
                rule "ids" { keys "user.id"; action "hash"; salt "s"; }
                ratio 0.25
                enabled #true
                limit 10
                opts mode="fast"
            }
            on-error "drop"
            limits { memory "32MiB"; timeout "250ms"; max-output "1MiB"; host-calls 500; }
            circuit { failures 3; backoff "2s"; max-backoff "30s"; }
            tick "10s"
        }"#,
    );
    assert!(errors.is_empty(), "{errors:?}");
    let c = c.unwrap();
    assert_eq!(c.plugin.value, PluginSource::Builtin("redact".to_string()));
    let pairs: Vec<(&str, &str)> = c
        .config
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("rule.pw.keys", "db.statement"),
            ("rule.pw.keys", "http.url"),
            ("rule.pw.pattern", "password=\\S*"),
            ("rule.pw.action", "mask"),
            ("rule.ids.keys", "user.id"),
            ("rule.ids.action", "hash"),
            ("rule.ids.salt", "s"),
            ("ratio", "0.25"),
            ("enabled", "true"),
            ("limit", "10"),
            ("opts.mode", "fast"),
        ]
    );
    assert_eq!(c.on_error, OnError::Drop);
    assert_eq!(c.limits.memory, 32 << 20);
    assert_eq!(c.limits.timeout, Duration::from_millis(250));
    assert_eq!(c.limits.max_output, 1 << 20);
    assert_eq!(c.limits.host_calls, 500);
    assert_eq!(c.circuit.failures, 3);
    assert_eq!(c.circuit.backoff, Duration::from_secs(2));
    assert_eq!(c.circuit.max_backoff, Duration::from_secs(30));
    assert_eq!(c.tick, Some(Duration::from_secs(10)));
}

#[test]
fn defaults_apply_when_only_the_plugin_is_given() {
    let (c, errors) = read(r#"processor "p" type="wasm" { from "in"; plugin "filters/my.wasm"; }"#);
    assert!(errors.is_empty(), "{errors:?}");
    let c = c.unwrap();
    assert_eq!(c.plugin.value, PluginSource::File("filters/my.wasm".into()));
    assert_eq!(c.on_error, OnError::Pass);
    assert_eq!(c.limits, weir_wasm::Limits::default());
    assert_eq!(c.limits.timeout, Duration::from_millis(100));
    assert_eq!(c.limits.memory, 64 << 20);
    assert!(c.config.is_empty());
    assert_eq!(c.tick, None);
}

#[test]
fn mistakes_are_reported_together_with_hints() {
    let (_, errors) = read(
        r#"processor "p" type="wasm" {
            from "in"
            plugin "builtin:redactor"
            on-error "explode"
            limits { memory "lots"; timeot "1s"; }
            config { orphan; nested "a" "b" { x 1 } }
        }"#,
    );
    let text: Vec<String> = errors
        .iter()
        .map(|e| format!("{} | {:?} | {:?}", e.message, e.label, e.help))
        .collect();
    let all = text.join("\n");
    assert!(
        all.contains("no builtin plugin \\\"redactor\\\"") || all.contains("no builtin plugin"),
        "{all}"
    );
    assert!(
        all.contains("builtin:redact, builtin:sample, builtin:enrich, builtin:sli, builtin:noop"),
        "{all}"
    );
    assert!(all.contains("on-error"), "{all}");
    assert!(all.contains("`memory`"), "{all}");
    assert!(
        all.contains("unknown property `timeot`") && all.contains("did you mean `timeout`"),
        "{all}"
    );
    assert!(all.contains("`orphan` has no value"), "{all}");
    assert!(all.contains("at most one label"), "{all}");
    let (_, errors) = read(r#"processor "p" type="wasm" { from "in"; }"#);
    assert!(
        errors.iter().any(|e| e.message.contains("needs `plugin`")),
        "{errors:?}"
    );
}

#[tokio::test]
async fn a_pipeline_file_with_a_plugin_validates_builds_and_refuses_bad_plugin_config() {
    let mut registry = Registry::new();
    let _ = registry.register(Component {
        kind: NodeKind::Processor,
        type_name: "wasm",
        summary: "A WebAssembly processor plugin.",
        validate: weir_wasm::validate,
    });
    let _ = registry.register(Component {
        kind: NodeKind::Receiver,
        type_name: "otlp",
        summary: "",
        validate: |_| None,
    });
    let _ = registry.register(Component {
        kind: NodeKind::Exporter,
        type_name: "debug",
        summary: "",
        validate: |_| None,
    });
    let text = r#"receiver "in" type="otlp"
processor "p" type="wasm" {
    from "in"
    plugin "builtin:sample"
    config { ratio 7 }
}
exporter "out" type="debug" { from "p" }
"#;
    let pipeline = weir_config::parse("pipeline.kdl", text).unwrap();
    let decl = pipeline.nodes.iter().find(|n| n.id.value == "p").unwrap();
    let mut errors = Vec::new();
    let mut r = decl.reader(&mut errors);
    let builder = (registry.get(NodeKind::Processor, "wasm").unwrap().validate)(&mut r).unwrap();
    r.finish();
    assert!(errors.is_empty(), "{errors:?}");
    let metrics = weir_engine::metrics::MetricsRegistry::default();
    let ctx = weir_engine::registry::BuildContext {
        id: "p",
        metrics: &metrics,
        base_dir: std::env::temp_dir(),
    };
    let Err(err) = builder.build(&ctx) else {
        panic!("ratio 7 must be refused");
    };
    assert_eq!(err.code, weir_config::ErrorCode::InvalidValue);
    assert!(
        err.message.contains("refused its configuration"),
        "{}",
        err.message
    );
    assert!(err.message.contains("ratio"), "{}", err.message);
    assert!(err.span.is_some(), "points at the config block");
}

#[test]
fn grants_name_directories_and_where_the_plugin_sees_them() {
    let (c, errors) = read(
        r#"processor "p" type="wasm" {
            from "in"
            plugin "builtin:enrich"
            grants { read "./lookups"; read "/srv/tables" at="/data"; }
        }"#,
    );
    assert!(errors.is_empty(), "{errors:?}");
    let g = c.unwrap().grants;
    assert_eq!(g.len(), 2);
    assert_eq!(
        (g[0].host.to_str(), g[0].guest.as_str()),
        (Some("./lookups"), "/lookups")
    );
    assert_eq!(
        (g[1].host.to_str(), g[1].guest.as_str()),
        (Some("/srv/tables"), "/data")
    );
    let (_, errors) = read(
        r#"processor "p" type="wasm" { from "in"; plugin "builtin:enrich"; grants { read "x" at="rel"; read; } }"#,
    );
    let all: Vec<String> = errors.iter().map(|e| format!("{:?}", e.label)).collect();
    assert!(all.iter().any(|l| l.contains("absolute path")), "{all:?}");
    assert!(
        all.iter().any(|l| l.contains("needs a directory")),
        "{all:?}"
    );
}

#[test]
fn on_error_dead_letter_needs_a_dead_letter_exporter() {
    let (c, errors) = read(
        r#"processor "p" type="wasm" {
            from "in"
            plugin "builtin:noop"
            on-error "dead-letter"
        }"#,
    );
    let all: String = errors.iter().map(|e| format!("{e:?}")).collect();
    assert!(all.contains("needs a `dead-letter` exporter"), "{all}");
    let _ = c;

    let text = "receiver \"in\" type=\"otlp\"\n\
        processor \"p\" type=\"wasm\" { from \"in\"; plugin \"builtin:noop\"; on-error \"dead-letter\"; dead-letter \"dl\"; }\n\
        exporter \"out\" type=\"debug\" { from \"p\"; }\n\
        exporter \"dl\" type=\"debug\"\n";
    let pipeline =
        weir_config::parse("test.kdl", text).expect("a processor may name a dead letter");
    let p = pipeline.nodes.iter().find(|n| n.id.value == "p").unwrap();
    assert_eq!(p.dead_letter.as_ref().map(|d| d.value.as_str()), Some("dl"));
    let mut errors = Vec::new();
    let mut r = p.reader(&mut errors);
    let c = validate(&mut r).expect("valid");
    r.finish();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(c.on_error, OnError::DeadLetter);
}
