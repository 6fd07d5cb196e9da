//! Queries over a store written here with the Parquet writer.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray as _, BinaryArray, BooleanArray, Float64Array, Int64Array, MapArray,
    RecordBatch, StringArray, StructArray, UInt8Array, UInt64Array,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Fields, Schema};
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, any_value::Value};
use prost::Message as _;

use crate::{SqlError, format_table, query};

/// An attribute value, as the store writes it.
enum V {
    S(&'static str),
    I(i64),
    D(f64),
    B(bool),
    Bytes(&'static [u8]),
    List(Vec<i64>),
}

fn any_value_fields() -> Fields {
    Fields::from(vec![
        Field::new("type", DataType::UInt8, false),
        Field::new("str", DataType::Utf8, true),
        Field::new("int", DataType::Int64, true),
        Field::new("double", DataType::Float64, true),
        Field::new("bool", DataType::Boolean, true),
        Field::new("bytes", DataType::Binary, true),
    ])
}

fn any_values(values: &[&V]) -> StructArray {
    let mut ty = Vec::new();
    let (mut s, mut i, mut d, mut b, mut by) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for v in values {
        let (t, sv, iv, dv, bv, byv): (u8, _, _, _, _, Option<Vec<u8>>) = match v {
            V::S(x) => (1, Some(*x), None, None, None, None),
            V::B(x) => (2, None, None, None, Some(*x), None),
            V::I(x) => (3, None, Some(*x), None, None, None),
            V::D(x) => (4, None, None, Some(*x), None, None),
            V::Bytes(x) => (5, None, None, None, None, Some(x.to_vec())),
            V::List(xs) => {
                let av = AnyValue {
                    value: Some(Value::ArrayValue(ArrayValue {
                        values: xs
                            .iter()
                            .map(|x| AnyValue {
                                value: Some(Value::IntValue(*x)),
                            })
                            .collect(),
                    })),
                };
                (6, None, None, None, None, Some(av.encode_to_vec()))
            }
        };
        ty.push(t);
        s.push(sv);
        i.push(iv);
        d.push(dv);
        b.push(bv);
        by.push(byv);
    }
    let bytes: BinaryArray = by.iter().map(|x| x.as_deref()).collect();
    StructArray::new(
        any_value_fields(),
        vec![
            Arc::new(UInt8Array::from(ty)),
            Arc::new(StringArray::from(s)),
            Arc::new(Int64Array::from(i)),
            Arc::new(Float64Array::from(d)),
            Arc::new(BooleanArray::from(b)),
            Arc::new(bytes),
        ],
        None,
    )
}

fn attributes(rows: &[Vec<(&'static str, V)>]) -> MapArray {
    let keys: StringArray = rows.iter().flatten().map(|(k, _)| Some(*k)).collect();
    let values: Vec<&V> = rows.iter().flatten().map(|(_, v)| v).collect();
    let entries = StructArray::new(
        Fields::from(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", DataType::Struct(any_value_fields()), true),
        ]),
        vec![Arc::new(keys), Arc::new(any_values(&values))],
        None,
    );
    let offsets = OffsetBuffer::from_lengths(rows.iter().map(Vec::len));
    let field = Arc::new(Field::new("entries", entries.data_type().clone(), false));
    MapArray::new(field, offsets, entries, None, false)
}

fn spans(names: &[&'static str], attrs: Vec<Vec<(&'static str, V)>>) -> RecordBatch {
    let attrs = attributes(&attrs);
    let schema = Schema::new(vec![
        Field::new("service_name", DataType::Utf8, true),
        Field::new("name", DataType::Utf8, false),
        Field::new("duration", DataType::UInt64, false),
        Field::new("attributes", attrs.data_type().clone(), true),
    ]);
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![Some("checkout"); names.len()])),
        Arc::new(StringArray::from(names.to_vec())),
        Arc::new(UInt64Array::from_iter_values(0..names.len() as u64)),
        Arc::new(attrs),
    ];
    let Ok(batch) = RecordBatch::try_new(Arc::new(schema), cols) else {
        panic!("test batch does not match its schema");
    };
    batch
}

fn write(dir: &Path, rel: &str, batch: &RecordBatch) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    let file = std::fs::File::create(&path).expect("create");
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
    w.write(batch).expect("write");
    w.close().expect("close");
}

fn store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "spans/date=2025-01-02/hour=03/1-000001.parquet",
        &spans(
            &["GET /users", "GET /users", "POST /orders"],
            vec![
                vec![
                    ("http.route", V::S("/users")),
                    ("http.status_code", V::I(200)),
                ],
                vec![
                    ("http.route", V::S("/users")),
                    ("http.status_code", V::I(500)),
                ],
                vec![
                    ("http.route", V::S("/orders")),
                    ("ratio", V::D(0.5)),
                    ("ok", V::B(true)),
                ],
            ],
        ),
    );
    write(
        dir.path(),
        "spans/date=2025-01-02/hour=04/2-000002.parquet",
        &spans(
            &["GET /users"],
            vec![vec![
                ("http.route", V::S("/users")),
                ("raw", V::Bytes(&[0xde, 0xad])),
                ("list", V::List(vec![1, 2])),
            ]],
        ),
    );
    // A file still being written is not read.
    std::fs::write(
        dir.path()
            .join("spans/date=2025-01-02/hour=04/3-000003.tmp"),
        b"PAR1 half",
    )
    .expect("tmp");
    dir
}

fn strings(batches: &[RecordBatch], col: usize) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let c = arrow::compute::cast(b.column(col), &DataType::Utf8).expect("cast");
            let s = c.as_string::<i32>().clone();
            (0..s.len())
                .map(move |i| s.is_valid(i).then(|| s.value(i).to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn ints(batches: &[RecordBatch], col: usize) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| {
            let c = arrow::compute::cast(b.column(col), &DataType::Int64).expect("cast");
            c.as_primitive::<arrow::datatypes::Int64Type>()
                .values()
                .to_vec()
        })
        .collect()
}

#[tokio::test]
async fn counts_rows_across_partitions() {
    let dir = store();
    let out = query(dir.path(), "SELECT count(*) FROM spans")
        .await
        .expect("query");
    assert_eq!(ints(&out, 0), vec![4]);
    let out = query(
        dir.path(),
        "SELECT hour, count(*) FROM spans GROUP BY hour ORDER BY hour",
    )
    .await
    .expect("query");
    assert_eq!(strings(&out, 0), vec![Some("03".into()), Some("04".into())]);
    assert_eq!(ints(&out, 1), vec![3, 1]);
    let out = query(
        dir.path(),
        "SELECT count(*) FROM spans WHERE date = '2025-01-02' AND hour = '04'",
    )
    .await
    .expect("query");
    assert_eq!(ints(&out, 0), vec![1]);
}

#[tokio::test]
async fn attr_groups_by_attribute() {
    let dir = store();
    let out = query(
        dir.path(),
        "SELECT attr(attributes, 'http.route') AS route, count(*) FROM spans GROUP BY 1 ORDER BY 1",
    )
    .await
    .expect("query");
    assert_eq!(
        strings(&out, 0),
        vec![Some("/orders".into()), Some("/users".into())]
    );
    assert_eq!(ints(&out, 1), vec![1, 3]);
}

#[tokio::test]
async fn attr_renders_every_value_type() {
    let dir = store();
    let out = query(
        dir.path(),
        "SELECT attr(attributes, 'http.status_code'), attr(attributes, 'ratio'), attr(attributes, 'ok'), \
         attr(attributes, 'raw'), attr(attributes, 'list'), attr(attributes, 'missing') \
         FROM spans ORDER BY duration, hour",
    )
    .await
    .expect("query");
    let row =
        |i: usize| -> Vec<Option<String>> { (0..6).map(|c| strings(&out, c)[i].clone()).collect() };
    let rows: Vec<Vec<Option<String>>> = (0..4).map(row).collect();
    let s = |x: &str| Some(x.to_string());
    assert!(
        rows.contains(&vec![s("200"), None, None, None, None, None]),
        "{rows:?}"
    );
    assert!(
        rows.contains(&vec![s("500"), None, None, None, None, None]),
        "{rows:?}"
    );
    assert!(
        rows.contains(&vec![None, s("0.5"), s("true"), None, None, None]),
        "{rows:?}"
    );
    assert!(
        rows.contains(&vec![None, None, None, s("dead"), s("[1,2]"), None]),
        "{rows:?}"
    );
}

#[tokio::test]
async fn attr_takes_a_key_per_row() {
    let dir = store();
    let out = query(
        dir.path(),
        "SELECT attr(attributes, CASE WHEN hour = '04' THEN 'raw' ELSE 'http.route' END) \
         FROM spans ORDER BY hour, duration",
    )
    .await
    .expect("query");
    let s = |x: &str| Some(x.to_string());
    assert_eq!(
        strings(&out, 0),
        vec![s("/users"), s("/users"), s("/orders"), s("dead")]
    );
}

#[tokio::test]
async fn format_table_shows_attributes_as_text() {
    let dir = store();
    let out = query(
        dir.path(),
        "SELECT name, attributes FROM spans WHERE hour = '04'",
    )
    .await
    .expect("query");
    let text = format_table(&out);
    assert!(text.contains("GET /users"), "{text}");
    assert!(
        text.contains("{http.route: /users, raw: dead, list: [1,2]}"),
        "{text}"
    );
}

#[tokio::test]
async fn missing_store_says_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("weir-data");
    let err = query(&missing, "SELECT 1").await.expect_err("no store");
    assert!(matches!(err, SqlError::NoData { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("run `weir run` and send telemetry"),
        "{err}"
    );
}

#[tokio::test]
async fn table_without_data_is_named() {
    let dir = store();
    let err = query(dir.path(), "SELECT count(*) FROM logs")
        .await
        .expect_err("no logs");
    assert!(
        matches!(err, SqlError::NoTable { ref table, .. } if table == "logs"),
        "{err:?}"
    );
    assert!(err.is_user_error());
}

#[tokio::test]
async fn sql_errors_carry_datafusion_message() {
    let dir = store();
    let err = query(dir.path(), "SELEC nothing")
        .await
        .expect_err("bad SQL");
    assert!(matches!(err, SqlError::Query(_)), "{err:?}");
    assert!(err.to_string().to_lowercase().contains("sql"), "{err}");
    let err = query(dir.path(), "SELECT no_such_column FROM spans")
        .await
        .expect_err("bad column");
    assert!(err.to_string().contains("no_such_column"), "{err}");
    assert!(err.is_user_error());
    let err = query(dir.path(), "SELECT attr(name, 'x') FROM spans")
        .await
        .expect_err("not a map");
    assert!(err.to_string().contains("attribute column"), "{err}");
    assert!(err.is_user_error());
}
