//! Metrics: `ExportMetricsServiceRequest` <-> the metrics tables.
//!
//! The records table has one row per data point. Metric-level fields repeat
//! on each row (dictionary-encoded), `metric_id` ties the points of one
//! `Metric` message together, and a metric without data points (its `data`
//! unset, or set with an empty point list) is one placeholder row whose
//! point `attributes` is null.

mod build;
mod read;

use std::collections::HashMap;

use arrow_array::types::UInt32Type;
use arrow_array::{Array, PrimitiveArray, RecordBatch};
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{ResourceMetrics, ScopeMetrics, metric::Data};
use prost::Message;

use super::columns::Cols;
use super::envelope::{Envelope, ResourcesBuilder, ScopesBuilder};
use crate::schema::metric as mt;
use crate::{PdataError, Signal, SignalTables};

pub(crate) use build::MetricsBuilder;
use read::MetricsReader;

/// Decodes an `ExportMetricsServiceRequest`.
pub(crate) fn decode(bytes: &[u8]) -> Result<SignalTables, PdataError> {
    tables(&ExportMetricsServiceRequest::decode(bytes)?)
}

/// The tables of a decoded request.
pub(crate) fn tables(request: &ExportMetricsServiceRequest) -> Result<SignalTables, PdataError> {
    let (mut scopes_n, mut rows) = (0, 0);
    for rm in &request.resource_metrics {
        scopes_n += rm.scope_metrics.len();
        for sm in &rm.scope_metrics {
            rows += sm
                .metrics
                .iter()
                .map(|m| points(&m.data).max(1))
                .sum::<usize>();
        }
    }
    let mut resources = ResourcesBuilder::with_capacity(request.resource_metrics.len());
    let mut scopes = ScopesBuilder::with_capacity(scopes_n);
    let mut records = MetricsBuilder::with_capacity(rows);
    for rm in &request.resource_metrics {
        let resource_id = resources.append(rm.resource.as_ref(), &rm.schema_url)?;
        for sm in &rm.scope_metrics {
            let scope_id = scopes.append(resource_id, sm.scope.as_ref(), &sm.schema_url)?;
            for m in &sm.metrics {
                records.append_metric(scope_id, m)?;
            }
        }
    }
    Ok(SignalTables {
        resources: resources.finish()?,
        scopes: scopes.finish()?,
        records: records.finish()?,
    })
}

fn points(data: &Option<Data>) -> usize {
    match data {
        None => 0,
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
    }
}

/// Encodes metrics tables as an `ExportMetricsServiceRequest`.
///
/// Within a scope, rows are grouped into `Metric` messages by `metric_id`
/// in order of first appearance, so points of one metric need not be
/// contiguous.
pub(crate) fn encode(tables: &SignalTables) -> Result<Bytes, PdataError> {
    let cols = Cols::of_batch(Signal::Metrics, "metrics", &tables.records);
    let reader = MetricsReader::new(&cols)?;
    let metric_ids = cols.ids(mt::METRIC_ID)?;
    let env = Envelope::new(Signal::Metrics, tables, cols.ids(mt::SCOPE_ID)?)?;
    let mut groups = MetricGroups::default();
    let mut resource_metrics = Vec::with_capacity(env.resources.len());
    for r in 0..env.resources.len() {
        let mut scope_metrics = Vec::with_capacity(env.scopes_of(r).len());
        for &s in env.scopes_of(r) {
            groups.fill(env.records_of(s), metric_ids)?;
            let metrics = groups
                .iter()
                .map(|rows| reader.metric(rows))
                .collect::<Result<Vec<_>, _>>()?;
            scope_metrics.push(ScopeMetrics {
                scope: env.scopes.scope(s)?,
                metrics,
                schema_url: env.scopes.schema_url(s),
            });
        }
        resource_metrics.push(ResourceMetrics {
            resource: env.resources.resource(r)?,
            scope_metrics,
            schema_url: env.resources.schema_url(r),
        });
    }
    Ok(ExportMetricsServiceRequest { resource_metrics }
        .encode_to_vec()
        .into())
}

/// The rows of one scope grouped by `metric_id`, reused across scopes.
#[derive(Default)]
struct MetricGroups {
    index: HashMap<u32, usize>,
    groups: Vec<Vec<usize>>,
    used: usize,
}

impl MetricGroups {
    fn fill(
        &mut self,
        rows: &[usize],
        metric_ids: &PrimitiveArray<UInt32Type>,
    ) -> Result<(), PdataError> {
        self.index.clear();
        for g in &mut self.groups[..self.used] {
            g.clear();
        }
        self.used = 0;
        let mut last: Option<(u32, usize)> = None;
        for &row in rows {
            if metric_ids.is_null(row) {
                return Err(super::columns::schema_err(
                    Signal::Metrics,
                    "metrics.metric_id has nulls",
                ));
            }
            let id = metric_ids.value(row);
            let group = match last {
                // Points of one metric are usually adjacent: skip the hash.
                Some((last_id, g)) if last_id == id => g,
                _ => *self.index.entry(id).or_insert_with(|| {
                    if self.groups.len() == self.used {
                        self.groups.push(Vec::new());
                    }
                    self.used += 1;
                    self.used - 1
                }),
            };
            self.groups[group].push(row);
            last = Some((id, group));
        }
        Ok(())
    }

    fn iter(&self) -> impl Iterator<Item = &[usize]> {
        self.groups[..self.used].iter().map(Vec::as_slice)
    }
}

/// Rows of a metrics records table that stand for a metric without data
/// points: rows whose point `attributes` map is null.
pub(crate) fn placeholder_rows(records: &RecordBatch) -> usize {
    if records.column_by_name(mt::METRIC_ID).is_none() {
        return 0;
    }
    records
        .column_by_name(mt::ATTRIBUTES)
        .map_or(0, |a| a.null_count())
}
