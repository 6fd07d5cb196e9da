//! [`Batch`]: the batch a plugin processes, owned by the host.

use crate::bindings::weir::pipeline::host;
use crate::{
    AttributeColumnBuilder, Attributes, Column, Columns, HostError, MetricPoint, Scope, Selection,
    Signal,
};

fn strings<S: AsRef<str>>(items: &[S]) -> Vec<String> {
    items.iter().map(|s| s.as_ref().to_string()).collect()
}

/// The batch being processed: a handle on data the host owns, valid during
/// one [`crate::Plugin::process`] call.
///
/// Reads copy only what is named; kernels run in the host without copying
/// data into the plugin. Every method is one host call.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    inner: &'a host::Batch,
}

impl<'a> Batch<'a> {
    pub(crate) fn new(inner: &'a host::Batch) -> Self {
        Batch { inner }
    }

    /// The generated handle, for calls this type does not wrap.
    pub fn raw(&self) -> &'a host::Batch {
        self.inner
    }

    /// The batch's signal.
    pub fn signal(&self) -> Signal {
        self.inner.signal()
    }

    /// The number of records (spans, log records, data points).
    pub fn len(&self) -> usize {
        self.inner.len() as usize
    }

    /// Whether the batch has no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The names of the record columns that can be read.
    pub fn column_names(&self) -> Vec<String> {
        self.inner.column_names()
    }

    /// The attribute keys present in a scope (distinct, sorted).
    pub fn attribute_keys(&self, scope: Scope) -> Vec<String> {
        self.inner.attribute_keys(scope)
    }

    /// Reads the named record columns.
    ///
    /// # Errors
    /// [`HostError::UnknownColumn`] for a name that is not a column of the
    /// signal.
    pub fn columns<S: AsRef<str>>(&self, names: &[S]) -> Result<Columns, HostError> {
        self.inner.read_columns(&strings(names)).map(Columns::new)
    }

    /// Reads one record column.
    ///
    /// # Errors
    /// As [`Batch::columns`].
    pub fn column(&self, name: &str) -> Result<Column, HostError> {
        let mut cols = self.inner.read_columns(&[name.to_string()])?;
        cols.pop()
            .map(Column)
            .ok_or_else(|| HostError::UnknownColumn(name.to_string()))
    }

    /// Reads the values of the named attribute keys in a scope: one dense
    /// column per key. For [`Scope::Resource`] and [`Scope::Scope`] rows are
    /// resources or scopes; map records to them with
    /// [`Batch::resource_index`] and [`Batch::scope_index`].
    ///
    /// # Errors
    /// [`HostError::LimitExceeded`] when the host refuses the read.
    pub fn attributes<S: AsRef<str>>(
        &self,
        scope: Scope,
        keys: &[S],
    ) -> Result<Attributes, HostError> {
        self.inner
            .read_attributes(scope, &strings(keys))
            .map(Attributes::new)
    }

    /// For each record, the row of its resource.
    pub fn resource_index(&self) -> Vec<u32> {
        self.inner.resource_index()
    }

    /// For each record, the row of its scope.
    pub fn scope_index(&self) -> Vec<u32> {
        self.inner.scope_index()
    }

    /// Replaces a record column (same length and type as read).
    ///
    /// # Errors
    /// [`HostError::InvalidColumn`] for a wrong length or type,
    /// [`HostError::LimitExceeded`] past the node's output limit.
    pub fn set_column(&self, column: &Column) -> Result<(), HostError> {
        self.inner.set_column(&column.0)
    }

    /// Sets one attribute key across a scope: rows left absent in `values`
    /// lose the key, the others get the value.
    ///
    /// # Errors
    /// [`HostError::InvalidColumn`] for a wrong row count,
    /// [`HostError::LimitExceeded`] past the node's output limit.
    pub fn set_attribute(
        &self,
        scope: Scope,
        values: &AttributeColumnBuilder,
    ) -> Result<(), HostError> {
        self.inner.set_attribute(scope, &values.finish())
    }

    /// Keeps the selected records; returns how many remain.
    ///
    /// # Errors
    /// [`HostError::InvalidColumn`] when the selection's length is not the
    /// batch's.
    pub fn keep(&self, selection: &Selection) -> Result<usize, HostError> {
        self.inner
            .keep_rows(selection.as_bytes())
            .map(|n| n as usize)
    }

    /// Emits metric points derived from the batch; the host sends them as a
    /// metrics batch after the call.
    ///
    /// # Errors
    /// [`HostError::LimitExceeded`] past the node's output limit.
    pub fn emit_metrics(&self, points: &[MetricPoint]) -> Result<(), HostError> {
        self.inner.emit_metrics(points)
    }

    /// Kernel: deletes attribute keys in a scope; returns how many values
    /// were removed.
    ///
    /// # Errors
    /// [`HostError::LimitExceeded`] when the host refuses the call.
    pub fn delete_attributes<S: AsRef<str>>(
        &self,
        scope: Scope,
        keys: &[S],
    ) -> Result<usize, HostError> {
        self.inner
            .delete_attributes(scope, &strings(keys))
            .map(|n| n as usize)
    }

    /// Kernel: in the string values of `keys` (every key when empty),
    /// replaces matches of the regular expression `pattern` (Rust `regex`
    /// syntax) by `replacement` (`$1` names a group); returns how many
    /// values changed.
    ///
    /// # Errors
    /// [`HostError::InvalidPattern`] when the pattern does not compile.
    pub fn redact<S: AsRef<str>>(
        &self,
        scope: Scope,
        keys: &[S],
        pattern: &str,
        replacement: &str,
    ) -> Result<usize, HostError> {
        self.inner
            .redact(scope, &strings(keys), pattern, replacement)
            .map(|n| n as usize)
    }

    /// Kernel: in log records whose body is a string, replaces matches of
    /// `pattern` by `replacement`; returns how many bodies changed (0 for
    /// spans and metrics, which have no body).
    ///
    /// # Errors
    /// [`HostError::InvalidPattern`] when the pattern does not compile.
    pub fn redact_body(&self, pattern: &str, replacement: &str) -> Result<usize, HostError> {
        self.inner
            .redact_body(pattern, replacement)
            .map(|n| n as usize)
    }

    /// Kernel: replaces the values of `keys` by the hex SHA-256 of `salt`
    /// followed by the value; returns how many values changed.
    ///
    /// # Errors
    /// [`HostError::LimitExceeded`] when the host refuses the call.
    pub fn hash_attributes<S: AsRef<str>>(
        &self,
        scope: Scope,
        keys: &[S],
        salt: &str,
    ) -> Result<usize, HostError> {
        self.inner
            .hash_attributes(scope, &strings(keys), salt)
            .map(|n| n as usize)
    }

    /// Kernel: keeps the records whose trace falls under `ratio` by the
    /// OpenTelemetry consistent probability rule (the same trace gets the
    /// same decision everywhere); returns how many remain.
    ///
    /// # Errors
    /// [`HostError::LimitExceeded`] when the host refuses the call.
    pub fn keep_trace_id_ratio(&self, ratio: f64) -> Result<usize, HostError> {
        self.inner.keep_trace_id_ratio(ratio).map(|n| n as usize)
    }
}
