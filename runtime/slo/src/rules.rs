//! Prometheus recording and alerting rules for SLOs.
//!
//! One rule group per SLO (`slo:<name>`), evaluated in order, so the
//! alerts read ratios recorded in the same evaluation:
//!
//! | series | what |
//! |---|---|
//! | `slo:sli_error:ratio_rate<W>` | bad events / all events over window `W` |
//! | `slo:sli:ratio_rate<W>` | the SLI: good events / all events over `W` |
//! | `slo:burn_rate:ratio_rate<W>` | error ratio / error budget: 1 spends the budget exactly in the SLO window |
//! | `slo:error_budget:remaining_ratio` | 1 - error ratio over the SLO window / budget (1 untouched, 0 spent, < 0 overspent) |
//! | `slo:objective:ratio`, `slo:error_budget:ratio`, `slo:window:seconds` | the SLO's constants, for dashboards |
//!
//! `W` is every alert window and the SLO window. Every series carries the
//! labels `slo`, `service`, `sli` and the SLO's own `labels`. The alerts
//! (`SLOErrorBudgetBurn`, one per window pair, labels `severity`, `long`,
//! `short`) fire when the burn rate exceeds the pair's factor over both
//! windows: the multi-window, multi-burn-rate alerts of the SRE workbook.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use weir_config::slo::{MetricCount, SliSource, Slo, prometheus_duration};

/// The name of the counter the `sli` plugin emits, in Prometheus.
pub const SLI_EVENTS: &str = "weir_sli_events_total";

/// The name of every burn-rate alert.
pub const ALERT_NAME: &str = "SLOErrorBudgetBurn";

/// A Prometheus rule file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleFile {
    /// The rule groups.
    pub groups: Vec<RuleGroup>,
}

/// A group of rules evaluated together, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleGroup {
    /// The group's name.
    pub name: String,
    /// The rules.
    pub rules: Vec<Rule>,
}

/// A recording rule (`record`) or an alerting rule (`alert`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Rule {
    /// The series a recording rule writes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub record: Option<String>,
    /// The name of an alerting rule.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alert: Option<String>,
    /// The PromQL expression.
    pub expr: String,
    /// How long an alert's condition must hold.
    #[serde(rename = "for", skip_serializing_if = "Option::is_none", default)]
    pub for_: Option<String>,
    /// Labels added to the result.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub labels: BTreeMap<String, String>,
    /// An alert's annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub annotations: BTreeMap<String, String>,
}

/// `slo:sli_error:ratio_rate<W>`.
pub fn error_ratio_name(window: &str) -> String {
    format!("slo:sli_error:ratio_rate{window}")
}

/// `slo:sli:ratio_rate<W>`.
pub fn sli_name(window: &str) -> String {
    format!("slo:sli:ratio_rate{window}")
}

/// `slo:burn_rate:ratio_rate<W>`.
pub fn burn_rate_name(window: &str) -> String {
    format!("slo:burn_rate:ratio_rate{window}")
}

/// The error budget left over the SLO window.
pub const BUDGET_REMAINING: &str = "slo:error_budget:remaining_ratio";
/// The objective, as a ratio.
pub const OBJECTIVE: &str = "slo:objective:ratio";
/// The error budget, as a ratio.
pub const BUDGET: &str = "slo:error_budget:ratio";
/// The SLO window in seconds.
pub const WINDOW: &str = "slo:window:seconds";

/// A PromQL string literal.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Adds a matcher to a selector: `name{a="b"}` + `c="d"`.
fn with_matcher(selector: &str, matcher: &str) -> String {
    let s = selector.trim();
    match s.strip_suffix('}') {
        Some(inner) if inner.trim_end().ends_with('{') => format!("{inner}{matcher}}}"),
        Some(inner) => format!("{inner},{matcher}}}"),
        None => format!("{s}{{{matcher}}}"),
    }
}

/// The labels of every series of `slo`.
pub fn slo_labels(slo: &Slo) -> BTreeMap<String, String> {
    let mut l: BTreeMap<String, String> = slo.labels.iter().cloned().collect();
    let _ = l.insert("slo".to_string(), slo.name.value.clone());
    let _ = l.insert("service".to_string(), slo.service.clone());
    let _ = l.insert("sli".to_string(), slo.sli.kind.as_str().to_string());
    l
}

/// The selector of a recorded series of `slo`: `name{slo="..."}`.
pub fn series(name: &str, slo: &Slo) -> String {
    format!("{name}{{slo={}}}", quote(&slo.name.value))
}

/// Bad events / all events over `w`, from the SLI's source.
fn error_ratio_expr(slo: &Slo, w: &str) -> String {
    let rate = |sel: &str| format!("sum(rate({sel}[{w}]))");
    match &slo.sli.source {
        SliSource::Stream { .. } => {
            let all = format!("{SLI_EVENTS}{{slo={}}}", quote(&slo.name.value));
            let bad = with_matcher(&all, "outcome=\"bad\"");
            format!("({} or vector(0))\n/\n{}", rate(&bad), rate(&all))
        }
        SliSource::Metrics { total, count } => match count {
            MetricCount::Bad(bad) => {
                format!("({} or vector(0))\n/\n{}", rate(bad), rate(total))
            }
            MetricCount::Good(good) => format!(
                "1 - (\n  ({} or vector(0))\n  /\n  {}\n)",
                rate(good),
                rate(total)
            ),
        },
    }
}

/// A number as PromQL writes it, without float noise (`0.001`, not
/// `0.0010000000000000009`).
pub(crate) fn number(x: f64) -> String {
    let s = format!("{:.12}", x);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// The rule group of one SLO.
pub fn group(slo: &Slo) -> RuleGroup {
    let labels = slo_labels(slo);
    let budget = number(slo.error_budget());
    let windows: Vec<String> = slo.windows().into_iter().map(prometheus_duration).collect();
    let window = prometheus_duration(slo.window);
    let record = |name: String, expr: String| Rule {
        record: Some(name),
        expr,
        labels: labels.clone(),
        ..Rule::default()
    };
    let mut rules = Vec::new();
    for w in &windows {
        rules.push(record(error_ratio_name(w), error_ratio_expr(slo, w)));
    }
    for w in &windows {
        rules.push(record(
            sli_name(w),
            format!("1 - {}", series(&error_ratio_name(w), slo)),
        ));
        rules.push(record(
            burn_rate_name(w),
            format!("{} / {budget}", series(&error_ratio_name(w), slo)),
        ));
    }
    rules.push(record(
        BUDGET_REMAINING.to_string(),
        format!("1 - {} / {budget}", series(&error_ratio_name(&window), slo)),
    ));
    rules.push(record(
        OBJECTIVE.to_string(),
        format!("vector({})", number(slo.objective)),
    ));
    rules.push(record(BUDGET.to_string(), format!("vector({budget})")));
    rules.push(record(
        WINDOW.to_string(),
        format!("vector({})", slo.window.as_secs()),
    ));
    let what = slo
        .description
        .clone()
        .map(|d| d.trim_end_matches('.').to_string())
        .unwrap_or_else(|| format!("{} of {}", slo.sli.kind.as_str(), slo.service));
    for (severity, w) in slo.alerting.all() {
        let (long, short) = (prometheus_duration(w.long), prometheus_duration(w.short));
        let factor = number(w.burn_rate);
        let mut l = labels.clone();
        let _ = l.insert("severity".to_string(), severity.to_string());
        let _ = l.insert("long".to_string(), long.clone());
        let _ = l.insert("short".to_string(), short.clone());
        let mut annotations = BTreeMap::new();
        let _ = annotations.insert(
            "summary".to_string(),
            format!(
                "SLO {}: the error budget burns more than {factor}x too fast over {long} and {short}.",
                slo.name.value
            ),
        );
        let _ = annotations.insert(
            "description".to_string(),
            format!(
                "{what} (objective {}% over {window}): burn rate {{{{ $value | printf \"%.2f\" }}}} over {long}; at {factor}x the whole budget is spent in {}.",
                number(slo.objective * 100.0),
                humanize_spend(slo.window.as_secs_f64() / w.burn_rate)
            ),
        );
        rules.push(Rule {
            alert: Some(ALERT_NAME.to_string()),
            expr: format!(
                "{} > {factor}\nand\n{} > {factor}",
                series(&burn_rate_name(&long), slo),
                series(&burn_rate_name(&short), slo)
            ),
            for_: w.for_.map(prometheus_duration),
            labels: l,
            annotations,
            ..Rule::default()
        });
    }
    RuleGroup {
        name: format!("slo:{}", slo.name.value),
        rules,
    }
}

/// `2d 3h`, `45m`: how long a budget lasts, for alert texts.
fn humanize_spend(secs: f64) -> String {
    let s = secs.round() as u64;
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    match (d, h, m) {
        (0, 0, m) => format!("{}m", m.max(1)),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// The rule file of `slos`.
pub fn rule_file(slos: &[Slo]) -> RuleFile {
    RuleFile {
        groups: slos.iter().map(group).collect(),
    }
}

/// The rule file as YAML, with a header saying where it came from.
///
/// # Errors
/// Only if serialisation fails (it does not for these types).
pub fn to_yaml(file: &RuleFile, source: &str) -> Result<String, serde_norway::Error> {
    let body = serde_norway::to_string(file)?;
    Ok(format!(
        "# Prometheus rules generated by `weir slo rules {source}`; do not edit,\n# change the `slo` blocks and generate again.\n{body}"
    ))
}

#[cfg(test)]
mod tests;
