//! The shape of the OTLP export requests, written down as static tables.
//!
//! One [`Message`] per protobuf message of `opentelemetry-proto` v1 that an
//! `Export{Trace,Metrics,Logs}ServiceRequest` can contain, with its fields'
//! numbers, names (proto `snake_case` and JSON `lowerCamelCase`), types and
//! cardinality. The wire scan ([`super::scan`]) and the OTLP/JSON transcoder
//! (`otlp::json`) walk these tables, so the two can never disagree on the
//! schema. Fields are listed in `.proto` declaration order, which is the order
//! OTLP/JSON output uses.

use crate::Signal;

/// The protobuf wire types.
pub(crate) mod wire {
    /// Varint (`int32`, `int64`, `uint32`, `uint64`, `sint32`, `bool`, enums).
    pub const VARINT: u8 = 0;
    /// 8 little-endian bytes (`fixed64`, `sfixed64`, `double`).
    pub const I64: u8 = 1;
    /// Length-delimited (strings, bytes, messages, packed repeated scalars).
    pub const LEN: u8 = 2;
    /// Start of a (deprecated) group.
    pub const SGROUP: u8 = 3;
    /// End of a (deprecated) group.
    pub const EGROUP: u8 = 4;
    /// 4 little-endian bytes (`fixed32`, `sfixed32`, `float`).
    pub const I32: u8 = 5;
}

/// What the scan does on meeting a field key, precomputed per message for
/// the keys below 256 (field numbers below 32, every wire type): the high
/// nibble of [`Message::action`] is one of these, the low nibble the field's
/// position in [`Message::fields`].
pub(crate) mod action {
    /// Unknown field, wrong wire type, or key too large for the table: the
    /// general path sorts it out.
    pub const GENERAL: u8 = 0;
    /// A varint value.
    pub const VARINT: u8 = 1;
    /// An 8-byte value.
    pub const I64: u8 = 2;
    /// A 4-byte value.
    pub const I32: u8 = 3;
    /// A length-delimited UTF-8 string.
    pub const STRING: u8 = 4;
    /// Length-delimited bytes.
    pub const BYTES: u8 = 5;
    /// A trace or span id (length checked).
    pub const ID: u8 = 6;
    /// A nested message.
    pub const MESSAGE: u8 = 7;
    /// A packed repeated numeric field.
    pub const PACKED: u8 = 8;
}

/// The type of a field, as far as the wire format and JSON care.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// `int32` (JSON number).
    Int32,
    /// `int64` (JSON decimal string).
    Int64,
    /// `uint32` (JSON number).
    UInt32,
    /// `uint64` (JSON decimal string).
    UInt64,
    /// `sint32`, zigzag-encoded (JSON number).
    SInt32,
    /// `bool`.
    Bool,
    /// An enum with dense values `0..names.len()` (JSON number; names
    /// accepted on input).
    Enum(&'static [&'static str]),
    /// `fixed64` (JSON decimal string).
    Fixed64,
    /// `sfixed64` (JSON decimal string).
    SFixed64,
    /// `double` (JSON number, or `"NaN"`, `"Infinity"`, `"-Infinity"`).
    Double,
    /// `fixed32` (JSON number).
    Fixed32,
    /// `string`: UTF-8 checked.
    String,
    /// `bytes` (JSON base64).
    Bytes,
    /// A trace or span id: `bytes` that must be empty or `len` long (JSON
    /// hex). `path` names the field in errors, as `Span.trace_id`.
    Id {
        /// The only non-zero length allowed.
        len: usize,
        /// `Message.field`, for error messages.
        path: &'static str,
    },
    /// A nested message.
    Message(&'static Message),
}

impl Kind {
    /// The wire type of one value of this kind (unpacked).
    pub(crate) const fn wire_type(self) -> u8 {
        match self {
            Kind::Int32
            | Kind::Int64
            | Kind::UInt32
            | Kind::UInt64
            | Kind::SInt32
            | Kind::Bool
            | Kind::Enum(_) => wire::VARINT,
            Kind::Fixed64 | Kind::SFixed64 | Kind::Double => wire::I64,
            Kind::Fixed32 => wire::I32,
            Kind::String | Kind::Bytes | Kind::Id { .. } | Kind::Message(_) => wire::LEN,
        }
    }

    /// The [`action`] for a value of this kind with its own wire type.
    const fn action(self) -> u8 {
        match self {
            Kind::Int32
            | Kind::Int64
            | Kind::UInt32
            | Kind::UInt64
            | Kind::SInt32
            | Kind::Bool
            | Kind::Enum(_) => action::VARINT,
            Kind::Fixed64 | Kind::SFixed64 | Kind::Double => action::I64,
            Kind::Fixed32 => action::I32,
            Kind::String => action::STRING,
            Kind::Bytes => action::BYTES,
            Kind::Id { .. } => action::ID,
            Kind::Message(_) => action::MESSAGE,
        }
    }

    /// Whether a repeated field of this kind may be packed (numeric scalars).
    pub(crate) const fn packable(self) -> bool {
        !matches!(self.wire_type(), wire::LEN)
    }
}

/// How many values a field holds and whether absence is distinguishable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Card {
    /// A proto3 singular field: absent means the default value.
    Singular,
    /// A proto3 `optional` field: present even when it holds the default.
    Optional,
    /// A member of the message's `oneof` (OTLP messages have at most one):
    /// present even when default; the last member on the wire wins.
    Oneof,
    /// A `repeated` field.
    Repeated,
}

/// One field of a message.
#[derive(Debug)]
pub(crate) struct Field {
    /// The field number.
    pub number: u32,
    /// The `.proto` name (`snake_case`).
    pub name: &'static str,
    /// The JSON name (`lowerCamelCase`).
    pub json: &'static str,
    /// The type.
    pub kind: Kind,
    /// The cardinality.
    pub card: Card,
    /// The wire type of one (unpacked) value: `kind.wire_type()`.
    pub wire: u8,
}

/// Field numbers below this bound are looked up in a table; OTLP uses 1..=16.
const INDEX_LEN: usize = 32;

/// How the scan walks a message: by its action table, or by a hand-written
/// walk for the most frequent ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The action table.
    Table,
    /// `KeyValue`'s own walk.
    KeyValue,
    /// `AnyValue`'s own walk.
    AnyValue,
    /// `Span`'s own walk.
    Span,
}

/// One protobuf message type.
#[derive(Debug)]
pub(crate) struct Message {
    /// The message name, for error messages (`Span`).
    pub name: &'static str,
    /// The fields, in declaration order.
    pub fields: &'static [Field],
    /// Whether each instance is one item of its signal (span, log record,
    /// data point).
    pub item: bool,
    /// How the scan walks it.
    pub shape: Shape,
    /// `index[number]` is the position in `fields` plus one, or 0.
    index: [u8; INDEX_LEN],
    /// `actions[key]`: [`action`] `<< 4 |` position in `fields`.
    actions: [u8; 256],
}

impl Message {
    const fn new(name: &'static str, fields: &'static [Field], item: bool) -> Message {
        assert!(fields.len() <= 16, "positions must fit in a nibble");
        let mut index = [0u8; INDEX_LEN];
        let mut actions = [action::GENERAL; 256];
        let mut i = 0;
        while i < fields.len() {
            let field = &fields[i];
            let n = field.number as usize;
            assert!(
                n < INDEX_LEN && index[n] == 0,
                "field number out of table or repeated"
            );
            index[n] = (i + 1) as u8;
            actions[n << 3 | field.wire as usize] = field.kind.action() << 4 | i as u8;
            if matches!(field.card, Card::Repeated) && field.kind.packable() {
                actions[n << 3 | wire::LEN as usize] = action::PACKED << 4 | i as u8;
            }
            i += 1;
        }
        Message {
            name,
            fields,
            item,
            shape: Shape::Table,
            index,
            actions,
        }
    }

    /// The same message, walked as `shape` says.
    const fn walked(self, shape: Shape) -> Message {
        Message { shape, ..self }
    }

    /// What to do on meeting this field key: `(action, position)`.
    #[inline(always)]
    pub(crate) fn action(&self, key: u64) -> (u8, usize) {
        let slot = if key < 256 {
            self.actions[key as usize]
        } else {
            action::GENERAL
        };
        (slot >> 4, usize::from(slot & 15))
    }

    /// The position in `fields` of the field with this number.
    #[inline]
    pub(crate) fn position(&self, number: u32) -> Option<usize> {
        match self.index.get(number as usize) {
            Some(&slot) if slot != 0 => Some(usize::from(slot) - 1),
            _ => None,
        }
    }

    /// The field with this JSON or proto name.
    pub(crate) fn field_named(&self, name: &str) -> Option<&'static Field> {
        self.fields
            .iter()
            .find(|f| f.json == name || f.name == name)
    }
}

/// The request message of a signal ([`PdataError::NoOtlp`] for profiles).
pub(crate) fn request(signal: Signal) -> Result<&'static Message, crate::PdataError> {
    match signal {
        Signal::Traces => Ok(&EXPORT_TRACE_SERVICE_REQUEST),
        Signal::Metrics => Ok(&EXPORT_METRICS_SERVICE_REQUEST),
        Signal::Logs => Ok(&EXPORT_LOGS_SERVICE_REQUEST),
        Signal::Profiles => Err(crate::PdataError::NoOtlp(signal)),
    }
}

const fn f(number: u32, name: &'static str, json: &'static str, kind: Kind) -> Field {
    Field {
        number,
        name,
        json,
        kind,
        card: Card::Singular,
        wire: kind.wire_type(),
    }
}

const fn opt(number: u32, name: &'static str, json: &'static str, kind: Kind) -> Field {
    Field {
        number,
        name,
        json,
        kind,
        card: Card::Optional,
        wire: kind.wire_type(),
    }
}

const fn rep(number: u32, name: &'static str, json: &'static str, kind: Kind) -> Field {
    Field {
        number,
        name,
        json,
        kind,
        card: Card::Repeated,
        wire: kind.wire_type(),
    }
}

const fn one(number: u32, name: &'static str, json: &'static str, kind: Kind) -> Field {
    Field {
        number,
        name,
        json,
        kind,
        card: Card::Oneof,
        wire: kind.wire_type(),
    }
}

const fn msg(m: &'static Message) -> Kind {
    Kind::Message(m)
}

const fn id(len: usize, path: &'static str) -> Kind {
    Kind::Id { len, path }
}

// ---- common.proto, resource.proto ----

pub(crate) static ANY_VALUE: Message =
    Message::new("AnyValue", ANY_VALUE_FIELDS, false).walked(Shape::AnyValue);
static ANY_VALUE_FIELDS: &[Field] = &[
    one(1, "string_value", "stringValue", Kind::String),
    one(2, "bool_value", "boolValue", Kind::Bool),
    one(3, "int_value", "intValue", Kind::Int64),
    one(4, "double_value", "doubleValue", Kind::Double),
    one(5, "array_value", "arrayValue", msg(&ARRAY_VALUE)),
    one(6, "kvlist_value", "kvlistValue", msg(&KEY_VALUE_LIST)),
    one(7, "bytes_value", "bytesValue", Kind::Bytes),
    one(
        8,
        "string_value_strindex",
        "stringValueStrindex",
        Kind::Int32,
    ),
];

static ARRAY_VALUE: Message = Message::new("ArrayValue", ARRAY_VALUE_FIELDS, false);
static ARRAY_VALUE_FIELDS: &[Field] = &[rep(1, "values", "values", msg(&ANY_VALUE))];

static KEY_VALUE_LIST: Message = Message::new("KeyValueList", KEY_VALUE_LIST_FIELDS, false);
static KEY_VALUE_LIST_FIELDS: &[Field] = &[rep(1, "values", "values", msg(&KEY_VALUE))];

pub(crate) static KEY_VALUE: Message =
    Message::new("KeyValue", KEY_VALUE_FIELDS, false).walked(Shape::KeyValue);
static KEY_VALUE_FIELDS: &[Field] = &[
    f(1, "key", "key", Kind::String),
    f(2, "value", "value", msg(&ANY_VALUE)),
    f(3, "key_strindex", "keyStrindex", Kind::Int32),
];

static SCOPE: Message = Message::new("InstrumentationScope", SCOPE_FIELDS, false);
static SCOPE_FIELDS: &[Field] = &[
    f(1, "name", "name", Kind::String),
    f(2, "version", "version", Kind::String),
    rep(3, "attributes", "attributes", msg(&KEY_VALUE)),
    f(
        4,
        "dropped_attributes_count",
        "droppedAttributesCount",
        Kind::UInt32,
    ),
];

static ENTITY_REF: Message = Message::new("EntityRef", ENTITY_REF_FIELDS, false);
static ENTITY_REF_FIELDS: &[Field] = &[
    f(1, "schema_url", "schemaUrl", Kind::String),
    f(2, "type", "type", Kind::String),
    rep(3, "id_keys", "idKeys", Kind::String),
    rep(4, "description_keys", "descriptionKeys", Kind::String),
];

static RESOURCE: Message = Message::new("Resource", RESOURCE_FIELDS, false);
static RESOURCE_FIELDS: &[Field] = &[
    rep(1, "attributes", "attributes", msg(&KEY_VALUE)),
    f(
        2,
        "dropped_attributes_count",
        "droppedAttributesCount",
        Kind::UInt32,
    ),
    rep(3, "entity_refs", "entityRefs", msg(&ENTITY_REF)),
];

// ---- trace.proto ----

static EXPORT_TRACE_SERVICE_REQUEST: Message =
    Message::new("ExportTraceServiceRequest", EXPORT_TRACE_FIELDS, false);
static EXPORT_TRACE_FIELDS: &[Field] = &[rep(
    1,
    "resource_spans",
    "resourceSpans",
    msg(&RESOURCE_SPANS),
)];

static RESOURCE_SPANS: Message = Message::new("ResourceSpans", RESOURCE_SPANS_FIELDS, false);
static RESOURCE_SPANS_FIELDS: &[Field] = &[
    f(1, "resource", "resource", msg(&RESOURCE)),
    rep(2, "scope_spans", "scopeSpans", msg(&SCOPE_SPANS)),
    f(3, "schema_url", "schemaUrl", Kind::String),
];

static SCOPE_SPANS: Message = Message::new("ScopeSpans", SCOPE_SPANS_FIELDS, false);
static SCOPE_SPANS_FIELDS: &[Field] = &[
    f(1, "scope", "scope", msg(&SCOPE)),
    rep(2, "spans", "spans", msg(&SPAN)),
    f(3, "schema_url", "schemaUrl", Kind::String),
];

const SPAN_KIND: &[&str] = &[
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];

pub(crate) static SPAN: Message = Message::new("Span", SPAN_FIELDS, true).walked(Shape::Span);
static SPAN_FIELDS: &[Field] = &[
    f(1, "trace_id", "traceId", id(16, "Span.trace_id")),
    f(2, "span_id", "spanId", id(8, "Span.span_id")),
    f(3, "trace_state", "traceState", Kind::String),
    f(
        4,
        "parent_span_id",
        "parentSpanId",
        id(8, "Span.parent_span_id"),
    ),
    f(5, "name", "name", Kind::String),
    f(6, "kind", "kind", Kind::Enum(SPAN_KIND)),
    f(
        7,
        "start_time_unix_nano",
        "startTimeUnixNano",
        Kind::Fixed64,
    ),
    f(8, "end_time_unix_nano", "endTimeUnixNano", Kind::Fixed64),
    rep(9, "attributes", "attributes", msg(&KEY_VALUE)),
    f(
        10,
        "dropped_attributes_count",
        "droppedAttributesCount",
        Kind::UInt32,
    ),
    rep(11, "events", "events", msg(&EVENT)),
    f(
        12,
        "dropped_events_count",
        "droppedEventsCount",
        Kind::UInt32,
    ),
    rep(13, "links", "links", msg(&LINK)),
    f(14, "dropped_links_count", "droppedLinksCount", Kind::UInt32),
    f(15, "status", "status", msg(&STATUS)),
    f(16, "flags", "flags", Kind::Fixed32),
];

static EVENT: Message = Message::new("Span.Event", EVENT_FIELDS, false);
static EVENT_FIELDS: &[Field] = &[
    f(1, "time_unix_nano", "timeUnixNano", Kind::Fixed64),
    f(2, "name", "name", Kind::String),
    rep(3, "attributes", "attributes", msg(&KEY_VALUE)),
    f(
        4,
        "dropped_attributes_count",
        "droppedAttributesCount",
        Kind::UInt32,
    ),
];

static LINK: Message = Message::new("Span.Link", LINK_FIELDS, false);
static LINK_FIELDS: &[Field] = &[
    f(1, "trace_id", "traceId", id(16, "Span.Link.trace_id")),
    f(2, "span_id", "spanId", id(8, "Span.Link.span_id")),
    f(3, "trace_state", "traceState", Kind::String),
    rep(4, "attributes", "attributes", msg(&KEY_VALUE)),
    f(
        5,
        "dropped_attributes_count",
        "droppedAttributesCount",
        Kind::UInt32,
    ),
    f(6, "flags", "flags", Kind::Fixed32),
];

const STATUS_CODE: &[&str] = &["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];

static STATUS: Message = Message::new("Status", STATUS_FIELDS, false);
static STATUS_FIELDS: &[Field] = &[
    f(2, "message", "message", Kind::String),
    f(3, "code", "code", Kind::Enum(STATUS_CODE)),
];

// ---- metrics.proto ----

static EXPORT_METRICS_SERVICE_REQUEST: Message =
    Message::new("ExportMetricsServiceRequest", EXPORT_METRICS_FIELDS, false);
static EXPORT_METRICS_FIELDS: &[Field] = &[rep(
    1,
    "resource_metrics",
    "resourceMetrics",
    msg(&RESOURCE_METRICS),
)];

static RESOURCE_METRICS: Message = Message::new("ResourceMetrics", RESOURCE_METRICS_FIELDS, false);
static RESOURCE_METRICS_FIELDS: &[Field] = &[
    f(1, "resource", "resource", msg(&RESOURCE)),
    rep(2, "scope_metrics", "scopeMetrics", msg(&SCOPE_METRICS)),
    f(3, "schema_url", "schemaUrl", Kind::String),
];

static SCOPE_METRICS: Message = Message::new("ScopeMetrics", SCOPE_METRICS_FIELDS, false);
static SCOPE_METRICS_FIELDS: &[Field] = &[
    f(1, "scope", "scope", msg(&SCOPE)),
    rep(2, "metrics", "metrics", msg(&METRIC)),
    f(3, "schema_url", "schemaUrl", Kind::String),
];

static METRIC: Message = Message::new("Metric", METRIC_FIELDS, false);
static METRIC_FIELDS: &[Field] = &[
    f(1, "name", "name", Kind::String),
    f(2, "description", "description", Kind::String),
    f(3, "unit", "unit", Kind::String),
    one(5, "gauge", "gauge", msg(&GAUGE)),
    one(7, "sum", "sum", msg(&SUM)),
    one(9, "histogram", "histogram", msg(&HISTOGRAM)),
    one(
        10,
        "exponential_histogram",
        "exponentialHistogram",
        msg(&EXPONENTIAL_HISTOGRAM),
    ),
    one(11, "summary", "summary", msg(&SUMMARY)),
    rep(12, "metadata", "metadata", msg(&KEY_VALUE)),
];

const AGGREGATION_TEMPORALITY: &[&str] = &[
    "AGGREGATION_TEMPORALITY_UNSPECIFIED",
    "AGGREGATION_TEMPORALITY_DELTA",
    "AGGREGATION_TEMPORALITY_CUMULATIVE",
];

static GAUGE: Message = Message::new("Gauge", GAUGE_FIELDS, false);
static GAUGE_FIELDS: &[Field] = &[rep(1, "data_points", "dataPoints", msg(&NUMBER_DATA_POINT))];

static SUM: Message = Message::new("Sum", SUM_FIELDS, false);
static SUM_FIELDS: &[Field] = &[
    rep(1, "data_points", "dataPoints", msg(&NUMBER_DATA_POINT)),
    f(
        2,
        "aggregation_temporality",
        "aggregationTemporality",
        Kind::Enum(AGGREGATION_TEMPORALITY),
    ),
    f(3, "is_monotonic", "isMonotonic", Kind::Bool),
];

static HISTOGRAM: Message = Message::new("Histogram", HISTOGRAM_FIELDS, false);
static HISTOGRAM_FIELDS: &[Field] = &[
    rep(1, "data_points", "dataPoints", msg(&HISTOGRAM_DATA_POINT)),
    f(
        2,
        "aggregation_temporality",
        "aggregationTemporality",
        Kind::Enum(AGGREGATION_TEMPORALITY),
    ),
];

static EXPONENTIAL_HISTOGRAM: Message =
    Message::new("ExponentialHistogram", EXPONENTIAL_HISTOGRAM_FIELDS, false);
static EXPONENTIAL_HISTOGRAM_FIELDS: &[Field] = &[
    rep(
        1,
        "data_points",
        "dataPoints",
        msg(&EXPONENTIAL_HISTOGRAM_DATA_POINT),
    ),
    f(
        2,
        "aggregation_temporality",
        "aggregationTemporality",
        Kind::Enum(AGGREGATION_TEMPORALITY),
    ),
];

static SUMMARY: Message = Message::new("Summary", SUMMARY_FIELDS, false);
static SUMMARY_FIELDS: &[Field] = &[rep(
    1,
    "data_points",
    "dataPoints",
    msg(&SUMMARY_DATA_POINT),
)];

static NUMBER_DATA_POINT: Message = Message::new("NumberDataPoint", NUMBER_DATA_POINT_FIELDS, true);
static NUMBER_DATA_POINT_FIELDS: &[Field] = &[
    f(
        2,
        "start_time_unix_nano",
        "startTimeUnixNano",
        Kind::Fixed64,
    ),
    f(3, "time_unix_nano", "timeUnixNano", Kind::Fixed64),
    one(4, "as_double", "asDouble", Kind::Double),
    one(6, "as_int", "asInt", Kind::SFixed64),
    rep(5, "exemplars", "exemplars", msg(&EXEMPLAR)),
    rep(7, "attributes", "attributes", msg(&KEY_VALUE)),
    f(8, "flags", "flags", Kind::UInt32),
];

static HISTOGRAM_DATA_POINT: Message =
    Message::new("HistogramDataPoint", HISTOGRAM_DATA_POINT_FIELDS, true);
static HISTOGRAM_DATA_POINT_FIELDS: &[Field] = &[
    f(
        2,
        "start_time_unix_nano",
        "startTimeUnixNano",
        Kind::Fixed64,
    ),
    f(3, "time_unix_nano", "timeUnixNano", Kind::Fixed64),
    f(4, "count", "count", Kind::Fixed64),
    opt(5, "sum", "sum", Kind::Double),
    rep(6, "bucket_counts", "bucketCounts", Kind::Fixed64),
    rep(7, "explicit_bounds", "explicitBounds", Kind::Double),
    rep(8, "exemplars", "exemplars", msg(&EXEMPLAR)),
    rep(9, "attributes", "attributes", msg(&KEY_VALUE)),
    f(10, "flags", "flags", Kind::UInt32),
    opt(11, "min", "min", Kind::Double),
    opt(12, "max", "max", Kind::Double),
];

static EXPONENTIAL_HISTOGRAM_DATA_POINT: Message = Message::new(
    "ExponentialHistogramDataPoint",
    EXPONENTIAL_HISTOGRAM_DATA_POINT_FIELDS,
    true,
);
static EXPONENTIAL_HISTOGRAM_DATA_POINT_FIELDS: &[Field] = &[
    rep(1, "attributes", "attributes", msg(&KEY_VALUE)),
    f(
        2,
        "start_time_unix_nano",
        "startTimeUnixNano",
        Kind::Fixed64,
    ),
    f(3, "time_unix_nano", "timeUnixNano", Kind::Fixed64),
    f(4, "count", "count", Kind::Fixed64),
    opt(5, "sum", "sum", Kind::Double),
    f(6, "scale", "scale", Kind::SInt32),
    f(7, "zero_count", "zeroCount", Kind::Fixed64),
    f(8, "positive", "positive", msg(&BUCKETS)),
    f(9, "negative", "negative", msg(&BUCKETS)),
    f(10, "flags", "flags", Kind::UInt32),
    rep(11, "exemplars", "exemplars", msg(&EXEMPLAR)),
    opt(12, "min", "min", Kind::Double),
    opt(13, "max", "max", Kind::Double),
    f(14, "zero_threshold", "zeroThreshold", Kind::Double),
];

static BUCKETS: Message = Message::new(
    "ExponentialHistogramDataPoint.Buckets",
    BUCKETS_FIELDS,
    false,
);
static BUCKETS_FIELDS: &[Field] = &[
    f(1, "offset", "offset", Kind::SInt32),
    rep(2, "bucket_counts", "bucketCounts", Kind::UInt64),
];

static SUMMARY_DATA_POINT: Message =
    Message::new("SummaryDataPoint", SUMMARY_DATA_POINT_FIELDS, true);
static SUMMARY_DATA_POINT_FIELDS: &[Field] = &[
    f(
        2,
        "start_time_unix_nano",
        "startTimeUnixNano",
        Kind::Fixed64,
    ),
    f(3, "time_unix_nano", "timeUnixNano", Kind::Fixed64),
    f(4, "count", "count", Kind::Fixed64),
    f(5, "sum", "sum", Kind::Double),
    rep(
        6,
        "quantile_values",
        "quantileValues",
        msg(&VALUE_AT_QUANTILE),
    ),
    rep(7, "attributes", "attributes", msg(&KEY_VALUE)),
    f(8, "flags", "flags", Kind::UInt32),
];

static VALUE_AT_QUANTILE: Message = Message::new(
    "SummaryDataPoint.ValueAtQuantile",
    VALUE_AT_QUANTILE_FIELDS,
    false,
);
static VALUE_AT_QUANTILE_FIELDS: &[Field] = &[
    f(1, "quantile", "quantile", Kind::Double),
    f(2, "value", "value", Kind::Double),
];

static EXEMPLAR: Message = Message::new("Exemplar", EXEMPLAR_FIELDS, false);
static EXEMPLAR_FIELDS: &[Field] = &[
    f(2, "time_unix_nano", "timeUnixNano", Kind::Fixed64),
    one(3, "as_double", "asDouble", Kind::Double),
    one(6, "as_int", "asInt", Kind::SFixed64),
    f(4, "span_id", "spanId", id(8, "Exemplar.span_id")),
    f(5, "trace_id", "traceId", id(16, "Exemplar.trace_id")),
    rep(
        7,
        "filtered_attributes",
        "filteredAttributes",
        msg(&KEY_VALUE),
    ),
];

// ---- logs.proto ----

static EXPORT_LOGS_SERVICE_REQUEST: Message =
    Message::new("ExportLogsServiceRequest", EXPORT_LOGS_FIELDS, false);
static EXPORT_LOGS_FIELDS: &[Field] =
    &[rep(1, "resource_logs", "resourceLogs", msg(&RESOURCE_LOGS))];

static RESOURCE_LOGS: Message = Message::new("ResourceLogs", RESOURCE_LOGS_FIELDS, false);
static RESOURCE_LOGS_FIELDS: &[Field] = &[
    f(1, "resource", "resource", msg(&RESOURCE)),
    rep(2, "scope_logs", "scopeLogs", msg(&SCOPE_LOGS)),
    f(3, "schema_url", "schemaUrl", Kind::String),
];

static SCOPE_LOGS: Message = Message::new("ScopeLogs", SCOPE_LOGS_FIELDS, false);
static SCOPE_LOGS_FIELDS: &[Field] = &[
    f(1, "scope", "scope", msg(&SCOPE)),
    rep(2, "log_records", "logRecords", msg(&LOG_RECORD)),
    f(3, "schema_url", "schemaUrl", Kind::String),
];

const SEVERITY_NUMBER: &[&str] = &[
    "SEVERITY_NUMBER_UNSPECIFIED",
    "SEVERITY_NUMBER_TRACE",
    "SEVERITY_NUMBER_TRACE2",
    "SEVERITY_NUMBER_TRACE3",
    "SEVERITY_NUMBER_TRACE4",
    "SEVERITY_NUMBER_DEBUG",
    "SEVERITY_NUMBER_DEBUG2",
    "SEVERITY_NUMBER_DEBUG3",
    "SEVERITY_NUMBER_DEBUG4",
    "SEVERITY_NUMBER_INFO",
    "SEVERITY_NUMBER_INFO2",
    "SEVERITY_NUMBER_INFO3",
    "SEVERITY_NUMBER_INFO4",
    "SEVERITY_NUMBER_WARN",
    "SEVERITY_NUMBER_WARN2",
    "SEVERITY_NUMBER_WARN3",
    "SEVERITY_NUMBER_WARN4",
    "SEVERITY_NUMBER_ERROR",
    "SEVERITY_NUMBER_ERROR2",
    "SEVERITY_NUMBER_ERROR3",
    "SEVERITY_NUMBER_ERROR4",
    "SEVERITY_NUMBER_FATAL",
    "SEVERITY_NUMBER_FATAL2",
    "SEVERITY_NUMBER_FATAL3",
    "SEVERITY_NUMBER_FATAL4",
];

static LOG_RECORD: Message = Message::new("LogRecord", LOG_RECORD_FIELDS, true);
static LOG_RECORD_FIELDS: &[Field] = &[
    f(1, "time_unix_nano", "timeUnixNano", Kind::Fixed64),
    f(
        2,
        "severity_number",
        "severityNumber",
        Kind::Enum(SEVERITY_NUMBER),
    ),
    f(3, "severity_text", "severityText", Kind::String),
    f(5, "body", "body", msg(&ANY_VALUE)),
    rep(6, "attributes", "attributes", msg(&KEY_VALUE)),
    f(
        7,
        "dropped_attributes_count",
        "droppedAttributesCount",
        Kind::UInt32,
    ),
    f(8, "flags", "flags", Kind::Fixed32),
    f(9, "trace_id", "traceId", id(16, "LogRecord.trace_id")),
    f(10, "span_id", "spanId", id(8, "LogRecord.span_id")),
    f(
        11,
        "observed_time_unix_nano",
        "observedTimeUnixNano",
        Kind::Fixed64,
    ),
    f(12, "event_name", "eventName", Kind::String),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<&'static Message> {
        let mut seen: Vec<&'static Message> = Vec::new();
        let mut todo: Vec<&'static Message> = Signal::ALL
            .iter()
            .filter_map(|s| request(*s).ok())
            .collect();
        while let Some(m) = todo.pop() {
            if seen.iter().any(|s| std::ptr::eq(*s, m)) {
                continue;
            }
            seen.push(m);
            todo.extend(m.fields.iter().filter_map(|f| match f.kind {
                Kind::Message(inner) => Some(inner),
                _ => None,
            }));
        }
        seen
    }

    #[test]
    fn json_names_are_the_lower_camel_case_of_proto_names() {
        for m in all() {
            for f in m.fields {
                let mut camel = String::new();
                let mut upper = false;
                for c in f.name.chars() {
                    if c == '_' {
                        upper = true;
                    } else if upper {
                        camel.push(c.to_ascii_uppercase());
                        upper = false;
                    } else {
                        camel.push(c);
                    }
                }
                assert_eq!(f.json, camel, "{}.{}", m.name, f.name);
            }
        }
    }

    #[test]
    fn fields_are_in_prost_encoding_order_and_indexed() {
        let messages = all();
        assert_eq!(messages.len(), 34);
        for m in messages {
            let mut previous = 0;
            for (i, f) in m.fields.iter().enumerate() {
                // Oneof members sit together at the smallest member's place.
                if f.card != Card::Oneof || i == 0 || m.fields[i - 1].card != Card::Oneof {
                    assert!(f.number > previous, "{}.{}", m.name, f.name);
                    previous = f.number;
                }
                assert_eq!(m.position(f.number), Some(i));
                let key = u64::from(f.number) << 3 | u64::from(f.wire);
                assert_eq!(m.action(key), (f.kind.action(), i), "{}.{}", m.name, f.name);
                let packed = u64::from(f.number) << 3 | u64::from(wire::LEN);
                if f.card == Card::Repeated && f.kind.packable() {
                    assert_eq!(m.action(packed), (action::PACKED, i));
                } else if f.wire != wire::LEN {
                    assert_eq!(m.action(packed).0, action::GENERAL);
                }
            }
            assert!(m.position(0).is_none() && m.position(31).is_none());
            assert!(m.position(1 << 20).is_none());
            assert_eq!(m.action(u64::MAX).0, action::GENERAL);
        }
    }
}
