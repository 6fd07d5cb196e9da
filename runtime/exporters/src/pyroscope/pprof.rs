//! The pprof `Profile` message (github.com/google/pprof, proto/profile.proto),
//! declared with prost derives (only what weir writes and tests read), and
//! the conversion of weir profile samples into it.

#![allow(missing_docs, reason = "field-for-field mirror of profile.proto")]

use std::collections::HashMap;

use weir_pdata::profiles::{Frame, Sample};

/// `perftools.profiles.Profile`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Profile {
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<PprofSample>,
    #[prost(message, repeated, tag = "3")]
    pub mapping: Vec<Mapping>,
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    #[prost(string, repeated, tag = "6")]
    pub string_table: Vec<String>,
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    #[prost(int64, tag = "10")]
    pub duration_nanos: i64,
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    #[prost(int64, tag = "12")]
    pub period: i64,
}

/// `ValueType`: indices into the string table.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct ValueType {
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

/// `Sample`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PprofSample {
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
    #[prost(message, repeated, tag = "3")]
    pub label: Vec<Label>,
}

/// `Label`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(int64, tag = "1")]
    pub key: i64,
    #[prost(int64, tag = "2")]
    pub str: i64,
    #[prost(int64, tag = "3")]
    pub num: i64,
}

/// `Mapping`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Mapping {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(int64, tag = "5")]
    pub filename: i64,
    #[prost(bool, tag = "7")]
    pub has_functions: bool,
}

/// `Location`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Location {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint64, tag = "2")]
    pub mapping_id: u64,
    #[prost(uint64, tag = "3")]
    pub address: u64,
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
}

/// `Line`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Line {
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
    #[prost(int64, tag = "2")]
    pub line: i64,
}

/// `Function`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Function {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(int64, tag = "2")]
    pub name: i64,
    #[prost(int64, tag = "3")]
    pub system_name: i64,
    #[prost(int64, tag = "4")]
    pub filename: i64,
}

/// Builds one `Profile`, deduplicating strings, functions, locations and
/// mappings.
#[derive(Default)]
pub(super) struct ProfileBuilder {
    profile: Profile,
    strings: HashMap<String, i64>,
    functions: HashMap<(String, String), u64>,
    locations: HashMap<(u64, String, String), u64>,
    mappings: HashMap<String, u64>,
    start_ns: Option<u64>,
    end_ns: u64,
}

impl ProfileBuilder {
    /// A CPU profile: samples and nanoseconds, `period_ns` apart.
    pub(super) fn cpu(period_ns: i64) -> Self {
        let mut b = ProfileBuilder::default();
        let _ = b.string(""); // index 0 is always ""
        let (samples, count) = (b.string("samples"), b.string("count"));
        let (cpu, ns) = (b.string("cpu"), b.string("nanoseconds"));
        b.profile.sample_type = vec![
            ValueType {
                r#type: samples,
                unit: count,
            },
            ValueType {
                r#type: cpu,
                unit: ns,
            },
        ];
        b.profile.period_type = Some(ValueType {
            r#type: cpu,
            unit: ns,
        });
        b.profile.period = period_ns;
        b
    }

    fn string(&mut self, s: &str) -> i64 {
        if let Some(i) = self.strings.get(s) {
            return *i;
        }
        let i = self.profile.string_table.len() as i64;
        self.profile.string_table.push(s.to_string());
        let _ = self.strings.insert(s.to_string(), i);
        i
    }

    fn mapping(&mut self, module: &str) -> u64 {
        if let Some(id) = self.mappings.get(module) {
            return *id;
        }
        let id = self.profile.mapping.len() as u64 + 1;
        let filename = self.string(module);
        self.profile.mapping.push(Mapping {
            id,
            filename,
            has_functions: true,
        });
        let _ = self.mappings.insert(module.to_string(), id);
        id
    }

    fn function(&mut self, f: &Frame) -> u64 {
        let key = (f.function.clone(), f.module.clone());
        if let Some(id) = self.functions.get(&key) {
            return *id;
        }
        let id = self.profile.function.len() as u64 + 1;
        let (name, filename) = (self.string(&f.function), self.string(&f.module));
        self.profile.function.push(Function {
            id,
            name,
            system_name: name,
            filename,
        });
        let _ = self.functions.insert(key, id);
        id
    }

    fn location(&mut self, f: &Frame) -> u64 {
        let key = (f.address, f.function.clone(), f.module.clone());
        if let Some(id) = self.locations.get(&key) {
            return *id;
        }
        let id = self.profile.location.len() as u64 + 1;
        let mapping_id = self.mapping(&f.module);
        let function_id = self.function(f);
        self.profile.location.push(Location {
            id,
            mapping_id,
            address: f.address,
            line: vec![Line {
                function_id,
                line: 0,
            }],
        });
        let _ = self.locations.insert(key, id);
        id
    }

    /// Adds one weir sample (its frames are innermost first, as pprof's
    /// `location_id`), with `labels` as pprof string labels.
    pub(super) fn add(&mut self, s: &Sample, labels: &[(String, String)]) {
        let location_id = s.frames.iter().map(|f| self.location(f)).collect();
        let label = labels
            .iter()
            .map(|(k, v)| Label {
                key: self.string(k),
                str: self.string(v),
                num: 0,
            })
            .collect();
        self.profile.sample.push(PprofSample {
            location_id,
            value: vec![s.samples, s.samples.saturating_mul(s.period_ns)],
            label,
        });
        self.start_ns = Some(
            self.start_ns
                .map_or(s.start_time_ns, |t| t.min(s.start_time_ns)),
        );
        self.end_ns = self.end_ns.max(s.time_ns);
    }

    /// The profile and its time range (ns since the epoch).
    pub(super) fn finish(mut self) -> (Profile, u64, u64) {
        let start = self.start_ns.unwrap_or(self.end_ns);
        self.profile.time_nanos = i64::try_from(start).unwrap_or(i64::MAX);
        self.profile.duration_nanos =
            i64::try_from(self.end_ns.saturating_sub(start)).unwrap_or(i64::MAX);
        (self.profile, start, self.end_ns)
    }
}
