//! Test plugin for the host's column, index and metric paths: upper-cases
//! span names (`read-columns` + `set-column` on a dictionary column), tags
//! each record with its resource row and status code, emits a counter
//! point per batch and a gauge point per tick.

use weir_plugin::{
    AttributeColumnBuilder, Batch, Column, Config, MetricKind, MetricPoint, Plugin, PluginError,
    Scope,
};

/// Exercises columns.
struct Columns {
    ticks: u64,
}

fn point(
    name: &str,
    kind: MetricKind,
    value: f64,
    attributes: Vec<(String, String)>,
) -> MetricPoint {
    MetricPoint {
        name: name.to_string(),
        description: String::new(),
        unit: "1".to_string(),
        kind,
        attributes,
        start_time: 0,
        time: weir_plugin::services::now(),
        value,
        bounds: Vec::new(),
        counts: Vec::new(),
    }
}

impl Plugin for Columns {
    fn init(config: &Config) -> Result<Self, PluginError> {
        config.deny_unknown(&[])?;
        Ok(Columns { ticks: 0 })
    }

    fn process(&mut self, batch: &Batch<'_>) -> Result<(), PluginError> {
        let cols = batch.columns(&["name", "status.code", "trace_id"])?;
        let missing = |c: &str| PluginError::Failed(format!("no {c} column"));
        let names = cols
            .get("name")
            .and_then(Column::utf8)
            .ok_or_else(|| missing("name"))?;
        let upper: Vec<String> = names.iter().map(str::to_uppercase).collect();
        batch.set_column(&Column::from_strs("name", &upper))?;
        let status = cols
            .get("status.code")
            .ok_or_else(|| missing("status.code"))?;
        let ids = cols
            .get("trace_id")
            .and_then(Column::fixed_binary)
            .ok_or_else(|| missing("trace_id"))?;
        let resources = batch.resource_index();
        let mut tag = AttributeColumnBuilder::new("resource.row", batch.len());
        let mut code = AttributeColumnBuilder::new("status.code", batch.len());
        let mut width = AttributeColumnBuilder::new("trace_id.width", batch.len());
        for i in 0..batch.len() {
            tag.set_int(i, i64::from(resources[i]));
            if let (true, Some(c)) = (status.is_valid(i), status.i32()) {
                code.set_int(i, i64::from(c[i]));
            }
            if let Some(id) = ids.get(i) {
                width.set_int(i, id.len() as i64);
            }
        }
        for c in [&tag, &code, &width] {
            batch.set_attribute(Scope::Record, c)?;
        }
        let first = upper.first().cloned().unwrap_or_default();
        batch.emit_metrics(&[point(
            "spans_seen",
            MetricKind::Counter,
            batch.len() as f64,
            vec![("first".to_string(), first)],
        )])?;
        Ok(())
    }

    fn tick(&mut self, _now: i64) -> Result<Vec<MetricPoint>, PluginError> {
        self.ticks += 1;
        Ok(vec![point(
            "ticks",
            MetricKind::Gauge,
            self.ticks as f64,
            Vec::new(),
        )])
    }
}

weir_plugin::export_plugin!(Columns);
