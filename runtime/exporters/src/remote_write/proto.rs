//! The messages of Prometheus remote write 1.0 (`prometheus.WriteRequest`)
//! and a streaming encoder for the hot path.
//!
//! The prost messages are the reference (tests, sinks, decoding);
//! [`WriteRequestEncoder`] writes the same bytes prost would, straight from
//! borrowed labels, so that a sample costs no allocation.

#![allow(missing_docs, reason = "protobuf messages, documented by their .proto")]

use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};

/// `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `prometheus.Exemplar`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(double, tag = "2")]
    pub value: f64,
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// `prometheus.MetricMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricMetadata {
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    #[prost(string, tag = "4")]
    pub help: String,
    #[prost(string, tag = "5")]
    pub unit: String,
}

fn string_field_len(tag_len: usize, s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        tag_len + encoded_len_varint(s.len() as u64) + s.len()
    }
}

fn label_len(name: &str, value: &str) -> usize {
    string_field_len(1, name) + string_field_len(1, value)
}

fn sample_len(value: f64, timestamp: i64) -> usize {
    let v = if value == 0.0 && value.to_bits() == 0 {
        0
    } else {
        9
    };
    let t = if timestamp == 0 {
        0
    } else {
        1 + encoded_len_varint(timestamp as u64)
    };
    v + t
}

/// Writes a `WriteRequest` one single-sample series at a time, into a
/// reused buffer.
#[derive(Debug, Default)]
pub struct WriteRequestEncoder {
    buf: Vec<u8>,
    samples: usize,
}

impl WriteRequestEncoder {
    /// An empty request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Samples written since the last [`take`](Self::take).
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Appends `TimeSeries { labels, samples: [value @ timestamp] }`.
    pub fn series(&mut self, labels: &[(&str, &str)], value: f64, timestamp: i64) {
        let mut ts_len = 0;
        for (n, v) in labels {
            let l = label_len(n, v);
            ts_len += 1 + encoded_len_varint(l as u64) + l;
        }
        let s = sample_len(value, timestamp);
        ts_len += 1 + encoded_len_varint(s as u64) + s;
        let b = &mut self.buf;
        encode_key(1, WireType::LengthDelimited, b);
        encode_varint(ts_len as u64, b);
        for (n, v) in labels {
            encode_key(1, WireType::LengthDelimited, b);
            encode_varint(label_len(n, v) as u64, b);
            for (tag, s) in [(1u32, n), (2u32, v)] {
                if !s.is_empty() {
                    encode_key(tag, WireType::LengthDelimited, b);
                    encode_varint(s.len() as u64, b);
                    b.extend_from_slice(s.as_bytes());
                }
            }
        }
        encode_key(2, WireType::LengthDelimited, b);
        encode_varint(s as u64, b);
        if !(value == 0.0 && value.to_bits() == 0) {
            encode_key(1, WireType::SixtyFourBit, b);
            b.extend_from_slice(&value.to_le_bytes());
        }
        if timestamp != 0 {
            encode_key(2, WireType::Varint, b);
            encode_varint(timestamp as u64, b);
        }
        self.samples += 1;
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The request so far (then empty again, keeping the allocation).
    pub fn take(&mut self) -> Vec<u8> {
        self.samples = 0;
        let cap = self.buf.capacity();
        std::mem::replace(&mut self.buf, Vec::with_capacity(cap))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use prost::Message as _;

    #[test]
    fn encoder_writes_what_prost_writes() {
        type Case<'a> = (Vec<(&'a str, &'a str)>, f64, i64);
        let cases: Vec<Case<'_>> = vec![
            (
                vec![("__name__", "up"), ("job", "a")],
                1.0,
                1_700_000_000_000,
            ),
            (vec![("__name__", "x"), ("empty", "")], 0.0, 0),
            (vec![("__name__", "neg")], -0.0, -5),
            (
                vec![("__name__", "nan")],
                f64::from_bits(0x7ff0_0000_0000_0002),
                42,
            ),
            (vec![], f64::INFINITY, i64::MAX),
        ];
        let mut enc = WriteRequestEncoder::new();
        let mut want = WriteRequest::default();
        for (labels, value, ts) in &cases {
            enc.series(labels, *value, *ts);
            want.timeseries.push(TimeSeries {
                labels: labels
                    .iter()
                    .map(|(n, v)| Label {
                        name: n.to_string(),
                        value: v.to_string(),
                    })
                    .collect(),
                samples: vec![Sample {
                    value: *value,
                    timestamp: *ts,
                }],
                exemplars: vec![],
            });
        }
        assert_eq!(enc.samples(), cases.len());
        let bytes = enc.take();
        // -0.0 is skipped by neither: compare decoded messages bit for bit.
        let got = WriteRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(got.timeseries.len(), want.timeseries.len());
        for (g, w) in got.timeseries.iter().zip(&want.timeseries) {
            assert_eq!(g.labels, w.labels);
            assert_eq!(g.samples[0].value.to_bits(), w.samples[0].value.to_bits());
            assert_eq!(g.samples[0].timestamp, w.samples[0].timestamp);
        }
        assert!(enc.is_empty());
    }
}
