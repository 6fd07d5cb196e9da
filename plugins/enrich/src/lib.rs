//! The `enrich` plugin: upserts attributes from static values and from
//! lookup tables.
//!
//! ```kdl
//! processor "enrich" type="wasm" {
//!     from "otlp"
//!     plugin "builtin:enrich"
//!     grants { read "./lookups" }            // seen by the plugin as /lookups
//!     config {
//!         resource { deployment.environment "prod" }   // on every resource
//!         record { region "eu-west-1" }                // on every record
//!         lookup "teams" {
//!             file "/lookups/teams.csv"     // CSV with a header row, or .json
//!             key "service.name"            // the attribute looked up
//!             scope "resource"              // where it is read and written
//!             columns "team" "tier"         // what to add (default: all but the key)
//!             prefix "owner."               // prepended to added keys (default none)
//!             reload "10s"                  // how often the file is checked
//!         }
//!     }
//! }
//! ```
//!
//! Values are upserted: an attribute that exists is replaced, rows whose
//! lookup key has no entry keep what they had. A table is read at `init`
//! (a missing or malformed file refuses the configuration) and re-read
//! when its modification time changes, checked at most every `reload`; a
//! reload that fails keeps the previous table and logs why.
//!
//! CSV: the first row names the columns; the lookup column is the one named
//! like `key` (`service.name`), else the first one; fields may be quoted
//! with `"` (`""` inside quotes is a quote). JSON: an object of
//! objects, `{"checkout": {"team": "payments"}}`, keyed by the lookup
//! value; inner values that are not strings are added as their JSON text.

mod table;

use std::collections::BTreeMap;

use table::Table;
use weir_plugin::services::{self, counter_add};
use weir_plugin::{AttributeColumnBuilder, Batch, Config, Plugin, PluginError, Scope};

fn invalid(message: impl std::fmt::Display) -> PluginError {
    PluginError::InvalidConfig(message.to_string())
}

fn parse_scope(s: &str) -> Result<Scope, PluginError> {
    match s {
        "resource" => Ok(Scope::Resource),
        "record" => Ok(Scope::Record),
        "scope" => Ok(Scope::Scope),
        other => Err(invalid(format!(
            "unknown scope {other:?} (resource, record or scope)"
        ))),
    }
}

fn parse_duration_ns(s: &str) -> Result<i64, PluginError> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: i64 = num
        .parse()
        .map_err(|_| invalid(format!("invalid duration {s:?} (write \"10s\")")))?;
    let scale = match unit {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        _ => return Err(invalid(format!("invalid duration {s:?} (ms, s or m)"))),
    };
    Ok(n.saturating_mul(scale))
}

/// One `lookup` block.
struct Lookup {
    name: String,
    file: String,
    key: String,
    scope: Scope,
    columns: Option<Vec<String>>,
    prefix: String,
    reload_ns: i64,
    table: Table,
    modified: Option<std::time::SystemTime>,
    checked_at: i64,
}

impl Lookup {
    fn parse(name: &str, c: &Config) -> Result<Lookup, PluginError> {
        c.deny_unknown(&["file", "key", "scope", "columns", "prefix", "reload"])
            .map_err(|e| prefixed(name, e))?;
        let file = c.require("file").map_err(|e| prefixed(name, e))?.to_string();
        let key = c.require("key").map_err(|e| prefixed(name, e))?.to_string();
        let scope = parse_scope(c.get("scope").unwrap_or("resource")).map_err(|e| prefixed(name, e))?;
        let columns: Vec<String> = c.get_all("columns").map(str::to_string).collect();
        let reload_ns = parse_duration_ns(c.get("reload").unwrap_or("10s")).map_err(|e| prefixed(name, e))?;
        let (table, modified) = table::load(&file, &key)
            .map_err(|e| invalid(format!("lookup {name:?}: {e}")))?;
        if let Some(missing) = columns.iter().find(|col| !table.has_column(col)) {
            return Err(invalid(format!(
                "lookup {name:?}: {file} has no column {missing:?} (it has {})",
                table.columns().join(", ")
            )));
        }
        Ok(Lookup {
            name: name.to_string(),
            file,
            key,
            scope,
            columns: (!columns.is_empty()).then_some(columns),
            prefix: c.get("prefix").unwrap_or("").to_string(),
            reload_ns,
            table,
            modified,
            checked_at: services::now(),
        })
    }

    /// Re-reads the file when its modification time changed (checked at
    /// most every `reload`).
    fn refresh(&mut self, now: i64) {
        if now - self.checked_at < self.reload_ns {
            return;
        }
        self.checked_at = now;
        let modified = std::fs::metadata(&self.file).and_then(|m| m.modified()).ok();
        if modified.is_some() && modified == self.modified {
            return;
        }
        match table::load(&self.file, &self.key) {
            Ok((table, m)) => {
                self.table = table;
                self.modified = m;
                counter_add("lookup_reloads_total", 1, &[("lookup", &self.name)]);
                services::log(
                    weir_plugin::LogLevel::Info,
                    "Lookup table reloaded.",
                    &[("lookup", &self.name), ("rows", &self.table.len().to_string())],
                );
            }
            Err(e) => {
                counter_add("lookup_reload_failures_total", 1, &[("lookup", &self.name)]);
                services::log(
                    weir_plugin::LogLevel::Warn,
                    "Lookup table reload failed; keeping the previous one.",
                    &[("lookup", &self.name), ("error", &e)],
                );
                self.modified = modified;
            }
        }
    }

    fn apply(&self, batch: &Batch<'_>) -> Result<u64, PluginError> {
        let columns: Vec<&str> = match &self.columns {
            Some(c) => c.iter().map(String::as_str).collect(),
            None => self.table.columns().iter().map(String::as_str).collect(),
        };
        let targets: Vec<String> = columns.iter().map(|c| format!("{}{c}", self.prefix)).collect();
        let mut keys = vec![self.key.clone()];
        keys.extend(targets.iter().cloned());
        let attrs = batch.attributes(self.scope, &keys)?;
        let Some(lookup) = attrs.get(&self.key) else {
            return Ok(0);
        };
        let rows = lookup.len();
        let hits: Vec<Option<&BTreeMap<String, String>>> =
            (0..rows).map(|i| lookup.str(i).and_then(|k| self.table.get(k))).collect();
        if hits.iter().all(Option::is_none) {
            return Ok(0);
        }
        let mut set = 0u64;
        for (column, target) in columns.iter().zip(&targets) {
            let mut b = match attrs.get(target) {
                Some(existing) => AttributeColumnBuilder::from_view(&existing),
                None => AttributeColumnBuilder::new(target, rows),
            };
            let mut changed = false;
            for (i, hit) in hits.iter().enumerate() {
                if let Some(value) = hit.and_then(|row| row.get(*column)) {
                    let _ = b.set_str(i, value);
                    changed = true;
                    set += 1;
                }
            }
            if changed {
                batch.set_attribute(self.scope, &b)?;
            }
        }
        Ok(set)
    }
}

fn prefixed(lookup: &str, e: PluginError) -> PluginError {
    match e {
        PluginError::InvalidConfig(m) => invalid(format!("lookup {lookup:?}: {m}")),
        other => other,
    }
}

/// Static upserts of one scope.
struct Static {
    scope: Scope,
    values: Vec<(String, String)>,
}

impl Static {
    fn apply(&self, batch: &Batch<'_>) -> Result<u64, PluginError> {
        let keys: Vec<&str> = self.values.iter().map(|(k, _)| k.as_str()).collect();
        let attrs = batch.attributes(self.scope, &keys)?;
        let mut set = 0;
        for (key, value) in &self.values {
            let Some(view) = attrs.get(key) else { continue };
            let rows = view.len();
            if rows == 0 || (0..rows).all(|i| view.str(i) == Some(value.as_str())) {
                continue;
            }
            let mut b = AttributeColumnBuilder::new(key, rows);
            for i in 0..rows {
                let _ = b.set_str(i, value);
            }
            batch.set_attribute(self.scope, &b)?;
            set += rows as u64;
        }
        Ok(set)
    }
}

/// Adds attributes.
struct Enrich {
    statics: Vec<Static>,
    lookups: Vec<Lookup>,
}

impl Plugin for Enrich {
    fn init(config: &Config) -> Result<Self, PluginError> {
        config.deny_unknown(&["resource.", "record.", "scope.", "lookup."])?;
        let mut statics = Vec::new();
        for (prefix, scope) in [
            ("resource.", Scope::Resource),
            ("record.", Scope::Record),
            ("scope.", Scope::Scope),
        ] {
            let values: Vec<(String, String)> = config
                .pairs()
                .iter()
                .filter_map(|(k, v)| k.strip_prefix(prefix).map(|k| (k.to_string(), v.clone())))
                .collect();
            if !values.is_empty() {
                statics.push(Static { scope, values });
            }
        }
        let lookups = config
            .sections("lookup")
            .iter()
            .map(|(name, c)| Lookup::parse(name, c))
            .collect::<Result<Vec<_>, _>>()?;
        if statics.is_empty() && lookups.is_empty() {
            return Err(invalid(
                "nothing to add: give `resource { key \"value\" }`, `record { ... }` or a `lookup \"name\" { ... }`",
            ));
        }
        Ok(Enrich { statics, lookups })
    }

    fn process(&mut self, batch: &Batch<'_>) -> Result<(), PluginError> {
        if batch.is_empty() {
            return Ok(());
        }
        let now = services::now();
        let mut set = 0;
        for s in &self.statics {
            set += s.apply(batch)?;
        }
        for l in &mut self.lookups {
            l.refresh(now);
            set += l.apply(batch)?;
        }
        if set > 0 {
            counter_add("enriched_values_total", set, &[]);
        }
        Ok(())
    }
}

weir_plugin::export_plugin!(Enrich);
