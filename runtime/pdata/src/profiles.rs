//! The profiles signal: building and reading its Arrow tables.
//!
//! Profiles have no OTLP form in weir (OTLP profiles are still
//! experimental and change shape between releases): a profiles
//! [`Batch`](crate::Batch) is built from tables with
//! [`Batch::from_tables`](crate::Batch::from_tables) and never has OTLP
//! bytes. The table layout is [`crate::schema::profiles`]; the reasoning is
//! in `docs/data-model.md`.

use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder as _, StringBuilder, StringDictionaryBuilder, UInt64Builder,
};
use arrow_array::cast::AsArray as _;
use arrow_array::types::{Int64Type, TimestampNanosecondType, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, UInt32Array};
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::otlp::arrow::attrs::{AttrsBuilder, AttrsReader};
use crate::otlp::arrow::columns::{
    Cols, OffsetsBuilder, list_of_structs, timestamps, ts_from_arrow, ts_to_arrow,
};
use crate::otlp::arrow::envelope::{Envelope, ResourcesBuilder, ScopesBuilder};
use crate::schema::{self, profile as pf};
use crate::{PdataError, Signal, SignalTables};

/// One frame of a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The function, or the address in hex when unknown.
    pub function: String,
    /// The binary or library (`[kernel]` for the kernel), "" when unknown.
    pub module: String,
    /// The instruction pointer.
    pub address: u64,
}

/// One row of the profiles table: a stack of one thread in one window.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Start of the collection window (ns since the epoch).
    pub start_time_ns: u64,
    /// End of the collection window (ns since the epoch).
    pub time_ns: u64,
    /// What was sampled (`cpu`).
    pub profile_type: String,
    /// Nanoseconds between samples.
    pub period_ns: i64,
    /// Samples of this stack.
    pub samples: i64,
    /// Innermost first.
    pub frames: Vec<Frame>,
    /// The process and thread.
    pub attributes: Vec<KeyValue>,
}

/// The tables of one batch of profile samples under one resource and scope.
///
/// # Errors
/// [`PdataError`] when Arrow refuses the arrays (more than 2^31 frames).
pub fn tables(
    resource: Option<&Resource>,
    scope: Option<&InstrumentationScope>,
    samples: &[Sample],
) -> Result<SignalTables, PdataError> {
    let mut resources = ResourcesBuilder::with_capacity(1);
    let resource_id = resources.append(resource, "")?;
    let mut scopes = ScopesBuilder::with_capacity(1);
    let scope_id = scopes.append(resource_id, scope, "")?;

    let n = samples.len();
    let mut start = Vec::with_capacity(n);
    let mut time = Vec::with_capacity(n);
    let mut profile_type = StringDictionaryBuilder::<UInt32Type>::new();
    let mut period = Vec::with_capacity(n);
    let mut count = Vec::with_capacity(n);
    let mut offsets = OffsetsBuilder::with_capacity(n);
    let frames_n: usize = samples.iter().map(|s| s.frames.len()).sum();
    let mut function = StringBuilder::with_capacity(frames_n, frames_n * 24);
    let mut module = StringBuilder::with_capacity(frames_n, frames_n * 16);
    let mut address = UInt64Builder::with_capacity(frames_n);
    let mut attrs = AttrsBuilder::with_capacity(n, n * 4);
    for s in samples {
        start.push(ts_to_arrow(s.start_time_ns));
        time.push(ts_to_arrow(s.time_ns));
        profile_type.append_value(&s.profile_type);
        period.push(s.period_ns);
        count.push(s.samples);
        for f in &s.frames {
            function.append_value(&f.function);
            module.append_value(&f.module);
            address.append_value(f.address);
        }
        offsets.close(address.len());
        attrs.append_row(&s.attributes);
    }
    let frames_len = address.len();
    let frames = list_of_structs(
        schema::frame_fields(),
        vec![
            Arc::new(function.finish()),
            Arc::new(module.finish()),
            Arc::new(address.finish()),
        ],
        offsets,
        frames_len,
        None,
    )?;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from(vec![scope_id; n])),
        timestamps(start),
        timestamps(time),
        Arc::new(profile_type.finish()),
        Arc::new(Int64Array::from(period)),
        Arc::new(Int64Array::from(count)),
        frames,
        Arc::new(attrs.finish()?),
    ];
    Ok(SignalTables {
        resources: resources.finish()?,
        scopes: scopes.finish()?,
        records: RecordBatch::try_new(schema::profiles(), columns)?,
    })
}

fn err(reason: impl Into<String>) -> PdataError {
    PdataError::Schema {
        signal: Signal::Profiles,
        reason: reason.into(),
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, PdataError> {
    batch
        .column_by_name(name)
        .ok_or_else(|| err(format!("the records table has no `{name}` column")))
}

/// The string at row `i` of a `Utf8` or dictionary-of-`Utf8` column.
fn string_at(array: &dyn Array, i: usize) -> Result<String, PdataError> {
    if let Some(s) = array.as_string_opt::<i32>() {
        return Ok(s.value(i).to_string());
    }
    if let Some(d) = array.as_dictionary_opt::<UInt32Type>() {
        let values = d
            .values()
            .as_string_opt::<i32>()
            .ok_or_else(|| err("a dictionary column without Utf8 values"))?;
        let key = d.keys().value(i) as usize;
        return Ok(values.value(key).to_string());
    }
    Err(err(format!(
        "expected a string column, found {}",
        array.data_type()
    )))
}

/// The samples of one resource (and scope) of a profiles batch.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSamples {
    /// The resource's attributes (empty when absent).
    pub resource: Vec<KeyValue>,
    /// The scope (absent when the row is null).
    pub scope: Option<InstrumentationScope>,
    /// Its samples, in table order.
    pub samples: Vec<Sample>,
}

/// Reads profiles tables, grouped by resource and scope. Attribute values
/// are kept as stored.
///
/// # Errors
/// [`PdataError::Schema`] when a column is missing or of another type, or
/// ids do not match.
pub fn read(tables: &SignalTables) -> Result<Vec<ResourceSamples>, PdataError> {
    let records = &tables.records;
    let scope_ids = column(records, pf::SCOPE_ID)?
        .as_primitive_opt::<UInt32Type>()
        .ok_or_else(|| err("`scope_id` is not UInt32"))?;
    let ts = |name| -> Result<_, PdataError> {
        column(records, name)?
            .as_primitive_opt::<TimestampNanosecondType>()
            .ok_or_else(|| err(format!("`{name}` is not a nanosecond timestamp")))
    };
    let (start, time) = (ts(pf::START_TIME)?, ts(pf::TIME)?);
    let int = |name| -> Result<_, PdataError> {
        column(records, name)?
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| err(format!("`{name}` is not Int64")))
    };
    let (period, samples) = (int(pf::PERIOD)?, int(pf::SAMPLES)?);
    let profile_type = column(records, pf::PROFILE_TYPE)?;
    let frames = column(records, pf::FRAMES)?
        .as_list_opt::<i32>()
        .ok_or_else(|| err("`frames` is not a list"))?;
    let frame_values = frames
        .values()
        .as_struct_opt()
        .ok_or_else(|| err("`frames` items are not structs"))?;
    let field = |name: &str| {
        frame_values
            .column_by_name(name)
            .ok_or_else(|| err(format!("`frames` items have no `{name}`")))
    };
    let (function, module) = (
        field(schema::frame::FUNCTION)?,
        field(schema::frame::MODULE)?,
    );
    let address = field(schema::frame::ADDRESS)?
        .as_primitive_opt::<UInt64Type>()
        .ok_or_else(|| err("`frames.address` is not UInt64"))?;
    let cols = Cols::of_batch(Signal::Profiles, "records", records);
    let attrs = AttrsReader::new(&cols, pf::ATTRIBUTES)?;
    let envelope = Envelope::new(Signal::Profiles, tables, scope_ids)?;

    let sample = |i: usize| -> Result<Sample, PdataError> {
        let range = frames.value_offsets();
        let (lo, hi) = (range[i] as usize, range[i + 1] as usize);
        let mut stack = Vec::with_capacity(hi - lo);
        for j in lo..hi {
            stack.push(Frame {
                function: string_at(function.as_ref(), j)?,
                module: string_at(module.as_ref(), j)?,
                address: address.value(j),
            });
        }
        Ok(Sample {
            start_time_ns: ts_from_arrow(start.value(i)),
            time_ns: ts_from_arrow(time.value(i)),
            profile_type: string_at(profile_type.as_ref(), i)?,
            period_ns: period.value(i),
            samples: samples.value(i),
            frames: stack,
            attributes: attrs.get(i)?,
        })
    };
    let mut out = Vec::new();
    for r in 0..envelope.resources.len() {
        let resource = envelope
            .resources
            .resource(r)?
            .map(|r| r.attributes)
            .unwrap_or_default();
        for &s in envelope.scopes_of(r) {
            let rows = envelope.records_of(s);
            out.push(ResourceSamples {
                resource: resource.clone(),
                scope: envelope.scopes.scope(s)?,
                samples: rows.iter().map(|&i| sample(i)).collect::<Result<_, _>>()?,
            });
        }
    }
    Ok(out)
}
