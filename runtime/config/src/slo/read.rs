//! Reading and checking one `slo "name" { ... }` block.

use std::time::Duration;

use kdl::{KdlNode, KdlValue};
use miette::SourceSpan;

use super::{Alerting, BurnWindow, MetricCount, Sli, SliKind, SliSource, Slo, StreamSignal};
use crate::diagnostic::{ConfigError, ErrorCode};
use crate::reader::NodeReader;
use crate::values::Spanned;

const SPAN_KINDS: [&str; 5] = ["internal", "server", "client", "producer", "consumer"];

/// Whether `s` is a valid SLO name or label name part: letters, digits,
/// `-` and `_`, starting with a letter or digit.
fn is_name(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Whether `s` is a Prometheus label name.
fn is_label_name(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with("__")
}

/// Labels every generated series already has.
const RESERVED_LABELS: [&str; 6] = ["slo", "service", "severity", "long", "short", "sli"];

/// The node an `slo` block's SLI reads (`sli { spans "NODE" }` or
/// `logs "NODE"`), read without checking anything else: an SLO with
/// errors still gets its processor, so that the pipeline's shape checks
/// report no consequences of the SLO's own errors.
pub fn stream_source(node: &KdlNode) -> Option<Spanned<String>> {
    let sli = node
        .children()?
        .nodes()
        .iter()
        .find(|n| n.name().value() == "sli")?;
    sli.children()?
        .nodes()
        .iter()
        .filter(|n| matches!(n.name().value(), "spans" | "logs"))
        .find_map(|n| {
            let e = n.entries().iter().find(|e| e.name().is_none())?;
            Some(Spanned::new(e.value().as_string()?.to_string(), e.span()))
        })
}

/// Reads an `slo` block, recording every problem in `errors`; `None` when
/// it has any.
pub fn read(node: &KdlNode, errors: &mut Vec<ConfigError>) -> Option<Slo> {
    let before = errors.len();
    let name = read_name(node, errors);
    let context = match &name {
        Some(n) => format!("slo {:?}", n.value),
        None => "slo".to_string(),
    };
    let mut r = NodeReader::new(node, errors, context);
    let service = r.string("service");
    let service = r.require("service", service, "service \"checkout\"");
    if let Some(s) = &service
        && s.value.is_empty()
    {
        r.invalid(
            s.span,
            "the service name is empty",
            "write `service \"checkout\"`",
        );
    }
    let description = r.string("description").map(|s| s.value);
    let objective = read_objective(&mut r);
    let window = match r.present("window") {
        true => spanned_duration(&mut r, "window"),
        false => Some((Slo::DEFAULT_WINDOW, r.span())),
    };
    let sli = r.block("sli", read_sli).flatten();
    if !r.present("sli") {
        r.require::<()>("sli", None, "sli \"availability\" { spans \"otlp\" }");
    }
    let alerting = match r.present("alerting") {
        true => r.block("alerting", read_alerting).flatten(),
        false => Some(Alerting::default()),
    };
    let labels = r.block("labels", read_labels).unwrap_or_default();
    if let (Some((window, wspan)), Some(alerting), Some(objective)) =
        (window, alerting.as_ref(), objective)
    {
        check_alerting(&mut r, alerting, window, wspan, objective);
    }
    r.finish();
    if errors.len() > before {
        return None;
    }
    Some(Slo {
        name: name?,
        service: service?.value,
        description,
        objective: objective?,
        window: window?.0,
        sli: sli?,
        alerting: alerting?,
        labels,
    })
}

fn read_name(node: &KdlNode, errors: &mut Vec<ConfigError>) -> Option<Spanned<String>> {
    let args: Vec<_> = node
        .entries()
        .iter()
        .filter(|e| e.name().is_none())
        .collect();
    let Some(first) = args.first() else {
        errors.push(
            ConfigError::new(ErrorCode::Missing, "this slo has no name")
                .at(node.name().span(), "expected a name after this")
                .help("write it as `slo \"checkout-availability\" { ... }`"),
        );
        return None;
    };
    for extra in args.iter().skip(1) {
        errors.push(
            ConfigError::new(ErrorCode::InvalidValue, "an slo has one name")
                .at(extra.span(), "unexpected argument")
                .help("write it as `slo \"checkout-availability\" { ... }`"),
        );
    }
    match first.value().as_string() {
        Some(s) if is_name(s) => Some(Spanned::new(s.to_string(), first.span())),
        _ => {
            errors.push(
                ConfigError::new(
                    ErrorCode::InvalidValue,
                    "an SLO name is letters, digits, `-` and `_`",
                )
                .at(first.span(), "not a valid SLO name")
                .help("the name is the `slo` label of every series and alert: write it like \"checkout-availability\""),
            );
            None
        }
    }
}

/// `objective 99.9` (percent), also `"99.9%"`: a fraction in (0, 1).
fn read_objective(r: &mut NodeReader<'_>) -> Option<f64> {
    let Some((v, span)) = r.value("objective") else {
        r.require::<()>("objective", None, "objective 99.9");
        return None;
    };
    let percent = match v {
        KdlValue::Float(f) => Some(*f),
        KdlValue::Integer(i) => Some(*i as f64),
        KdlValue::String(s) => s.trim().trim_end_matches('%').trim().parse::<f64>().ok(),
        _ => None,
    };
    match percent {
        Some(p) if p > 0.0 && p < 100.0 => Some(p / 100.0),
        Some(p) => {
            r.error(
                ConfigError::new(
                    ErrorCode::InvalidValue,
                    format!("the objective {p}% is out of range"),
                )
                .at(span, "expected a percentage above 0 and below 100")
                .help("an objective is the percentage of good events, like 99.9; 100 leaves no error budget"),
            );
            None
        }
        None => {
            r.invalid(
                span,
                "expected a percentage",
                "write the objective in percent, like `objective 99.9`",
            );
            None
        }
    }
}

/// A duration property with its span (`"5m"`, or milliseconds).
fn duration_at(r: &mut NodeReader<'_>, key: &str) -> Option<(Duration, SourceSpan)> {
    let (v, span) = r.value(key)?;
    let d = match v {
        KdlValue::String(s) => humantime::parse_duration(s).ok(),
        KdlValue::Integer(ms) if *ms >= 0 => Some(Duration::from_millis(
            u64::try_from(*ms).unwrap_or(u64::MAX),
        )),
        _ => None,
    };
    if d.is_none() {
        r.invalid(
            span,
            format!("`{key}` is not a duration"),
            "write a duration like \"300ms\", \"5m\", \"1h\" or \"28d\"",
        );
    }
    d.map(|d| (d, span))
}

/// A duration property that Prometheus can write: whole seconds, at least
/// one.
fn spanned_duration(r: &mut NodeReader<'_>, key: &str) -> Option<(Duration, SourceSpan)> {
    let (d, span) = duration_at(r, key)?;
    if d < Duration::from_secs(1) || d.subsec_nanos() != 0 {
        r.invalid(
            span,
            "expected whole seconds, at least 1s",
            "Prometheus rule windows are whole seconds: write \"5m\", \"1h\" or \"28d\"",
        );
        return None;
    }
    Some((d, span))
}

fn read_sli(r: &mut NodeReader<'_>) -> Option<Sli> {
    let node = r.node();
    let kind_arg = node
        .entries()
        .iter()
        .find(|e| e.name().is_none())
        .map(|e| (e.value().as_string().map(str::to_string), e.span()));
    let kind = match kind_arg {
        Some((Some(k), _)) if k == "availability" => Some(SliKind::Availability),
        Some((Some(k), _)) if k == "latency" => Some(SliKind::Latency { threshold: None }),
        Some((_, span)) => {
            r.error(
                ConfigError::new(ErrorCode::InvalidValue, "unknown SLI kind")
                    .at(span, "expected \"availability\" or \"latency\"")
                    .help("write `sli \"availability\" { ... }` or `sli \"latency\" { threshold \"300ms\" ... }`"),
            );
            None
        }
        None => {
            r.error(
                ConfigError::new(ErrorCode::Missing, "the sli has no kind")
                    .at(
                        r.span(),
                        "expected \"availability\" or \"latency\" after this",
                    )
                    .help("write `sli \"availability\" { spans \"otlp\" }`"),
            );
            None
        }
    };
    let threshold = duration_at(r, "threshold").map(|(d, s)| (s, d));
    let sources: Vec<&str> = ["spans", "logs", "metrics"]
        .into_iter()
        .filter(|k| r.present(k))
        .collect();
    let source = match sources.as_slice() {
        [] => {
            r.error(
                ConfigError::new(ErrorCode::UnknownSource, "the SLI has no source")
                    .at(r.span(), "where do its events come from?")
                    .help("add `spans \"<node>\"`, `logs \"<node>\"` or `metrics { total \"...\"; bad \"...\" }`"),
            );
            None
        }
        [one] => read_source(r, one),
        [first, second, ..] => {
            let _ = read_source(r, first);
            let _ = read_source(r, second);
            r.error(
                ConfigError::new(ErrorCode::InvalidValue, "the SLI has more than one source")
                    .at(r.span(), format!("both `{first}` and `{second}` are set"))
                    .help("one SLI reads one source: spans, logs or metrics; declare another slo for the other"),
            );
            None
        }
    };
    let kind = match (kind?, threshold, &source) {
        (SliKind::Availability, Some((span, _)), _) => {
            r.invalid(
                span,
                "`threshold` is for latency SLIs",
                "remove it, or make this `sli \"latency\"`",
            );
            return None;
        }
        (SliKind::Availability, None, _) => SliKind::Availability,
        (SliKind::Latency { .. }, Some((span, _)), Some(SliSource::Metrics { .. })) => {
            r.invalid(
                span,
                "a metrics SLI has its threshold in the `good` selector",
                "remove `threshold`; select the histogram bucket instead: good \"..._bucket{le=\\\"0.3\\\"}\"",
            );
            return None;
        }
        (SliKind::Latency { .. }, None, Some(SliSource::Metrics { .. })) => {
            SliKind::Latency { threshold: None }
        }
        (
            SliKind::Latency { .. },
            _,
            Some(SliSource::Stream {
                signal: StreamSignal::Logs,
                from,
                ..
            }),
        ) => {
            r.error(
                ConfigError::new(ErrorCode::InvalidValue, "log records have no latency")
                    .at(from.span, "a latency SLI needs spans")
                    .help("read spans (`spans \"<node>\"`) or existing histogram metrics"),
            );
            return None;
        }
        (SliKind::Latency { .. }, Some((span, d)), _) => {
            if d.is_zero() {
                r.invalid(
                    span,
                    "the threshold is zero",
                    "write a duration like \"300ms\"",
                );
                return None;
            }
            SliKind::Latency { threshold: Some(d) }
        }
        (SliKind::Latency { .. }, None, _) => {
            r.require::<()>("threshold", None, "threshold \"300ms\"");
            return None;
        }
    };
    Some(Sli {
        kind,
        source: source?,
    })
}

fn read_source(r: &mut NodeReader<'_>, which: &str) -> Option<SliSource> {
    match which {
        "spans" | "logs" => {
            let signal = if which == "spans" {
                StreamSignal::Spans
            } else {
                StreamSignal::Logs
            };
            let from = r.string(which)?;
            let route = r.string("route").map(|s| s.value);
            let span_kind = match signal {
                StreamSignal::Spans => r.one_of("kind", &SPAN_KINDS).map(|s| s.value),
                StreamSignal::Logs => {
                    if let Some((_, span)) = r.value("kind") {
                        r.invalid(span, "log records have no span kind", "remove `kind`");
                    }
                    None
                }
            };
            Some(SliSource::Stream {
                signal,
                from,
                route,
                span_kind,
            })
        }
        _ => r.block("metrics", read_metrics).flatten(),
    }
}

fn read_metrics(r: &mut NodeReader<'_>) -> Option<SliSource> {
    let total = r.string("total");
    let total = r.require(
        "total",
        total,
        "total \"http_requests_total{job=\\\"api\\\"}\"",
    );
    let good = r.string("good");
    let bad = r.string("bad");
    for s in [&total, &good, &bad].into_iter().flatten() {
        if let Err(why) = check_selector(&s.value) {
            r.invalid(
                s.span,
                why,
                "write a PromQL series selector of a counter, like http_requests_total{job=\"api\",code=~\"5..\"}",
            );
        }
    }
    let count = match (good, bad) {
        (Some(g), None) => MetricCount::Good(g.value),
        (None, Some(b)) => MetricCount::Bad(b.value),
        (Some(_), Some(b)) => {
            r.invalid(
                b.span,
                "both `good` and `bad` are set",
                "keep one: the other is `total` minus it",
            );
            return None;
        }
        (None, None) => {
            let span = r.span();
            r.error(
                ConfigError::new(ErrorCode::Missing, "the metrics SLI needs `good` or `bad`")
                    .at(span, "which events are good?")
                    .help("add `bad \"http_requests_total{code=~\\\"5..\\\"}\"` or `good \"...\"`"),
            );
            return None;
        }
    };
    Some(SliSource::Metrics {
        total: total?.value,
        count,
    })
}

/// A light check of a PromQL series selector: a metric name, optionally
/// followed by `{...}` matchers, nothing else (no functions or ranges: the
/// rules wrap it in `rate(...[window])`). `promtool check rules` checks
/// the rest.
fn check_selector(s: &str) -> Result<(), String> {
    let s = s.trim();
    let name_end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(s.len());
    let (name, rest) = s.split_at(name_end);
    if name.is_empty() && !rest.starts_with('{') {
        return Err("not a series selector".to_string());
    }
    if name.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        return Err("a metric name cannot start with a digit".to_string());
    }
    let rest = rest.trim();
    if rest.is_empty() {
        return Ok(());
    }
    if !(rest.starts_with('{') && rest.ends_with('}')) || rest.contains('[') {
        return Err("expected `name{matchers}` without a range or a function".to_string());
    }
    Ok(())
}

fn read_alerting(r: &mut NodeReader<'_>) -> Option<Alerting> {
    let mut ok = true;
    let mut severity = |r: &mut NodeReader<'_>, key: &str| -> Vec<BurnWindow> {
        if !r.present(key) {
            r.mark_used(key);
            return Vec::new();
        }
        let windows = r
            .block(key, |s| s.blocks("window", read_window))
            .unwrap_or_default();
        if windows.iter().any(Option::is_none) {
            ok = false;
        }
        windows.into_iter().flatten().collect()
    };
    let page = severity(r, "page");
    let ticket = severity(r, "ticket");
    if page.is_empty() && ticket.is_empty() && ok {
        let span = r.span();
        r.error(
            ConfigError::new(ErrorCode::Missing, "`alerting` has no alert")
                .at(span, "no `page` or `ticket` window")
                .help("add `page { window long=\"1h\" short=\"5m\" burn-rate=14.4 }`, or remove `alerting` for the SRE workbook's defaults"),
        );
        return None;
    }
    ok.then_some(Alerting { page, ticket })
}

fn read_window(r: &mut NodeReader<'_>) -> Option<BurnWindow> {
    let long = spanned_duration(r, "long");
    let long = r.require(
        "long",
        long,
        "window long=\"1h\" short=\"5m\" burn-rate=14.4",
    );
    let short = spanned_duration(r, "short");
    let short = r.require(
        "short",
        short,
        "window long=\"1h\" short=\"5m\" burn-rate=14.4",
    );
    let rate = r.value("burn-rate");
    let rate_span = rate.map(|(_, s)| s);
    let burn_rate = match rate {
        Some((KdlValue::Float(f), _)) => Some(*f),
        Some((KdlValue::Integer(i), _)) => Some(*i as f64),
        Some((_, span)) => {
            r.invalid(
                span,
                "expected a number",
                "write a factor like burn-rate=14.4",
            );
            None
        }
        None => None,
    };
    let burn_rate = r.require(
        "burn-rate",
        burn_rate,
        "window long=\"1h\" short=\"5m\" burn-rate=14.4",
    );
    let for_ = match r.present("for") {
        true => Some(duration_at(r, "for")?.0),
        false => None,
    };
    let (long, short, burn_rate) = (long?, short?, burn_rate?);
    if short.0 >= long.0 {
        r.invalid(
            short.1,
            "the short window must be shorter than the long one",
            "the SRE workbook uses 1/12 of the long window: long=\"1h\" short=\"5m\"",
        );
        return None;
    }
    if !(burn_rate > 0.0 && burn_rate.is_finite()) {
        if let Some(span) = rate_span {
            r.invalid(
                span,
                "the burn rate must be above 0",
                "write a factor like 14.4",
            );
        }
        return None;
    }
    Some(BurnWindow {
        long: long.0,
        short: short.0,
        burn_rate,
        for_,
    })
}

fn read_labels(r: &mut NodeReader<'_>) -> Vec<(String, String)> {
    let node = r.node();
    let mut out = Vec::new();
    let Some(doc) = node.children() else {
        return out;
    };
    for child in doc.nodes() {
        let key = child.name().value().to_string();
        r.mark_used(&key);
        let value = child
            .entries()
            .iter()
            .find(|e| e.name().is_none())
            .and_then(|e| e.value().as_string());
        if !is_label_name(&key) || RESERVED_LABELS.contains(&key.as_str()) {
            r.invalid(
                child.name().span(),
                format!("`{key}` cannot be a label here"),
                format!(
                    "a label name is letters, digits and `_`, and not one of weir's own: {}",
                    RESERVED_LABELS.join(", ")
                ),
            );
            continue;
        }
        match value {
            Some(v) => out.push((key, v.to_string())),
            None => r.invalid(
                child.name().span(),
                format!("label `{key}` needs a string value"),
                format!("write `{key} \"value\"`"),
            ),
        }
    }
    out
}

/// Checks the alert windows against the SLO: no window longer than the
/// SLO's, and no burn rate that cannot happen (above 1 / error budget: even
/// all events bad would not reach it).
fn check_alerting(
    r: &mut NodeReader<'_>,
    alerting: &Alerting,
    window: Duration,
    window_span: SourceSpan,
    objective: f64,
) {
    let budget = 1.0 - objective;
    let span = if r.present("alerting") {
        r.node()
            .children()
            .and_then(|d| d.nodes().iter().find(|n| n.name().value() == "alerting"))
            .map_or(window_span, |n| n.name().span())
    } else {
        window_span
    };
    for (severity, w) in alerting.all() {
        if w.long > window {
            r.error(
                ConfigError::new(
                    ErrorCode::InvalidValue,
                    format!(
                        "a {severity} window of {} is longer than the SLO window of {}",
                        super::prometheus_duration(w.long),
                        super::prometheus_duration(window)
                    ),
                )
                .at(span, "this alert's long window exceeds the SLO window")
                .help("shorten the alert window or lengthen `window`; the SRE workbook defaults need a window of at least 3d"),
            );
        }
        // The alert compares with `>`: a burn rate of exactly 1 / budget
        // needs more than every event failing.
        if w.burn_rate * budget >= 1.0 - 1e-12 {
            r.error(
                ConfigError::new(
                    ErrorCode::InvalidValue,
                    format!(
                        "a burn rate of {} can never be reached with an error budget of {}%",
                        w.burn_rate,
                        budget * 100.0
                    ),
                )
                .at(span, "this alert could never fire")
                .help(format!(
                    "even if every event failed the burn rate would be {:.3}; lower the burn rate or raise the objective",
                    1.0 / budget
                )),
            );
        }
    }
}
