//! The profiles signal: tables built and read back field for field,
//! concatenation, and the refusal of every OTLP path.

use bytes::Bytes;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use weir_pdata::profiles::{self, Frame, Sample};
use weir_pdata::{Batch, PdataError, Signal, schema};

fn kv(key: &str, v: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        key_strindex: 0,
    }
}

fn samples(n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| Sample {
            start_time_ns: 1_000 + i as u64,
            time_ns: 2_000 + i as u64,
            profile_type: "cpu".into(),
            period_ns: 10_101_010,
            samples: i as i64 + 1,
            frames: (0..i)
                .map(|j| Frame {
                    function: format!("f{j}"),
                    module: if j == 0 {
                        "[kernel]".into()
                    } else {
                        "/bin/x".into()
                    },
                    address: 0x1000 + j as u64,
                })
                .collect(),
            attributes: vec![kv("process.executable.name", &format!("p{i}"))],
        })
        .collect()
}

fn resource(name: &str) -> Resource {
    Resource {
        attributes: vec![kv("service.name", name)],
        dropped_attributes_count: 0,
        entity_refs: Vec::new(),
    }
}

#[test]
fn tables_read_back_exactly() {
    let rows = samples(4);
    let scope = InstrumentationScope {
        name: "weir.ebpf".into(),
        version: "1".into(),
        ..Default::default()
    };
    let tables = profiles::tables(Some(&resource("a")), Some(&scope), &rows).expect("tables");
    assert_eq!(tables.records.schema(), schema::profiles());
    assert_eq!(tables.records.num_rows(), 4);
    let read = profiles::read(&tables).expect("read");
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].resource, resource("a").attributes);
    assert_eq!(
        read[0].scope.as_ref().map(|s| s.name.as_str()),
        Some("weir.ebpf")
    );
    assert_eq!(read[0].samples, rows);
    let batch = Batch::from_tables(Signal::Profiles, tables);
    assert_eq!(batch.items(), 4);
}

#[test]
fn concat_keeps_resources_apart() {
    let a = Batch::from_tables(
        Signal::Profiles,
        profiles::tables(Some(&resource("a")), None, &samples(2)).expect("a"),
    );
    let b = Batch::from_tables(
        Signal::Profiles,
        profiles::tables(Some(&resource("b")), None, &samples(3)).expect("b"),
    );
    let both = Batch::concat(&[a, b]).expect("concat");
    assert_eq!(both.items(), 5);
    let read = profiles::read(&both.tables().expect("tables")).expect("read");
    let names: Vec<(Vec<KeyValue>, usize)> = read
        .iter()
        .map(|r| (r.resource.clone(), r.samples.len()))
        .collect();
    assert_eq!(
        names,
        [(resource("a").attributes, 2), (resource("b").attributes, 3)]
    );
}

#[test]
fn profiles_have_no_otlp_form() {
    let batch = Batch::from_tables(
        Signal::Profiles,
        profiles::tables(None, None, &samples(1)).expect("tables"),
    );
    assert!(matches!(
        batch.otlp_bytes(),
        Err(PdataError::NoOtlp(Signal::Profiles))
    ));
    assert!(matches!(
        Batch::from_otlp(Signal::Profiles, Bytes::from_static(b"\x0a\x00")),
        Err(PdataError::NoOtlp(Signal::Profiles))
    ));
    assert!(weir_pdata::otlp::protobuf_to_json(Signal::Profiles, b"").is_err());
    assert!(weir_pdata::otlp::json_to_protobuf(Signal::Profiles, b"{}").is_err());
    assert!(!Signal::Profiles.has_otlp());
    assert!(Signal::ALL.iter().all(|s| s.has_otlp()));
    assert_eq!("profiles".parse::<Signal>().ok(), Some(Signal::Profiles));
    let msg = PdataError::NoOtlp(Signal::Profiles).to_string();
    assert!(msg.contains("pyroscope"), "{msg}");
}

#[test]
fn a_table_of_another_shape_is_an_error_not_a_panic() {
    let tables = profiles::tables(None, None, &samples(2)).expect("tables");
    let mut broken = tables.clone();
    broken.records = broken.records.project(&[0, 1, 2]).expect("project");
    assert!(matches!(
        profiles::read(&broken),
        Err(PdataError::Schema { .. })
    ));
}
