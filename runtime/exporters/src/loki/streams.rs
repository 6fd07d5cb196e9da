//! OTLP log records -> Loki streams: labels from configured resource and
//! record attributes, structured metadata for everything else, the
//! cardinality guard, and per-stream ordering.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};

use super::proto::{EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp};

/// Which attributes become labels, and how many streams may exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelRules {
    /// Resource attribute keys that become labels (`service.name` ->
    /// `service_name`).
    pub resource: Vec<String>,
    /// Log record attribute keys that become labels.
    pub attributes: Vec<String>,
    /// Add `level` from the record's severity text (or number).
    pub level: bool,
    /// Distinct label sets allowed; entries of any further label set go to
    /// one overflow stream with their would-be labels as metadata.
    pub max_streams: usize,
}

impl Default for LabelRules {
    fn default() -> Self {
        LabelRules {
            resource: [
                "service.name",
                "service.namespace",
                "deployment.environment",
            ]
            .map(String::from)
            .to_vec(),
            attributes: Vec::new(),
            level: true,
            max_streams: 10_000,
        }
    }
}

/// The label set given to entries over the stream limit.
pub const OVERFLOW_LABEL: &str = "weir_overflow";

/// One stream of a batch: its label set and its entries in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// Label names and values, sorted by name.
    pub labels: Vec<(String, String)>,
    /// The entries, ordered by timestamp.
    pub entries: Vec<EntryAdapter>,
}

impl Stream {
    /// The label set as Loki's protobuf carries it.
    pub fn rendered_labels(&self) -> String {
        render_labels(&self.labels)
    }
}

/// What converting one batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Conversion {
    /// Entries written.
    pub entries: usize,
    /// Entries put in the overflow stream by the cardinality guard.
    pub overflowed: usize,
}

/// Turns requests into streams, remembering the label sets it has seen.
#[derive(Debug)]
pub struct StreamBuilder {
    rules: LabelRules,
    /// Label names of the configured keys, computed once.
    resource_names: Vec<String>,
    attribute_names: Vec<String>,
    seen: HashSet<String>,
}

impl StreamBuilder {
    /// A builder for `rules`.
    pub fn new(rules: LabelRules) -> Self {
        StreamBuilder {
            resource_names: rules.resource.iter().map(|k| label_name(k)).collect(),
            attribute_names: rules.attributes.iter().map(|k| label_name(k)).collect(),
            rules,
            seen: HashSet::new(),
        }
    }

    /// Label sets seen so far (bounded by `max-streams`).
    pub fn streams_seen(&self) -> usize {
        self.seen.len()
    }

    /// The streams of `req`, each stream's entries ordered by timestamp
    /// (stable: records with the same time keep their order), streams
    /// ordered by label set. `now_ns` stamps records without any time.
    pub fn convert(
        &mut self,
        req: &ExportLogsServiceRequest,
        now_ns: u64,
    ) -> (Vec<Stream>, Conversion) {
        let mut streams: BTreeMap<Vec<(String, String)>, Vec<EntryAdapter>> = BTreeMap::new();
        let mut stats = Conversion::default();
        for rl in &req.resource_logs {
            let resource_attrs: &[KeyValue] = rl
                .resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or_default();
            // Resource labels and metadata are the same for every record.
            let mut res_labels: Vec<(String, String)> = Vec::new();
            let mut res_meta: Vec<LabelPairAdapter> = Vec::new();
            for kv in resource_attrs {
                match self.rules.resource.iter().position(|k| *k == kv.key) {
                    Some(i) => res_labels.push((self.resource_names[i].clone(), text(&kv.value))),
                    None => res_meta.push(pair(label_name(&kv.key), text(&kv.value))),
                }
            }
            for sl in &rl.scope_logs {
                for rec in &sl.log_records {
                    let mut labels = res_labels.clone();
                    let mut meta = res_meta.clone();
                    for kv in &rec.attributes {
                        match self.rules.attributes.iter().position(|k| *k == kv.key) {
                            Some(i) => {
                                labels.push((self.attribute_names[i].clone(), text(&kv.value)))
                            }
                            None => meta.push(pair(label_name(&kv.key), text(&kv.value))),
                        }
                    }
                    let level = level_of(&rec.severity_text, rec.severity_number);
                    if self.rules.level && !level.is_empty() {
                        labels.push(("level".to_string(), level));
                    } else if !rec.severity_text.is_empty() {
                        meta.push(pair("severity_text".into(), rec.severity_text.clone()));
                    }
                    if !rec.trace_id.is_empty() {
                        meta.push(pair("trace_id".into(), hex(&rec.trace_id)));
                    }
                    if !rec.span_id.is_empty() {
                        meta.push(pair("span_id".into(), hex(&rec.span_id)));
                    }
                    if let Some(scope) = &sl.scope
                        && !scope.name.is_empty()
                    {
                        meta.push(pair("scope_name".into(), scope.name.clone()));
                    }
                    labels.sort();
                    labels.dedup_by(|a, b| a.0 == b.0);
                    if !self.admit(&labels) {
                        stats.overflowed += 1;
                        for (n, v) in labels.drain(..) {
                            meta.push(pair(n, v));
                        }
                        labels.push((OVERFLOW_LABEL.to_string(), "true".to_string()));
                    }
                    let ns = if rec.time_unix_nano != 0 {
                        rec.time_unix_nano
                    } else if rec.observed_time_unix_nano != 0 {
                        rec.observed_time_unix_nano
                    } else {
                        now_ns
                    };
                    streams.entry(labels).or_default().push(EntryAdapter {
                        timestamp: Some(Timestamp::from_nanos(ns)),
                        line: rec.body.as_ref().map(line_of).unwrap_or_default(),
                        structured_metadata: meta,
                    });
                    stats.entries += 1;
                }
            }
        }
        let out = streams
            .into_iter()
            .map(|(labels, mut entries)| {
                entries.sort_by_key(|e| e.timestamp.unwrap_or_default());
                Stream { labels, entries }
            })
            .collect();
        (out, stats)
    }

    /// Whether a stream with `labels` may be written.
    fn admit(&mut self, labels: &[(String, String)]) -> bool {
        let key = render_labels(labels);
        if self.seen.contains(&key) {
            return true;
        }
        if self.seen.len() >= self.rules.max_streams {
            return false;
        }
        self.seen.insert(key)
    }
}

fn pair(name: String, value: String) -> LabelPairAdapter {
    LabelPairAdapter { name, value }
}

/// A Loki label name for an attribute key: characters other than ASCII
/// letters, digits and `_` become `_`; a leading digit gets a `_` prefix.
pub fn label_name(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 1);
    if key.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    out.extend(key.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        }
    }));
    out
}

/// `{a="b", c="d"}` with values escaped as in PromQL/LogQL strings.
pub fn render_labels(labels: &[(String, String)]) -> String {
    let mut s = String::from("{");
    for (i, (n, v)) in labels.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(n);
        s.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '"' => s.push_str("\\\""),
                '\n' => s.push_str("\\n"),
                c => s.push(c),
            }
        }
        s.push('"');
    }
    s.push('}');
    s
}

/// The `level` of a record: its severity text lower-cased, else a name
/// from the OTLP severity number.
fn level_of(text: &str, number: i32) -> String {
    if !text.is_empty() {
        return text.to_ascii_lowercase();
    }
    match number {
        1..=4 => "trace",
        5..=8 => "debug",
        9..=12 => "info",
        13..=16 => "warn",
        17..=20 => "error",
        21..=24 => "fatal",
        _ => "",
    }
    .to_string()
}

/// Lower-case hex of ids.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The log line of a body: a string as it is, anything else as JSON.
fn line_of(body: &AnyValue) -> String {
    match &body.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        _ => json_of(body).to_string(),
    }
}

/// An attribute value as text: strings as they are, scalars formatted,
/// bytes as hex, arrays and maps as JSON.
fn text(v: &Option<AnyValue>) -> String {
    let Some(v) = v else { return String::new() };
    match &v.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BytesValue(b)) => hex(b),
        Some(_) => json_of(v).to_string(),
        None => String::new(),
    }
}

fn json_of(v: &AnyValue) -> serde_json::Value {
    use serde_json::Value as J;
    match &v.value {
        Some(any_value::Value::StringValue(s)) => J::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => J::Bool(*b),
        Some(any_value::Value::IntValue(i)) => J::from(*i),
        Some(any_value::Value::DoubleValue(d)) => {
            serde_json::Number::from_f64(*d).map_or(J::Null, J::Number)
        }
        Some(any_value::Value::BytesValue(b)) => J::String(hex(b)),
        Some(any_value::Value::ArrayValue(a)) => J::Array(a.values.iter().map(json_of).collect()),
        Some(any_value::Value::KvlistValue(kv)) => {
            let map: serde_json::Map<String, J> = kv
                .values
                .iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        kv.value.as_ref().map(json_of).unwrap_or(J::Null),
                    )
                })
                .collect();
            J::Object(map)
        }
        _ => J::Null,
    }
}

/// The push API's protobuf form of `streams`.
pub fn to_proto(streams: Vec<Stream>) -> PushRequest {
    PushRequest {
        streams: streams
            .into_iter()
            .map(|s| StreamAdapter {
                labels: s.rendered_labels(),
                entries: s.entries,
                hash: 0,
            })
            .collect(),
    }
}

/// The push API's JSON form of `streams`:
/// `{"streams":[{"stream":{..labels..},"values":[["<ns>","line",{..metadata..}]]}]}`.
pub fn to_json(streams: &[Stream]) -> Vec<u8> {
    use serde_json::{Map, Value as J};
    let list: Vec<J> = streams
        .iter()
        .map(|s| {
            let labels: Map<String, J> = s
                .labels
                .iter()
                .map(|(n, v)| (n.clone(), J::String(v.clone())))
                .collect();
            let values: Vec<J> = s
                .entries
                .iter()
                .map(|e| {
                    let ns = e.timestamp.unwrap_or_default().as_nanos().to_string();
                    let mut row = vec![J::String(ns), J::String(e.line.clone())];
                    if !e.structured_metadata.is_empty() {
                        let m: Map<String, J> = e
                            .structured_metadata
                            .iter()
                            .map(|p| (p.name.clone(), J::String(p.value.clone())))
                            .collect();
                        row.push(J::Object(m));
                    }
                    J::Array(row)
                })
                .collect();
            let mut o = Map::new();
            let _ = o.insert("stream".into(), J::Object(labels));
            let _ = o.insert("values".into(), J::Array(values));
            J::Object(o)
        })
        .collect();
    let mut root = Map::new();
    let _ = root.insert("streams".into(), J::Array(list));
    // Serialising a `Value` of strings cannot fail.
    serde_json::to_vec(&J::Object(root)).unwrap_or_default()
}
