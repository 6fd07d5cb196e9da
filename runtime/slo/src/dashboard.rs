//! A Grafana dashboard over the recording rules of [`crate::rules`].
//!
//! One row per SLO: the error budget left, the SLI over the SLO window,
//! the objective, the burn rate over every alert window, and the SLI over
//! time against its objective. Every query reads a recorded series, so
//! the dashboard stays cheap over a 28-day window. The Prometheus data
//! source is a dashboard variable (`datasource`), chosen on import.

use serde_json::{Value, json};
use weir_config::slo::{Slo, prometheus_duration};

use crate::rules::{
    BUDGET_REMAINING, OBJECTIVE, burn_rate_name, error_ratio_name, number, series, sli_name,
};

const DATASOURCE: &str = "${datasource}";

fn target(expr: String, legend: &str, ref_id: char) -> Value {
    json!({
        "datasource": { "type": "prometheus", "uid": DATASOURCE },
        "expr": expr,
        "legendFormat": legend,
        "refId": ref_id.to_string(),
    })
}

fn grid(x: u32, y: u32, w: u32, h: u32) -> Value {
    json!({ "x": x, "y": y, "w": w, "h": h })
}

struct Ids(u32);

impl Ids {
    fn next(&mut self) -> u32 {
        self.0 += 1;
        self.0
    }
}

fn stat(id: u32, title: &str, pos: Value, expr: String, thresholds: Value) -> Value {
    json!({
        "id": id,
        "type": "stat",
        "title": title,
        "gridPos": pos,
        "datasource": { "type": "prometheus", "uid": DATASOURCE },
        "targets": [target(expr, "", 'A')],
        "fieldConfig": {
            "defaults": {
                "unit": "percentunit",
                "decimals": 3,
                "thresholds": thresholds,
            },
            "overrides": [],
        },
        "options": {
            "reduceOptions": { "calcs": ["lastNotNull"], "fields": "", "values": false },
            "colorMode": "value",
            "graphMode": "area",
        },
    })
}

fn timeseries(id: u32, title: &str, pos: Value, targets: Vec<Value>, unit: &str) -> Value {
    json!({
        "id": id,
        "type": "timeseries",
        "title": title,
        "gridPos": pos,
        "datasource": { "type": "prometheus", "uid": DATASOURCE },
        "targets": targets,
        "fieldConfig": {
            "defaults": { "unit": unit, "custom": { "fillOpacity": 0, "lineWidth": 1 } },
            "overrides": [],
        },
        "options": { "legend": { "displayMode": "list", "placement": "bottom" } },
    })
}

fn slo_panels(slo: &Slo, ids: &mut Ids, y: u32) -> Vec<Value> {
    let window = prometheus_duration(slo.window);
    let objective = slo.objective;
    let mut title = format!(
        "{} ({}, {})",
        slo.name.value,
        slo.service,
        slo.sli.kind.as_str()
    );
    if let Some(d) = &slo.description {
        title = format!("{title}: {d}");
    }
    let mut panels = vec![json!({
        "id": ids.next(),
        "type": "row",
        "title": title,
        "collapsed": false,
        "gridPos": grid(0, y, 24, 1),
        "panels": [],
    })];
    let y = y + 1;
    panels.push(stat(
        ids.next(),
        &format!("Error budget remaining ({window})"),
        grid(0, y, 6, 8),
        series(BUDGET_REMAINING, slo),
        json!({ "mode": "absolute", "steps": [
            { "color": "red", "value": null },
            { "color": "orange", "value": 0 },
            { "color": "green", "value": 0.25 },
        ]}),
    ));
    panels.push(stat(
        ids.next(),
        &format!("SLI ({window}), objective {}%", number(objective * 100.0)),
        grid(6, y, 6, 8),
        series(&sli_name(&window), slo),
        json!({ "mode": "absolute", "steps": [
            { "color": "red", "value": null },
            { "color": "green", "value": objective },
        ]}),
    ));
    let mut burn = Vec::new();
    let mut seen = Vec::new();
    for (_, w) in slo.alerting.all() {
        for d in [w.long, w.short] {
            let d = prometheus_duration(d);
            if !seen.contains(&d) {
                seen.push(d);
            }
        }
    }
    for (i, d) in seen.iter().enumerate() {
        let ref_id = char::from(b'A' + (i % 26) as u8);
        burn.push(target(series(&burn_rate_name(d), slo), d, ref_id));
    }
    panels.push(timeseries(
        ids.next(),
        "Burn rate by window (1 = budget spent exactly in the SLO window)",
        grid(12, y, 12, 8),
        burn,
        "x",
    ));
    let shortest = slo
        .windows()
        .first()
        .map_or_else(|| window.clone(), |d| prometheus_duration(*d));
    panels.push(timeseries(
        ids.next(),
        "SLI over time and objective",
        grid(0, y + 8, 12, 8),
        vec![
            target(
                series(&sli_name(&shortest), slo),
                &format!("SLI ({shortest})"),
                'A',
            ),
            target(
                series(&sli_name(&window), slo),
                &format!("SLI ({window})"),
                'B',
            ),
            target(series(OBJECTIVE, slo), "objective", 'C'),
        ],
        "percentunit",
    ));
    panels.push(timeseries(
        ids.next(),
        &format!("Error ratio ({shortest}) and error budget remaining"),
        grid(12, y + 8, 12, 8),
        vec![
            target(
                series(&error_ratio_name(&shortest), slo),
                &format!("error ratio ({shortest})"),
                'A',
            ),
            target(series(BUDGET_REMAINING, slo), "budget remaining", 'B'),
        ],
        "percentunit",
    ));
    panels
}

/// The dashboard of `slos`, titled `title`.
pub fn dashboard(slos: &[Slo], title: &str) -> Value {
    let mut ids = Ids(0);
    let mut panels = Vec::new();
    for (i, slo) in slos.iter().enumerate() {
        panels.extend(slo_panels(slo, &mut ids, (i as u32) * 17));
    }
    json!({
        "title": title,
        "uid": uid(title),
        "tags": ["slo", "weir"],
        "timezone": "browser",
        "schemaVersion": 39,
        "editable": true,
        "time": { "from": "now-7d", "to": "now" },
        "refresh": "1m",
        "templating": { "list": [{
            "name": "datasource",
            "label": "Prometheus",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
        }]},
        "annotations": { "list": [] },
        "panels": panels,
    })
}

/// A stable dashboard uid from the title (Grafana allows 40 characters of
/// `[a-zA-Z0-9-_]`).
fn uid(title: &str) -> String {
    let mut s: String = title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    s.truncate(36);
    format!("slo-{}", s.trim_matches('-'))
}

/// Every query of `dashboard`'s panels.
pub fn queries(dashboard: &Value) -> Vec<String> {
    dashboard["panels"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter_map(|t| t["expr"].as_str().map(str::to_string))
        .collect()
}
