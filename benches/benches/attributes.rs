//! Attribute layouts compared, for `docs/data-model.md`: the same 1000 spans
//! x 5 attributes as
//!
//! - `map`: a `Map<Utf8, Struct{type, str, int, double, bool, bytes}>`
//!   column of the spans table (weir's layout);
//! - `table`: an OTAP-style normalized attribute table, one row per
//!   attribute: `parent_id` UInt16, `key` Utf8, `type`, `str`, `int`, ...;
//! - `table/dict`: the same with `key` as `Dictionary(UInt16, Utf8)`.
//!
//! and four processor operations on each: look one key up for every span
//! (collect `http.route`), redact one key (replace `user.id` with a fixed
//! string, producing new arrays), delete one key (`url.full`), and filter
//! spans (keep every other one: the map column is filtered with its rows,
//! the attribute table must be filtered by parent and its parent ids
//! renumbered). Results are checked equal across layouts before timing.
//!
//! Run: `cargo bench -p weir-benches --bench attributes`.

use std::hint::black_box;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{UInt8Type, UInt16Type};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, DictionaryArray, Float64Array, Int64Array,
    MapArray, RecordBatch, StringArray, StructArray, UInt8Array, UInt16Array,
};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{ArrowError, DataType, Field, FieldRef, Fields, Schema};
use arrow_select::filter::{filter, filter_record_batch};
use criterion::{Criterion, Throughput, criterion_main};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};

const SPANS: usize = 1000;
const ATTRIBUTES: usize = 5;
const LOOKUP: &str = "http.route";
const REDACT: &str = "user.id";
const DELETE: &str = "url.full";
const REDACTED: &str = "<redacted>";
/// `type` of a string value (docs/data-model.md).
const STRING: u8 = 1;

// ---- building the layouts ----

fn value_fields() -> Fields {
    Fields::from(vec![
        Field::new("type", DataType::UInt8, false),
        Field::new("str", DataType::Utf8, true),
        Field::new("int", DataType::Int64, true),
        Field::new("double", DataType::Float64, true),
        Field::new("bool", DataType::Boolean, true),
        Field::new("bytes", DataType::Binary, true),
    ])
}

/// The value columns (`type`, `str`, `int`, `double`, `bool`, `bytes`).
fn value_columns(values: &[Option<&AnyValue>]) -> Vec<ArrayRef> {
    fn value<'a>(v: &Option<&'a AnyValue>) -> Option<&'a Value> {
        v.and_then(|v| v.value.as_ref())
    }
    let ty: UInt8Array = values
        .iter()
        .map(|v| {
            Some(match value(v) {
                None => 0,
                Some(Value::StringValue(_)) => STRING,
                Some(Value::BoolValue(_)) => 2,
                Some(Value::IntValue(_)) => 3,
                Some(Value::DoubleValue(_)) => 4,
                Some(Value::BytesValue(_)) => 5,
                Some(Value::ArrayValue(_)) => 6,
                Some(Value::KvlistValue(_)) | Some(Value::StringValueStrindex(_)) => 7,
            })
        })
        .collect();
    let strs: StringArray = values
        .iter()
        .map(|v| match value(v) {
            Some(Value::StringValue(s)) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    let ints: Int64Array = values
        .iter()
        .map(|v| match value(v) {
            Some(Value::IntValue(i)) => Some(*i),
            _ => None,
        })
        .collect();
    let doubles: Float64Array = values
        .iter()
        .map(|v| match value(v) {
            Some(Value::DoubleValue(d)) => Some(*d),
            _ => None,
        })
        .collect();
    let bools: BooleanArray = values
        .iter()
        .map(|v| match value(v) {
            Some(Value::BoolValue(b)) => Some(*b),
            _ => None,
        })
        .collect();
    let bytes: BinaryArray = values
        .iter()
        .map(|v| match value(v) {
            Some(Value::BytesValue(b)) => Some(b.as_slice()),
            _ => None,
        })
        .collect();
    vec![
        Arc::new(ty),
        Arc::new(strs),
        Arc::new(ints),
        Arc::new(doubles),
        Arc::new(bools),
        Arc::new(bytes),
    ]
}

fn entry_fields() -> Fields {
    Fields::from(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Struct(value_fields()), true),
    ])
}

fn entries_field() -> FieldRef {
    Arc::new(Field::new(
        "entries",
        DataType::Struct(entry_fields()),
        false,
    ))
}

/// Layout `map`: one map per span.
fn build_map(spans: &[Vec<KeyValue>]) -> Result<MapArray, ArrowError> {
    let all: Vec<&KeyValue> = spans.iter().flatten().collect();
    let keys: StringArray = all.iter().map(|kv| Some(kv.key.as_str())).collect();
    let values: Vec<Option<&AnyValue>> = all.iter().map(|kv| kv.value.as_ref()).collect();
    let value = StructArray::try_new(value_fields(), value_columns(&values), None)?;
    let entries =
        StructArray::try_new(entry_fields(), vec![Arc::new(keys), Arc::new(value)], None)?;
    let offsets = OffsetBuffer::from_lengths(spans.iter().map(Vec::len));
    MapArray::try_new(entries_field(), offsets, entries, None, false)
}

/// Layout `table` (or `table/dict` with `dictionary_keys`).
fn build_table(spans: &[Vec<KeyValue>], dictionary_keys: bool) -> Result<RecordBatch, ArrowError> {
    let mut parents = Vec::new();
    let mut keys = Vec::new();
    let mut values = Vec::new();
    for (i, attributes) in spans.iter().enumerate() {
        for kv in attributes {
            parents.push(i as u16);
            keys.push(kv.key.as_str());
            values.push(kv.value.as_ref());
        }
    }
    let (key_type, key_column): (DataType, ArrayRef) = if dictionary_keys {
        let dict: DictionaryArray<UInt16Type> = keys.into_iter().collect();
        (
            DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8)),
            Arc::new(dict),
        )
    } else {
        (DataType::Utf8, Arc::new(StringArray::from(keys)))
    };
    let mut fields = vec![
        Field::new("parent_id", DataType::UInt16, false),
        Field::new("key", key_type, false),
    ];
    fields.extend(value_fields().iter().map(|f| f.as_ref().clone()));
    let mut columns: Vec<ArrayRef> = vec![Arc::new(UInt16Array::from(parents)), key_column];
    columns.extend(value_columns(&values));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

// ---- the operations ----

/// The `str` of `key` for every span of the map layout (null if absent).
fn lookup_map(map: &MapArray, key: &str) -> StringArray {
    let entries = map.entries();
    let keys = entries.column(0).as_string::<i32>();
    let value = entries.column(1).as_struct();
    let types = value.column(0).as_primitive::<UInt8Type>();
    let strs = value.column(1).as_string::<i32>();
    let mut out = StringBuilder::with_capacity(map.len(), map.len() * 16);
    for range in map.value_offsets().windows(2) {
        let found = (range[0] as usize..range[1] as usize)
            .find(|&j| keys.value(j) == key && types.value(j) == STRING);
        out.append_option(found.map(|j| strs.value(j)));
    }
    out.finish()
}

/// The same for the table layouts; `spans` is the parent table's length.
fn lookup_table(table: &RecordBatch, key: &str, spans: usize) -> StringArray {
    let parents = table.column(0).as_primitive::<UInt16Type>();
    let types = table.column(2).as_primitive::<UInt8Type>();
    let strs = table.column(3).as_string::<i32>();
    let mut out: Vec<Option<&str>> = vec![None; spans];
    let mut set = |r: usize| {
        if types.value(r) == STRING {
            out[usize::from(parents.value(r))] = Some(strs.value(r));
        }
    };
    match key_matcher(table, key) {
        Keys::Plain(keys) => (0..table.num_rows())
            .filter(|&r| keys.value(r) == key)
            .for_each(&mut set),
        Keys::Dict(keys, Some(id)) => (0..table.num_rows())
            .filter(|&r| keys.value(r) == id)
            .for_each(&mut set),
        Keys::Dict(_, None) => {}
    }
    StringArray::from(out)
}

/// The key column of a table layout, and for a dictionary the id of `key`.
enum Keys<'a> {
    Plain(&'a StringArray),
    Dict(&'a UInt16Array, Option<u16>),
}

fn key_matcher<'a>(table: &'a RecordBatch, key: &str) -> Keys<'a> {
    let column = table.column(1);
    match column.as_dictionary_opt::<UInt16Type>() {
        Some(dict) => {
            let id = dict
                .values()
                .as_string::<i32>()
                .iter()
                .position(|v| v == Some(key))
                .map(|i| i as u16);
            Keys::Dict(dict.keys(), id)
        }
        None => Keys::Plain(column.as_string::<i32>()),
    }
}

/// `str` with the string values where `hit(row)` replaced by [`REDACTED`].
fn redacted_strs(
    types: &UInt8Array,
    strs: &StringArray,
    hit: impl Fn(usize) -> bool,
) -> StringArray {
    let mut out = StringBuilder::with_capacity(strs.len(), strs.value_data().len());
    for j in 0..strs.len() {
        if hit(j) && types.value(j) == STRING {
            out.append_value(REDACTED);
        } else {
            out.append_option(strs.is_valid(j).then(|| strs.value(j)));
        }
    }
    out.finish()
}

fn redact_map(map: &MapArray, key: &str) -> Result<MapArray, ArrowError> {
    let entries = map.entries();
    let keys = entries.column(0).as_string::<i32>();
    let value = entries.column(1).as_struct();
    let types = value.column(0).as_primitive::<UInt8Type>();
    let strs = redacted_strs(types, value.column(1).as_string::<i32>(), |j| {
        keys.value(j) == key
    });
    let mut columns = value.columns().to_vec();
    columns[1] = Arc::new(strs);
    let value = StructArray::try_new(value.fields().clone(), columns, value.nulls().cloned())?;
    let entries = StructArray::try_new(
        entries.fields().clone(),
        vec![entries.column(0).clone(), Arc::new(value)],
        None,
    )?;
    let field = entries_field();
    MapArray::try_new(
        field,
        map.offsets().clone(),
        entries,
        map.nulls().cloned(),
        false,
    )
}

fn redact_table(table: &RecordBatch, key: &str) -> Result<RecordBatch, ArrowError> {
    let types = table.column(2).as_primitive::<UInt8Type>();
    let strs = table.column(3).as_string::<i32>();
    let strs = match key_matcher(table, key) {
        Keys::Plain(keys) => redacted_strs(types, strs, |r| keys.value(r) == key),
        Keys::Dict(keys, Some(id)) => redacted_strs(types, strs, |r| keys.value(r) == id),
        Keys::Dict(_, None) => strs.clone(),
    };
    let mut columns = table.columns().to_vec();
    columns[3] = Arc::new(strs);
    RecordBatch::try_new(table.schema(), columns)
}

fn delete_map(map: &MapArray, key: &str) -> Result<MapArray, ArrowError> {
    let entries = map.entries();
    let keys = entries.column(0).as_string::<i32>();
    let keep: BooleanArray = keys.iter().map(|k| Some(k != Some(key))).collect();
    let kept = filter(entries, &keep)?;
    let lengths = map.value_offsets().windows(2).map(|range| {
        (range[0] as usize..range[1] as usize)
            .filter(|&j| keep.value(j))
            .count()
    });
    let offsets = OffsetBuffer::from_lengths(lengths);
    MapArray::try_new(
        entries_field(),
        offsets,
        kept.as_struct().clone(),
        map.nulls().cloned(),
        false,
    )
}

fn delete_table(table: &RecordBatch, key: &str) -> Result<RecordBatch, ArrowError> {
    let keep: BooleanArray = match key_matcher(table, key) {
        Keys::Plain(keys) => keys.iter().map(|k| Some(k != Some(key))).collect(),
        Keys::Dict(keys, Some(id)) => keys.values().iter().map(|k| Some(*k != id)).collect(),
        Keys::Dict(_, None) => return Ok(table.clone()),
    };
    filter_record_batch(table, &keep)
}

/// The map column of the spans `keep` selects.
fn filter_map(map: &MapArray, keep: &BooleanArray) -> Result<MapArray, ArrowError> {
    Ok(filter(map, keep)?.as_map().clone())
}

/// The attribute rows of the spans `keep` selects, parent ids renumbered to
/// the filtered spans table.
fn filter_table(table: &RecordBatch, keep: &BooleanArray) -> Result<RecordBatch, ArrowError> {
    let mut new_ids = Vec::with_capacity(keep.len());
    let mut next = 0u16;
    for kept in keep.values() {
        new_ids.push(next);
        next += u16::from(kept);
    }
    let parents = table.column(0).as_primitive::<UInt16Type>();
    let rows: BooleanArray = parents
        .values()
        .iter()
        .map(|p| Some(keep.value(usize::from(*p))))
        .collect();
    let kept = filter_record_batch(table, &rows)?;
    let renumbered: UInt16Array = kept
        .column(0)
        .as_primitive::<UInt16Type>()
        .values()
        .iter()
        .map(|p| new_ids[usize::from(*p)])
        .collect();
    let mut columns = kept.columns().to_vec();
    columns[0] = Arc::new(renumbered);
    RecordBatch::try_new(kept.schema(), columns)
}

/// Every other span.
fn every_other() -> BooleanArray {
    (0..SPANS).map(|i| Some(i % 2 == 0)).collect()
}

// ---- the benchmark ----

/// Runs each operation once on every layout and checks they agree.
fn check(map: &MapArray, tables: &[&RecordBatch]) -> Result<(), ArrowError> {
    let expected = lookup_map(map, LOOKUP);
    assert_eq!(expected.null_count(), 0, "every span has {LOOKUP}");
    let redacted = lookup_map(&redact_map(map, REDACT)?, REDACT);
    assert!(redacted.iter().all(|v| v == Some(REDACTED)));
    let deleted = delete_map(map, DELETE)?;
    assert_eq!(deleted.entries().len(), map.entries().len() - SPANS);
    assert_eq!(lookup_map(&deleted, DELETE).null_count(), SPANS);
    let keep = every_other();
    let filtered = lookup_map(&filter_map(map, &keep)?, LOOKUP);
    assert_eq!(filtered.len(), SPANS / 2);
    assert_eq!(
        &filter(&expected, &keep)?.as_string::<i32>().clone(),
        &filtered
    );
    for table in tables {
        assert_eq!(lookup_table(table, LOOKUP, SPANS), expected);
        assert_eq!(
            lookup_table(&filter_table(table, &keep)?, LOOKUP, SPANS / 2),
            filtered
        );
        assert_eq!(
            lookup_table(&redact_table(table, REDACT)?, REDACT, SPANS),
            redacted
        );
        let deleted = delete_table(table, DELETE)?;
        assert_eq!(deleted.num_rows(), table.num_rows() - SPANS);
    }
    Ok(())
}

fn attributes(c: &mut Criterion) {
    let request = weir_benches::trace_request(SPANS, ATTRIBUTES);
    let spans: Vec<Vec<KeyValue>> = request
        .resource_spans
        .into_iter()
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .map(|s| s.attributes)
        .collect();
    let (map, table, dict) = match (
        build_map(&spans),
        build_table(&spans, false),
        build_table(&spans, true),
    ) {
        (Ok(map), Ok(table), Ok(dict)) => (map, table, dict),
        other => panic!("cannot build the layouts: {other:?}"),
    };
    if let Err(e) = check(&map, &[&table, &dict]) {
        panic!("the layouts disagree: {e}");
    }
    eprintln!(
        "Layout sizes: map {} bytes, table {} bytes, table/dict {} bytes.",
        map.get_array_memory_size(),
        table.get_array_memory_size(),
        dict.get_array_memory_size()
    );

    let mut group = c.benchmark_group(format!("attributes/{SPANS} spans x {ATTRIBUTES}"));
    group.throughput(Throughput::Elements(SPANS as u64));
    group.bench_function("lookup/map", |b| {
        b.iter(|| lookup_map(black_box(&map), LOOKUP))
    });
    group.bench_function("lookup/table", |b| {
        b.iter(|| lookup_table(black_box(&table), LOOKUP, SPANS))
    });
    group.bench_function("lookup/table dict", |b| {
        b.iter(|| lookup_table(black_box(&dict), LOOKUP, SPANS))
    });
    group.bench_function("redact/map", |b| {
        b.iter(|| redact_map(black_box(&map), REDACT))
    });
    group.bench_function("redact/table", |b| {
        b.iter(|| redact_table(black_box(&table), REDACT))
    });
    group.bench_function("redact/table dict", |b| {
        b.iter(|| redact_table(black_box(&dict), REDACT))
    });
    group.bench_function("delete/map", |b| {
        b.iter(|| delete_map(black_box(&map), DELETE))
    });
    group.bench_function("delete/table", |b| {
        b.iter(|| delete_table(black_box(&table), DELETE))
    });
    group.bench_function("delete/table dict", |b| {
        b.iter(|| delete_table(black_box(&dict), DELETE))
    });
    let keep = every_other();
    group.bench_function("filter/map", |b| {
        b.iter(|| filter_map(black_box(&map), &keep))
    });
    group.bench_function("filter/table", |b| {
        b.iter(|| filter_table(black_box(&table), &keep))
    });
    group.bench_function("filter/table dict", |b| {
        b.iter(|| filter_table(black_box(&dict), &keep))
    });
    group.finish();
}

/// The criterion group (its generated function has no docs of its own).
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::attributes);
}

criterion_main!(group::benches);
