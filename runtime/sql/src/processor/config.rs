//! Configuration of the `sql` processor and its validation.
//!
//! ```kdl
//! processor "errors-only" type="sql" {
//!     from "apps"
//!     query "SELECT * FROM spans WHERE status.code = 2"
//! }
//!
//! processor "red" type="sql" {
//!     from "apps"
//!     query #"""
//!         SELECT service_name, attr(attributes, 'http.route') AS "http.route",
//!                count(*) AS calls,
//!                count(*) FILTER (WHERE status.code = 2) AS errors,
//!                histogram(duration_ms(start_time, end_time), [5, 10, 25, 50, 100, 250, 500, 1000]) AS duration
//!         FROM spans WHERE kind = 2 GROUP BY 1, 2
//!         """#
//!     window { size "10s"; lateness "5s"; }
//!     metric "calls" kind="sum" name="http.server.calls"
//!     metric "errors" kind="sum" name="http.server.errors"
//!     metric "duration" kind="histogram" name="http.server.duration" unit="ms"
//! }
//! ```
//!
//! | property | default | meaning |
//! |---|---|---|
//! | `query` | required | one SQL `SELECT` over `spans`, `logs` or `metrics` (and lookup tables) |
//! | `lookup "NAME" path="FILE"` | none | a CSV or Parquet table joinable as `NAME` (`format="csv"` / `"parquet"` when the extension does not say) |
//! | `reload-interval` | `"5s"` | how often lookup files are checked for changes |
//! | `window { ... }` | none | aggregate over event-time windows instead of per batch |
//! | `window { size }` | required | window length |
//! | `window { hop }` | `size` | distance between window starts (hopping windows); must divide `size` |
//! | `window { time }` | `end_time` (spans), `time` | the event-time column |
//! | `window { lateness }` | `"0s"` | how late a row may be and still count |
//! | `window { idle-timeout }` | size + lateness | close every window after this long without input |
//! | `window { max-memory }` | `"64MiB"` | largest window state; the oldest window closes early beyond it |
//! | `metric "COLUMN" kind=...` | none | with `window`: a result column emitted as a metric (`"sum"`, `"gauge"`, `"histogram"`); `name`, `unit`, `description`, `monotonic` (sums, default `#true`) |
//!
//! Validation plans the query: SQL errors, unknown columns, type errors
//! and results that cannot be what the node emits are all reported by
//! `weir validate`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use weir_config::{ConfigError, ErrorCode, NodeReader, SourceSpan, Spanned};
use weir_engine::registry::{BuildContext, Builder, Built};

use super::node::{Mode, SqlProcessor};
use super::points::{MetricDecl, MetricKind, PointsLayout};
use super::window::{WindowPlan, WindowSpec, check_spec, default_time_column};
use crate::error::QueryError;
use crate::lookup::{DEFAULT_RELOAD_INTERVAL, LookupFormat, LookupSource};
use crate::output::RecordsMapping;
use crate::plan::QueryPlanner;
use crate::source::Source;

/// Default `window { max-memory }`.
pub const DEFAULT_MAX_MEMORY: usize = 64 << 20;

/// The `window` block as written.
#[derive(Debug, Clone)]
struct WindowConfig {
    size: Duration,
    hop: Option<Duration>,
    time: Option<Spanned<String>>,
    lateness: Duration,
    idle_timeout: Option<Duration>,
    max_memory: usize,
    span: SourceSpan,
}

/// A validated `sql` processor, planned and ready to build.
pub struct SqlConfig {
    mode: Mode,
    lookups: Vec<Arc<LookupSource>>,
    reload_interval: Duration,
}

impl std::fmt::Debug for SqlConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlConfig")
            .field("lookups", &self.lookups.len())
            .field("reload_interval", &self.reload_interval)
            .finish_non_exhaustive()
    }
}

/// Reads and plans a `processor type="sql"` block; `None` when it has
/// errors (all of them recorded on `r`).
pub fn validate(r: &mut NodeReader<'_>) -> Option<Box<dyn Builder>> {
    SqlConfig::read(r).map(|c| Box::new(c) as Box<dyn Builder>)
}

fn duration_ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl SqlConfig {
    /// Reads the block and plans its query, recording every problem on `r`.
    pub fn read(r: &mut NodeReader<'_>) -> Option<SqlConfig> {
        let query = r.string("query");
        let query = r.require("query", query, "query \"SELECT * FROM spans\"");
        let mut ok = true;
        let reload_interval = r
            .duration("reload-interval")
            .unwrap_or(DEFAULT_RELOAD_INTERVAL);
        let lookups = read_lookups(r, &mut ok);
        let window = r.block("window", read_window).flatten();
        if r.present("window") && window.is_none() {
            ok = false;
        }
        let metrics = read_metrics(r, &mut ok);
        if window.is_none() && !metrics.is_empty() && r.present("metric") {
            let span = metrics.first().map_or_else(|| r.span(), |m| m.1);
            r.error(
                ConfigError::new(ErrorCode::InvalidValue, "`metric` needs a `window`")
                    .at(span, "only a windowed query emits metrics")
                    .help("add `window { size \"10s\" }`, or remove the `metric` lines"),
            );
            ok = false;
        }
        let query = query?;
        if !ok {
            return None;
        }
        let sources: Vec<(String, Arc<dyn Source>)> = lookups
            .iter()
            .map(|l| (l.name().to_string(), l.clone() as Arc<dyn Source>))
            .collect();
        let planner = match QueryPlanner::new(&sources) {
            Ok(p) => p,
            Err(e) => {
                r.error(query_error(&e, query.span));
                return None;
            }
        };
        let (signal, logical) = match planner.logical(&query.value) {
            Ok(x) => x,
            Err(e) => {
                r.error(query_error(&e, query.span));
                return None;
            }
        };
        let mode = match window {
            None => {
                let planned = match planner.physical(signal, &logical) {
                    Ok(p) => p,
                    Err(e) => {
                        r.error(query_error(&e, query.span));
                        return None;
                    }
                };
                match RecordsMapping::new(signal, &planned.logical_schema) {
                    Ok(mapping) => Mode::PerBatch {
                        query: planned,
                        mapping,
                    },
                    Err(e) => {
                        r.error(query_error(&e, query.span).help(format!(
                            "a per-batch query returns {table} rows: keep `scope_id`{metric_id} (SELECT * does), store derived values in attributes with attr_set(attributes, 'key', value), or aggregate with a `window`",
                            table = signal.table_name(),
                            metric_id = if signal == weir_pdata::Signal::Metrics { " and `metric_id`" } else { "" },
                        )));
                        return None;
                    }
                }
            }
            Some(w) => {
                let time = w
                    .time
                    .as_ref()
                    .map_or(default_time_column(signal), |t| t.value.as_str());
                let plan = match WindowPlan::new(&planner, signal, &logical, time) {
                    Ok(p) => p,
                    Err(e) => {
                        let span = match (&e, &w.time) {
                            (QueryError::Result(p), Some(t))
                                if p.iter().any(|m| m.contains("time column")) =>
                            {
                                t.span
                            }
                            _ => query.span,
                        };
                        r.error(query_error(&e, span));
                        return None;
                    }
                };
                let decls: Vec<MetricDecl> = metrics.iter().map(|m| m.0.clone()).collect();
                let layout = match PointsLayout::new(&plan.output_schema, &decls) {
                    Ok(l) => l,
                    Err(problems) => {
                        let (span, label) = metrics
                            .first()
                            .map_or((query.span, "this query"), |m| (m.1, "this metric"));
                        let mut e = query_error(&QueryError::Result(problems), span);
                        e.label = Some(label.to_string());
                        r.error(
                            e.help(
                                "each result row is one series: declare its value columns with `metric \"COLUMN\" kind=\"sum\"` (or gauge, histogram); every other column is a label",
                            ),
                        );
                        return None;
                    }
                };
                let size = duration_ns(w.size);
                let hop = w.hop.map_or(size, duration_ns);
                if let Err(msg) = check_spec(size, hop) {
                    r.error(
                        ConfigError::new(ErrorCode::InvalidValue, msg).at(w.span, "in this window"),
                    );
                    return None;
                }
                let spec = WindowSpec {
                    size,
                    hop,
                    lateness: duration_ns(w.lateness),
                    time_column: time.to_string(),
                    max_memory: w.max_memory,
                };
                Mode::Windowed {
                    plan: Box::new(plan),
                    spec,
                    layout,
                    idle_timeout: w.idle_timeout.unwrap_or(w.size + w.lateness),
                }
            }
        };
        Some(SqlConfig {
            mode,
            lookups,
            reload_interval,
        })
    }
}

/// A query problem as a diagnostic at `span`.
fn query_error(e: &QueryError, span: SourceSpan) -> ConfigError {
    match e {
        QueryError::Result(problems) => ConfigError::new(
            ErrorCode::QueryResult,
            format!("the query's result cannot be emitted: {}", problems.join("; ")),
        )
        .at(span, "this query"),
        QueryError::Plan(_) => ConfigError::new(ErrorCode::Query, format!("invalid SQL query: {e}"))
            .at(span, "this query")
            .help("the tables are spans, logs and metrics (columns in docs/sql.md) and the node's lookup tables"),
        other => ConfigError::new(ErrorCode::Query, format!("invalid SQL query: {other}"))
            .at(span, "this query")
            .help("write one SELECT over spans, logs or metrics"),
    }
}

fn read_lookups(r: &mut NodeReader<'_>, ok: &mut bool) -> Vec<Arc<LookupSource>> {
    let read = r.blocks("lookup", |l| {
        let name = l
            .node()
            .entries()
            .iter()
            .find(|e| e.name().is_none())
            .and_then(|e| e.value().as_string().map(|s| (s.to_string(), e.span())));
        let path = l.string("path");
        let format = l.one_of("format", &["csv", "parquet"]);
        let span = l.span();
        (name, path, format, span)
    });
    let mut out: Vec<Arc<LookupSource>> = Vec::new();
    for (name, path, format, span) in read {
        let Some((name, name_span)) = name else {
            r.error(
                ConfigError::new(ErrorCode::Missing, "a `lookup` has no table name")
                    .at(span, "name the table here")
                    .help("write `lookup \"teams\" path=\"teams.csv\"`"),
            );
            *ok = false;
            continue;
        };
        let Some(path) = path else {
            r.error(
                ConfigError::new(ErrorCode::Missing, format!("lookup {name:?} has no `path`"))
                    .at(span, "`path` is missing")
                    .help(format!("write `lookup {name:?} path=\"{name}.csv\"`")),
            );
            *ok = false;
            continue;
        };
        if out.iter().any(|l| l.name() == name)
            || weir_pdata::Signal::ALL
                .iter()
                .any(|s| s.table_name() == name)
        {
            r.error(
                ConfigError::new(
                    ErrorCode::Duplicate,
                    format!("table name {name:?} is taken"),
                )
                .at(name_span, "choose another name")
                .help("spans, logs, metrics and the other lookups are taken"),
            );
            *ok = false;
            continue;
        }
        let file = PathBuf::from(&path.value);
        let format = match format.as_ref().map(|f| f.value.as_str()) {
            Some("csv") => Some(LookupFormat::Csv),
            Some("parquet") => Some(LookupFormat::Parquet),
            _ => LookupFormat::of_path(&file),
        };
        let Some(format) = format else {
            r.error(
                ConfigError::new(
                    ErrorCode::InvalidValue,
                    format!("lookup {name:?}: unknown file format"),
                )
                .at(path.span, "neither .csv nor .parquet")
                .help("add format=\"csv\" or format=\"parquet\""),
            );
            *ok = false;
            continue;
        };
        match LookupSource::open(name, file, format) {
            Ok(l) => out.push(l),
            Err(e) => {
                r.error(
                    ConfigError::new(
                        ErrorCode::InvalidValue,
                        format!("cannot load lookup table: {e}"),
                    )
                    .at(path.span, "this file")
                    .help("relative paths resolve against the working directory"),
                );
                *ok = false;
            }
        }
    }
    out
}

fn read_window(w: &mut NodeReader<'_>) -> Option<WindowConfig> {
    let size = w.duration("size");
    let size = w.require("size", size, "size \"10s\"");
    let hop = w.duration("hop");
    let time = w.string("time");
    let lateness = w.duration("lateness").unwrap_or(Duration::ZERO);
    let idle_timeout = w.duration("idle-timeout");
    let max_memory = w.byte_size("max-memory").map_or(DEFAULT_MAX_MEMORY, |b| {
        usize::try_from(b.0).unwrap_or(usize::MAX)
    });
    let span = w.span();
    Some(WindowConfig {
        size: size?,
        hop,
        time,
        lateness,
        idle_timeout,
        max_memory,
        span,
    })
}

fn read_metrics(r: &mut NodeReader<'_>, ok: &mut bool) -> Vec<(MetricDecl, SourceSpan)> {
    let read = r.blocks("metric", |m| {
        let column = m
            .node()
            .entries()
            .iter()
            .find(|e| e.name().is_none())
            .and_then(|e| e.value().as_string().map(str::to_string));
        let kind = m.one_of("kind", &["sum", "gauge", "histogram"]);
        let name = m.string("name");
        let unit = m.string("unit");
        let description = m.string("description");
        let monotonic = m.bool("monotonic");
        let span = m.span();
        let kind_missing = kind.is_none() && !m.present("kind");
        (
            column,
            kind,
            kind_missing,
            name,
            unit,
            description,
            monotonic,
            span,
        )
    });
    let mut out = Vec::new();
    for (column, kind, kind_missing, name, unit, description, monotonic, span) in read {
        let Some(column) = column else {
            r.error(
                ConfigError::new(ErrorCode::Missing, "a `metric` names no result column")
                    .at(span, "name the column here")
                    .help("write `metric \"calls\" kind=\"sum\"`"),
            );
            *ok = false;
            continue;
        };
        let kind = match kind.as_ref().map(|k| k.value.as_str()) {
            Some("sum") => MetricKind::Sum {
                monotonic: monotonic.unwrap_or(true),
            },
            Some("gauge") => MetricKind::Gauge,
            Some("histogram") => MetricKind::Histogram,
            _ => {
                if kind_missing {
                    r.error(
                        ConfigError::new(
                            ErrorCode::Missing,
                            format!("metric {column:?} has no `kind`"),
                        )
                        .at(span, "`kind` is missing")
                        .help("add kind=\"sum\", kind=\"gauge\" or kind=\"histogram\""),
                    );
                }
                *ok = false;
                continue;
            }
        };
        out.push((
            MetricDecl {
                name: name.map_or_else(|| column.clone(), |n| n.value),
                unit: unit.map(|u| u.value).unwrap_or_default(),
                description: description.map(|d| d.value).unwrap_or_default(),
                column,
                kind,
            },
            span,
        ));
    }
    out
}

impl Builder for SqlConfig {
    fn build(self: Box<Self>, ctx: &BuildContext<'_>) -> Result<Built, ConfigError> {
        let c = *self;
        Ok(Built::Processor(Box::new(SqlProcessor::new(
            ctx.id.to_string(),
            c.mode,
            c.lookups,
            c.reload_interval,
        ))))
    }
}
