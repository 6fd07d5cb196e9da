//! weir's pipeline data: one Arrow model per signal and lossless OTLP <-> Arrow.
//!
//! A [`Batch`] is what moves between pipeline nodes. It is cheap to clone (an
//! `Arc`) and holds one or both of two representations of the same data:
//!
//! - the **OTLP protobuf bytes** of an `Export*ServiceRequest`, exactly as a
//!   client sent them (validated and counted on arrival, never decoded unless a
//!   node asks for columns);
//! - the **Arrow tables** ([`SignalTables`]) of the signal's schema (see
//!   [`schema`] and `docs/data-model.md`).
//!
//! Either is produced from the other on first use and then cached, so a
//! pipeline whose nodes never read columns forwards the original bytes
//! untouched, and a batch decoded once is never decoded again.
//!
//! No tokio, no wasmtime: this crate is pure data.

pub mod build;
pub mod error;
pub mod otlp;
pub mod profiles;
pub mod schema;
pub mod tables;

use std::sync::{Arc, OnceLock};

use bytes::Bytes;

pub use error::PdataError;
pub use tables::SignalTables;

/// The kind of telemetry a batch carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// Spans (`ExportTraceServiceRequest`).
    Traces,
    /// Metric data points (`ExportMetricsServiceRequest`).
    Metrics,
    /// Log records (`ExportLogsServiceRequest`).
    Logs,
    /// CPU profile samples: Arrow tables only, no OTLP form (see
    /// `docs/data-model.md`). Produced by the `ebpf` receiver, exported by
    /// the `pyroscope` exporter; OTLP exporters refuse them.
    Profiles,
}

impl Signal {
    /// The OTLP signals (traces, metrics, logs), in a fixed order: every
    /// signal with an OTLP protobuf form. [`Signal::Profiles`] is not one.
    pub const ALL: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

    /// Whether batches of this signal have an OTLP protobuf form (false
    /// only for [`Signal::Profiles`]).
    pub fn has_otlp(self) -> bool {
        !matches!(self, Signal::Profiles)
    }

    /// The lower-case name used in configuration, metrics and table names
    /// (`traces`, `metrics`, `logs`, `profiles`).
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
            Signal::Profiles => "profiles",
        }
    }

    /// The name of the records table of this signal in SQL and in the store
    /// (`spans`, `metrics`, `logs`).
    pub fn table_name(self) -> &'static str {
        match self {
            Signal::Traces => "spans",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
            Signal::Profiles => "profiles",
        }
    }

    /// What one item of this signal is called in logs and metrics.
    pub fn item_name(self) -> &'static str {
        match self {
            Signal::Traces => "spans",
            Signal::Metrics => "data points",
            Signal::Logs => "log records",
            Signal::Profiles => "profile samples",
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Signal {
    type Err = PdataError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "traces" | "spans" => Ok(Signal::Traces),
            "metrics" => Ok(Signal::Metrics),
            "logs" => Ok(Signal::Logs),
            "profiles" => Ok(Signal::Profiles),
            other => Err(PdataError::UnknownSignal(other.to_string())),
        }
    }
}

/// A batch of telemetry of one signal: OTLP bytes, Arrow tables, or both.
///
/// Cloning is an `Arc` clone: fan-out never copies data.
#[derive(Clone)]
pub struct Batch(Arc<Inner>);

struct Inner {
    signal: Signal,
    items: usize,
    otlp: OnceLock<Bytes>,
    tables: OnceLock<Arc<SignalTables>>,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("signal", &self.0.signal)
            .field("items", &self.0.items)
            .field("otlp", &self.0.otlp.get().map(|b| b.len()))
            .field("tables", &self.0.tables.get().is_some())
            .finish()
    }
}

impl Batch {
    /// Wraps the protobuf bytes of an `Export*ServiceRequest` of `signal`.
    ///
    /// The bytes are checked to be well-formed protobuf of the request's shape
    /// and its items are counted in one pass that allocates nothing
    /// ([`otlp::scan`]); they are not decoded.
    ///
    /// # Errors
    /// [`PdataError::Protobuf`] when the bytes are not a valid request, with
    /// the offset and what was wrong.
    pub fn from_otlp(signal: Signal, bytes: Bytes) -> Result<Batch, PdataError> {
        let items = otlp::scan(signal, &bytes)?;
        Ok(Self::from_otlp_unchecked(signal, bytes, items))
    }

    /// Wraps bytes already known to be valid, with their item count.
    pub fn from_otlp_unchecked(signal: Signal, bytes: Bytes, items: usize) -> Batch {
        let otlp = OnceLock::new();
        let _ = otlp.set(bytes);
        Batch(Arc::new(Inner {
            signal,
            items,
            otlp,
            tables: OnceLock::new(),
        }))
    }

    /// Wraps Arrow tables (for example the output of a processor).
    pub fn from_tables(signal: Signal, tables: SignalTables) -> Batch {
        let items = tables.records.num_rows() - tables.placeholder_rows();
        let cell = OnceLock::new();
        let _ = cell.set(Arc::new(tables));
        Batch(Arc::new(Inner {
            signal,
            items,
            otlp: OnceLock::new(),
            tables: cell,
        }))
    }

    /// The signal of this batch.
    pub fn signal(&self) -> Signal {
        self.0.signal
    }

    /// The number of items (spans, data points, log records).
    pub fn items(&self) -> usize {
        self.0.items
    }

    /// The length of the OTLP bytes if at hand, else 0 (for size-based
    /// batching, which treats decoded batches by item count only).
    pub fn otlp_len(&self) -> usize {
        self.0.otlp.get().map_or(0, Bytes::len)
    }

    /// Whether the OTLP bytes are at hand without encoding.
    pub fn has_otlp(&self) -> bool {
        self.0.otlp.get().is_some()
    }

    /// Whether the Arrow tables are at hand without decoding.
    pub fn has_tables(&self) -> bool {
        self.0.tables.get().is_some()
    }

    /// The OTLP protobuf bytes, encoded from the tables on first use.
    ///
    /// # Errors
    /// [`PdataError`] if the tables do not follow the signal's schema.
    pub fn otlp_bytes(&self) -> Result<Bytes, PdataError> {
        if let Some(b) = self.0.otlp.get() {
            return Ok(b.clone());
        }
        let tables = self.0.tables.get().ok_or(PdataError::Empty)?;
        let bytes = otlp::encode(self.0.signal, tables)?;
        Ok(self.0.otlp.get_or_init(|| bytes).clone())
    }

    /// The Arrow tables, decoded from the OTLP bytes on first use.
    ///
    /// # Errors
    /// [`PdataError`] if the bytes cannot be decoded (they were validated on
    /// arrival, so this means a bug or bytes wrapped unchecked).
    pub fn tables(&self) -> Result<Arc<SignalTables>, PdataError> {
        if let Some(t) = self.0.tables.get() {
            return Ok(t.clone());
        }
        let bytes = self.0.otlp.get().ok_or(PdataError::Empty)?;
        let tables = Arc::new(otlp::decode(self.0.signal, bytes)?);
        Ok(self.0.tables.get_or_init(|| tables).clone())
    }

    /// Concatenates batches of one signal into one.
    ///
    /// When every input has its OTLP bytes, the result is the concatenation
    /// of those bytes (protobuf concatenates repeated fields), so batching
    /// never decodes. Otherwise the tables are concatenated with their ids
    /// renumbered.
    ///
    /// # Errors
    /// [`PdataError::SignalMismatch`] when signals differ; decoding errors.
    pub fn concat(batches: &[Batch]) -> Result<Batch, PdataError> {
        let Some(first) = batches.first() else {
            return Err(PdataError::Empty);
        };
        if batches.len() == 1 {
            return Ok(first.clone());
        }
        let signal = first.signal();
        if let Some(b) = batches.iter().find(|b| b.signal() != signal) {
            return Err(PdataError::SignalMismatch {
                expected: signal,
                found: b.signal(),
            });
        }
        let items = batches.iter().map(Batch::items).sum();
        if batches.iter().all(Batch::has_otlp) {
            let len = batches
                .iter()
                .map(|b| b.0.otlp.get().map_or(0, Bytes::len))
                .sum();
            let mut out = Vec::with_capacity(len);
            for b in batches {
                if let Some(bytes) = b.0.otlp.get() {
                    out.extend_from_slice(bytes);
                }
            }
            return Ok(Batch::from_otlp_unchecked(signal, Bytes::from(out), items));
        }
        let tables = batches
            .iter()
            .map(Batch::tables)
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&SignalTables> = tables.iter().map(|t| t.as_ref()).collect();
        Ok(Batch::from_tables(
            signal,
            SignalTables::concat(signal, &refs)?,
        ))
    }
}
