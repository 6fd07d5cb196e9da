//! The `redact` plugin: removes, masks or hashes sensitive attribute values.
//!
//! ```kdl
//! processor "redact" type="wasm" {
//!     from "otlp"
//!     plugin "builtin:redact"
//!     config {
//!         rule "passwords" {
//!             keys "db.statement"
//!             pattern "password=[^&\\s]*"
//!             replacement "password=***"
//!         }
//!         rule "tokens" { keys "http.request.header.*"; action "delete"; }
//!         rule "users" { keys "user.email" "enduser.id"; action "hash"; salt "s3cret"; }
//!         rule "cards" { pattern "\\b(?:\\d[ -]?){13,16}\\b"; scopes "record" "resource"; }
//!         rule "emails" { pattern "[\\w.+-]+@[\\w.-]+"; replacement "<email>"; scopes "body"; }
//!     }
//! }
//! ```
//!
//! Each rule has:
//! - `keys`: attribute keys, exact or with `*` wildcards (`http.request.header.*`);
//! - `pattern`: a regular expression (Rust `regex` syntax) on string values;
//! - `action`: `mask` (default: replace matches of `pattern`, or the whole
//!   value when there is no pattern, by `replacement`, default `***`),
//!   `delete` (remove the keys) or `hash` (replace values by the hex SHA-256
//!   of `salt` + value);
//! - `scopes`: where the rule applies: the attributes of `record` (default),
//!   `resource` or `scope`, `all` three, and `body`: log records' string
//!   bodies (`mask` only; spans and metrics have no body).
//!
//! `mask` needs `keys`, `pattern` or the `body` scope (a pattern alone
//! applies to every key; no pattern masks the whole value); `delete` and
//! `hash` need `keys` and take no pattern. Every rule runs as a host
//! kernel: values are never copied into the plugin.

use weir_plugin::services::counter_add;
use weir_plugin::{Batch, Config, Plugin, PluginError, Scope};

/// What a rule does to what it matches.
#[derive(Debug, Clone, PartialEq)]
enum Action {
    Mask {
        pattern: String,
        replacement: String,
    },
    Delete,
    Hash {
        salt: String,
    },
}

impl Action {
    fn name(&self) -> &'static str {
        match self {
            Action::Mask { .. } => "mask",
            Action::Delete => "delete",
            Action::Hash { .. } => "hash",
        }
    }
}

/// One configured rule.
#[derive(Debug, Clone)]
struct Rule {
    name: String,
    /// Exact keys.
    keys: Vec<String>,
    /// Keys with `*` wildcards, matched against the keys of each batch.
    globs: Vec<String>,
    action: Action,
    scopes: Vec<Scope>,
    /// Whether the rule masks log bodies too.
    body: bool,
}

/// Whole-value pattern used by `mask` without `pattern`.
const WHOLE_VALUE: &str = r"(?s)\A.+\z";

fn invalid(rule: &str, message: impl std::fmt::Display) -> PluginError {
    PluginError::InvalidConfig(format!("rule {rule:?}: {message}"))
}

impl Rule {
    fn parse(name: &str, c: &Config) -> Result<Rule, PluginError> {
        c.deny_unknown(&["keys", "pattern", "action", "replacement", "salt", "scopes"])
            .map_err(|e| match e {
                PluginError::InvalidConfig(m) | PluginError::Failed(m) => invalid(name, m),
            })?;
        let (globs, keys): (Vec<String>, Vec<String>) = c
            .get_all("keys")
            .map(str::to_string)
            .partition(|k| k.contains('*'));
        let pattern = c.get("pattern").map(str::to_string);
        let has_keys = !keys.is_empty() || !globs.is_empty();
        let body = c.get_all("scopes").any(|s| s == "body");
        let action = match c.get("action").unwrap_or("mask") {
            "mask" => {
                if !has_keys && pattern.is_none() && !body {
                    return Err(invalid(
                        name,
                        "`mask` needs `keys`, `pattern` or `scopes \"body\"`",
                    ));
                }
                Action::Mask {
                    pattern: pattern.unwrap_or_else(|| WHOLE_VALUE.to_string()),
                    replacement: c.get("replacement").unwrap_or("***").to_string(),
                }
            }
            a @ ("delete" | "hash") => {
                if !has_keys {
                    return Err(invalid(name, format!("`{a}` needs `keys`")));
                }
                if pattern.is_some() {
                    return Err(invalid(
                        name,
                        format!("`{a}` applies to whole values and takes no `pattern`"),
                    ));
                }
                if a == "delete" {
                    Action::Delete
                } else {
                    Action::Hash {
                        salt: c.get("salt").unwrap_or("").to_string(),
                    }
                }
            }
            other => {
                return Err(invalid(
                    name,
                    format!("unknown action {other:?} (expected mask, delete or hash)"),
                ));
            }
        };
        if c.get("replacement").is_some() && !matches!(action, Action::Mask { .. }) {
            return Err(invalid(name, "`replacement` is only for `mask`"));
        }
        if c.get("salt").is_some() && !matches!(action, Action::Hash { .. }) {
            return Err(invalid(name, "`salt` is only for `hash`"));
        }
        let mut scopes = Vec::new();
        for s in c.get_all("scopes") {
            let add: &[Scope] = match s {
                "record" => &[Scope::Record],
                "resource" => &[Scope::Resource],
                "scope" => &[Scope::Scope],
                "all" => &[Scope::Record, Scope::Resource, Scope::Scope],
                "body" => {
                    if !matches!(action, Action::Mask { .. }) {
                        return Err(invalid(
                            name,
                            "the `body` scope is only for `mask` (bodies have no keys to delete or hash)",
                        ));
                    }
                    &[]
                }
                other => {
                    return Err(invalid(
                        name,
                        format!(
                            "unknown scope {other:?} (expected record, resource, scope, all or body)"
                        ),
                    ));
                }
            };
            for s in add {
                if !scopes.contains(s) {
                    scopes.push(*s);
                }
            }
        }
        if scopes.is_empty() {
            if !body {
                scopes.push(Scope::Record);
            } else if has_keys {
                return Err(invalid(
                    name,
                    "`keys` select attributes, but the only scope is `body`: add `record`, `resource` or `scope`, or remove `keys`",
                ));
            }
        }
        Ok(Rule {
            name: name.to_string(),
            keys,
            globs,
            action,
            scopes,
            body,
        })
    }

    /// The keys this rule applies to in `scope` of `batch`; `None` when it
    /// applies to nothing there. An empty list means every key (a `mask`
    /// rule with a pattern and no keys).
    fn keys_in(&self, batch: &Batch<'_>, scope: Scope) -> Option<Vec<String>> {
        if self.keys.is_empty() && self.globs.is_empty() {
            return Some(Vec::new());
        }
        let mut keys = self.keys.clone();
        if !self.globs.is_empty() {
            for k in batch.attribute_keys(scope) {
                if self.globs.iter().any(|g| glob_match(g, &k)) && !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        (!keys.is_empty()).then_some(keys)
    }

    fn apply(&self, batch: &Batch<'_>) -> Result<usize, PluginError> {
        let mut changed = 0;
        for &scope in &self.scopes {
            let Some(keys) = self.keys_in(batch, scope) else {
                continue;
            };
            changed += match &self.action {
                Action::Mask {
                    pattern,
                    replacement,
                } => batch
                    .redact(scope, &keys, pattern, replacement)
                    .map_err(|e| self.mask_error(e))?,
                Action::Delete => batch.delete_attributes(scope, &keys)?,
                Action::Hash { salt } => batch.hash_attributes(scope, &keys, salt)?,
            };
        }
        if self.body
            && let Action::Mask {
                pattern,
                replacement,
            } = &self.action
        {
            changed += batch
                .redact_body(pattern, replacement)
                .map_err(|e| self.mask_error(e))?;
        }
        Ok(changed)
    }

    /// A host error of a `mask` kernel: an invalid pattern is this rule's
    /// configuration error.
    fn mask_error(&self, e: weir_plugin::HostError) -> PluginError {
        match e {
            weir_plugin::HostError::InvalidPattern(m) => {
                invalid(&self.name, format!("invalid `pattern`: {m}"))
            }
            other => other.into(),
        }
    }
}

/// Matches `text` against `glob`, where `*` stands for any run of
/// characters.
fn glob_match(glob: &str, text: &str) -> bool {
    let mut parts = glob.split('*');
    let Some(first) = parts.next() else {
        return text.is_empty();
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*` at all: exact match.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Applies redaction rules.
struct Redact {
    rules: Vec<Rule>,
}

impl Plugin for Redact {
    fn init(config: &Config) -> Result<Self, PluginError> {
        config.deny_unknown(&["rule."])?;
        let rules = config
            .sections("rule")
            .iter()
            .map(|(name, c)| Rule::parse(name, c))
            .collect::<Result<Vec<_>, _>>()?;
        if rules.is_empty() {
            return Err(PluginError::InvalidConfig(
                "no rules: add `rule \"name\" { keys \"...\" }` blocks".to_string(),
            ));
        }
        Ok(Redact { rules })
    }

    fn process(&mut self, batch: &Batch<'_>) -> Result<(), PluginError> {
        for rule in &self.rules {
            let n = rule.apply(batch)?;
            if n > 0 {
                counter_add(
                    "redacted_values_total",
                    n as u64,
                    &[("rule", &rule.name), ("action", rule.action.name())],
                );
            }
        }
        Ok(())
    }
}

weir_plugin::export_plugin!(Redact);

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match(
            "http.request.header.*",
            "http.request.header.authorization"
        ));
        assert!(glob_match("*.password", "db.password"));
        assert!(glob_match("*token*", "x.token.y"));
        assert!(glob_match("a*b*c", "abc"));
        assert!(!glob_match("a*b*c", "acb"));
        assert!(!glob_match("*.password", "password"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
    }
}
