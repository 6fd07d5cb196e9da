//! One scraped body -> data points in a [`MetricTablesBuilder`].
//!
//! Samples are grouped into metric families the way Prometheus' metadata
//! describes them and become the OTLP model's data points (the mapping of
//! the OpenTelemetry "Prometheus and OpenMetrics compatibility" spec):
//!
//! | family | data point |
//! |---|---|
//! | `counter` | cumulative monotonic sum named like the sample (`x_total`) |
//! | `gauge`, `untyped`/`unknown`, `info`, `stateset`, `gaugehistogram` members, samples without `# TYPE` | gauge named like the sample |
//! | `histogram` | cumulative histogram named like the family, from `_bucket{le}`, `_sum`, `_count` |
//! | `summary` | summary named like the family, from `{quantile}`, `_sum`, `_count` |
//! | `_created` samples | a gauge named `x_created` (Prometheus 2 stores them as series too) |
//!
//! Every point gets the sample's labels plus the target's labels (other than
//! `job` and `instance`, which are resource attributes); a clash is resolved
//! with `honor_labels` as in Prometheus (`exported_` prefix, or the scraped
//! label wins).
//!
//! The same walk serves staleness: in a [`Pass::Stale`] over the previous
//! scrape's body, only series absent from the current scrape are emitted,
//! as points flagged `NO_RECORDED_VALUE` with the stale-marker NaN.

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use weir_pdata::PdataError;
use weir_pdata::build::{Exemplar, MetricHeader, MetricTablesBuilder};
use weir_pdata::schema::MetricType;

use super::parser::{Entry, Format, Label, MetricKind, ParseError, Parser, Sample};
use super::relabel::{self, RelabelRule};

/// The NaN Prometheus writes as a staleness marker.
pub const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;
/// OTLP `DataPointFlags.NO_RECORDED_VALUE`.
pub const NO_RECORDED_VALUE: u32 = 1;
/// `AGGREGATION_TEMPORALITY_CUMULATIVE`.
const CUMULATIVE: i32 = 2;

/// A hasher for keys that are already hashes.
#[derive(Default)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Hashes of the series of one scrape.
pub type SeriesSet = HashSet<u64, BuildHasherDefault<IdentityHasher>>;

/// The hash of a series' text (`name{labels}` as written).
pub fn series_hash(state: &foldhash::fast::FixedState, series: &str) -> u64 {
    state.hash_one(series)
}

/// The labels a target adds to every point.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetLabels {
    /// `job`: the resource's `service.name`.
    pub job: String,
    /// `instance`: the resource's `service.instance.id`.
    pub instance: String,
    /// Every other label of the target (no `__` names), sorted.
    pub extra: Vec<(String, String)>,
    /// Scraped labels win over the target's.
    pub honor_labels: bool,
    /// Use the timestamps the target exposes.
    pub honor_timestamps: bool,
}

/// Which walk over a body this is.
pub enum Pass<'s> {
    /// The body just scraped: every series is emitted and recorded in
    /// `current`; `previous` (the last scrape's series) tells which are new.
    Live {
        /// Filled with this scrape's series.
        current: &'s mut SeriesSet,
        /// The previous scrape's series.
        previous: &'s SeriesSet,
    },
    /// The previous body: only series not in `current` are emitted, as
    /// staleness markers.
    Stale {
        /// This scrape's series (empty when the scrape failed).
        current: &'s SeriesSet,
    },
}

/// What one walk found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Sample lines in the body.
    pub samples: usize,
    /// Samples left after metric relabelling and duplicates.
    pub post_relabel: usize,
    /// Series not in the previous scrape.
    pub added: usize,
    /// Samples dropped because their series appeared before in the body.
    pub duplicates: usize,
    /// Series of the previous scrape seen again.
    pub seen_again: usize,
    /// Points emitted (stale pass: markers).
    pub points: usize,
}

/// Why a body was refused.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Not valid exposition format.
    #[error("invalid exposition format: {0}")]
    Parse(#[from] ParseError),
    /// More samples than `sample-limit`.
    #[error("the target exposes more than sample-limit={0} samples")]
    SampleLimit(usize),
    /// The tables could not be built (a bug, or 2^32 of something).
    #[error(transparent)]
    Data(#[from] PdataError),
}

/// The fixed inputs of a walk.
pub struct Ingest<'t> {
    /// The target's labels.
    pub target: &'t TargetLabels,
    /// `metric-relabel` rules.
    pub metric_relabel: &'t [RelabelRule],
    /// The scrape's time, Unix milliseconds.
    pub scrape_ms: i64,
    /// The scope the points belong to.
    pub scope_id: u32,
    /// At most this many samples after relabelling (0: no limit).
    pub sample_limit: usize,
    /// Hashes series texts.
    pub hasher: &'t foldhash::fast::FixedState,
}

/// A label of a point: borrowed from the body or the target, or owned.
type Attr<'x> = (Cow<'x, str>, Cow<'x, str>);

/// Owned labels of a point.
type OwnedLabels = Vec<(String, String)>;

/// One histogram or summary point being assembled.
struct Group {
    attrs: Vec<(String, String)>,
    buckets: Vec<(f64, f64)>,
    quantiles: Vec<(f64, f64)>,
    sum: Option<f64>,
    count: Option<f64>,
    time_ms: i64,
    exemplars: Vec<(OwnedLabels, f64, Option<i64>)>,
    /// Stale pass: some line of the group is still exposed.
    live: bool,
    /// Stale pass: some line of the group disappeared.
    gone: bool,
}

/// The metric family being read.
struct Family<'a> {
    name: Cow<'a, str>,
    kind: MetricKind,
    help: Cow<'a, str>,
    unit: &'a str,
    /// The metric (name) number points are currently appended to.
    open_metric: Option<Cow<'a, str>>,
    groups: Vec<Group>,
    created: Vec<(OwnedLabels, f64, i64)>,
}

impl<'a> Family<'a> {
    fn new(name: Cow<'a, str>) -> Self {
        Family {
            name,
            kind: MetricKind::Unknown,
            help: Cow::Borrowed(""),
            unit: "",
            open_metric: None,
            groups: Vec::new(),
            created: Vec::new(),
        }
    }

    /// What a sample named `sample` is within this family.
    fn role(&self, sample: &str) -> Option<Role> {
        let f: &str = &self.name;
        let suffix = sample.strip_prefix(f);
        match self.kind {
            MetricKind::Counter => match suffix? {
                "" | "_total" => Some(Role::Number),
                "_created" => Some(Role::Created),
                _ => None,
            },
            MetricKind::Histogram => match suffix? {
                "_bucket" => Some(Role::Bucket),
                "_sum" => Some(Role::Sum),
                "_count" => Some(Role::Count),
                "_created" => Some(Role::Created),
                _ => None,
            },
            MetricKind::Summary => match suffix? {
                "" => Some(Role::Quantile),
                "_sum" => Some(Role::Sum),
                "_count" => Some(Role::Count),
                "_created" => Some(Role::Created),
                _ => None,
            },
            MetricKind::GaugeHistogram => match suffix? {
                "_bucket" | "_gsum" | "_gcount" => Some(Role::Number),
                _ => None,
            },
            MetricKind::Info => (suffix? == "_info").then_some(Role::Number),
            MetricKind::Gauge | MetricKind::StateSet | MetricKind::Unknown => {
                suffix?.is_empty().then_some(Role::Number)
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Number,
    Created,
    Bucket,
    Sum,
    Count,
    Quantile,
}

/// Walks `body` and appends its points (or markers) to `b`.
///
/// # Errors
/// [`IngestError`]: the body is not valid, or has too many samples. The
/// builder then holds part of the body: throw it away.
pub fn ingest(
    ing: &Ingest<'_>,
    body: &str,
    format: Format,
    mut pass: Pass<'_>,
    b: &mut MetricTablesBuilder,
) -> Result<Outcome, IngestError> {
    let mut out = Outcome::default();
    let mut parser = Parser::new(body, format);
    let mut family: Option<Family<'_>> = None;
    let mut attrs: Vec<Attr<'_>> = Vec::with_capacity(16);
    let mut relabelled: relabel::Labels = Vec::new();
    let stale_time = ms_to_ns(ing.scrape_ms);
    while let Some(entry) = parser.next() {
        match entry? {
            Entry::Help { name, text } => {
                let f = family_for(&mut family, name, ing, b, &mut pass, &mut out)?;
                f.help = text;
            }
            Entry::Type { name, kind } => {
                let f = family_for(&mut family, name, ing, b, &mut pass, &mut out)?;
                f.kind = kind;
            }
            Entry::Unit { name, unit } => {
                let f = family_for(&mut family, name, ing, b, &mut pass, &mut out)?;
                f.unit = unit;
            }
            Entry::Sample(s) => {
                out.samples += 1;
                let hash = series_hash(ing.hasher, s.series);
                let stale = match &mut pass {
                    Pass::Live { current, previous } => {
                        if !current.insert(hash) {
                            out.duplicates += 1;
                            continue;
                        }
                        if previous.contains(&hash) {
                            out.seen_again += 1;
                        } else {
                            out.added += 1;
                        }
                        false
                    }
                    Pass::Stale { current } => current.contains(&hash),
                };
                // In a stale pass, `stale == true` means "still exposed".
                let still_exposed = stale;
                let mut name: Cow<'_, str> = Cow::Borrowed(s.name);
                attrs.clear();
                if ing.metric_relabel.is_empty() {
                    point_attrs(parser.labels(), ing.target, &mut attrs, None);
                } else {
                    relabelled.clear();
                    relabelled.push(("__name__".to_string(), s.name.to_string()));
                    relabelled.push(("job".to_string(), ing.target.job.clone()));
                    relabelled.push(("instance".to_string(), ing.target.instance.clone()));
                    let mut scraped = Vec::new();
                    point_attrs(parser.labels(), ing.target, &mut scraped, None);
                    for (k, v) in scraped {
                        relabel::set(&mut relabelled, &k, v.into_owned());
                    }
                    if !relabel::apply(ing.metric_relabel, &mut relabelled) {
                        continue;
                    }
                    for (k, v) in relabelled.drain(..) {
                        match k.as_str() {
                            "__name__" => name = Cow::Owned(v),
                            "job" if v == ing.target.job => {}
                            "instance" if v == ing.target.instance => {}
                            _ if k.starts_with("__") => {}
                            _ => attrs.push((Cow::Owned(k), Cow::Owned(v))),
                        }
                    }
                    if name.is_empty() {
                        continue;
                    }
                }
                out.post_relabel += 1;
                if ing.sample_limit > 0 && out.post_relabel > ing.sample_limit {
                    return Err(IngestError::SampleLimit(ing.sample_limit));
                }
                let role = family.as_ref().and_then(|f| f.role(&name));
                let role = match role {
                    Some(r) => r,
                    None => {
                        let fresh = Family::new(name.clone());
                        switch_family(&mut family, fresh, ing, b, &mut pass, &mut out)?;
                        Role::Number
                    }
                };
                let Some(f) = family.as_mut() else { continue };
                let emit = match &pass {
                    Pass::Live { .. } => true,
                    Pass::Stale { .. } => !still_exposed,
                };
                let time_ms = match s.timestamp_ms {
                    Some(t) if ing.target.honor_timestamps => t,
                    _ => ing.scrape_ms,
                };
                match role {
                    Role::Number => {
                        if !emit {
                            continue;
                        }
                        open_number_metric(f, &name, ing.scope_id, b)?;
                        for (k, v) in &attrs {
                            b.attr(k, v);
                        }
                        let (value, time, flags) = if matches!(pass, Pass::Stale { .. }) {
                            (f64::from_bits(STALE_NAN), stale_time, NO_RECORDED_VALUE)
                        } else {
                            if let Some(e) = s.exemplar {
                                let labels: Vec<(&str, &str)> = parser
                                    .exemplar_labels()
                                    .iter()
                                    .map(|l| (l.name, l.value.as_ref()))
                                    .collect();
                                b.exemplar(&exemplar_of(&labels, e.value, e.timestamp_ms))?;
                            }
                            (s.value, ms_to_ns(time_ms), 0)
                        };
                        b.number(0, time, value, flags)?;
                        out.points += 1;
                    }
                    Role::Created => {
                        if emit {
                            f.created.push((owned(&attrs), s.value, time_ms));
                        }
                    }
                    Role::Bucket | Role::Quantile | Role::Sum | Role::Count => {
                        let key = if role == Role::Bucket {
                            "le"
                        } else {
                            "quantile"
                        };
                        group_line(
                            f,
                            role,
                            key,
                            &s,
                            &parser,
                            &attrs,
                            time_ms,
                            &pass,
                            still_exposed,
                        )?;
                    }
                }
            }
        }
    }
    if let Some(f) = family.take() {
        flush(f, ing, b, &pass, &mut out)?;
    }
    Ok(out)
}

fn owned(attrs: &[Attr<'_>]) -> Vec<(String, String)> {
    attrs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn ms_to_ns(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0).saturating_mul(1_000_000)
}

fn exemplar_of<'e>(labels: &'e [(&'e str, &'e str)], value: f64, ts: Option<i64>) -> Exemplar<'e> {
    let mut trace_id = None;
    let mut span_id = None;
    for (k, v) in labels {
        match *k {
            "trace_id" => trace_id = hex_id::<16>(v),
            "span_id" => span_id = hex_id::<8>(v),
            _ => {}
        }
    }
    Exemplar {
        attributes: labels,
        time: ts.map_or(0, ms_to_ns),
        value,
        trace_id,
        span_id,
    }
}

fn hex_id<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        let hi = (b[2 * i] as char).to_digit(16)?;
        let lo = (b[2 * i + 1] as char).to_digit(16)?;
        *o = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// The point attributes of a sample: its labels (but `skip`) merged with
/// the target's, as `honor_labels` says.
fn point_attrs<'x>(
    labels: &[Label<'x>],
    target: &'x TargetLabels,
    out: &mut Vec<Attr<'x>>,
    skip: Option<&str>,
) {
    for l in labels {
        if Some(l.name) == skip {
            continue;
        }
        let clash = l.name == "job"
            || l.name == "instance"
            || target.extra.iter().any(|(k, _)| k == l.name);
        let value = l.value.clone();
        if clash && !target.honor_labels {
            out.push((Cow::Owned(format!("exported_{}", l.name)), value));
        } else {
            out.push((Cow::Borrowed(l.name), value));
        }
    }
    for (k, v) in &target.extra {
        if target.honor_labels && labels.iter().any(|l| l.name == k) {
            continue;
        }
        out.push((Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str())));
    }
}

fn family_for<'f, 'a>(
    family: &'f mut Option<Family<'a>>,
    name: &'a str,
    ing: &Ingest<'_>,
    b: &mut MetricTablesBuilder,
    pass: &mut Pass<'_>,
    out: &mut Outcome,
) -> Result<&'f mut Family<'a>, IngestError> {
    let same = family.as_ref().is_some_and(|f| f.name == name);
    if !same {
        switch_family(family, Family::new(Cow::Borrowed(name)), ing, b, pass, out)?;
    }
    family.as_mut().ok_or(IngestError::Data(PdataError::Empty))
}

fn switch_family<'a>(
    family: &mut Option<Family<'a>>,
    fresh: Family<'a>,
    ing: &Ingest<'_>,
    b: &mut MetricTablesBuilder,
    pass: &mut Pass<'_>,
    out: &mut Outcome,
) -> Result<(), IngestError> {
    if let Some(old) = family.replace(fresh) {
        flush(old, ing, b, pass, out)?;
    }
    Ok(())
}

fn header<'h>(f: &'h Family<'_>, name: &'h str, scope_id: u32, ty: MetricType) -> MetricHeader<'h> {
    MetricHeader {
        scope_id,
        name,
        description: &f.help,
        unit: f.unit,
        metric_type: ty,
        temporality: match ty {
            MetricType::Sum | MetricType::Histogram => Some(CUMULATIVE),
            _ => None,
        },
        monotonic: (ty == MetricType::Sum).then_some(true),
    }
}

#[allow(
    clippy::ptr_arg,
    reason = "a borrowed Cow is kept without copying the name"
)]
fn open_number_metric<'a>(
    f: &mut Family<'a>,
    name: &Cow<'a, str>,
    scope_id: u32,
    b: &mut MetricTablesBuilder,
) -> Result<(), IngestError> {
    if f.open_metric.as_ref() == Some(name) {
        return Ok(());
    }
    let ty = if f.kind == MetricKind::Counter {
        MetricType::Sum
    } else {
        MetricType::Gauge
    };
    b.metric(&header(f, name, scope_id, ty))?;
    f.open_metric = Some(name.clone());
    Ok(())
}

#[allow(
    clippy::too_many_arguments,
    reason = "one line of a histogram or summary"
)]
fn group_line(
    f: &mut Family<'_>,
    role: Role,
    key: &str,
    s: &Sample<'_>,
    parser: &Parser<'_>,
    attrs: &[Attr<'_>],
    time_ms: i64,
    pass: &Pass<'_>,
    still_exposed: bool,
) -> Result<(), IngestError> {
    let mut bound = None;
    let mut rest: Vec<&Attr<'_>> = Vec::with_capacity(attrs.len());
    for a in attrs {
        if a.0 == key && matches!(role, Role::Bucket | Role::Quantile) {
            bound = Some(a.1.as_ref());
        } else {
            rest.push(a);
        }
    }
    let idx = f
        .groups
        .iter()
        .rposition(|g| {
            g.attrs.len() == rest.len()
                && g.attrs
                    .iter()
                    .zip(&rest)
                    .all(|(x, y)| x.0 == y.0 && x.1 == y.1)
        })
        .unwrap_or_else(|| {
            f.groups.push(Group {
                attrs: rest
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                buckets: Vec::new(),
                quantiles: Vec::new(),
                sum: None,
                count: None,
                time_ms,
                exemplars: Vec::new(),
                live: false,
                gone: false,
            });
            f.groups.len() - 1
        });
    let g = &mut f.groups[idx];
    if matches!(pass, Pass::Stale { .. }) {
        if still_exposed {
            g.live = true;
        } else {
            g.gone = true;
        }
    }
    match role {
        Role::Bucket | Role::Quantile => {
            let Some(bound) = bound else {
                return Err(IngestError::Parse(ParseError {
                    line: parser.line(),
                    reason: format!("{} has no `{key}` label", s.name),
                }));
            };
            let b = super::parser::parse_float(bound).ok_or_else(|| {
                IngestError::Parse(ParseError {
                    line: parser.line(),
                    reason: format!("`{key}` label {bound:?} is not a number"),
                })
            })?;
            if role == Role::Bucket {
                g.buckets.push((b, s.value));
                if let Some(e) = s.exemplar {
                    let labels = parser
                        .exemplar_labels()
                        .iter()
                        .map(|l| (l.name.to_string(), l.value.to_string()))
                        .collect();
                    g.exemplars.push((labels, e.value, e.timestamp_ms));
                }
            } else {
                g.quantiles.push((b, s.value));
            }
        }
        Role::Sum => g.sum = Some(s.value),
        Role::Count => g.count = Some(s.value),
        _ => {}
    }
    Ok(())
}

/// Emits what a finished family still holds: histogram and summary points,
/// `_created` gauges.
fn flush(
    f: Family<'_>,
    ing: &Ingest<'_>,
    b: &mut MetricTablesBuilder,
    pass: &Pass<'_>,
    out: &mut Outcome,
) -> Result<(), IngestError> {
    let stale = matches!(pass, Pass::Stale { .. });
    let stale_time = ms_to_ns(ing.scrape_ms);
    let groups: Vec<&Group> = f
        .groups
        .iter()
        .filter(|g| !stale || (g.gone && !g.live))
        .collect();
    if !groups.is_empty() {
        let ty = if f.kind == MetricKind::Histogram {
            MetricType::Histogram
        } else {
            MetricType::Summary
        };
        b.metric(&header(&f, &f.name, ing.scope_id, ty))?;
        let mut bounds = Vec::new();
        let mut counts = Vec::new();
        for g in groups {
            for (k, v) in &g.attrs {
                b.attr(k, v);
            }
            let (time, flags) = if stale {
                (stale_time, NO_RECORDED_VALUE)
            } else {
                (ms_to_ns(g.time_ms), 0)
            };
            if ty == MetricType::Histogram {
                bounds.clear();
                counts.clear();
                let mut buckets = g.buckets.clone();
                buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                let mut prev = 0.0f64;
                let mut inf = None;
                for (le, cumulative) in &buckets {
                    if *le == f64::INFINITY {
                        inf = Some(*cumulative);
                        continue;
                    }
                    bounds.push(*le);
                    counts.push(to_count(cumulative - prev));
                    prev = prev.max(*cumulative);
                }
                let total = g.count.or(inf).unwrap_or(prev);
                counts.push(to_count(inf.unwrap_or(total) - prev));
                if !stale {
                    for (labels, value, ts) in &g.exemplars {
                        let refs: Vec<(&str, &str)> = labels
                            .iter()
                            .map(|(k, v)| (k.as_str(), v.as_str()))
                            .collect();
                        b.exemplar(&exemplar_of(&refs, *value, *ts))?;
                    }
                }
                let sum = if stale {
                    Some(f64::from_bits(STALE_NAN))
                } else {
                    g.sum
                };
                b.histogram(0, time, to_count(total), sum, &bounds, &counts, flags)?;
            } else {
                let mut q = g.quantiles.clone();
                q.sort_by(|a, b| a.0.total_cmp(&b.0));
                let sum = if stale {
                    f64::from_bits(STALE_NAN)
                } else {
                    g.sum.unwrap_or(0.0)
                };
                b.summary(0, time, to_count(g.count.unwrap_or(0.0)), sum, &q, flags)?;
            }
            out.points += 1;
        }
    }
    if !f.created.is_empty() {
        let name = format!("{}_created", f.name);
        b.metric(&header(&f, &name, ing.scope_id, MetricType::Gauge))?;
        for (attrs, value, ts) in &f.created {
            for (k, v) in attrs {
                b.attr(k, v);
            }
            if stale {
                b.number(0, stale_time, f64::from_bits(STALE_NAN), NO_RECORDED_VALUE)?;
            } else {
                b.number(0, ms_to_ns(*ts), *value, 0)?;
            }
            out.points += 1;
        }
    }
    Ok(())
}

fn to_count(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        v.round() as u64
    } else {
        0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests;
