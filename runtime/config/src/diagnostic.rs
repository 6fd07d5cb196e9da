//! Configuration errors as miette diagnostics.

use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};

/// Stable error codes, shown as `weir::config::<code>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The text is not valid KDL.
    Syntax,
    /// A top-level node that is not `receiver`, `processor`, `exporter` or
    /// `settings`.
    UnknownNode,
    /// A `type=` that no component registers.
    UnknownType,
    /// A property or child node the component does not know.
    UnknownProperty,
    /// A value of the wrong type or out of range.
    InvalidValue,
    /// A required property is missing.
    Missing,
    /// Two nodes with the same name.
    Duplicate,
    /// A `from` that names no node, or a node that cannot be a source.
    UnknownSource,
    /// The graph has a cycle.
    Cycle,
    /// A node without inputs or without outputs where it needs them.
    Unconnected,
    /// A resource could not be acquired when building (a port in use, a
    /// directory that cannot be created).
    Build,
    /// A SQL query that does not parse or plan (syntax, an unknown table or
    /// column, a type error).
    Query,
    /// A SQL query whose result cannot be what its node emits (not a valid
    /// batch of the signal, not metric points).
    QueryResult,
}

impl ErrorCode {
    /// The code as shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Syntax => "weir::config::syntax",
            ErrorCode::UnknownNode => "weir::config::unknown_node",
            ErrorCode::UnknownType => "weir::config::unknown_type",
            ErrorCode::UnknownProperty => "weir::config::unknown_property",
            ErrorCode::InvalidValue => "weir::config::invalid_value",
            ErrorCode::Missing => "weir::config::missing",
            ErrorCode::Duplicate => "weir::config::duplicate",
            ErrorCode::UnknownSource => "weir::config::unknown_source",
            ErrorCode::Cycle => "weir::config::cycle",
            ErrorCode::Unconnected => "weir::config::unconnected",
            ErrorCode::Build => "weir::config::build",
            ErrorCode::Query => "weir::config::query",
            ErrorCode::QueryResult => "weir::config::query_result",
        }
    }
}

/// One problem in a pipeline file, pointing at its place in the source.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    /// The stable code.
    pub code: ErrorCode,
    /// What is wrong, as a sentence.
    pub message: String,
    /// Where (absent for problems of the whole file).
    pub span: Option<SourceSpan>,
    /// The label shown under the span.
    pub label: Option<String>,
    /// What to do about it.
    pub help: Option<String>,
    /// The source text, shared by all errors of a file.
    pub source_code: Option<Arc<NamedSource<String>>>,
}

impl ConfigError {
    /// A new error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ConfigError {
            code,
            message: message.into(),
            span: None,
            label: None,
            help: None,
            source_code: None,
        }
    }

    /// Points the error at a span, with a label.
    pub fn at(mut self, span: SourceSpan, label: impl Into<String>) -> Self {
        self.span = Some(span);
        self.label = Some(label.into());
        self
    }

    /// Adds a hint.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Attaches the source text.
    pub fn with_source(mut self, source: Arc<NamedSource<String>>) -> Self {
        self.source_code = Some(source);
        self
    }
}

impl Diagnostic for ConfigError {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.code.as_str()))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source_code
            .as_deref()
            .map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let span = self.span?;
        Some(Box::new(std::iter::once(
            miette::LabeledSpan::new_with_span(self.label.clone(), span),
        )))
    }
}

/// Every problem found in one pipeline file.
#[derive(Debug, Clone, Default, thiserror::Error)]
#[error("{}", self.summary())]
pub struct Diagnostics {
    /// The problems, in source order where they have a place.
    pub errors: Vec<ConfigError>,
    /// The file's name, as shown in the summary.
    pub file: String,
}

impl Diagnostics {
    /// An empty set for `file`.
    pub fn new(file: impl Into<String>) -> Self {
        Diagnostics {
            errors: Vec::new(),
            file: file.into(),
        }
    }

    /// Adds an error.
    pub fn push(&mut self, error: ConfigError) {
        self.errors.push(error);
    }

    /// Whether there is nothing to report.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Attaches `source` to every error that has none and sorts errors by
    /// their position.
    pub fn finish(mut self, source: &Arc<NamedSource<String>>) -> Self {
        for e in &mut self.errors {
            if e.source_code.is_none() && e.span.is_some() {
                e.source_code = Some(source.clone());
            }
        }
        self.errors
            .sort_by_key(|e| e.span.map_or(usize::MAX, |s| s.offset()));
        self
    }

    /// Ok if empty, else self as the error.
    ///
    /// # Errors
    /// `self` when it holds at least one error.
    pub fn into_result(self) -> Result<(), Diagnostics> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }

    fn summary(&self) -> String {
        let n = self.errors.len();
        format!(
            "{} has {} error{}",
            self.file,
            n,
            if n == 1 { "" } else { "s" }
        )
    }
}

impl Diagnostic for Diagnostics {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new("weir::config::invalid"))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.errors.iter().map(|e| e as &dyn Diagnostic)))
    }
}
