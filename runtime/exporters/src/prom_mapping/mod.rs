//! Metrics tables -> Prometheus series, the mapping both Prometheus
//! exporters share (`remote-write` and the pull `prometheus` exporter).
//!
//! Follows the OpenTelemetry "Prometheus and OpenMetrics compatibility"
//! specification:
//!
//! | OTLP | Prometheus |
//! |---|---|
//! | gauge, non-monotonic cumulative sum | gauge |
//! | monotonic cumulative sum | counter (`_total`) |
//! | cumulative histogram | `_bucket{le}` (cumulative, with `+Inf`), `_sum`, `_count` |
//! | cumulative exponential histogram | converted to explicit buckets: one `le` per populated bucket's upper bound (negative buckets, the zero bucket at `zero_threshold`, positive buckets), then `+Inf` |
//! | summary | `{quantile}`, `_sum`, `_count` |
//! | delta sums, histograms | refused (not converted; reported in [`Stats::delta`]) |
//! | `NO_RECORDED_VALUE` flag | the staleness NaN on every sample of the point |
//! | resource `service.namespace`/`service.name`, `service.instance.id` | `job` (`ns/name`), `instance` |
//! | other resource attributes | a `target_info` gauge (value 1) with `job` and `instance` |
//!
//! Names and labels are sanitised ([`naming`]). Point attributes win over
//! `job`/`instance` from the resource (that is `honor_labels` for data a
//! scrape produced). Attribute values that are not strings are written as
//! text (ints and doubles in decimal, bools `true`/`false`, bytes in hex);
//! arrays and key-value lists are left out.

pub mod naming;

use std::borrow::Cow;
use std::collections::HashMap;
use std::rc::Rc;

use arrow_array::cast::AsArray as _;
use arrow_array::types::{
    Float64Type, Int32Type, Int64Type, TimestampNanosecondType, UInt8Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, BooleanArray, DictionaryArray, ListArray, MapArray, PrimitiveArray, RecordBatch,
    StringArray, StructArray,
};
use weir_pdata::schema::{self, MetricType};
use weir_pdata::{PdataError, Signal, SignalTables};

pub use naming::Kind;

/// The NaN that marks a series stale.
pub const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// How names are mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Add unit, `_ratio` and `_total` suffixes.
    pub add_suffixes: bool,
    /// Emit `target_info` for resources with attributes besides
    /// `service.name`, `service.namespace` and `service.instance.id`.
    pub target_info: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            add_suffixes: true,
            target_info: true,
        }
    }
}

/// The family a series belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Family<'a> {
    /// The family name (`http_request_duration_seconds`).
    pub name: &'a str,
    /// Counter, gauge, histogram or summary.
    pub kind: Kind,
    /// The metric's description.
    pub help: &'a str,
}

/// Receives the series of a batch.
pub trait SeriesSink {
    /// One sample: `labels` sorted by name, `__name__` among them.
    fn sample(
        &mut self,
        family: &Family<'_>,
        labels: &[(&str, &str)],
        value: f64,
        timestamp_ms: i64,
    );
}

/// What a conversion did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Samples written.
    pub samples: usize,
    /// Data points converted.
    pub points: usize,
    /// Names of delta metrics that were not converted.
    pub delta: Vec<String>,
    /// Data points not converted (delta temporality, unknown types).
    pub skipped_points: usize,
}

fn schema_err(reason: impl Into<String>) -> PdataError {
    PdataError::Schema {
        signal: Signal::Metrics,
        reason: reason.into(),
    }
}

/// A string column: dictionary-encoded or plain, or missing (reads "").
enum Strs<'a> {
    Dict(&'a DictionaryArray<UInt32Type>, &'a StringArray),
    Plain(&'a StringArray),
    Missing,
}

impl<'a> Strs<'a> {
    fn of(batch: &'a RecordBatch, name: &str) -> Result<Self, PdataError> {
        let Some(col) = batch.column_by_name(name) else {
            return Ok(Strs::Missing);
        };
        if let Some(d) = col.as_any().downcast_ref::<DictionaryArray<UInt32Type>>() {
            let values = d
                .values()
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| schema_err(format!("{name}: dictionary values are not Utf8")))?;
            return Ok(Strs::Dict(d, values));
        }
        col.as_any()
            .downcast_ref::<StringArray>()
            .map(Strs::Plain)
            .ok_or_else(|| {
                schema_err(format!(
                    "{name}: expected Utf8 or Dictionary(UInt32, Utf8), found {}",
                    col.data_type()
                ))
            })
    }

    /// The dictionary key of row `i` (a cache key), if dictionary-encoded.
    fn key(&self, i: usize) -> Option<u32> {
        match self {
            Strs::Dict(d, _) => d.is_valid(i).then(|| d.keys().value(i)),
            _ => None,
        }
    }

    fn get(&self, i: usize) -> &'a str {
        match self {
            Strs::Dict(d, v) => {
                if d.is_null(i) {
                    return "";
                }
                let k = d.keys().value(i) as usize;
                if k < v.len() { v.value(k) } else { "" }
            }
            Strs::Plain(s) => {
                if s.is_null(i) {
                    ""
                } else {
                    s.value(i)
                }
            }
            Strs::Missing => "",
        }
    }
}

fn prim<'a, T: arrow_array::ArrowPrimitiveType>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<Option<&'a PrimitiveArray<T>>, PdataError> {
    match batch.column_by_name(name) {
        None => Ok(None),
        Some(c) => c
            .as_any()
            .downcast_ref::<PrimitiveArray<T>>()
            .map(Some)
            .ok_or_else(|| schema_err(format!("{name}: unexpected type {}", c.data_type()))),
    }
}

fn opt<T: arrow_array::ArrowPrimitiveType>(
    a: Option<&PrimitiveArray<T>>,
    i: usize,
) -> Option<T::Native> {
    a.filter(|a| a.is_valid(i)).map(|a| a.value(i))
}

fn list<'a>(batch: &'a RecordBatch, name: &str) -> Result<Option<&'a ListArray>, PdataError> {
    match batch.column_by_name(name) {
        None => Ok(None),
        Some(c) => c
            .as_any()
            .downcast_ref::<ListArray>()
            .map(Some)
            .ok_or_else(|| schema_err(format!("{name}: not a list"))),
    }
}

/// An attribute map column, values rendered as text.
struct Attrs<'a> {
    map: &'a MapArray,
    keys: &'a StringArray,
    ty: &'a PrimitiveArray<UInt8Type>,
    str: Option<&'a StringArray>,
    int: Option<&'a PrimitiveArray<Int64Type>>,
    double: Option<&'a PrimitiveArray<Float64Type>>,
    bool: Option<&'a BooleanArray>,
    bytes: Option<&'a arrow_array::BinaryArray>,
}

impl<'a> Attrs<'a> {
    fn of(batch: &'a RecordBatch, name: &str) -> Result<Option<Self>, PdataError> {
        let Some(col) = batch.column_by_name(name) else {
            return Ok(None);
        };
        let map = col
            .as_any()
            .downcast_ref::<MapArray>()
            .ok_or_else(|| schema_err(format!("{name}: not a map")))?;
        let entries = map.entries();
        let keys = entries
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| schema_err(format!("{name}: keys are not Utf8")))?;
        let values = entries
            .column(1)
            .as_any()
            .downcast_ref::<StructArray>()
            .ok_or_else(|| schema_err(format!("{name}: values are not AnyValue structs")))?;
        let field = |n: &str| values.column_by_name(n);
        let ty = field(schema::any_value::TYPE)
            .and_then(|c| c.as_any().downcast_ref::<PrimitiveArray<UInt8Type>>())
            .ok_or_else(|| schema_err(format!("{name}: AnyValue has no type column")))?;
        Ok(Some(Attrs {
            map,
            keys,
            ty,
            str: field(schema::any_value::STR).and_then(|c| c.as_any().downcast_ref()),
            int: field(schema::any_value::INT).and_then(|c| c.as_any().downcast_ref()),
            double: field(schema::any_value::DOUBLE).and_then(|c| c.as_any().downcast_ref()),
            bool: field(schema::any_value::BOOL).and_then(|c| c.as_any().downcast_ref()),
            bytes: field(schema::any_value::BYTES).and_then(|c| c.as_any().downcast_ref()),
        }))
    }

    fn range(&self, row: usize) -> Option<std::ops::Range<usize>> {
        if self.map.is_null(row) {
            return None;
        }
        let o = self.map.value_offsets();
        Some(o[row] as usize..o[row + 1] as usize)
    }

    fn key(&self, j: usize) -> &'a str {
        self.keys.value(j)
    }

    /// The value of entry `j` as text; `None` for arrays, kvlists, nulls.
    fn value(&self, j: usize) -> Option<Cow<'a, str>> {
        match self.ty.value(j) {
            0 => Some(Cow::Borrowed("")),
            1 => self
                .str
                .filter(|a| a.is_valid(j))
                .map(|a| Cow::Borrowed(a.value(j))),
            2 => self
                .bool
                .filter(|a| a.is_valid(j))
                .map(|a| Cow::Borrowed(if a.value(j) { "true" } else { "false" })),
            3 | 8 => self
                .int
                .filter(|a| a.is_valid(j))
                .map(|a| Cow::Owned(a.value(j).to_string())),
            4 => self
                .double
                .filter(|a| a.is_valid(j))
                .map(|a| Cow::Owned(naming::format_float(a.value(j)))),
            5 => self
                .bytes
                .filter(|a| a.is_valid(j))
                .map(|a| Cow::Owned(hex(a.value(j)))),
            _ => None,
        }
    }
}

fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(DIGITS[(x >> 4) as usize] as char);
        s.push(DIGITS[(x & 15) as usize] as char);
    }
    s
}

/// What a resource row contributes.
#[derive(Default)]
struct ResourceInfo {
    job: String,
    instance: String,
    /// `target_info` labels besides job and instance (sanitised, sorted).
    info: Vec<(String, String)>,
}

fn resources(
    tables: &SignalTables,
) -> Result<(Vec<ResourceInfo>, HashMap<u32, usize>), PdataError> {
    let r = &tables.resources;
    let ids = prim::<UInt32Type>(r, schema::resource::ID)?
        .ok_or_else(|| schema_err("resources.id is missing"))?;
    let attrs = Attrs::of(r, schema::resource::ATTRIBUTES)?;
    let mut out = Vec::with_capacity(r.num_rows());
    let mut index = HashMap::with_capacity(r.num_rows());
    for row in 0..r.num_rows() {
        let _ = index.insert(ids.value(row), row);
        let mut info = ResourceInfo::default();
        let (mut name, mut ns) = (String::new(), String::new());
        if let Some(a) = &attrs
            && let Some(range) = a.range(row)
        {
            for j in range {
                let Some(v) = a.value(j) else { continue };
                match a.key(j) {
                    "service.name" => name = v.into_owned(),
                    "service.namespace" => ns = v.into_owned(),
                    "service.instance.id" => info.instance = v.into_owned(),
                    k => info
                        .info
                        .push((naming::sanitize_label(k).into_owned(), v.into_owned())),
                }
            }
        }
        info.job = match (ns.is_empty(), name.is_empty()) {
            (_, true) => String::new(),
            (true, false) => name,
            (false, false) => format!("{ns}/{name}"),
        };
        merge_sorted(&mut info.info);
        out.push(info);
    }
    Ok((out, index))
}

/// What a metric's Prometheus name depends on: the dictionary keys of its
/// name and unit (when dictionary-encoded) and its kind.
type NameKey = (Option<u32>, Option<u32>, Kind);

/// Sorts labels by name and joins the values of duplicates with `;`.
fn merge_sorted(labels: &mut Vec<(String, String)>) {
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    let mut i = 1;
    while i < labels.len() {
        if labels[i].0 == labels[i - 1].0 {
            let (_, v) = labels.remove(i);
            labels[i - 1].1.push(';');
            labels[i - 1].1.push_str(&v);
        } else {
            i += 1;
        }
    }
}

/// An empty vector of another lifetime, keeping the allocation (the
/// in-place `collect` of the standard library reuses it).
fn recycle<'b, T: ?Sized, U: ?Sized>(mut v: Vec<(&T, &T)>) -> Vec<(&'b U, &'b U)> {
    v.clear();
    v.into_iter()
        .map(|_| unreachable!("the vector is empty"))
        .collect()
}

/// Builds the sorted label list of one sample in `out`.
fn with_extra<'l>(
    base: &'l [(Cow<'_, str>, Cow<'_, str>)],
    name: &'l str,
    extra: Option<(&'l str, &'l str)>,
    out: &mut Vec<(&'l str, &'l str)>,
) {
    out.clear();
    out.push(("__name__", name));
    for (k, v) in base {
        out.push((k.as_ref(), v.as_ref()));
    }
    if let Some(e) = extra {
        out.push(e);
    }
    out.sort_unstable_by(|a, b| a.0.cmp(b.0));
}

/// Converts every data point of `tables` to samples given to `sink`.
///
/// # Errors
/// [`PdataError::Schema`] when the tables do not follow the metrics schema.
#[allow(clippy::too_many_lines, reason = "one pass over the columns")]
pub fn convert(
    tables: &SignalTables,
    opts: &Options,
    sink: &mut impl SeriesSink,
) -> Result<Stats, PdataError> {
    let (res, res_index) = resources(tables)?;
    let mut latest: Vec<Option<i64>> = vec![None; res.len()];
    let s = &tables.scopes;
    let scope_ids = prim::<UInt32Type>(s, schema::scope::ID)?
        .ok_or_else(|| schema_err("scopes.id is missing"))?;
    let scope_res = prim::<UInt32Type>(s, schema::scope::RESOURCE_ID)?
        .ok_or_else(|| schema_err("scopes.resource_id is missing"))?;
    let mut scope_to_res: HashMap<u32, usize> = HashMap::with_capacity(s.num_rows());
    for i in 0..s.num_rows() {
        if let Some(&r) = res_index.get(&scope_res.value(i)) {
            let _ = scope_to_res.insert(scope_ids.value(i), r);
        }
    }
    let m = &tables.records;
    use schema::metric as mt;
    let scope_id = prim::<UInt32Type>(m, mt::SCOPE_ID)?
        .ok_or_else(|| schema_err("metrics.scope_id is missing"))?;
    let names = Strs::of(m, mt::METRIC_NAME)?;
    let units = Strs::of(m, mt::METRIC_UNIT)?;
    let helps = Strs::of(m, mt::METRIC_DESCRIPTION)?;
    let types = prim::<UInt8Type>(m, mt::METRIC_TYPE)?;
    let temporality = prim::<Int32Type>(m, mt::AGGREGATION_TEMPORALITY)?;
    let monotonic = m
        .column_by_name(mt::IS_MONOTONIC)
        .and_then(|c| c.as_any().downcast_ref::<BooleanArray>());
    let attrs = Attrs::of(m, mt::ATTRIBUTES)?;
    let time = prim::<TimestampNanosecondType>(m, mt::TIME)?;
    let flags = prim::<UInt32Type>(m, mt::FLAGS)?;
    let value_double = prim::<Float64Type>(m, mt::VALUE_DOUBLE)?;
    let value_int = prim::<Int64Type>(m, mt::VALUE_INT)?;
    let count = prim::<UInt64Type>(m, mt::COUNT)?;
    let sum = prim::<Float64Type>(m, mt::SUM)?;
    let bucket_counts = list(m, mt::BUCKET_COUNTS)?;
    let bounds = list(m, mt::EXPLICIT_BOUNDS)?;
    let quantiles = list(m, mt::QUANTILE_VALUES)?;
    let scale = prim::<Int32Type>(m, mt::SCALE)?;
    let zero_count = prim::<UInt64Type>(m, mt::ZERO_COUNT)?;
    let zero_threshold = prim::<Float64Type>(m, mt::ZERO_THRESHOLD)?;
    let positive = m
        .column_by_name(mt::POSITIVE)
        .and_then(|c| c.as_any().downcast_ref::<StructArray>());
    let negative = m
        .column_by_name(mt::NEGATIVE)
        .and_then(|c| c.as_any().downcast_ref::<StructArray>());

    let mut stats = Stats::default();
    let mut name_cache: HashMap<(NameKey, String), Rc<str>> = HashMap::new();
    let mut last_name: Option<(NameKey, Rc<str>)> = None;
    let mut base: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::with_capacity(16);
    let mut labels_store: Vec<(&'static str, &'static str)> = Vec::with_capacity(18);
    let mut le_cache: HashMap<u64, String> = HashMap::new();
    let mut exp_bounds: Vec<(f64, u64)> = Vec::new();
    let mut last_scope: Option<(u32, Option<usize>)> = None;
    for i in 0..m.num_rows() {
        let Some(attrs) = &attrs else { break };
        let Some(range) = attrs.range(i) else {
            continue;
        }; // placeholder row
        let ty = types.map_or(0, |t| t.value(i));
        let Some(ty) = MetricType::from_u8(ty) else {
            stats.skipped_points += 1;
            continue;
        };
        let cumulative = opt(temporality, i) == Some(2);
        let kind = match ty {
            MetricType::Gauge => Kind::Gauge,
            MetricType::Sum if !cumulative => {
                note_delta(&mut stats, names.get(i));
                continue;
            }
            MetricType::Sum => {
                if monotonic.is_some_and(|b| b.is_valid(i) && b.value(i)) {
                    Kind::Counter
                } else {
                    Kind::Gauge
                }
            }
            MetricType::Histogram | MetricType::ExponentialHistogram if !cumulative => {
                note_delta(&mut stats, names.get(i));
                continue;
            }
            MetricType::Histogram | MetricType::ExponentialHistogram => Kind::Histogram,
            MetricType::Summary => Kind::Summary,
            MetricType::None => {
                stats.skipped_points += 1;
                continue;
            }
        };
        let cache_key = (names.key(i), units.key(i), kind);
        let family_name: Rc<str> = match &last_name {
            Some((k, n)) if *k == cache_key && cache_key.0.is_some() => n.clone(),
            _ => {
                let raw = names.get(i);
                let unit = units.get(i);
                let key = (
                    cache_key,
                    if cache_key.0.is_some() {
                        String::new()
                    } else {
                        format!("{raw}\u{0}{unit}")
                    },
                );
                let n = name_cache
                    .entry(key)
                    .or_insert_with(|| {
                        naming::metric_name(raw, unit, kind, opts.add_suffixes).into()
                    })
                    .clone();
                last_name = Some((cache_key, n.clone()));
                n
            }
        };
        let family = Family {
            name: &family_name,
            kind,
            help: helps.get(i),
        };
        let sid = scope_id.value(i);
        let r = match last_scope {
            Some((s, r)) if s == sid => r,
            _ => {
                let r = scope_to_res.get(&sid).copied();
                last_scope = Some((sid, r));
                r
            }
        };
        base.clear();
        let (mut has_job, mut has_instance) = (false, false);
        for j in range {
            let Some(v) = attrs.value(j) else { continue };
            let k = naming::sanitize_label(attrs.key(j));
            has_job |= k == "job";
            has_instance |= k == "instance";
            if v.is_empty() {
                continue;
            }
            base.push((k, v));
        }
        if let Some(r) = r {
            let info = &res[r];
            if !has_job && !info.job.is_empty() {
                base.push((Cow::Borrowed("job"), Cow::Borrowed(info.job.as_str())));
            }
            if !has_instance && !info.instance.is_empty() {
                base.push((
                    Cow::Borrowed("instance"),
                    Cow::Borrowed(info.instance.as_str()),
                ));
            }
        }
        // Duplicate names after sanitising: join the values.
        base.sort_by(|a, b| a.0.cmp(&b.0));
        let mut d = 1;
        while d < base.len() {
            if base[d].0 == base[d - 1].0 {
                let (_, v) = base.remove(d);
                let joined = format!("{};{}", base[d - 1].1, v);
                base[d - 1].1 = Cow::Owned(joined);
            } else {
                d += 1;
            }
        }
        let ts = opt(time, i).map_or(0, |t| t.div_euclid(1_000_000));
        if let Some(r) = r {
            let l = &mut latest[r];
            *l = Some(l.map_or(ts, |x: i64| x.max(ts)));
        }
        let mut labels: Vec<(&str, &str)> = recycle(std::mem::take(&mut labels_store));
        let stale = opt(flags, i).is_some_and(|f| f & 1 == 1);
        let v = |x: f64| if stale { f64::from_bits(STALE_NAN) } else { x };
        stats.points += 1;
        match ty {
            MetricType::Gauge | MetricType::Sum => {
                let value = opt(value_double, i)
                    .or_else(|| opt(value_int, i).map(|x| x as f64))
                    .unwrap_or(0.0);
                with_extra(&base, &family_name, None, &mut labels);
                sink.sample(&family, &labels, v(value), ts);
                stats.samples += 1;
            }
            MetricType::Histogram => {
                let bucket_name = format!("{family_name}_bucket");
                let counts = bucket_counts.filter(|l| l.is_valid(i)).map(|l| l.value(i));
                let counts = counts.as_ref().map(|c| c.as_primitive::<UInt64Type>());
                let bs = bounds.filter(|l| l.is_valid(i)).map(|l| l.value(i));
                let bs = bs.as_ref().map(|c| c.as_primitive::<Float64Type>());
                let total = opt(count, i).unwrap_or(0);
                if let Some(bs) = bs {
                    for &bound in bs.values() {
                        let _ = le_cache
                            .entry(bound.to_bits())
                            .or_insert_with(|| naming::format_float(bound));
                    }
                }
                let mut local: Vec<(&str, &str)> = Vec::with_capacity(base.len() + 2);
                let mut cumulative_count = 0u64;
                if let (Some(counts), Some(bs)) = (counts, bs) {
                    for b in 0..bs.len() {
                        cumulative_count = cumulative_count.saturating_add(if b < counts.len() {
                            counts.value(b)
                        } else {
                            0
                        });
                        let le = le_cache
                            .get(&bs.value(b).to_bits())
                            .map_or("", String::as_str);
                        with_extra(&base, &bucket_name, Some(("le", le)), &mut local);
                        sink.sample(&family, &local, v(cumulative_count as f64), ts);
                        stats.samples += 1;
                    }
                }
                with_extra(&base, &bucket_name, Some(("le", "+Inf")), &mut local);
                sink.sample(&family, &local, v(total as f64), ts);
                stats.samples += 1;
                emit_sum_count(
                    sink,
                    &family,
                    &base,
                    &family_name,
                    opt(sum, i),
                    total,
                    ts,
                    stale,
                    &mut stats,
                );
            }
            MetricType::ExponentialHistogram => {
                let bucket_name = format!("{family_name}_bucket");
                exp_bounds.clear();
                let scale = opt(scale, i).unwrap_or(0);
                let base_log2 = (-f64::from(scale)).exp2();
                let bound_of = |index: i64| (index as f64 * base_log2).exp2();
                if let Some(neg) = negative.filter(|n| n.is_valid(i)) {
                    let (offset, counts) = buckets_of(neg, i);
                    for (k, c) in counts.iter().enumerate().rev() {
                        let index = i64::from(offset) + k as i64;
                        exp_bounds.push((-bound_of(index), *c));
                    }
                }
                exp_bounds.push((
                    opt(zero_threshold, i).unwrap_or(0.0),
                    opt(zero_count, i).unwrap_or(0),
                ));
                if let Some(pos) = positive.filter(|p| p.is_valid(i)) {
                    let (offset, counts) = buckets_of(pos, i);
                    for (k, c) in counts.iter().enumerate() {
                        let index = i64::from(offset) + k as i64 + 1;
                        exp_bounds.push((bound_of(index), *c));
                    }
                }
                let total = opt(count, i).unwrap_or(0);
                let les: Vec<String> = exp_bounds
                    .iter()
                    .map(|(b, _)| naming::format_float(*b))
                    .collect();
                let mut local: Vec<(&str, &str)> = Vec::with_capacity(base.len() + 2);
                let mut cumulative_count = 0u64;
                for (&(_, c), le) in exp_bounds.iter().zip(&les) {
                    cumulative_count = cumulative_count.saturating_add(c);
                    with_extra(&base, &bucket_name, Some(("le", le.as_str())), &mut local);
                    sink.sample(&family, &local, v(cumulative_count as f64), ts);
                    stats.samples += 1;
                }
                with_extra(&base, &bucket_name, Some(("le", "+Inf")), &mut local);
                sink.sample(&family, &local, v(total as f64), ts);
                stats.samples += 1;
                emit_sum_count(
                    sink,
                    &family,
                    &base,
                    &family_name,
                    opt(sum, i),
                    total,
                    ts,
                    stale,
                    &mut stats,
                );
            }
            MetricType::Summary => {
                if let Some(q) = quantiles.filter(|l| l.is_valid(i)) {
                    let items = q.value(i);
                    let items = items.as_struct();
                    let qs = items.column(0).as_primitive::<Float64Type>();
                    let vs = items.column(1).as_primitive::<Float64Type>();
                    let qvs: Vec<String> = (0..items.len())
                        .map(|k| naming::format_float(qs.value(k)))
                        .collect();
                    let mut local: Vec<(&str, &str)> = Vec::with_capacity(base.len() + 2);
                    for (k, qv) in qvs.iter().enumerate() {
                        with_extra(
                            &base,
                            &family_name,
                            Some(("quantile", qv.as_str())),
                            &mut local,
                        );
                        sink.sample(&family, &local, v(vs.value(k)), ts);
                        stats.samples += 1;
                    }
                }
                let total = opt(count, i).unwrap_or(0);
                emit_sum_count(
                    sink,
                    &family,
                    &base,
                    &family_name,
                    opt(sum, i),
                    total,
                    ts,
                    stale,
                    &mut stats,
                );
            }
            MetricType::None => {}
        }
        labels_store = recycle(labels);
    }
    if opts.target_info {
        for (info, latest) in res.iter().zip(&latest) {
            let Some(ts) = *latest else { continue };
            if info.info.is_empty() || (info.job.is_empty() && info.instance.is_empty()) {
                continue;
            }
            let mut l: Vec<(&str, &str)> = vec![("__name__", "target_info")];
            if !info.job.is_empty() {
                l.push(("job", &info.job));
            }
            if !info.instance.is_empty() {
                l.push(("instance", &info.instance));
            }
            for (k, v) in &info.info {
                if k != "job" && k != "instance" && !v.is_empty() {
                    l.push((k, v));
                }
            }
            l.sort_unstable_by(|a, b| a.0.cmp(b.0));
            let family = Family {
                name: "target_info",
                kind: Kind::Gauge,
                help: "Target metadata",
            };
            sink.sample(&family, &l, 1.0, ts);
            stats.samples += 1;
        }
    }
    Ok(stats)
}

fn buckets_of(s: &StructArray, i: usize) -> (i32, Vec<u64>) {
    let offset = s
        .column_by_name(schema::buckets::OFFSET)
        .and_then(|c| c.as_any().downcast_ref::<PrimitiveArray<Int32Type>>())
        .filter(|a| a.is_valid(i))
        .map_or(0, |a| a.value(i));
    let counts = s
        .column_by_name(schema::buckets::BUCKET_COUNTS)
        .and_then(|c| c.as_any().downcast_ref::<ListArray>())
        .filter(|l| l.is_valid(i))
        .map(|l| l.value(i).as_primitive::<UInt64Type>().values().to_vec())
        .unwrap_or_default();
    (offset, counts)
}

fn note_delta(stats: &mut Stats, name: &str) {
    stats.skipped_points += 1;
    if !stats.delta.iter().any(|n| n == name) {
        stats.delta.push(name.to_string());
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "the shared tail of histograms and summaries"
)]
fn emit_sum_count(
    sink: &mut impl SeriesSink,
    family: &Family<'_>,
    base: &[(Cow<'_, str>, Cow<'_, str>)],
    family_name: &str,
    sum: Option<f64>,
    count: u64,
    ts: i64,
    stale: bool,
    stats: &mut Stats,
) {
    let v = |x: f64| if stale { f64::from_bits(STALE_NAN) } else { x };
    let sum_name = format!("{family_name}_sum");
    let count_name = format!("{family_name}_count");
    let mut scratch: Vec<(&str, &str)> = Vec::with_capacity(base.len() + 1);
    if let Some(sum) = sum {
        fill(base, &sum_name, &mut scratch);
        sink.sample(family, &scratch, v(sum), ts);
        stats.samples += 1;
    }
    fill(base, &count_name, &mut scratch);
    sink.sample(family, &scratch, v(count as f64), ts);
    stats.samples += 1;
}

fn fill<'x>(
    base: &'x [(Cow<'_, str>, Cow<'_, str>)],
    name: &'x str,
    out: &mut Vec<(&'x str, &'x str)>,
) {
    out.clear();
    out.push(("__name__", name));
    for (k, v) in base {
        out.push((k.as_ref(), v.as_ref()));
    }
    out.sort_unstable_by(|a, b| a.0.cmp(b.0));
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests;
