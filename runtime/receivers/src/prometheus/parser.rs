//! The Prometheus text exposition format 0.0.4 and OpenMetrics 1.0, parsed
//! in place.
//!
//! [`Parser`] walks a body line by line and hands out [`Entry`]s that borrow
//! from it: metric names, label names and label values are slices of the
//! body (a label value is copied only when it holds an escape sequence), and
//! the labels of the current sample live in one vector reused across lines.
//! Nothing is allocated per sample in the common case.
//!
//! The grammar follows Prometheus' own parsers (`model/textparse`):
//!
//! ```text
//! # HELP name text
//! # TYPE name counter|gauge|histogram|summary|untyped (OpenMetrics: unknown,
//!        gaugehistogram, info, stateset)
//! # UNIT name unit                                (OpenMetrics)
//! name{label="value",...} value [timestamp] [# {labels} value [timestamp]]
//! # EOF                                           (OpenMetrics, required)
//! ```
//!
//! Timestamps are integer milliseconds in the text format and float
//! seconds in OpenMetrics; [`Sample::timestamp_ms`] gives milliseconds for
//! both. Exemplars are read in OpenMetrics only.

use std::borrow::Cow;

/// Which exposition format a body is in (from its `Content-Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4` (and anything unrecognised).
    Text,
    /// `application/openmetrics-text`.
    OpenMetrics,
}

impl Format {
    /// The format a `Content-Type` header names.
    pub fn from_content_type(content_type: &str) -> Format {
        if content_type
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("application/openmetrics-text")
        {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }
}

/// The type a `# TYPE` line declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// `counter`.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram`.
    Histogram,
    /// `gaugehistogram` (OpenMetrics).
    GaugeHistogram,
    /// `summary`.
    Summary,
    /// `info` (OpenMetrics).
    Info,
    /// `stateset` (OpenMetrics).
    StateSet,
    /// `untyped` or `unknown`.
    Unknown,
}

impl MetricKind {
    fn parse(s: &str) -> Option<MetricKind> {
        Some(match s {
            "counter" => MetricKind::Counter,
            "gauge" => MetricKind::Gauge,
            "histogram" => MetricKind::Histogram,
            "gaugehistogram" => MetricKind::GaugeHistogram,
            "summary" => MetricKind::Summary,
            "info" => MetricKind::Info,
            "stateset" => MetricKind::StateSet,
            "untyped" | "unknown" => MetricKind::Unknown,
            _ => return None,
        })
    }
}

/// One label of a sample or exemplar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label<'a> {
    /// Its name, a slice of the body.
    pub name: &'a str,
    /// Its value, unescaped (borrowed unless it held an escape).
    pub value: Cow<'a, str>,
}

/// An OpenMetrics exemplar (its labels are [`Parser::exemplar_labels`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParsedExemplar {
    /// Its value.
    pub value: f64,
    /// Its timestamp in milliseconds, if given.
    pub timestamp_ms: Option<i64>,
}

/// One sample line (its labels are [`Parser::labels`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample<'a> {
    /// The metric name as written (`http_requests_total`, `x_bucket`).
    pub name: &'a str,
    /// The name and label set as written: the series' identity within a
    /// target, hashed for staleness tracking.
    pub series: &'a str,
    /// The value.
    pub value: f64,
    /// The timestamp in milliseconds, if the line has one.
    pub timestamp_ms: Option<i64>,
    /// The exemplar, if the line has one (OpenMetrics).
    pub exemplar: Option<ParsedExemplar>,
}

/// One meaningful line.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// `# HELP name text`.
    Help {
        /// The metric family.
        name: &'a str,
        /// The help text, unescaped.
        text: Cow<'a, str>,
    },
    /// `# TYPE name type`.
    Type {
        /// The metric family.
        name: &'a str,
        /// The declared type.
        kind: MetricKind,
    },
    /// `# UNIT name unit` (OpenMetrics).
    Unit {
        /// The metric family.
        name: &'a str,
        /// The unit.
        unit: &'a str,
    },
    /// A sample.
    Sample(Sample<'a>),
}

/// Why a body could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ParseError {
    /// The line (from 1).
    pub line: usize,
    /// What was wrong.
    pub reason: String,
}

/// A pull parser over one body.
pub struct Parser<'a> {
    body: &'a str,
    pos: usize,
    line: usize,
    format: Format,
    eof_seen: bool,
    labels: Vec<Label<'a>>,
    exemplar_labels: Vec<Label<'a>>,
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

fn is_label_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_label_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A float as Prometheus writes them (`NaN`, `+Inf`, `-Inf`, `1e3`, ...).
pub fn parse_float(s: &str) -> Option<f64> {
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    // Rust accepts "inf", "infinity" and "nan" in any case, like Go's
    // ParseFloat; reject what Go would not accept either (a leading '+'
    // before NaN is fine in both).
    let v = s.parse::<f64>().ok()?;
    Some(v)
}

impl<'a> Parser<'a> {
    /// A parser over `body` in `format`.
    pub fn new(body: &'a str, format: Format) -> Self {
        Parser {
            body,
            pos: 0,
            line: 0,
            format,
            eof_seen: false,
            labels: Vec::with_capacity(16),
            exemplar_labels: Vec::new(),
        }
    }

    /// The labels of the last [`Entry::Sample`].
    pub fn labels(&self) -> &[Label<'a>] {
        &self.labels
    }

    /// The labels of the last sample's exemplar.
    pub fn exemplar_labels(&self) -> &[Label<'a>] {
        &self.exemplar_labels
    }

    /// The line number of the last entry (from 1).
    pub fn line(&self) -> usize {
        self.line
    }

    fn err(&self, reason: impl Into<String>) -> ParseError {
        ParseError {
            line: self.line,
            reason: reason.into(),
        }
    }

    /// The next entry; `None` at the end of the body.
    ///
    /// # Errors
    /// A [`ParseError`] for a malformed line (the caller should discard the
    /// whole body, as Prometheus does); an OpenMetrics body without `# EOF`
    /// or with lines after it.
    #[allow(clippy::should_implement_trait, reason = "a lending iterator")]
    pub fn next(&mut self) -> Option<Result<Entry<'a>, ParseError>> {
        loop {
            if self.pos >= self.body.len() {
                if self.format == Format::OpenMetrics && !self.eof_seen {
                    self.line += 1;
                    self.eof_seen = true;
                    return Some(Err(self.err("the OpenMetrics body has no `# EOF` line")));
                }
                return None;
            }
            let rest = &self.body[self.pos..];
            let end = memchr::memchr(b'\n', rest.as_bytes()).unwrap_or(rest.len());
            let line = &rest[..end];
            self.pos += end + 1;
            self.line += 1;
            if self.eof_seen {
                return Some(Err(self.err("content after `# EOF`")));
            }
            let line = match self.format {
                Format::Text => line.trim_start_matches([' ', '\t']),
                Format::OpenMetrics => line,
            };
            if line.is_empty() {
                if self.format == Format::OpenMetrics {
                    return Some(Err(self.err("empty line in an OpenMetrics body")));
                }
                continue;
            }
            if line.as_bytes()[0] == b'#' {
                match self.comment(line) {
                    Ok(Some(e)) => return Some(Ok(e)),
                    Ok(None) => continue,
                    Err(e) => return Some(Err(e)),
                }
            }
            return Some(self.sample(line).map(Entry::Sample));
        }
    }

    fn comment(&mut self, line: &'a str) -> Result<Option<Entry<'a>>, ParseError> {
        let rest = &line[1..];
        if self.format == Format::OpenMetrics && rest == " EOF" {
            self.eof_seen = true;
            return Ok(None);
        }
        let text_format = self.format == Format::Text;
        let rest = if text_format {
            rest.trim_start_matches([' ', '\t'])
        } else {
            match rest.strip_prefix(' ') {
                Some(r) => r,
                None => return Err(self.err("a comment must start with `# `")),
            }
        };
        let (keyword, rest) = split_word(rest);
        if !matches!(keyword, "HELP" | "TYPE" | "UNIT") || (text_format && keyword == "UNIT") {
            if text_format {
                return Ok(None);
            }
            return Err(self.err(format!("unknown OpenMetrics comment `# {keyword}`")));
        }
        let rest = if text_format {
            rest.trim_start_matches([' ', '\t'])
        } else {
            rest
        };
        let (name, rest) = split_word(rest);
        if !valid_metric_name(name) {
            return Err(self.err(format!("invalid metric name {name:?} in # {keyword}")));
        }
        let rest = if text_format {
            rest.trim_start_matches([' ', '\t'])
        } else {
            rest
        };
        match keyword {
            "HELP" => Ok(Some(Entry::Help {
                name,
                text: unescape_help(rest, self.format),
            })),
            "TYPE" => {
                let word = rest.trim_end();
                match MetricKind::parse(word) {
                    Some(kind)
                        if !text_format
                            || !matches!(
                                kind,
                                MetricKind::GaugeHistogram
                                    | MetricKind::Info
                                    | MetricKind::StateSet
                            ) =>
                    {
                        Ok(Some(Entry::Type { name, kind }))
                    }
                    _ => Err(self.err(format!("unknown metric type {word:?}"))),
                }
            }
            _ => Ok(Some(Entry::Unit { name, unit: rest })),
        }
    }

    fn sample(&mut self, line: &'a str) -> Result<Sample<'a>, ParseError> {
        let b = line.as_bytes();
        if !is_name_start(b[0]) {
            return Err(self.err(format!("expected a metric name, found {:?}", excerpt(line))));
        }
        let mut i = 1;
        while i < b.len() && is_name_char(b[i]) {
            i += 1;
        }
        let name = &line[..i];
        self.labels.clear();
        self.exemplar_labels.clear();
        let text_format = self.format == Format::Text;
        let brace = if text_format { skip_blank(b, i) } else { i };
        if brace < b.len() && b[brace] == b'{' {
            let mut labels = std::mem::take(&mut self.labels);
            let r = self.label_set(line, brace + 1, &mut labels);
            self.labels = labels;
            i = r?;
        }
        let series = &line[..i];
        if i >= b.len() {
            return Err(self.err(format!("no value after {:?}", excerpt(series))));
        }
        if !(b[i] == b' ' || b[i] == b'\t') {
            return Err(self.err(format!(
                "unexpected {:?} after the series",
                excerpt(&line[i..])
            )));
        }
        i = skip_blank(b, i);
        let (value_str, next) = token(line, i);
        let value = parse_float(value_str)
            .ok_or_else(|| self.err(format!("invalid value {:?}", excerpt(value_str))))?;
        i = skip_blank(b, next);
        let mut timestamp_ms = None;
        let mut exemplar = None;
        if i < b.len() && b[i] != b'#' {
            let (ts, next) = token(line, i);
            timestamp_ms = Some(self.timestamp(ts)?);
            i = skip_blank(b, next);
        }
        if i < b.len() {
            if b[i] == b'#' && !text_format {
                exemplar = Some(self.exemplar(line, i)?);
            } else if b[i] == b'#' {
                // The text format has no exemplars; Prometheus refuses them.
                return Err(self.err("exemplars are only allowed in OpenMetrics"));
            } else {
                return Err(self.err(format!(
                    "unexpected {:?} after the value",
                    excerpt(&line[i..])
                )));
            }
        }
        Ok(Sample {
            name,
            series,
            value,
            timestamp_ms,
            exemplar,
        })
    }

    fn timestamp(&self, ts: &str) -> Result<i64, ParseError> {
        match self.format {
            Format::Text => ts
                .parse::<i64>()
                .map_err(|_| self.err(format!("invalid timestamp {:?}", excerpt(ts)))),
            Format::OpenMetrics => {
                let secs = parse_float(ts)
                    .filter(|s| s.is_finite())
                    .ok_or_else(|| self.err(format!("invalid timestamp {:?}", excerpt(ts))))?;
                let ms = (secs * 1000.0).round();
                if ms.abs() >= 9.2e18 {
                    return Err(self.err(format!("timestamp {ts} out of range")));
                }
                Ok(ms as i64)
            }
        }
    }

    fn exemplar(&mut self, line: &'a str, hash: usize) -> Result<ParsedExemplar, ParseError> {
        let b = line.as_bytes();
        let mut i = hash + 1;
        if i >= b.len() || b[i] != b' ' {
            return Err(self.err("expected `# {` before an exemplar"));
        }
        i = skip_blank(b, i);
        if i >= b.len() || b[i] != b'{' {
            return Err(self.err("expected `{` to start the exemplar's labels"));
        }
        let mut labels = std::mem::take(&mut self.exemplar_labels);
        let r = self.label_set(line, i + 1, &mut labels);
        self.exemplar_labels = labels;
        i = r?;
        let total: usize = self
            .exemplar_labels
            .iter()
            .map(|l| l.name.chars().count() + l.value.chars().count())
            .sum();
        if total > 128 {
            return Err(self.err("exemplar labels are longer than 128 characters"));
        }
        if i >= b.len() || b[i] != b' ' {
            return Err(self.err("no value after the exemplar's labels"));
        }
        i = skip_blank(b, i);
        let (v, next) = token(line, i);
        let value = parse_float(v)
            .ok_or_else(|| self.err(format!("invalid exemplar value {:?}", excerpt(v))))?;
        i = skip_blank(b, next);
        let mut timestamp_ms = None;
        if i < b.len() {
            let (ts, next) = token(line, i);
            timestamp_ms = Some(self.timestamp(ts)?);
            if skip_blank(b, next) < b.len() {
                return Err(self.err("unexpected text after the exemplar"));
            }
        }
        Ok(ParsedExemplar {
            value,
            timestamp_ms,
        })
    }

    /// Parses `name="value",...}` starting at `i` (just after `{`); returns
    /// the index after `}`.
    fn label_set(
        &self,
        line: &'a str,
        mut i: usize,
        out: &mut Vec<Label<'a>>,
    ) -> Result<usize, ParseError> {
        let b = line.as_bytes();
        let text_format = self.format == Format::Text;
        loop {
            if text_format {
                i = skip_blank(b, i);
            }
            if i >= b.len() {
                return Err(self.err("unterminated label set"));
            }
            if b[i] == b'}' {
                return Ok(i + 1);
            }
            if !is_label_start(b[i]) {
                return Err(self.err(format!("invalid label name at {:?}", excerpt(&line[i..]))));
            }
            let start = i;
            while i < b.len() && is_label_char(b[i]) {
                i += 1;
            }
            let name = &line[start..i];
            if text_format {
                i = skip_blank(b, i);
            }
            if i >= b.len() || b[i] != b'=' {
                return Err(self.err(format!("expected `=` after label {name:?}")));
            }
            i += 1;
            if text_format {
                i = skip_blank(b, i);
            }
            if i >= b.len() || b[i] != b'"' {
                return Err(self.err(format!("expected `\"` to open the value of label {name:?}")));
            }
            i += 1;
            let vstart = i;
            let mut escaped = false;
            loop {
                match b.get(i) {
                    None => return Err(self.err(format!("unterminated value of label {name:?}"))),
                    Some(b'"') => break,
                    Some(b'\\') => {
                        escaped = true;
                        i += 2;
                    }
                    Some(_) => i += 1,
                }
            }
            if i > b.len() {
                return Err(self.err(format!("unterminated value of label {name:?}")));
            }
            let raw = &line[vstart..i];
            let value = if escaped {
                Cow::Owned(unescape_label(raw).ok_or_else(|| {
                    self.err(format!("invalid escape in the value of label {name:?}"))
                })?)
            } else {
                Cow::Borrowed(raw)
            };
            i += 1;
            if out.iter().any(|l| l.name == name) {
                return Err(self.err(format!("label {name:?} appears twice")));
            }
            out.push(Label { name, value });
            if text_format {
                i = skip_blank(b, i);
            }
            match b.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => return Ok(i + 1),
                _ => return Err(self.err("expected `,` or `}` after a label")),
            }
        }
    }
}

fn valid_metric_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty() && is_name_start(b[0]) && b[1..].iter().all(|&c| is_name_char(c))
}

fn skip_blank(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

/// The run of non-blank characters at `i`, and the index after it.
fn token(line: &str, i: usize) -> (&str, usize) {
    let b = line.as_bytes();
    let mut j = i;
    while j < b.len() && b[j] != b' ' && b[j] != b'\t' {
        j += 1;
    }
    (&line[i..j], j)
}

/// The first word of `s` and what follows the single separator after it.
fn split_word(s: &str) -> (&str, &str) {
    match s.find([' ', '\t']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    }
}

/// At most 40 bytes of `s`, cut at a character boundary, for messages.
fn excerpt(s: &str) -> &str {
    let mut end = s.len().min(40);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn unescape_label(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            'n' => out.push('\n'),
            // Prometheus keeps an unknown escape as written.
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    Some(out)
}

fn unescape_help(raw: &str, format: Format) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if format == Format::OpenMetrics => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests;
