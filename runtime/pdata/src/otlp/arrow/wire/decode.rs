//! The parts of the wire decoder every signal shares: the
//! `Resource*` / `Scope*` envelope and attributes (`KeyValue`, `AnyValue`).
//!
//! The envelope of traces and logs has the same field numbers
//! (`Export*ServiceRequest.resource_* = 1`; `Resource*`: `resource = 1`,
//! `scope_* = 2`, `schema_url = 3`; `Scope*`: `scope = 1`, records `= 2`,
//! `schema_url = 3`), so [`decode`] walks it once for any [`Records`]
//! builder. `Resource` and `InstrumentationScope` messages (one per
//! envelope, not per record) are decoded with prost and appended with the
//! builders' existing methods; repeated occurrences are merged as protobuf
//! requires.

use arrow_array::RecordBatch;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use super::read::{Cursor, count_each};
use crate::otlp::arrow::attrs::{AnyValueBuilder, AttrsBuilder};
use crate::otlp::arrow::envelope::{ResourcesBuilder, ScopesBuilder, next_id};
use crate::{PdataError, SignalTables};

/// The records table of one signal, filled from record messages.
pub(super) trait Records: Sized {
    /// A builder for `rows` records.
    fn with_capacity(rows: usize) -> Self;

    /// Appends the record message in `c`, of scope row `scope_id`.
    fn append(&mut self, scope_id: u32, c: Cursor<'_>) -> Result<(), PdataError>;

    /// The table.
    fn finish(self) -> Result<RecordBatch, PdataError>;
}

/// Row counts for the builders' capacities, from a shallow walk that only
/// reads keys and lengths of the envelope.
fn count(bytes: &[u8]) -> (usize, usize, usize) {
    let (mut resources, mut scopes, mut records) = (0, 0, 0);
    count_each(Cursor::new(bytes), 1, |r| {
        resources += 1;
        count_each(r, 2, |s| {
            scopes += 1;
            count_each(s, 2, |_| records += 1);
        });
    });
    (resources, scopes, records)
}

/// Decodes an `Export*ServiceRequest` whose records `R` reads.
pub(super) fn decode<R: Records>(bytes: &[u8]) -> Result<SignalTables, PdataError> {
    let (resources_n, scopes_n, records_n) = count(bytes);
    let mut walk = Walk {
        resources: ResourcesBuilder::with_capacity(resources_n),
        scopes: ScopesBuilder::with_capacity(scopes_n),
        records: R::with_capacity(records_n),
        resources_n: 0,
        scopes_n: 0,
    };
    let mut c = Cursor::new(bytes);
    while let Some((n, wt)) = c.key()? {
        match n {
            1 => walk.resource(c.message(wt)?)?,
            _ => c.skip(n, wt)?,
        }
    }
    Ok(SignalTables {
        resources: walk.resources.finish()?,
        scopes: walk.scopes.finish()?,
        records: walk.records.finish()?,
    })
}

/// The builders of one request.
struct Walk<R> {
    resources: ResourcesBuilder,
    scopes: ScopesBuilder,
    records: R,
    resources_n: usize,
    scopes_n: usize,
}

impl<R: Records> Walk<R> {
    /// One `Resource*` message: its scopes are appended as they come, its
    /// row once its fields are all read (they may come in any order).
    fn resource(&mut self, mut c: Cursor<'_>) -> Result<(), PdataError> {
        let id = next_id(self.resources_n, "resources")?;
        let mut resource: Option<Resource> = None;
        let mut schema_url = "";
        while let Some((n, wt)) = c.key()? {
            match n {
                1 => {
                    let bytes = c.message(wt)?.rest();
                    resource.get_or_insert_default().merge(bytes)?;
                }
                2 => self.scope(id, c.message(wt)?)?,
                3 => schema_url = c.str(wt)?,
                _ => c.skip(n, wt)?,
            }
        }
        self.resources.append(resource.as_ref(), schema_url)?;
        self.resources_n += 1;
        Ok(())
    }

    /// One `Scope*` message of resource row `resource_id`.
    fn scope(&mut self, resource_id: u32, mut c: Cursor<'_>) -> Result<(), PdataError> {
        let id = next_id(self.scopes_n, "scopes")?;
        let mut scope: Option<InstrumentationScope> = None;
        let mut schema_url = "";
        while let Some((n, wt)) = c.key()? {
            match n {
                1 => {
                    let bytes = c.message(wt)?.rest();
                    scope.get_or_insert_default().merge(bytes)?;
                }
                2 => self.records.append(id, c.message(wt)?)?,
                3 => schema_url = c.str(wt)?,
                _ => c.skip(n, wt)?,
            }
        }
        self.scopes
            .append(resource_id, scope.as_ref(), schema_url)?;
        self.scopes_n += 1;
        Ok(())
    }
}

/// Appends one `KeyValue` message to the current row of `attrs` (its
/// `key_strindex`, profiles only, is not kept).
#[inline]
pub(super) fn key_value(attrs: &mut AttrsBuilder, c: Cursor<'_>) -> Result<(), PdataError> {
    let start = c;
    let mut c = c;
    let mut key = "";
    let mut value = None;
    let mut values = 0u32;
    while let Some((n, wt)) = c.key()? {
        match n {
            1 => key = c.str(wt)?,
            2 => {
                value = Some(c.message(wt)?);
                values += 1;
            }
            3 => {
                c.int32(wt)?;
            }
            _ => c.skip(n, wt)?,
        }
    }
    let out = attrs.key(key);
    match value {
        None => out.append_null(),
        Some(v) if values == 1 => any_value(out, v)?,
        Some(_) => out.append(Some(&merged(start, 2)?)),
    }
    Ok(())
}

/// The `AnyValue` that the occurrences of field `number` of the message in
/// `c` merge into (a singular message field repeated on the wire).
#[cold]
pub(super) fn merged(mut c: Cursor<'_>, number: u32) -> Result<AnyValue, PdataError> {
    let mut value = AnyValue::default();
    while let Some((n, wt)) = c.key()? {
        if n == number {
            value.merge(c.message(wt)?.rest())?;
        } else {
            c.skip(n, wt)?;
        }
    }
    Ok(value)
}

/// The last value of an `AnyValue`'s `oneof` seen on the wire (the one that
/// counts).
enum Last<'a> {
    None,
    Str(&'a str),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(&'a [u8]),
    StrIndex(i32),
}

/// Appends the `AnyValue` message in `c`.
///
/// Scalars go straight into the builder. An array or key-value list (rare
/// in attributes) is decoded with prost and stored re-encoded, exactly as
/// the prost path does, so both produce the same canonical bytes whatever
/// field order or duplicates the sender used.
#[inline]
pub(super) fn any_value(out: &mut AnyValueBuilder, c: Cursor<'_>) -> Result<(), PdataError> {
    let start = c;
    let mut c = c;
    let mut last = Last::None;
    let mut nested = false;
    while let Some((n, wt)) = c.key()? {
        match n {
            1 => last = Last::Str(c.str(wt)?),
            2 => last = Last::Bool(c.uint64(wt)? != 0),
            3 => last = Last::Int(c.uint64(wt)? as i64),
            4 => last = Last::Double(f64::from_bits(c.fixed64(wt)?)),
            5 | 6 => {
                c.message(wt)?;
                nested = true;
            }
            7 => last = Last::Bytes(c.bytes(wt)?),
            8 => last = Last::StrIndex(c.int32(wt)?),
            _ => c.skip(n, wt)?,
        }
    }
    if nested {
        return nested_value(out, start);
    }
    match last {
        Last::None => out.append_empty(),
        Last::Str(s) => out.append_str(s),
        Last::Bool(b) => out.append_bool(b),
        Last::Int(i) => out.append_int(i),
        Last::Double(d) => out.append_double(d),
        Last::Bytes(b) => out.append_bytes(b),
        Last::StrIndex(i) => out.append_str_index(i),
    }
    Ok(())
}

#[cold]
fn nested_value(out: &mut AnyValueBuilder, c: Cursor<'_>) -> Result<(), PdataError> {
    let value = AnyValue::decode(c.rest())?;
    out.append_value(value.value.as_ref());
    Ok(())
}

/// Appends the `KeyValue` message of the field `c` is positioned on (of
/// wire type `wt`) to the current row of `attrs`.
#[inline]
pub(super) fn attribute(
    attrs: &mut AttrsBuilder,
    c: &mut Cursor<'_>,
    wt: u8,
) -> Result<(), PdataError> {
    let kv = c.message(wt)?;
    key_value(attrs, kv)
}
