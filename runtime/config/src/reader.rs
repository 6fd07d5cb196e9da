//! [`NodeReader`]: typed access to a node's body that records every problem.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use kdl::{KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

use crate::diagnostic::{ConfigError, ErrorCode};
use crate::values::{ByteSize, Spanned};

/// Reads the properties of one node (a pipeline node, or a block inside one).
///
/// A property is a child node with one argument (`max-items 8192`) or, for
/// flags and short forms, a `key=value` entry on the node itself. Every getter
/// records a diagnostic for a wrong value instead of failing, so a component
/// reports all its problems at once; [`NodeReader::finish`] then reports every
/// child or entry nobody asked for.
pub struct NodeReader<'a> {
    node: &'a KdlNode,
    errors: &'a mut Vec<ConfigError>,
    used: BTreeSet<String>,
    context: String,
}

impl<'a> NodeReader<'a> {
    /// A reader over `node`; errors go to `errors`. `context` names the node in
    /// messages (`exporter "store"`).
    pub fn new(
        node: &'a KdlNode,
        errors: &'a mut Vec<ConfigError>,
        context: impl Into<String>,
    ) -> Self {
        NodeReader {
            node,
            errors,
            used: BTreeSet::new(),
            context: context.into(),
        }
    }

    /// The node being read.
    pub fn node(&self) -> &'a KdlNode {
        self.node
    }

    /// The span of the node's name, for errors about the node as a whole.
    pub fn span(&self) -> SourceSpan {
        self.node.name().span()
    }

    /// Records an error.
    pub fn error(&mut self, error: ConfigError) {
        self.errors.push(error);
    }

    /// Records an invalid-value error at `span`.
    pub fn invalid(&mut self, span: SourceSpan, label: impl Into<String>, help: impl Into<String>) {
        let label = label.into();
        self.errors.push(
            ConfigError::new(
                ErrorCode::InvalidValue,
                format!("invalid value in {}: {label}", self.context),
            )
            .at(span, label)
            .help(help),
        );
    }

    /// Marks `key` as known without reading it (handled elsewhere, like `from`
    /// and `type`).
    pub fn mark_used(&mut self, key: &str) {
        let _ = self.used.insert(key.to_string());
    }

    fn children(&self, key: &str) -> Vec<&'a KdlNode> {
        let node: &'a KdlNode = self.node;
        node.children()
            .into_iter()
            .flat_map(|d| d.nodes().iter())
            .filter(|n| n.name().value() == key)
            .collect()
    }

    fn prop_entry(&self, key: &str) -> Option<&'a KdlEntry> {
        self.node
            .entries()
            .iter()
            .find(|e| e.name().is_some_and(|n| n.value() == key))
    }

    /// The single value of property `key`, from a child `key value` or an
    /// entry `key=value`, with its span. Reports a child with no argument, or
    /// more than one child of that name.
    pub fn value(&mut self, key: &str) -> Option<(&'a KdlValue, SourceSpan)> {
        self.mark_used(key);
        if let Some(e) = self.prop_entry(key) {
            return Some((e.value(), e.span()));
        }
        let found = self.children(key);
        let first = *found.first()?;
        if let Some(dup) = found.get(1) {
            let ctx = self.context.clone();
            self.errors.push(
                ConfigError::new(
                    ErrorCode::Duplicate,
                    format!("`{key}` is set twice in {ctx}"),
                )
                .at(dup.name().span(), "set again here")
                .help(format!("keep one `{key}`")),
            );
        }
        let args: Vec<&KdlEntry> = first
            .entries()
            .iter()
            .filter(|e| e.name().is_none())
            .collect();
        match args.as_slice() {
            [one] => Some((one.value(), one.span())),
            [] => {
                let ctx = self.context.clone();
                self.errors.push(
                    ConfigError::new(ErrorCode::Missing, format!("`{key}` in {ctx} has no value"))
                        .at(first.name().span(), "expected a value after this")
                        .help(format!("write it as `{key} <value>`")),
                );
                None
            }
            [_, extra, ..] => {
                let ctx = self.context.clone();
                self.errors.push(
                    ConfigError::new(
                        ErrorCode::InvalidValue,
                        format!("`{key}` in {ctx} takes one value"),
                    )
                    .at(extra.span(), "unexpected extra value")
                    .help(format!("write it as `{key} <value>`")),
                );
                Some((args[0].value(), args[0].span()))
            }
        }
    }

    /// Every argument of every `key` child (`from "a" "b"` or two `from`
    /// lines), each with its span.
    pub fn values(&mut self, key: &str) -> Vec<(&'a KdlValue, SourceSpan)> {
        self.mark_used(key);
        let mut out = Vec::new();
        if let Some(e) = self.prop_entry(key) {
            out.push((e.value(), e.span()));
        }
        for child in self.children(key) {
            for e in child.entries().iter().filter(|e| e.name().is_none()) {
                out.push((e.value(), e.span()));
            }
        }
        out
    }

    fn wrong_type(&mut self, key: &str, span: SourceSpan, expected: &str) {
        let ctx = self.context.clone();
        self.errors.push(
            ConfigError::new(
                ErrorCode::InvalidValue,
                format!("`{key}` in {ctx} must be {expected}"),
            )
            .at(span, format!("expected {expected}")),
        );
    }

    /// A string property.
    pub fn string(&mut self, key: &str) -> Option<Spanned<String>> {
        let (v, span) = self.value(key)?;
        match v.as_string() {
            Some(s) => Some(Spanned::new(s.to_string(), span)),
            None => {
                self.wrong_type(key, span, "a string");
                None
            }
        }
    }

    /// Every string argument of `key`.
    pub fn strings(&mut self, key: &str) -> Vec<Spanned<String>> {
        let mut out = Vec::new();
        for (v, span) in self.values(key) {
            match v.as_string() {
                Some(s) => out.push(Spanned::new(s.to_string(), span)),
                None => self.wrong_type(key, span, "a string"),
            }
        }
        out
    }

    /// An unsigned integer property within `range`.
    pub fn u64_in(&mut self, key: &str, range: std::ops::RangeInclusive<u64>) -> Option<u64> {
        let (v, span) = self.value(key)?;
        let Some(i) = v.as_integer() else {
            self.wrong_type(key, span, "an integer");
            return None;
        };
        match u64::try_from(i) {
            Ok(n) if range.contains(&n) => Some(n),
            _ => {
                let ctx = self.context.clone();
                self.errors.push(
                    ConfigError::new(
                        ErrorCode::InvalidValue,
                        format!("`{key}` in {ctx} is out of range"),
                    )
                    .at(
                        span,
                        format!("expected {} to {}", range.start(), range.end()),
                    ),
                );
                None
            }
        }
    }

    /// An unsigned integer property (any non-negative value).
    pub fn u64(&mut self, key: &str) -> Option<u64> {
        self.u64_in(key, 0..=u64::MAX)
    }

    /// A floating-point property (integers are accepted).
    pub fn f64(&mut self, key: &str) -> Option<f64> {
        let (v, span) = self.value(key)?;
        match v {
            KdlValue::Float(f) => Some(*f),
            KdlValue::Integer(i) => Some(*i as f64),
            _ => {
                self.wrong_type(key, span, "a number");
                None
            }
        }
    }

    /// A boolean property (`#true` / `#false`).
    pub fn bool(&mut self, key: &str) -> Option<bool> {
        let (v, span) = self.value(key)?;
        match v.as_bool() {
            Some(b) => Some(b),
            None => {
                self.wrong_type(key, span, "#true or #false");
                None
            }
        }
    }

    /// A duration property: `"200ms"`, `"5s"`, `"1m 30s"` (humantime), or an
    /// integer number of milliseconds.
    pub fn duration(&mut self, key: &str) -> Option<Duration> {
        let (v, span) = self.value(key)?;
        match v {
            KdlValue::String(s) => match humantime::parse_duration(s) {
                Ok(d) => Some(d),
                Err(e) => {
                    let ctx = self.context.clone();
                    self.errors.push(
                        ConfigError::new(
                            ErrorCode::InvalidValue,
                            format!("`{key}` in {ctx} is not a duration"),
                        )
                        .at(span, format!("not a duration ({e})"))
                        .help("write a duration like \"200ms\", \"5s\" or \"1m\""),
                    );
                    None
                }
            },
            KdlValue::Integer(ms) if *ms >= 0 => Some(Duration::from_millis(
                u64::try_from(*ms).unwrap_or(u64::MAX),
            )),
            _ => {
                self.wrong_type(key, span, "a duration such as \"5s\"");
                None
            }
        }
    }

    /// A byte size property: an integer, or a string like `"16MiB"`.
    pub fn byte_size(&mut self, key: &str) -> Option<ByteSize> {
        let (v, span) = self.value(key)?;
        match v {
            KdlValue::Integer(n) if *n >= 0 => {
                Some(ByteSize(u64::try_from(*n).unwrap_or(u64::MAX)))
            }
            KdlValue::String(s) => match ByteSize::parse(s) {
                Ok(b) => Some(b),
                Err(msg) => {
                    let ctx = self.context.clone();
                    self.errors.push(
                        ConfigError::new(
                            ErrorCode::InvalidValue,
                            format!("`{key}` in {ctx} is not a size"),
                        )
                        .at(span, msg)
                        .help("write a size like \"4MiB\" or 65536"),
                    );
                    None
                }
            },
            _ => {
                self.wrong_type(key, span, "a size such as \"4MiB\"");
                None
            }
        }
    }

    /// A socket address property (`"127.0.0.1:4317"`, `"[::1]:4318"`).
    pub fn socket_addr(&mut self, key: &str) -> Option<Spanned<SocketAddr>> {
        let s = self.string(key)?;
        match s.value.parse::<SocketAddr>() {
            Ok(a) => Some(Spanned::new(a, s.span)),
            Err(_) => {
                let ctx = self.context.clone();
                self.errors.push(
                    ConfigError::new(
                        ErrorCode::InvalidValue,
                        format!("`{key}` in {ctx} is not a socket address"),
                    )
                    .at(s.span, "expected host:port")
                    .help("write an IP address and a port, like \"127.0.0.1:4317\""),
                );
                None
            }
        }
    }

    /// One of a fixed set of words.
    pub fn one_of(&mut self, key: &str, choices: &[&str]) -> Option<Spanned<String>> {
        let s = self.string(key)?;
        if choices.contains(&s.value.as_str()) {
            Some(s)
        } else {
            let ctx = self.context.clone();
            self.errors.push(
                ConfigError::new(
                    ErrorCode::InvalidValue,
                    format!("`{key}` in {ctx} has an unknown value {:?}", s.value),
                )
                .at(s.span, format!("expected one of: {}", choices.join(", "))),
            );
            None
        }
    }

    /// A nested block `key { ... }`, read by `f` with its own reader (whose
    /// unknown children are reported too). `None` if absent.
    pub fn block<T>(&mut self, key: &str, f: impl FnOnce(&mut NodeReader<'_>) -> T) -> Option<T> {
        self.mark_used(key);
        let node = *self.children(key).first()?;
        let ctx = format!("{} `{key}`", self.context);
        let mut inner = NodeReader::new(node, self.errors, ctx);
        let out = f(&mut inner);
        inner.finish();
        Some(out)
    }

    /// Every `key { ... }` block, read by `f`.
    pub fn blocks<T>(&mut self, key: &str, mut f: impl FnMut(&mut NodeReader<'_>) -> T) -> Vec<T> {
        self.mark_used(key);
        let nodes: Vec<&KdlNode> = self.children(key);
        let mut out = Vec::new();
        for node in nodes {
            let ctx = format!("{} `{key}`", self.context);
            let mut inner = NodeReader::new(node, self.errors, ctx);
            out.push(f(&mut inner));
            inner.finish();
        }
        out
    }

    /// Reports a missing required property.
    pub fn require<T>(&mut self, key: &str, value: Option<T>, example: &str) -> Option<T> {
        if value.is_none() && !self.present(key) {
            let ctx = self.context.clone();
            let span = self.span();
            self.errors.push(
                ConfigError::new(ErrorCode::Missing, format!("{ctx} needs `{key}`"))
                    .at(span, format!("`{key}` is missing"))
                    .help(format!("add `{example}` to the node's block")),
            );
        }
        value
    }

    /// Whether `key` is written at all (as child or entry).
    pub fn present(&self, key: &str) -> bool {
        self.prop_entry(key).is_some() || !self.children(key).is_empty()
    }

    /// Reports every child node and named entry that no getter asked for,
    /// listing the known ones, and every positional argument beyond the node's
    /// name. Call once after reading.
    pub fn finish(self) {
        let known: Vec<String> = self.used.iter().cloned().collect();
        let mut unknown = Vec::new();
        for e in self.node.entries() {
            if let Some(name) = e.name()
                && !self.used.contains(name.value())
            {
                unknown.push((name.value().to_string(), e.span()));
            }
        }
        if let Some(doc) = self.node.children() {
            for n in doc.nodes() {
                if !self.used.contains(n.name().value()) {
                    unknown.push((n.name().value().to_string(), n.name().span()));
                }
            }
        }
        for (name, span) in unknown {
            let mut err = ConfigError::new(
                ErrorCode::UnknownProperty,
                format!("unknown property `{name}` in {}", self.context),
            )
            .at(span, "not a property of this node");
            let suggestion = known
                .iter()
                .filter(|k| *k != "type")
                .min_by_key(|k| edit_distance(k, &name))
                .filter(|k| edit_distance(k, &name) <= 3);
            err = match suggestion {
                Some(s) => err.help(format!("did you mean `{s}`?")),
                None if !known.is_empty() => err.help(format!(
                    "known properties: {}",
                    known
                        .iter()
                        .filter(|k| *k != "type")
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                None => err,
            };
            self.errors.push(err);
        }
    }
}

/// Levenshtein distance, for "did you mean" hints.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
