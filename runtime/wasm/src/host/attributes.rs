//! Attribute maps (`Map<Utf8, AnyValue>` columns) for plugins: dense
//! per-key reads, per-key writes, and the kernels that change values in
//! place on Arrow arrays (delete, regex redact, salted hash).
//!
//! Kernels return `None` when nothing matched, so the caller keeps the
//! batch untouched (and its OTLP bytes, which then need no re-encoding).

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, UInt8Builder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, UInt8Type};
use arrow_array::{Array, ArrayRef, BooleanArray, MapArray, StringArray, StructArray};
use arrow_buffer::{BooleanBufferBuilder, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_data::transform::MutableArrayData;
use arrow_schema::DataType;
use regex::Regex;
use weir_pdata::otlp::edit::WireValue;
use weir_pdata::schema::{self, ValueType};

use crate::bindings::weir::pipeline::types::{
    AttributeColumn, BinaryArray as WitBinary, HostError, Utf8Array, ValueKind,
};
use crate::host::kernels;

/// The parts of an attribute map column.
pub struct MapView<'a> {
    map: &'a MapArray,
    keys: &'a StringArray,
    values: &'a StructArray,
    ty: &'a arrow_array::PrimitiveArray<UInt8Type>,
    str: &'a StringArray,
}

fn child<'a>(s: &'a StructArray, name: &str) -> Result<&'a ArrayRef, HostError> {
    s.column_by_name(name)
        .ok_or_else(|| HostError::InvalidColumn(format!("attribute values lack `{name}`")))
}

fn internal_err(e: impl std::fmt::Display) -> HostError {
    HostError::InvalidColumn(format!("attributes: {e}"))
}

fn bad(what: &str) -> HostError {
    HostError::InvalidColumn(format!("attributes: unexpected layout of `{what}`"))
}

impl<'a> MapView<'a> {
    /// Views `array`, an attribute map column.
    ///
    /// # Errors
    /// [`HostError::InvalidColumn`] when it is not laid out as weir's
    /// schema says (a bug upstream).
    pub fn new(array: &'a ArrayRef) -> Result<Self, HostError> {
        let map = array.as_map_opt().ok_or_else(|| bad("map"))?;
        let entries = map.entries();
        let keys = entries
            .column(0)
            .as_string_opt::<i32>()
            .ok_or_else(|| bad("key"))?;
        let values = entries
            .column(1)
            .as_struct_opt()
            .ok_or_else(|| bad("value"))?;
        let ty = child(values, schema::any_value::TYPE)?
            .as_primitive_opt::<UInt8Type>()
            .ok_or_else(|| bad("type"))?;
        let str = child(values, schema::any_value::STR)?
            .as_string_opt::<i32>()
            .ok_or_else(|| bad("str"))?;
        Ok(MapView {
            map,
            keys,
            values,
            ty,
            str,
        })
    }

    /// The number of rows (maps).
    pub fn rows(&self) -> usize {
        self.map.len()
    }

    /// The entry range of row `r`.
    fn range(&self, r: usize) -> std::ops::Range<usize> {
        let o = self.map.value_offsets();
        o[r] as usize..o[r + 1] as usize
    }

    /// The whole entry range the map uses.
    fn span(&self) -> std::ops::Range<usize> {
        let o = self.map.value_offsets();
        let first = o.first().copied().unwrap_or(0) as usize;
        let last = o.last().copied().unwrap_or(0) as usize;
        first..last
    }

    /// The value type of entry `e` (`None` when the value is null).
    fn value_type(&self, e: usize) -> Option<ValueType> {
        if self.values.is_null(e) {
            return None;
        }
        ValueType::from_u8(self.ty.value(e))
    }

    /// Distinct keys, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<&str> = self.span().map(|e| self.keys.value(e)).collect();
        keys.sort_unstable();
        keys.dedup();
        keys.into_iter().map(str::to_string).collect()
    }

    /// Dense columns of the values of `keys` across rows.
    pub fn read(&self, keys: &[String]) -> Vec<AttributeColumn> {
        let index: HashMap<&str, usize> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.as_str(), i))
            .collect();
        let rows = self.rows();
        // For each requested key and row (key-major), the entry holding
        // its value.
        let mut found: Vec<Option<usize>> = vec![None; rows * keys.len()];
        for r in (0..rows).filter(|&r| self.map.is_valid(r)) {
            for e in self.range(r) {
                if let Some(&k) = index.get(self.keys.value(e)) {
                    let _ = found[k * rows + r].get_or_insert(e);
                }
            }
        }
        let int = self.values.column_by_name(schema::any_value::INT);
        let double = self.values.column_by_name(schema::any_value::DOUBLE);
        let boolean = self.values.column_by_name(schema::any_value::BOOL);
        let bytes = self.values.column_by_name(schema::any_value::BYTES);
        keys.iter()
            .enumerate()
            .map(|(k, key)| {
                let entries = &found[k * rows..(k + 1) * rows];
                let mut kinds = Vec::with_capacity(rows);
                let mut s_off = Vec::with_capacity(rows + 1);
                let mut s_data = Vec::new();
                let mut b_off = Vec::with_capacity(rows + 1);
                let mut b_data = Vec::new();
                let mut ints = Vec::with_capacity(rows);
                let mut doubles = Vec::with_capacity(rows);
                let mut bools = BooleanBufferBuilder::new(rows);
                s_off.push(0u32);
                b_off.push(0u32);
                for &e in entries {
                    let (mut kind, mut int_v, mut double_v, mut bool_v) =
                        (ValueKind::Absent, 0i64, 0f64, false);
                    if let Some(e) = e {
                        kind = ValueKind::Empty;
                        match self.value_type(e) {
                            None | Some(ValueType::Empty) => {}
                            Some(ValueType::Str) => {
                                kind = ValueKind::String;
                                s_data.extend_from_slice(self.str.value(e).as_bytes());
                            }
                            Some(ValueType::Bool) => {
                                kind = ValueKind::Boolean;
                                bool_v = boolean
                                    .and_then(|a| a.as_boolean_opt())
                                    .is_some_and(|a| a.value(e));
                            }
                            Some(ValueType::Int | ValueType::StrIndex) => {
                                kind = ValueKind::Int;
                                int_v = int
                                    .and_then(|a| a.as_primitive_opt::<Int64Type>())
                                    .map_or(0, |a| a.value(e));
                            }
                            Some(ValueType::Double) => {
                                kind = ValueKind::Double;
                                double_v = double
                                    .and_then(|a| a.as_primitive_opt::<Float64Type>())
                                    .map_or(0.0, |a| a.value(e));
                            }
                            Some(t @ (ValueType::Bytes | ValueType::Array | ValueType::KvList)) => {
                                kind = if t == ValueType::Bytes {
                                    ValueKind::Bytes
                                } else {
                                    ValueKind::Complex
                                };
                                if let Some(b) = bytes.and_then(|a| a.as_binary_opt::<i32>()) {
                                    b_data.extend_from_slice(b.value(e));
                                }
                            }
                        }
                    }
                    kinds.push(kind);
                    ints.push(int_v);
                    doubles.push(double_v);
                    bools.append(bool_v);
                    s_off.push(u32::try_from(s_data.len()).unwrap_or(u32::MAX));
                    b_off.push(u32::try_from(b_data.len()).unwrap_or(u32::MAX));
                }
                AttributeColumn {
                    key: key.clone(),
                    kinds,
                    strings: Utf8Array {
                        offsets: s_off,
                        data: s_data,
                    },
                    ints,
                    doubles,
                    bools: bools.finish().sliced().as_slice().to_vec(),
                    bytes: WitBinary {
                        offsets: b_off,
                        data: b_data,
                    },
                }
            })
            .collect()
    }

    /// Rebuilds the map with `entries` (same order as `offsets`).
    fn rebuild(
        &self,
        entries: StructArray,
        offsets: Vec<i32>,
        nulls: Option<NullBuffer>,
    ) -> Result<MapArray, HostError> {
        let DataType::Map(field, sorted) = self.map.data_type() else {
            return Err(bad("map"));
        };
        MapArray::try_new(
            field.clone(),
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            entries,
            nulls,
            *sorted,
        )
        .map_err(|e| HostError::InvalidColumn(format!("attributes: {e}")))
    }

    /// The map with the same entries but `values` as the value column.
    fn with_values(&self, values: StructArray) -> Result<MapArray, HostError> {
        let entries = self.map.entries();
        let (fields, mut columns, nulls) = entries.clone().into_parts();
        columns[1] = Arc::new(values);
        let entries = StructArray::try_new(fields, columns, nulls)
            .map_err(|e| HostError::InvalidColumn(format!("attributes: {e}")))?;
        self.rebuild(
            entries,
            self.map.value_offsets().to_vec(),
            self.map.nulls().cloned(),
        )
    }

    /// Sets one key across rows from `col`: rows whose kind is absent lose
    /// the key, the others get the value (at the end of their entries).
    ///
    /// # Errors
    /// [`HostError::InvalidColumn`] when `col` does not have one value per
    /// row or its lists disagree.
    pub fn set(&self, col: &AttributeColumn) -> Result<MapArray, HostError> {
        let rows = self.rows();
        if col.kinds.len() != rows {
            return Err(HostError::InvalidColumn(format!(
                "attribute {:?}: {} values for {rows} rows",
                col.key,
                col.kinds.len()
            )));
        }
        let new_values = build_values(col)?;
        let new_count = new_values.len();
        let new_entries = StructArray::try_new(
            schema::attributes_entry_fields(),
            vec![
                Arc::new(StringArray::from(vec![col.key.as_str(); new_count])),
                Arc::new(new_values),
            ],
            None,
        )
        .map_err(|e| HostError::InvalidColumn(format!("attribute {:?}: {e}", col.key)))?;
        let old = self.map.entries().to_data();
        let new = new_entries.to_data();
        let mut out = MutableArrayData::new(vec![&old, &new], false, self.span().len() + new_count);
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0i32);
        let mut len = 0usize;
        let mut next_new = 0usize;
        let mut nulls = BooleanBufferBuilder::new(rows);
        for r in 0..rows {
            let range = self.range(r);
            let mut run_start = range.start;
            for e in range.clone() {
                if self.keys.value(e) == col.key {
                    if run_start < e {
                        out.try_extend(0, run_start, e).map_err(internal_err)?;
                        len += e - run_start;
                    }
                    run_start = e + 1;
                }
            }
            if run_start < range.end {
                out.try_extend(0, run_start, range.end)
                    .map_err(internal_err)?;
                len += range.end - run_start;
            }
            let present = col.kinds[r] != ValueKind::Absent;
            if present {
                out.try_extend(1, next_new, next_new + 1)
                    .map_err(internal_err)?;
                next_new += 1;
                len += 1;
            }
            nulls.append(present || self.map.is_valid(r));
            offsets.push(i32::try_from(len).map_err(|_| bad("offsets"))?);
        }
        let entries = arrow_array::make_array(out.freeze());
        let entries = entries
            .as_struct_opt()
            .ok_or_else(|| bad("entries"))?
            .clone();
        let nulls = NullBuffer::new(nulls.finish());
        let nulls = (nulls.null_count() > 0).then_some(nulls);
        self.rebuild(entries, offsets, nulls)
    }

    /// Whether entry `e` is one of `keys` (every key when `keys` is empty).
    fn selects(keys: &[String], key: &str) -> bool {
        kernels::selects(keys, key, true)
    }

    /// Deletes `keys`; `None` when none was present.
    ///
    /// # Errors
    /// [`HostError::InvalidColumn`] on a malformed map.
    pub fn delete(&self, keys: &[String]) -> Result<Option<(MapArray, u32)>, HostError> {
        let span = self.span();
        let mut keep = BooleanBufferBuilder::new(span.len());
        let mut removed = 0u32;
        let mut offsets = Vec::with_capacity(self.rows() + 1);
        offsets.push(0i32);
        let mut len = 0i32;
        for r in 0..self.rows() {
            for e in self.range(r) {
                let drop = !keys.is_empty() && Self::selects(keys, self.keys.value(e));
                keep.append(!drop);
                if drop {
                    removed += 1;
                } else {
                    len += 1;
                }
            }
            offsets.push(len);
        }
        if removed == 0 {
            return Ok(None);
        }
        let entries = self.map.entries().slice(span.start, span.len());
        let mask = BooleanArray::new(keep.finish(), None);
        let kept = arrow_select::filter::filter(&entries, &mask)
            .map_err(|e| HostError::InvalidColumn(format!("attributes: {e}")))?;
        let kept = kept.as_struct_opt().ok_or_else(|| bad("entries"))?.clone();
        Ok(Some((
            self.rebuild(kept, offsets, self.map.nulls().cloned())?,
            removed,
        )))
    }

    /// Replaces matches of `re` in the string values of `keys` (all keys
    /// when empty); `None` when no value matched.
    ///
    /// # Errors
    /// [`HostError::InvalidColumn`] on a malformed map.
    pub fn redact(
        &self,
        keys: &[String],
        re: &Regex,
        replacement: &str,
    ) -> Result<Option<(MapArray, u32, u64)>, HostError> {
        let span = self.span();
        let mut changes: Vec<(usize, String)> = Vec::new();
        for e in span {
            if self.value_type(e) != Some(ValueType::Str)
                || !Self::selects(keys, self.keys.value(e))
            {
                continue;
            }
            if let Some(r) = kernels::redact_value(re, replacement, self.str.value(e)) {
                changes.push((e, r));
            }
        }
        if changes.is_empty() {
            return Ok(None);
        }
        let written: u64 = changes.iter().map(|(_, s)| s.len() as u64).sum();
        let n = u32::try_from(changes.len()).unwrap_or(u32::MAX);
        let str = replace_strings(self.str, &changes);
        let values = self.replace_child(schema::any_value::STR, Arc::new(str))?;
        Ok(Some((self.with_values(values)?, n, written)))
    }

    /// Replaces the values of `keys` by the hex SHA-256 of `salt` + the
    /// value (its text for numbers and booleans, its bytes otherwise);
    /// `None` when no value matched.
    ///
    /// # Errors
    /// [`HostError::InvalidColumn`] on a malformed map.
    pub fn hash(
        &self,
        keys: &[String],
        salt: &str,
    ) -> Result<Option<(MapArray, u32, u64)>, HostError> {
        let int = self
            .values
            .column_by_name(schema::any_value::INT)
            .and_then(|a| a.as_primitive_opt::<Int64Type>());
        let double = self
            .values
            .column_by_name(schema::any_value::DOUBLE)
            .and_then(|a| a.as_primitive_opt::<Float64Type>());
        let boolean = self
            .values
            .column_by_name(schema::any_value::BOOL)
            .and_then(|a| a.as_boolean_opt());
        let bytes = self
            .values
            .column_by_name(schema::any_value::BYTES)
            .and_then(|a| a.as_binary_opt::<i32>());
        let mut changes: Vec<(usize, String)> = Vec::new();
        for e in self.span() {
            if keys.is_empty() || !Self::selects(keys, self.keys.value(e)) {
                continue;
            }
            let value = match self.value_type(e) {
                None => WireValue::Absent,
                Some(ValueType::Empty) => WireValue::Empty,
                Some(ValueType::Str) => WireValue::Str(self.str.value(e)),
                Some(ValueType::Int) => WireValue::Int(int.map_or(0, |a| a.value(e))),
                Some(ValueType::StrIndex) => WireValue::StrIndex(int.map_or(0, |a| a.value(e))),
                Some(ValueType::Double) => WireValue::Double(double.map_or(0.0, |a| a.value(e))),
                Some(ValueType::Bool) => WireValue::Bool(boolean.is_some_and(|a| a.value(e))),
                Some(ValueType::Bytes) => WireValue::Bytes(bytes.map_or(&[][..], |a| a.value(e))),
                Some(ValueType::Array | ValueType::KvList) => {
                    WireValue::Complex(bytes.map_or(&[][..], |a| a.value(e)))
                }
            };
            if let Some(h) = kernels::hash_value(salt, value) {
                changes.push((e, h));
            }
        }
        if changes.is_empty() {
            return Ok(None);
        }
        let n = u32::try_from(changes.len()).unwrap_or(u32::MAX);
        let written = 64 * u64::from(n);
        // The values become strings: new `type` and `str`, the other
        // children nulled where changed.
        let changed: Vec<usize> = changes.iter().map(|(e, _)| *e).collect();
        let total = self.values.len();
        let mut ty = UInt8Builder::with_capacity(total);
        let mut next = changed.iter().peekable();
        for e in 0..total {
            if next.peek() == Some(&&e) {
                let _ = next.next();
                ty.append_value(ValueType::Str as u8);
            } else {
                ty.append_value(self.ty.value(e));
            }
        }
        let str = replace_strings(self.str, &changes);
        let (fields, mut columns, nulls) = self.values.clone().into_parts();
        let mut mask = BooleanBufferBuilder::new(total);
        mask.append_n(total, false);
        for &e in &changed {
            mask.set_bit(e, true);
        }
        let mask = BooleanArray::new(mask.finish(), None);
        for (i, f) in fields.iter().enumerate() {
            columns[i] = match f.name().as_str() {
                schema::any_value::TYPE => Arc::new(ty.finish()) as ArrayRef,
                schema::any_value::STR => Arc::new(str.clone()) as ArrayRef,
                _ => arrow_select::nullif::nullif(&columns[i], &mask)
                    .map_err(|e| HostError::InvalidColumn(format!("attributes: {e}")))?,
            };
        }
        // A changed entry whose value struct was null becomes valid.
        let nulls = nulls.map(|n| {
            let mut b = BooleanBufferBuilder::new(total);
            b.append_buffer(n.inner());
            for &e in &changed {
                b.set_bit(e, true);
            }
            NullBuffer::new(b.finish())
        });
        let values = StructArray::try_new(fields, columns, nulls)
            .map_err(|e| HostError::InvalidColumn(format!("attributes: {e}")))?;
        Ok(Some((self.with_values(values)?, n, written)))
    }

    /// The value struct with child `name` replaced.
    fn replace_child(&self, name: &str, array: ArrayRef) -> Result<StructArray, HostError> {
        let (fields, mut columns, nulls) = self.values.clone().into_parts();
        let (i, _) = fields.find(name).ok_or_else(|| bad(name))?;
        columns[i] = array;
        StructArray::try_new(fields, columns, nulls)
            .map_err(|e| HostError::InvalidColumn(format!("attributes: {e}")))
    }
}

/// `old` with entries `changes` (sorted by index) replaced, nulls kept
/// except on replaced entries.
pub(crate) fn replace_strings(old: &StringArray, changes: &[(usize, String)]) -> StringArray {
    let extra: usize = changes.iter().map(|(_, s)| s.len()).sum();
    let mut b = StringBuilder::with_capacity(old.len(), old.value_data().len() + extra);
    let mut next = changes.iter().peekable();
    for e in 0..old.len() {
        match next.peek() {
            Some((i, s)) if *i == e => {
                b.append_value(s);
                let _ = next.next();
            }
            _ if old.is_null(e) => b.append_null(),
            _ => b.append_value(old.value(e)),
        }
    }
    b.finish()
}

/// The `AnyValue` struct of the present rows of `col`, in row order.
fn build_values(col: &AttributeColumn) -> Result<StructArray, HostError> {
    let rows = col.kinds.len();
    let bad_len = |what: &str| {
        HostError::InvalidColumn(format!(
            "attribute {:?}: `{what}` has the wrong length",
            col.key
        ))
    };
    if col.strings.offsets.len() != rows + 1 || col.bytes.offsets.len() != rows + 1 {
        return Err(bad_len("offsets"));
    }
    if col.ints.len() != rows || col.doubles.len() != rows || col.bools.len() < rows.div_ceil(8) {
        return Err(bad_len("values"));
    }
    let strings = std::str::from_utf8(&col.strings.data).map_err(|_| {
        HostError::InvalidColumn(format!("attribute {:?}: strings are not UTF-8", col.key))
    })?;
    let slice = |offsets: &[u32], r: usize| -> Option<(usize, usize)> {
        let (s, e) = (offsets[r] as usize, offsets[r + 1] as usize);
        (s <= e).then_some((s, e))
    };
    let mut ty = UInt8Builder::new();
    let mut str = StringBuilder::new();
    let mut int = Int64Builder::new();
    let mut double = Float64Builder::new();
    let mut boolean = BooleanBuilder::new();
    let mut bytes = BinaryBuilder::new();
    for r in 0..rows {
        let (t, slot) = match col.kinds[r] {
            ValueKind::Absent => continue,
            ValueKind::Empty => (ValueType::Empty, 0),
            ValueKind::String => (ValueType::Str, 1),
            ValueKind::Boolean => (ValueType::Bool, 2),
            ValueKind::Int => (ValueType::Int, 3),
            ValueKind::Double => (ValueType::Double, 4),
            ValueKind::Bytes => (ValueType::Bytes, 5),
            // Complex values are protobuf `AnyValue`s: keep the array vs
            // kvlist distinction from the message itself.
            ValueKind::Complex => {
                let (s, e) = slice(&col.bytes.offsets, r).ok_or_else(|| bad_len("bytes"))?;
                let b = col.bytes.data.get(s..e).ok_or_else(|| bad_len("bytes"))?;
                (complex_type(b), 5)
            }
        };
        ty.append_value(t as u8);
        if slot == 1 {
            let (s, e) = slice(&col.strings.offsets, r).ok_or_else(|| bad_len("strings"))?;
            str.append_value(strings.get(s..e).ok_or_else(|| bad_len("strings"))?);
        } else {
            str.append_null();
        }
        if slot == 3 {
            int.append_value(col.ints[r]);
        } else {
            int.append_null();
        }
        if slot == 4 {
            double.append_value(col.doubles[r]);
        } else {
            double.append_null();
        }
        if slot == 2 {
            boolean.append_value(col.bools[r / 8] & (1 << (r % 8)) != 0);
        } else {
            boolean.append_null();
        }
        if slot == 5 {
            let (s, e) = slice(&col.bytes.offsets, r).ok_or_else(|| bad_len("bytes"))?;
            let b = col.bytes.data.get(s..e).ok_or_else(|| bad_len("bytes"))?;
            bytes.append_value(b);
        } else {
            bytes.append_null();
        }
    }
    StructArray::try_new(
        schema::any_value_fields(),
        vec![
            Arc::new(ty.finish()),
            Arc::new(str.finish()),
            Arc::new(int.finish()),
            Arc::new(double.finish()),
            Arc::new(boolean.finish()),
            Arc::new(bytes.finish()),
        ],
        None,
    )
    .map_err(|e| HostError::InvalidColumn(format!("attribute {:?}: {e}", col.key)))
}

/// `Array` (field 5 of `AnyValue`) or `KvList` (field 6) from the first tag
/// of a protobuf `AnyValue`.
fn complex_type(message: &[u8]) -> ValueType {
    match message.first() {
        Some(tag) if tag >> 3 == 5 => ValueType::Array,
        _ => ValueType::KvList,
    }
}
