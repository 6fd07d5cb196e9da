//! Metric and label names per the OpenTelemetry "Prometheus and
//! OpenMetrics compatibility" specification.
//!
//! - Characters outside `[a-zA-Z0-9_:]` (metric names) or `[a-zA-Z0-9_]`
//!   (label names) become `_`; a name starting with a digit gets a `_`
//!   (metrics) or `key_` (labels) prefix.
//! - With suffixes on (the default), the unit is appended in Prometheus'
//!   words (`s` -> `_seconds`, `By` -> `_bytes`, `m/s` ->
//!   `_meters_per_second`; `{annotations}` are dropped), gauges of unit `1`
//!   get `_ratio`, and monotonic cumulative sums `_total`, each only when the
//!   name does not end with it already.

use std::borrow::Cow;

/// What a metric becomes in Prometheus, for its suffixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A monotonic cumulative sum.
    Counter,
    /// A gauge or non-monotonic sum.
    Gauge,
    /// A histogram (explicit or exponential).
    Histogram,
    /// A summary.
    Summary,
}

fn unit_word(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tebibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "%" => "percent",
        _ => return None,
    })
}

fn per_unit_word(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        _ => return None,
    })
}

/// The unit as a name suffix (without the leading `_`); empty for none.
pub fn unit_suffix(unit: &str) -> String {
    // Drop `{annotations}`.
    let mut clean = String::with_capacity(unit.len());
    let mut depth = 0u32;
    for c in unit.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ if depth == 0 => clean.push(c),
            _ => {}
        }
    }
    let clean = clean.trim();
    if clean.is_empty() || clean == "1" {
        return String::new();
    }
    let (main, per) = match clean.split_once('/') {
        Some((m, p)) => (m.trim(), Some(p.trim())),
        None => (clean, None),
    };
    let mut out = String::new();
    if !main.is_empty() && main != "1" {
        out.push_str(
            &unit_word(main).map_or_else(|| sanitize_metric(main).into_owned(), str::to_string),
        );
    }
    if let Some(per) = per.filter(|p| !p.is_empty()) {
        let word =
            per_unit_word(per).map_or_else(|| sanitize_metric(per).into_owned(), str::to_string);
        if out.is_empty() {
            out = format!("per_{word}");
        } else {
            out = format!("{out}_per_{word}");
        }
    }
    out.trim_matches('_').to_string()
}

fn valid_metric_char(c: u8, first: bool) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':' || (!first && c.is_ascii_digit())
}

/// A metric name with invalid characters replaced.
pub fn sanitize_metric(name: &str) -> Cow<'_, str> {
    let b = name.as_bytes();
    if !b.is_empty()
        && b.iter()
            .enumerate()
            .all(|(i, &c)| valid_metric_char(c, i == 0))
    {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 1);
    if b.first().is_some_and(u8::is_ascii_digit) {
        out.push('_');
    }
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    Cow::Owned(out)
}

/// A label name with invalid characters replaced.
pub fn sanitize_label(name: &str) -> Cow<'_, str> {
    let b = name.as_bytes();
    let valid = !b.is_empty()
        && !b[0].is_ascii_digit()
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_');
    if valid {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 4);
    if b.first().is_none_or(u8::is_ascii_digit) {
        out.push_str("key_");
    }
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    Cow::Owned(out)
}

/// The Prometheus name of a metric (the family name of histograms and
/// summaries, before `_bucket`/`_sum`/`_count`).
pub fn metric_name(name: &str, unit: &str, kind: Kind, add_suffixes: bool) -> String {
    let mut out = sanitize_metric(name).into_owned();
    if !add_suffixes {
        return out;
    }
    let suffix = unit_suffix(unit);
    // `_total` goes last: take it off while placing the unit.
    let had_total = kind == Kind::Counter && out.ends_with("_total");
    if had_total {
        out.truncate(out.len() - "_total".len());
    }
    if !suffix.is_empty() && !out.ends_with(&format!("_{suffix}")) {
        out.push('_');
        out.push_str(&suffix);
    }
    if kind == Kind::Gauge && unit.trim() == "1" && !out.ends_with("_ratio") {
        out.push_str("_ratio");
    }
    if kind == Kind::Counter {
        out.push_str("_total");
    }
    out
}

/// A float as Prometheus writes `le` and `quantile` values: shortest
/// round-trip form, `+Inf`/`-Inf`/`NaN`.
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        // Rust's Display is the shortest representation that round-trips,
        // without an exponent: 0.005, 1, 250000.
        format!("{v}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_spec() {
        assert_eq!(
            metric_name("http.server.duration", "s", Kind::Histogram, true),
            "http_server_duration_seconds"
        );
        assert_eq!(
            metric_name("requests", "{request}", Kind::Counter, true),
            "requests_total"
        );
        assert_eq!(
            metric_name("requests_total", "", Kind::Counter, true),
            "requests_total"
        );
        assert_eq!(
            metric_name("io", "By", Kind::Counter, true),
            "io_bytes_total"
        );
        assert_eq!(
            metric_name("io_bytes_total", "By", Kind::Counter, true),
            "io_bytes_total"
        );
        assert_eq!(
            metric_name("cpu.utilization", "1", Kind::Gauge, true),
            "cpu_utilization_ratio"
        );
        assert_eq!(
            metric_name("speed", "m/s", Kind::Gauge, true),
            "speed_meters_per_second"
        );
        assert_eq!(
            metric_name("rate", "1/s", Kind::Gauge, true),
            "rate_per_second"
        );
        assert_eq!(metric_name("2xx", "", Kind::Gauge, true), "_2xx");
        assert_eq!(metric_name("a.b", "s", Kind::Counter, false), "a_b");
        assert_eq!(
            metric_name("temp", "Cel", Kind::Gauge, true),
            "temp_celsius"
        );
    }

    #[test]
    fn labels_are_sanitised() {
        assert_eq!(sanitize_label("http.method"), "http_method");
        assert_eq!(sanitize_label("code"), "code");
        assert_eq!(sanitize_label("0ok"), "key_0ok");
        assert_eq!(sanitize_label(""), "key_");
    }

    #[test]
    fn floats_like_prometheus() {
        assert_eq!(format_float(0.005), "0.005");
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(f64::INFINITY), "+Inf");
        assert_eq!(format_float(250000.0), "250000");
    }
}
