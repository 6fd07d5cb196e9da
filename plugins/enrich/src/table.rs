//! Lookup tables: CSV (header row) or JSON (object of objects), keyed by
//! the lookup value.

use std::collections::BTreeMap;
use std::time::SystemTime;

/// Rows by lookup value: column -> value.
#[derive(Debug, Default)]
pub struct Table {
    columns: Vec<String>,
    rows: BTreeMap<String, BTreeMap<String, String>>,
}

impl Table {
    /// The columns that can be added (every column but the lookup one).
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Whether `name` is a column.
    pub fn has_column(&self, name: &str) -> bool {
        self.columns.iter().any(|c| c == name)
    }

    /// The row of lookup value `key`.
    pub fn get(&self, key: &str) -> Option<&BTreeMap<String, String>> {
        self.rows.get(key)
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }
}

/// Reads `path` (`.json`, else CSV), keyed by the column named `key` (CSV),
/// with the file's modification time.
pub fn load(path: &str, key: &str) -> Result<(Table, Option<SystemTime>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!("cannot read {path}: {e} (is its directory granted with `grants {{ read \"...\" }}`?)")
    })?;
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let table = if path.ends_with(".json") {
        json(&text).map_err(|e| format!("{path}: {e}"))?
    } else {
        csv(&text, key).map_err(|e| format!("{path}: {e}"))?
    };
    Ok((table, modified))
}

fn json(text: &str) -> Result<Table, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let serde_json::Value::Object(map) = value else {
        return Err("expected an object of objects, {\"key\": {\"column\": \"value\"}}".into());
    };
    let mut t = Table::default();
    for (k, row) in map {
        let serde_json::Value::Object(fields) = row else {
            return Err(format!("the entry {k:?} is not an object"));
        };
        let mut out = BTreeMap::new();
        for (c, v) in fields {
            if !t.columns.contains(&c) {
                t.columns.push(c.clone());
            }
            let v = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            let _ = out.insert(c, v);
        }
        let _ = t.rows.insert(k, out);
    }
    Ok(t)
}

/// Splits one CSV record; `None` when a quote is not closed.
fn fields(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                let _ = chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => out.push(std::mem::take(&mut field)),
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return None;
    }
    out.push(field);
    Some(out)
}

fn csv(text: &str, key: &str) -> Result<Table, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or("the file is empty (expected a header row)")?;
    let header = fields(header).ok_or("line 1: unclosed quote")?;
    let key_col = header.iter().position(|h| h == key).unwrap_or(0);
    let mut t = Table {
        columns: header
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != key_col)
            .map(|(_, h)| h.clone())
            .collect(),
        rows: BTreeMap::new(),
    };
    for (n, line) in lines {
        let f = fields(line).ok_or_else(|| format!("line {n}: unclosed quote"))?;
        if f.len() != header.len() {
            return Err(format!(
                "line {n}: {} fields, the header has {}",
                f.len(),
                header.len()
            ));
        }
        let mut row = BTreeMap::new();
        let mut lookup = String::new();
        for (i, v) in f.into_iter().enumerate() {
            if i == key_col {
                lookup = v;
            } else {
                let _ = row.insert(header[i].clone(), v);
            }
        }
        let _ = t.rows.insert(lookup, row);
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_quotes_and_a_named_key_column() {
        let t = csv("team,service.name,tier\n\"pay, ments\",checkout,1\nweb,\"front\"\"end\",2\n", "service.name")
            .unwrap();
        assert_eq!(t.columns(), ["team", "tier"]);
        assert_eq!(t.get("checkout").unwrap()["team"], "pay, ments");
        assert_eq!(t.get("front\"end").unwrap()["tier"], "2");
    }

    #[test]
    fn csv_errors_name_the_line() {
        assert!(csv("a,b\n1\n", "a").unwrap_err().contains("line 2"));
        assert!(csv("a,b\n\"1,2\n", "a").unwrap_err().contains("unclosed"));
    }

    #[test]
    fn json_object_of_objects() {
        let t = json(r#"{"checkout": {"team": "payments", "tier": 1}}"#).unwrap();
        assert_eq!(t.get("checkout").unwrap()["tier"], "1");
        assert!(json("[1]").is_err());
    }
}
