//! The latest value of every series, rendered in the text exposition
//! format 0.0.4.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::prom_mapping::{Family, Kind, STALE_NAN, SeriesSink};

struct SeriesEntry {
    value: f64,
    updated: Instant,
}

struct FamilyEntry {
    kind: Kind,
    help: String,
    /// Series text (`name{labels}`) -> latest value.
    series: HashMap<String, SeriesEntry>,
}

/// Every series seen, by family.
#[derive(Default)]
pub struct Store {
    families: BTreeMap<String, FamilyEntry>,
    scratch: String,
}

fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn format_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v}");
    }
}

impl Store {
    /// Drops series not updated within `expiration`; returns how many.
    pub fn expire(&mut self, expiration: Duration) -> usize {
        let now = Instant::now();
        let mut dropped = 0;
        for f in self.families.values_mut() {
            let before = f.series.len();
            f.series
                .retain(|_, s| now.duration_since(s.updated) <= expiration);
            dropped += before - f.series.len();
        }
        self.families.retain(|_, f| !f.series.is_empty());
        dropped
    }

    /// Series held.
    pub fn len(&self) -> usize {
        self.families.values().map(|f| f.series.len()).sum()
    }

    /// Whether no series is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text exposition format of every series, families sorted by name,
    /// series sorted within a family.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(self.len() * 64);
        for (name, f) in &self.families {
            out.push_str("# HELP ");
            out.push_str(name);
            out.push(' ');
            escape_help(&mut out, &f.help);
            out.push('\n');
            let ty = match f.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram => "histogram",
                Kind::Summary => "summary",
            };
            let _ = writeln!(out, "# TYPE {name} {ty}");
            let mut series: Vec<(&String, &SeriesEntry)> = f.series.iter().collect();
            series.sort_by(|a, b| a.0.cmp(b.0));
            for (text, s) in series {
                out.push_str(text);
                out.push(' ');
                format_value(&mut out, s.value);
                out.push('\n');
            }
        }
        out
    }
}

impl SeriesSink for Store {
    fn sample(
        &mut self,
        family: &Family<'_>,
        labels: &[(&str, &str)],
        value: f64,
        _timestamp_ms: i64,
    ) {
        let s = &mut self.scratch;
        s.clear();
        let name = labels
            .iter()
            .find(|(k, _)| *k == "__name__")
            .map_or("", |(_, v)| *v);
        s.push_str(name);
        let mut first = true;
        for (k, v) in labels {
            if *k == "__name__" {
                continue;
            }
            s.push(if first { '{' } else { ',' });
            first = false;
            s.push_str(k);
            s.push_str("=\"");
            escape_label(s, v);
            s.push('"');
        }
        if !first {
            s.push('}');
        }
        let stale = value.to_bits() == STALE_NAN;
        if stale {
            if let Some(f) = self.families.get_mut(family.name) {
                let _ = f.series.remove(self.scratch.as_str());
            }
            return;
        }
        let f = self
            .families
            .entry(family.name.to_string())
            .or_insert_with(|| FamilyEntry {
                kind: family.kind,
                help: family.help.to_string(),
                series: HashMap::new(),
            });
        f.kind = family.kind;
        if f.help.is_empty() && !family.help.is_empty() {
            f.help = family.help.to_string();
        }
        let entry = SeriesEntry {
            value,
            updated: Instant::now(),
        };
        match f.series.get_mut(self.scratch.as_str()) {
            Some(e) => *e = entry,
            None => {
                let _ = f.series.insert(self.scratch.clone(), entry);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn renders_families_and_removes_stale_series() {
        let mut s = Store::default();
        let fam = Family {
            name: "reqs_total",
            kind: Kind::Counter,
            help: "Requests\nserved.",
        };
        s.sample(
            &fam,
            &[("__name__", "reqs_total"), ("code", "2\"00")],
            5.0,
            0,
        );
        s.sample(&fam, &[("__name__", "reqs_total"), ("code", "500")], 1.0, 0);
        let g = Family {
            name: "up",
            kind: Kind::Gauge,
            help: "",
        };
        s.sample(&g, &[("__name__", "up")], 1.0, 0);
        assert_eq!(
            s.render(),
            "# HELP reqs_total Requests\\nserved.\n# TYPE reqs_total counter\nreqs_total{code=\"2\\\"00\"} 5\nreqs_total{code=\"500\"} 1\n# HELP up \n# TYPE up gauge\nup 1\n"
        );
        s.sample(
            &fam,
            &[("__name__", "reqs_total"), ("code", "500")],
            f64::from_bits(STALE_NAN),
            0,
        );
        assert_eq!(s.len(), 2);
        assert_eq!(s.expire(Duration::from_secs(60)), 0);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(s.expire(Duration::from_millis(1)), 2);
        assert!(s.is_empty());
    }
}
