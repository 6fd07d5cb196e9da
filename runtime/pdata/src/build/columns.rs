//! Column builders that cost nothing for columns a batch never fills.
//!
//! A scrape fills a handful of the metrics table's columns (time, value,
//! attributes); the rest (histogram buckets, exponential histograms,
//! exemplars) are usually null on every row. These builders only count
//! rows until the first value arrives, and a column that never got one is
//! materialised as one all-null array at the end.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::types::UInt32Type;
use arrow_array::{
    ArrayRef, ArrowPrimitiveType, DictionaryArray, ListArray, PrimitiveArray, UInt32Array,
    new_null_array,
};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field};

use crate::PdataError;

/// A nullable primitive column that allocates only once it holds a value.
pub(crate) struct LazyPrim<T: ArrowPrimitiveType> {
    len: usize,
    values: Vec<T::Native>,
    nulls: Option<NullBufferBuilder>,
}

impl<T: ArrowPrimitiveType> Default for LazyPrim<T> {
    fn default() -> Self {
        LazyPrim {
            len: 0,
            values: Vec::new(),
            nulls: None,
        }
    }
}

impl<T: ArrowPrimitiveType> LazyPrim<T> {
    fn start(&mut self) -> &mut NullBufferBuilder {
        self.nulls.get_or_insert_with(|| {
            let mut n = NullBufferBuilder::new(self.len.max(1024));
            n.append_n_nulls(self.len);
            self.values.resize(self.len, T::Native::default());
            n
        })
    }

    /// Appends a value.
    pub(crate) fn push(&mut self, v: T::Native) {
        self.start().append_non_null();
        self.values.push(v);
        self.len += 1;
    }

    /// Appends a null.
    pub(crate) fn push_null(&mut self) {
        if let Some(n) = &mut self.nulls {
            n.append_null();
            self.values.push(T::Native::default());
        }
        self.len += 1;
    }

    /// Appends a value or a null.
    pub(crate) fn push_opt(&mut self, v: Option<T::Native>) {
        match v {
            Some(v) => self.push(v),
            None => self.push_null(),
        }
    }

    /// The column, typed `data_type` (which must have `T`'s layout).
    pub(crate) fn finish(self, data_type: &DataType) -> Result<ArrayRef, PdataError> {
        match self.nulls {
            None => Ok(new_null_array(data_type, self.len)),
            Some(mut n) => Ok(Arc::new(
                PrimitiveArray::<T>::try_new(self.values.into(), n.finish())?
                    .with_data_type(data_type.clone()),
            )),
        }
    }
}

/// A nullable `List<primitive>` column that allocates only once a row is
/// non-null.
pub(crate) struct LazyList<T: ArrowPrimitiveType> {
    len: usize,
    offsets: Vec<i32>,
    values: Vec<T::Native>,
    nulls: Option<NullBufferBuilder>,
}

impl<T: ArrowPrimitiveType> Default for LazyList<T> {
    fn default() -> Self {
        LazyList {
            len: 0,
            offsets: Vec::new(),
            values: Vec::new(),
            nulls: None,
        }
    }
}

impl<T: ArrowPrimitiveType> LazyList<T> {
    /// Appends a list.
    pub(crate) fn push(&mut self, items: &[T::Native]) -> Result<(), PdataError> {
        if self.nulls.is_none() {
            let mut n = NullBufferBuilder::new(self.len.max(1024));
            n.append_n_nulls(self.len);
            self.offsets = vec![0; self.len + 1];
            self.nulls = Some(n);
        }
        self.values.extend_from_slice(items);
        let end = offset(self.values.len())?;
        self.offsets.push(end);
        if let Some(n) = &mut self.nulls {
            n.append_non_null();
        }
        self.len += 1;
        Ok(())
    }

    /// Appends a null.
    pub(crate) fn push_null(&mut self) {
        if let Some(n) = &mut self.nulls {
            n.append_null();
            let last = self.offsets.last().copied().unwrap_or(0);
            self.offsets.push(last);
        }
        self.len += 1;
    }

    /// The column, a `List` of `item`.
    pub(crate) fn finish(self, item: &DataType) -> Result<ArrayRef, PdataError> {
        let field = Arc::new(Field::new_list_field(item.clone(), true));
        match self.nulls {
            None => Ok(new_null_array(&DataType::List(field), self.len)),
            Some(mut n) => {
                let values = PrimitiveArray::<T>::try_new(self.values.into(), None)?
                    .with_data_type(item.clone());
                Ok(Arc::new(ListArray::try_new(
                    field,
                    OffsetBuffer::new(ScalarBuffer::from(self.offsets)),
                    Arc::new(values),
                    n.finish(),
                )?))
            }
        }
    }
}

/// An `i32` list offset, or an error when a batch outgrows Arrow's lists.
pub(crate) fn offset(n: usize) -> Result<i32, PdataError> {
    i32::try_from(n).map_err(|_| PdataError::InvalidValue {
        field: "batch",
        reason: format!("{n} nested items do not fit one Arrow list"),
    })
}

/// A `Dictionary(UInt32, Utf8)` column where the caller looks a value up
/// once ([`DictColumn::key`]) and then appends its key to many rows.
#[derive(Default)]
pub(crate) struct DictColumn {
    keys: Vec<u32>,
    values: StringBuilder,
    index: HashMap<Box<str>, u32>,
}

impl DictColumn {
    /// The key of `value`, adding it to the dictionary if new.
    pub(crate) fn key(&mut self, value: &str) -> Result<u32, PdataError> {
        if let Some(&k) = self.index.get(value) {
            return Ok(k);
        }
        let k = u32::try_from(self.index.len()).map_err(|_| PdataError::InvalidValue {
            field: "batch",
            reason: "more than 2^32 distinct names".to_string(),
        })?;
        self.values.append_value(value);
        let _ = self.index.insert(value.into(), k);
        Ok(k)
    }

    /// Appends a row holding `key`.
    pub(crate) fn push(&mut self, key: u32) {
        self.keys.push(key);
    }

    /// The column.
    pub(crate) fn finish(mut self) -> Result<ArrayRef, PdataError> {
        let keys = UInt32Array::from(self.keys);
        let values = Arc::new(self.values.finish());
        Ok(Arc::new(DictionaryArray::<UInt32Type>::try_new(
            keys, values,
        )?))
    }
}
