//! OTLP metric messages from the probes' histograms and counters; turned
//! into Arrow tables with `weir_pdata::otlp::arrow::metrics_tables`.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint, Sum,
    metric::Data, number_data_point,
};
use weir_ebpf::common::{LATENCY_SLOTS, Latency, slot_upper_bound_ns};

/// The first kernel slot with its own bucket: slots up to it share the
/// first bucket (`le` 2^10 ns, about 1 us).
const FIRST_SLOT: usize = 10;
/// The last slot with its own bucket (2^34 ns, about 17 s); slots above it
/// are counted in the `+Inf` bucket.
const LAST_SLOT: usize = 34;

/// The explicit bounds (seconds) of every latency histogram: powers of two
/// of nanoseconds from 2^10 to 2^34.
pub(super) fn latency_bounds() -> Vec<f64> {
    (FIRST_SLOT..=LAST_SLOT)
        .map(|s| slot_upper_bound_ns(s) as f64 / 1e9)
        .collect()
}

/// The bucket counts of `latency` for [`latency_bounds`] (one more than
/// the bounds: the last is `+Inf`). Exact: every kernel slot lies within
/// one bucket.
pub(super) fn bucket_counts(latency: &Latency) -> Vec<u64> {
    let mut counts = vec![0u64; LAST_SLOT - FIRST_SLOT + 2];
    let last = counts.len() - 1;
    for (slot, n) in latency.slots.iter().enumerate().take(LATENCY_SLOTS) {
        let bucket = slot.saturating_sub(FIRST_SLOT).min(last);
        counts[bucket] += n;
    }
    counts
}

/// Adds `b` into `a`.
pub(super) fn merge(a: &mut Latency, b: &Latency) {
    a.count += b.count;
    a.sum_ns += b.sum_ns;
    for (x, y) in a.slots.iter_mut().zip(b.slots.iter()) {
        *x += y;
    }
}

/// A string attribute.
pub(super) fn kv_str(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        key_strindex: 0,
    }
}

/// An int attribute.
pub(super) fn kv_int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        key_strindex: 0,
    }
}

/// Collects the points of one metric.
pub(super) struct MetricPoints {
    name: &'static str,
    description: &'static str,
    unit: &'static str,
    histogram: Vec<HistogramDataPoint>,
    sum: Vec<NumberDataPoint>,
}

impl MetricPoints {
    /// A metric of `name`.
    pub(super) fn new(name: &'static str, description: &'static str, unit: &'static str) -> Self {
        MetricPoints {
            name,
            description,
            unit,
            histogram: Vec::new(),
            sum: Vec::new(),
        }
    }

    /// A cumulative latency histogram point (seconds).
    pub(super) fn histogram(
        &mut self,
        attributes: Vec<KeyValue>,
        start_ns: u64,
        now_ns: u64,
        l: &Latency,
    ) {
        self.histogram.push(HistogramDataPoint {
            attributes,
            start_time_unix_nano: start_ns,
            time_unix_nano: now_ns,
            count: l.count,
            sum: Some(l.sum_ns as f64 / 1e9),
            bucket_counts: bucket_counts(l),
            explicit_bounds: latency_bounds(),
            exemplars: Vec::new(),
            flags: 0,
            min: None,
            max: None,
        });
    }

    /// A cumulative monotonic counter point.
    pub(super) fn sum(
        &mut self,
        attributes: Vec<KeyValue>,
        start_ns: u64,
        now_ns: u64,
        value: u64,
    ) {
        self.sum.push(NumberDataPoint {
            attributes,
            start_time_unix_nano: start_ns,
            time_unix_nano: now_ns,
            exemplars: Vec::new(),
            flags: 0,
            value: Some(number_data_point::Value::AsInt(
                i64::try_from(value).unwrap_or(i64::MAX),
            )),
        });
    }

    /// Number of points.
    pub(super) fn len(&self) -> usize {
        self.histogram.len() + self.sum.len()
    }

    /// The metric, `None` without points.
    pub(super) fn finish(self) -> Option<Metric> {
        let data = if !self.histogram.is_empty() {
            Data::Histogram(Histogram {
                data_points: self.histogram,
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            })
        } else if !self.sum.is_empty() {
            Data::Sum(Sum {
                data_points: self.sum,
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            })
        } else {
            return None;
        };
        Some(Metric {
            name: self.name.to_string(),
            description: self.description.to_string(),
            unit: self.unit.to_string(),
            metadata: Vec::new(),
            data: Some(data),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_ebpf::common::latency_slot;

    #[test]
    fn buckets_hold_exactly_their_slots() {
        let bounds = latency_bounds();
        assert_eq!(bounds.len(), 25);
        assert_eq!(bounds[0], 1024e-9);
        let mut l = Latency::ZERO;
        // One value per interesting point: every bucket's upper bound and
        // just above it, plus tiny and huge values.
        let mut values = vec![0u64, 1, 500, u64::MAX / 2];
        for s in FIRST_SLOT..=LAST_SLOT {
            values.push(slot_upper_bound_ns(s));
            values.push(slot_upper_bound_ns(s) + 1);
        }
        for v in &values {
            l.count += 1;
            l.slots[latency_slot(*v)] += 1;
        }
        let counts = bucket_counts(&l);
        assert_eq!(counts.iter().sum::<u64>(), values.len() as u64);
        // Check each value against the bucket its bound says.
        for v in &values {
            let secs = *v as f64 / 1e9;
            let expected = bounds
                .iter()
                .position(|b| secs <= *b)
                .unwrap_or(bounds.len());
            let mut one = Latency::ZERO;
            one.slots[latency_slot(*v)] = 1;
            let got = bucket_counts(&one).iter().position(|n| *n == 1);
            assert_eq!(got, Some(expected), "value {v} ns");
        }
    }
}
