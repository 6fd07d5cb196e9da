//! Arrow schemas of each signal's tables: the contract every node that reads
//! or writes columns shares.
//!
//! A batch of any signal is three record batches ([`crate::SignalTables`]):
//! [`resources`], [`scopes`] and the signal's records table ([`spans`],
//! [`logs`], [`metrics`] or [`profiles`]). Rows reference each other by `UInt32` ids local
//! to the batch: `scopes.resource_id -> resources.id` and `records.scope_id
//! -> scopes.id`.
//!
//! Column names are constants in one module per table or nested struct
//! ([`resource`], [`scope`], [`span`], [`event`], [`link`], [`status`],
//! [`log`], [`metric`], [`buckets`], [`quantile`], [`exemplar`],
//! [`any_value`], [`attributes`], [`entity_ref`]), so that the Parquet
//! exporter, the SQL layer and plugins never spell a column by hand.
//!
//! Conventions (the reasoning is in `docs/data-model.md`):
//!
//! - every attribute set is a [`attributes_type`] `Map<Utf8, AnyValue>`
//!   column; a **null** map means that the message owning the attributes is
//!   absent (a `Resource`, an `InstrumentationScope`, a metric data point);
//! - timestamps are [`timestamp_type`], the OTLP `u64` stored bit for bit;
//! - trace ids are [`trace_id_type`], span ids [`span_id_type`], null = empty;
//! - repetitive names are [`dictionary_utf8`];
//! - list items are never null, but their fields are declared nullable (the
//!   Arrow default, which query engines produce) so that lists built
//!   elsewhere have the same type.
//!
//! Every constructor returns a shared, cached schema or type: calling them
//! is cheap.

use std::sync::{Arc, LazyLock};

use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, SchemaRef, TimeUnit};

use crate::Signal;

/// Version of the table layout described here. Bumped on any change that a
/// reader of stored data (the Parquet store) must know about.
pub const SCHEMA_VERSION: u32 = 1;

/// Time zone of every timestamp column.
pub const TIME_ZONE: &str = "UTC";

/// Columns of the `AnyValue` struct (attribute values and the log body).
pub mod any_value {
    /// `UInt8`, never null: which kind of value this is ([`super::ValueType`]).
    pub const TYPE: &str = "type";
    /// `Utf8`: the value of a string.
    pub const STR: &str = "str";
    /// `Int64`: the value of an int (and the index of a `string_value_strindex`).
    pub const INT: &str = "int";
    /// `Float64`: the value of a double.
    pub const DOUBLE: &str = "double";
    /// `Boolean`: the value of a bool.
    pub const BOOL: &str = "bool";
    /// `Binary`: the value of bytes; for arrays and kvlists the protobuf
    /// encoding of the whole `AnyValue` message.
    pub const BYTES: &str = "bytes";
}

/// Field names inside an attribute `Map` column.
pub mod attributes {
    /// The map's entries struct.
    pub const ENTRIES: &str = "entries";
    /// `Utf8`, never null: the attribute key.
    pub const KEY: &str = "key";
    /// `AnyValue` struct, null when the `KeyValue` has no value.
    pub const VALUE: &str = "value";
}

/// Columns of the `resources` table (shared by all signals).
pub mod resource {
    /// `UInt32`: the id that `scopes.resource_id` references.
    pub const ID: &str = "id";
    /// `Map`, null when the `Resource` message is absent.
    pub const ATTRIBUTES: &str = "attributes";
    /// `UInt32`.
    pub const DROPPED_ATTRIBUTES_COUNT: &str = "dropped_attributes_count";
    /// `List<Struct>` of [`super::entity_ref`].
    pub const ENTITY_REFS: &str = "entity_refs";
    /// `Utf8`: the `Resource{Spans,Logs,Metrics}` message's schema URL.
    pub const SCHEMA_URL: &str = "schema_url";
}

/// Fields of one item of `resources.entity_refs`.
pub mod entity_ref {
    /// `Utf8`.
    pub const SCHEMA_URL: &str = "schema_url";
    /// `Utf8`: the entity type.
    pub const TYPE: &str = "type";
    /// `List<Utf8>`.
    pub const ID_KEYS: &str = "id_keys";
    /// `List<Utf8>`.
    pub const DESCRIPTION_KEYS: &str = "description_keys";
}

/// Columns of the `scopes` table (shared by all signals).
pub mod scope {
    /// `UInt32`: the id that `records.scope_id` references.
    pub const ID: &str = "id";
    /// `UInt32`: the `resources.id` this scope belongs to.
    pub const RESOURCE_ID: &str = "resource_id";
    /// `Dictionary(UInt32, Utf8)`.
    pub const NAME: &str = "name";
    /// `Utf8`.
    pub const VERSION: &str = "version";
    /// `Map`, null when the `InstrumentationScope` message is absent.
    pub const ATTRIBUTES: &str = "attributes";
    /// `UInt32`.
    pub const DROPPED_ATTRIBUTES_COUNT: &str = "dropped_attributes_count";
    /// `Utf8`: the `Scope{Spans,Logs,Metrics}` message's schema URL.
    pub const SCHEMA_URL: &str = "schema_url";
}

/// Columns of the spans records table.
pub mod span {
    /// `UInt32`: the `scopes.id` this span belongs to.
    pub const SCOPE_ID: &str = "scope_id";
    /// `FixedSizeBinary(16)`, null = empty.
    pub const TRACE_ID: &str = "trace_id";
    /// `FixedSizeBinary(8)`, null = empty.
    pub const SPAN_ID: &str = "span_id";
    /// `Utf8`.
    pub const TRACE_STATE: &str = "trace_state";
    /// `FixedSizeBinary(8)`, null = empty (a root span).
    pub const PARENT_SPAN_ID: &str = "parent_span_id";
    /// `UInt32`.
    pub const FLAGS: &str = "flags";
    /// `Dictionary(UInt32, Utf8)`.
    pub const NAME: &str = "name";
    /// `Int32`: the `SpanKind` enum value.
    pub const KIND: &str = "kind";
    /// `Timestamp(Nanosecond, "UTC")`.
    pub const START_TIME: &str = "start_time";
    /// `Timestamp(Nanosecond, "UTC")`.
    pub const END_TIME: &str = "end_time";
    /// `Map`.
    pub const ATTRIBUTES: &str = "attributes";
    /// `UInt32`.
    pub const DROPPED_ATTRIBUTES_COUNT: &str = "dropped_attributes_count";
    /// `List<Struct>` of [`super::event`].
    pub const EVENTS: &str = "events";
    /// `UInt32`.
    pub const DROPPED_EVENTS_COUNT: &str = "dropped_events_count";
    /// `List<Struct>` of [`super::link`].
    pub const LINKS: &str = "links";
    /// `UInt32`.
    pub const DROPPED_LINKS_COUNT: &str = "dropped_links_count";
    /// `Struct` of [`super::status`], null when the `Status` is absent.
    pub const STATUS: &str = "status";
}

/// Fields of one item of `spans.events`.
pub mod event {
    /// `Timestamp(Nanosecond, "UTC")`.
    pub const TIME: &str = "time";
    /// `Utf8`.
    pub const NAME: &str = "name";
    /// `Map`.
    pub const ATTRIBUTES: &str = "attributes";
    /// `UInt32`.
    pub const DROPPED_ATTRIBUTES_COUNT: &str = "dropped_attributes_count";
}

/// Fields of one item of `spans.links`.
pub mod link {
    /// `FixedSizeBinary(16)`, null = empty.
    pub const TRACE_ID: &str = "trace_id";
    /// `FixedSizeBinary(8)`, null = empty.
    pub const SPAN_ID: &str = "span_id";
    /// `Utf8`.
    pub const TRACE_STATE: &str = "trace_state";
    /// `Map`.
    pub const ATTRIBUTES: &str = "attributes";
    /// `UInt32`.
    pub const DROPPED_ATTRIBUTES_COUNT: &str = "dropped_attributes_count";
    /// `UInt32`.
    pub const FLAGS: &str = "flags";
}

/// Fields of `spans.status`.
pub mod status {
    /// `Int32`: the `StatusCode` enum value.
    pub const CODE: &str = "code";
    /// `Utf8`.
    pub const MESSAGE: &str = "message";
}

/// Columns of the logs records table.
pub mod log {
    /// `UInt32`: the `scopes.id` this log record belongs to.
    pub const SCOPE_ID: &str = "scope_id";
    /// `Timestamp(Nanosecond, "UTC")`.
    pub const TIME: &str = "time";
    /// `Timestamp(Nanosecond, "UTC")`.
    pub const OBSERVED_TIME: &str = "observed_time";
    /// `Int32`: the `SeverityNumber` enum value.
    pub const SEVERITY_NUMBER: &str = "severity_number";
    /// `Dictionary(UInt32, Utf8)`.
    pub const SEVERITY_TEXT: &str = "severity_text";
    /// `AnyValue` struct, null when the body is absent.
    pub const BODY: &str = "body";
    /// `Map`.
    pub const ATTRIBUTES: &str = "attributes";
    /// `UInt32`.
    pub const DROPPED_ATTRIBUTES_COUNT: &str = "dropped_attributes_count";
    /// `UInt32`.
    pub const FLAGS: &str = "flags";
    /// `FixedSizeBinary(16)`, null = empty.
    pub const TRACE_ID: &str = "trace_id";
    /// `FixedSizeBinary(8)`, null = empty.
    pub const SPAN_ID: &str = "span_id";
    /// `Dictionary(UInt32, Utf8)`.
    pub const EVENT_NAME: &str = "event_name";
}

/// Columns of the metrics records table (one row per data point).
pub mod metric {
    /// `UInt32`: the `scopes.id` this point's metric belongs to.
    pub const SCOPE_ID: &str = "scope_id";
    /// `UInt32`: rows with the same id are points of one `Metric` message.
    pub const METRIC_ID: &str = "metric_id";
    /// `Dictionary(UInt32, Utf8)`.
    pub const METRIC_NAME: &str = "metric_name";
    /// `Dictionary(UInt32, Utf8)`.
    pub const METRIC_DESCRIPTION: &str = "metric_description";
    /// `Dictionary(UInt32, Utf8)`.
    pub const METRIC_UNIT: &str = "metric_unit";
    /// `Map`: the `Metric.metadata` attributes.
    pub const METRIC_METADATA: &str = "metric_metadata";
    /// `UInt8`: [`super::MetricType`].
    pub const METRIC_TYPE: &str = "metric_type";
    /// `Int32`, null for gauges and summaries.
    pub const AGGREGATION_TEMPORALITY: &str = "aggregation_temporality";
    /// `Boolean`, null unless a sum.
    pub const IS_MONOTONIC: &str = "is_monotonic";
    /// `Map`: the point's attributes; null marks a placeholder row (a metric
    /// without data points).
    pub const ATTRIBUTES: &str = "attributes";
    /// `Timestamp(Nanosecond, "UTC")`.
    pub const START_TIME: &str = "start_time";
    /// `Timestamp(Nanosecond, "UTC")`.
    pub const TIME: &str = "time";
    /// `UInt32`.
    pub const FLAGS: &str = "flags";
    /// `Float64`: a number point's double value.
    pub const VALUE_DOUBLE: &str = "value_double";
    /// `Int64`: a number point's int value.
    pub const VALUE_INT: &str = "value_int";
    /// `UInt64`: histograms and summaries.
    pub const COUNT: &str = "count";
    /// `Float64`: histograms (null = absent) and summaries.
    pub const SUM: &str = "sum";
    /// `Float64`: histograms, null = absent.
    pub const MIN: &str = "min";
    /// `Float64`: histograms, null = absent.
    pub const MAX: &str = "max";
    /// `List<UInt64>`: explicit-bucket histograms.
    pub const BUCKET_COUNTS: &str = "bucket_counts";
    /// `List<Float64>`: explicit-bucket histograms.
    pub const EXPLICIT_BOUNDS: &str = "explicit_bounds";
    /// `Int32`: exponential histograms.
    pub const SCALE: &str = "scale";
    /// `UInt64`: exponential histograms.
    pub const ZERO_COUNT: &str = "zero_count";
    /// `Float64`: exponential histograms.
    pub const ZERO_THRESHOLD: &str = "zero_threshold";
    /// `Struct` of [`super::buckets`]: exponential histograms, null = absent.
    pub const POSITIVE: &str = "positive";
    /// `Struct` of [`super::buckets`]: exponential histograms, null = absent.
    pub const NEGATIVE: &str = "negative";
    /// `List<Struct>` of [`super::quantile`]: summaries.
    pub const QUANTILE_VALUES: &str = "quantile_values";
    /// `List<Struct>` of [`super::exemplar`]: number and histogram points.
    pub const EXEMPLARS: &str = "exemplars";
}

/// Columns of the profiles records table (one row per stack and window).
pub mod profile {
    /// `UInt32`: the `scopes.id` this row belongs to.
    pub const SCOPE_ID: &str = "scope_id";
    /// `Timestamp(Nanosecond, "UTC")`: start of the collection window.
    pub const START_TIME: &str = "start_time";
    /// `Timestamp(Nanosecond, "UTC")`: end of the collection window.
    pub const TIME: &str = "time";
    /// `Dictionary(UInt32, Utf8)`: what was sampled (`cpu`).
    pub const PROFILE_TYPE: &str = "profile_type";
    /// `Int64`: nanoseconds between two samples (1e9 / frequency), so
    /// `samples * period` estimates the time spent in the stack.
    pub const PERIOD: &str = "period";
    /// `Int64`: samples that hit this stack in the window.
    pub const SAMPLES: &str = "samples";
    /// `List<Struct>` of [`super::frame`], innermost (the sampled
    /// instruction) first; kernel frames before user frames.
    pub const FRAMES: &str = "frames";
    /// `Map`: the sampled process and thread (`process.pid`,
    /// `process.executable.name`, `thread.id`, `thread.name`).
    pub const ATTRIBUTES: &str = "attributes";
}

/// Fields of one item of `profiles.frames`.
pub mod frame {
    /// `Utf8`: the function (demangled), or the address in hex when it
    /// could not be resolved.
    pub const FUNCTION: &str = "function";
    /// `Utf8`: the binary or library (`[kernel]` for the kernel), "" when
    /// unknown.
    pub const MODULE: &str = "module";
    /// `UInt64`: the instruction pointer.
    pub const ADDRESS: &str = "address";
}

/// Fields of the exponential histogram `positive` / `negative` structs.
pub mod buckets {
    /// `Int32`.
    pub const OFFSET: &str = "offset";
    /// `List<UInt64>`.
    pub const BUCKET_COUNTS: &str = "bucket_counts";
}

/// Fields of one item of `metrics.quantile_values`.
pub mod quantile {
    /// `Float64`.
    pub const QUANTILE: &str = "quantile";
    /// `Float64`.
    pub const VALUE: &str = "value";
}

/// Fields of one item of `metrics.exemplars`.
pub mod exemplar {
    /// `Map`.
    pub const FILTERED_ATTRIBUTES: &str = "filtered_attributes";
    /// `Timestamp(Nanosecond, "UTC")`.
    pub const TIME: &str = "time";
    /// `Float64`.
    pub const VALUE_DOUBLE: &str = "value_double";
    /// `Int64`.
    pub const VALUE_INT: &str = "value_int";
    /// `FixedSizeBinary(8)`, null = empty.
    pub const SPAN_ID: &str = "span_id";
    /// `FixedSizeBinary(16)`, null = empty.
    pub const TRACE_ID: &str = "trace_id";
}

/// What an `AnyValue` holds: the values of the [`any_value::TYPE`] column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ValueType {
    /// An `AnyValue` with no value set.
    Empty = 0,
    /// A string, in [`any_value::STR`].
    Str = 1,
    /// A bool, in [`any_value::BOOL`].
    Bool = 2,
    /// An int, in [`any_value::INT`].
    Int = 3,
    /// A double, in [`any_value::DOUBLE`].
    Double = 4,
    /// Bytes, in [`any_value::BYTES`].
    Bytes = 5,
    /// An array: the protobuf `AnyValue` in [`any_value::BYTES`].
    Array = 6,
    /// A key-value list: the protobuf `AnyValue` in [`any_value::BYTES`].
    KvList = 7,
    /// A `string_value_strindex` (an index into a profiles string table;
    /// meaningless outside profiles, kept for losslessness), in
    /// [`any_value::INT`].
    StrIndex = 8,
}

impl ValueType {
    /// The type of a code of the `type` column, if it is one.
    pub fn from_u8(code: u8) -> Option<ValueType> {
        Some(match code {
            0 => ValueType::Empty,
            1 => ValueType::Str,
            2 => ValueType::Bool,
            3 => ValueType::Int,
            4 => ValueType::Double,
            5 => ValueType::Bytes,
            6 => ValueType::Array,
            7 => ValueType::KvList,
            8 => ValueType::StrIndex,
            _ => return None,
        })
    }
}

/// Which `Metric.data` a metric has: the values of [`metric::METRIC_TYPE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MetricType {
    /// `data` unset (the row is a placeholder).
    None = 0,
    /// A gauge of number points.
    Gauge = 1,
    /// A sum of number points.
    Sum = 2,
    /// An explicit-bucket histogram.
    Histogram = 3,
    /// An exponential histogram.
    ExponentialHistogram = 4,
    /// A summary.
    Summary = 5,
}

impl MetricType {
    /// The type of a code of the `metric_type` column, if it is one.
    pub fn from_u8(code: u8) -> Option<MetricType> {
        Some(match code {
            0 => MetricType::None,
            1 => MetricType::Gauge,
            2 => MetricType::Sum,
            3 => MetricType::Histogram,
            4 => MetricType::ExponentialHistogram,
            5 => MetricType::Summary,
            _ => return None,
        })
    }
}

/// `Timestamp(Nanosecond, "UTC")`: every timestamp column.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some(TIME_ZONE.into()))
}

/// `FixedSizeBinary(16)`: trace ids.
pub fn trace_id_type() -> DataType {
    DataType::FixedSizeBinary(16)
}

/// `FixedSizeBinary(8)`: span ids.
pub fn span_id_type() -> DataType {
    DataType::FixedSizeBinary(8)
}

/// `Dictionary(UInt32, Utf8)`: names and other repetitive strings.
pub fn dictionary_utf8() -> DataType {
    DataType::Dictionary(Box::new(DataType::UInt32), Box::new(DataType::Utf8))
}

/// `List<item>` with Arrow's default nullable `item` field.
pub fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item, true)))
}

static ANY_VALUE_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    Fields::from(vec![
        Field::new(any_value::TYPE, DataType::UInt8, false),
        Field::new(any_value::STR, DataType::Utf8, true),
        Field::new(any_value::INT, DataType::Int64, true),
        Field::new(any_value::DOUBLE, DataType::Float64, true),
        Field::new(any_value::BOOL, DataType::Boolean, true),
        Field::new(any_value::BYTES, DataType::Binary, true),
    ])
});

/// The fields of the `AnyValue` struct.
pub fn any_value_fields() -> Fields {
    ANY_VALUE_FIELDS.clone()
}

/// The `AnyValue` struct type (attribute values, the log body).
pub fn any_value_type() -> DataType {
    DataType::Struct(any_value_fields())
}

static ATTRIBUTES_ENTRY_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    Fields::from(vec![
        Field::new(attributes::KEY, DataType::Utf8, false),
        Field::new(attributes::VALUE, any_value_type(), true),
    ])
});

/// The fields of one entry of an attribute map: `key: Utf8` (non-null) and
/// `value: AnyValue`.
pub fn attributes_entry_fields() -> Fields {
    ATTRIBUTES_ENTRY_FIELDS.clone()
}

static ATTRIBUTES_ENTRIES: LazyLock<FieldRef> = LazyLock::new(|| {
    Arc::new(Field::new_struct(
        attributes::ENTRIES,
        attributes_entry_fields(),
        false,
    ))
});

/// The `entries` field of an attribute map: `Struct<key: Utf8 (non-null),
/// value: AnyValue>`.
pub fn attributes_entries() -> FieldRef {
    ATTRIBUTES_ENTRIES.clone()
}

/// The attribute map type: `Map<Utf8, AnyValue>`, keys unsorted (their
/// order and duplicates are kept as received).
pub fn attributes_type() -> DataType {
    DataType::Map(attributes_entries(), false)
}

fn attrs(name: &str, nullable: bool) -> Field {
    Field::new(name, attributes_type(), nullable)
}

fn ts(name: &str, nullable: bool) -> Field {
    Field::new(name, timestamp_type(), nullable)
}

fn u32f(name: &str) -> Field {
    Field::new(name, DataType::UInt32, false)
}

fn utf8(name: &str) -> Field {
    Field::new(name, DataType::Utf8, false)
}

fn dict(name: &str) -> Field {
    Field::new(name, dictionary_utf8(), false)
}

static ENTITY_REF_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    Fields::from(vec![
        utf8(entity_ref::SCHEMA_URL),
        utf8(entity_ref::TYPE),
        Field::new(entity_ref::ID_KEYS, list_of(DataType::Utf8), false),
        Field::new(entity_ref::DESCRIPTION_KEYS, list_of(DataType::Utf8), false),
    ])
});

/// The fields of one item of `resources.entity_refs`.
pub fn entity_ref_fields() -> Fields {
    ENTITY_REF_FIELDS.clone()
}

static EVENT_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    Fields::from(vec![
        ts(event::TIME, false),
        utf8(event::NAME),
        attrs(event::ATTRIBUTES, false),
        u32f(event::DROPPED_ATTRIBUTES_COUNT),
    ])
});

/// The fields of one item of `spans.events`.
pub fn event_fields() -> Fields {
    EVENT_FIELDS.clone()
}

static LINK_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    Fields::from(vec![
        Field::new(link::TRACE_ID, trace_id_type(), true),
        Field::new(link::SPAN_ID, span_id_type(), true),
        utf8(link::TRACE_STATE),
        attrs(link::ATTRIBUTES, false),
        u32f(link::DROPPED_ATTRIBUTES_COUNT),
        u32f(link::FLAGS),
    ])
});

/// The fields of one item of `spans.links`.
pub fn link_fields() -> Fields {
    LINK_FIELDS.clone()
}

static STATUS_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    Fields::from(vec![
        Field::new(status::CODE, DataType::Int32, false),
        utf8(status::MESSAGE),
    ])
});

/// The fields of `spans.status`.
pub fn status_fields() -> Fields {
    STATUS_FIELDS.clone()
}

static BUCKETS_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    Fields::from(vec![
        Field::new(buckets::OFFSET, DataType::Int32, false),
        Field::new(buckets::BUCKET_COUNTS, list_of(DataType::UInt64), false),
    ])
});

/// The fields of the exponential histogram `positive` / `negative` structs.
pub fn buckets_fields() -> Fields {
    BUCKETS_FIELDS.clone()
}

static QUANTILE_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    Fields::from(vec![
        Field::new(quantile::QUANTILE, DataType::Float64, false),
        Field::new(quantile::VALUE, DataType::Float64, false),
    ])
});

/// The fields of one item of `metrics.quantile_values`.
pub fn quantile_fields() -> Fields {
    QUANTILE_FIELDS.clone()
}

static EXEMPLAR_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    Fields::from(vec![
        attrs(exemplar::FILTERED_ATTRIBUTES, false),
        ts(exemplar::TIME, false),
        Field::new(exemplar::VALUE_DOUBLE, DataType::Float64, true),
        Field::new(exemplar::VALUE_INT, DataType::Int64, true),
        Field::new(exemplar::SPAN_ID, span_id_type(), true),
        Field::new(exemplar::TRACE_ID, trace_id_type(), true),
    ])
});

/// The fields of one item of `metrics.exemplars`.
pub fn exemplar_fields() -> Fields {
    EXEMPLAR_FIELDS.clone()
}

static RESOURCES: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        u32f(resource::ID),
        attrs(resource::ATTRIBUTES, true),
        u32f(resource::DROPPED_ATTRIBUTES_COUNT),
        Field::new(
            resource::ENTITY_REFS,
            list_of(DataType::Struct(entity_ref_fields())),
            false,
        ),
        utf8(resource::SCHEMA_URL),
    ]))
});

/// The `resources` table: one row per `Resource{Spans,Logs,Metrics}`
/// message, the same for every signal.
pub fn resources() -> SchemaRef {
    RESOURCES.clone()
}

static SCOPES: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        u32f(scope::ID),
        u32f(scope::RESOURCE_ID),
        dict(scope::NAME),
        utf8(scope::VERSION),
        attrs(scope::ATTRIBUTES, true),
        u32f(scope::DROPPED_ATTRIBUTES_COUNT),
        utf8(scope::SCHEMA_URL),
    ]))
});

/// The `scopes` table: one row per `Scope{Spans,Logs,Metrics}` message, the
/// same for every signal.
pub fn scopes() -> SchemaRef {
    SCOPES.clone()
}

static SPANS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        u32f(span::SCOPE_ID),
        Field::new(span::TRACE_ID, trace_id_type(), true),
        Field::new(span::SPAN_ID, span_id_type(), true),
        utf8(span::TRACE_STATE),
        Field::new(span::PARENT_SPAN_ID, span_id_type(), true),
        u32f(span::FLAGS),
        dict(span::NAME),
        Field::new(span::KIND, DataType::Int32, false),
        ts(span::START_TIME, false),
        ts(span::END_TIME, false),
        attrs(span::ATTRIBUTES, false),
        u32f(span::DROPPED_ATTRIBUTES_COUNT),
        Field::new(
            span::EVENTS,
            list_of(DataType::Struct(event_fields())),
            false,
        ),
        u32f(span::DROPPED_EVENTS_COUNT),
        Field::new(span::LINKS, list_of(DataType::Struct(link_fields())), false),
        u32f(span::DROPPED_LINKS_COUNT),
        Field::new(span::STATUS, DataType::Struct(status_fields()), true),
    ]))
});

/// The spans records table: one row per span.
pub fn spans() -> SchemaRef {
    SPANS.clone()
}

static LOGS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        u32f(log::SCOPE_ID),
        ts(log::TIME, false),
        ts(log::OBSERVED_TIME, false),
        Field::new(log::SEVERITY_NUMBER, DataType::Int32, false),
        dict(log::SEVERITY_TEXT),
        Field::new(log::BODY, any_value_type(), true),
        attrs(log::ATTRIBUTES, false),
        u32f(log::DROPPED_ATTRIBUTES_COUNT),
        u32f(log::FLAGS),
        Field::new(log::TRACE_ID, trace_id_type(), true),
        Field::new(log::SPAN_ID, span_id_type(), true),
        dict(log::EVENT_NAME),
    ]))
});

/// The logs records table: one row per log record.
pub fn logs() -> SchemaRef {
    LOGS.clone()
}

static METRICS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        u32f(metric::SCOPE_ID),
        u32f(metric::METRIC_ID),
        dict(metric::METRIC_NAME),
        dict(metric::METRIC_DESCRIPTION),
        dict(metric::METRIC_UNIT),
        attrs(metric::METRIC_METADATA, false),
        Field::new(metric::METRIC_TYPE, DataType::UInt8, false),
        Field::new(metric::AGGREGATION_TEMPORALITY, DataType::Int32, true),
        Field::new(metric::IS_MONOTONIC, DataType::Boolean, true),
        attrs(metric::ATTRIBUTES, true),
        ts(metric::START_TIME, true),
        ts(metric::TIME, true),
        Field::new(metric::FLAGS, DataType::UInt32, true),
        Field::new(metric::VALUE_DOUBLE, DataType::Float64, true),
        Field::new(metric::VALUE_INT, DataType::Int64, true),
        Field::new(metric::COUNT, DataType::UInt64, true),
        Field::new(metric::SUM, DataType::Float64, true),
        Field::new(metric::MIN, DataType::Float64, true),
        Field::new(metric::MAX, DataType::Float64, true),
        Field::new(metric::BUCKET_COUNTS, list_of(DataType::UInt64), true),
        Field::new(metric::EXPLICIT_BOUNDS, list_of(DataType::Float64), true),
        Field::new(metric::SCALE, DataType::Int32, true),
        Field::new(metric::ZERO_COUNT, DataType::UInt64, true),
        Field::new(metric::ZERO_THRESHOLD, DataType::Float64, true),
        Field::new(metric::POSITIVE, DataType::Struct(buckets_fields()), true),
        Field::new(metric::NEGATIVE, DataType::Struct(buckets_fields()), true),
        Field::new(
            metric::QUANTILE_VALUES,
            list_of(DataType::Struct(quantile_fields())),
            true,
        ),
        Field::new(
            metric::EXEMPLARS,
            list_of(DataType::Struct(exemplar_fields())),
            true,
        ),
    ]))
});

/// The metrics records table: one row per data point (plus one placeholder
/// row per metric without data points).
pub fn metrics() -> SchemaRef {
    METRICS.clone()
}

static FRAME_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    Fields::from(vec![
        utf8(frame::FUNCTION),
        utf8(frame::MODULE),
        Field::new(frame::ADDRESS, DataType::UInt64, false),
    ])
});

/// The fields of one item of `profiles.frames`.
pub fn frame_fields() -> Fields {
    FRAME_FIELDS.clone()
}

static PROFILES: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        u32f(profile::SCOPE_ID),
        ts(profile::START_TIME, false),
        ts(profile::TIME, false),
        dict(profile::PROFILE_TYPE),
        Field::new(profile::PERIOD, DataType::Int64, false),
        Field::new(profile::SAMPLES, DataType::Int64, false),
        Field::new(
            profile::FRAMES,
            list_of(DataType::Struct(frame_fields())),
            false,
        ),
        attrs(profile::ATTRIBUTES, false),
    ]))
});

/// The profiles records table: one row per distinct stack of one thread
/// in one collection window, with its sample count (Arrow only: profiles
/// have no OTLP form in weir).
pub fn profiles() -> SchemaRef {
    PROFILES.clone()
}

/// The records table of `signal`: [`spans`], [`metrics`], [`logs`] or
/// [`profiles`].
pub fn records(signal: Signal) -> SchemaRef {
    match signal {
        Signal::Traces => spans(),
        Signal::Metrics => metrics(),
        Signal::Logs => logs(),
        Signal::Profiles => profiles(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_type_codes_round_trip() {
        for code in 0..=u8::MAX {
            if let Some(t) = ValueType::from_u8(code) {
                assert_eq!(t as u8, code);
            } else {
                assert!(code > 8);
            }
            if let Some(t) = MetricType::from_u8(code) {
                assert_eq!(t as u8, code);
            } else {
                assert!(code > 5);
            }
        }
    }

    #[test]
    fn schemas_have_unique_column_names() {
        for schema in [
            resources(),
            scopes(),
            spans(),
            logs(),
            metrics(),
            profiles(),
        ] {
            let mut names: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
            let n = names.len();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), n, "{schema:?}");
        }
    }

    #[test]
    fn attributes_are_a_valid_map_type() {
        let DataType::Map(entries, sorted) = attributes_type() else {
            panic!("not a map");
        };
        assert!(!sorted);
        assert!(!entries.is_nullable());
        let DataType::Struct(fields) = entries.data_type() else {
            panic!("entries not a struct");
        };
        assert_eq!(fields[0].name(), attributes::KEY);
        assert!(!fields[0].is_nullable());
        assert_eq!(fields[1].data_type(), &any_value_type());
    }
}
