//! [`Config`]: the node's `config { ... }` block as key/value pairs.

use std::str::FromStr;

use crate::PluginError;

/// A plugin's configuration: the `config { ... }` block of its node,
/// flattened by the host into string pairs.
///
/// `key "value"` gives `("key", "value")`; `keys "a" "b"` gives two pairs
/// with the same key; a nested block `rule "pw" { action "mask" }` gives
/// `("rule.pw.action", "mask")`, read back with [`Config::sections`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pairs: Vec<(String, String)>,
}

impl Config {
    /// A configuration from pairs, in order.
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Config { pairs }
    }

    /// Every pair, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Whether there is no setting at all.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The value of `key` (the last one when set more than once).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key`, required.
    ///
    /// # Errors
    /// [`PluginError::InvalidConfig`] naming the missing key.
    pub fn require(&self, key: &str) -> Result<&str, PluginError> {
        self.get(key)
            .ok_or_else(|| PluginError::InvalidConfig(format!("`{key}` is required")))
    }

    /// The value of `key` parsed as `T`, if set.
    ///
    /// # Errors
    /// [`PluginError::InvalidConfig`] when the value does not parse.
    pub fn parse<T>(&self, key: &str) -> Result<Option<T>, PluginError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|e| {
                PluginError::InvalidConfig(format!("`{key}` has an invalid value {v:?}: {e}"))
            }),
        }
    }

    /// The labelled sub-blocks under `prefix`, in order of first
    /// appearance: pairs `prefix.LABEL.rest` become `(LABEL, Config of
    /// rest)`. Labels cannot contain dots.
    pub fn sections(&self, prefix: &str) -> Vec<(String, Config)> {
        let mut out: Vec<(String, Config)> = Vec::new();
        for (k, v) in &self.pairs {
            let Some(rest) = k.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) else {
                continue;
            };
            let Some((label, key)) = rest.split_once('.') else {
                continue;
            };
            let entry = match out.iter_mut().position(|(l, _)| l == label) {
                Some(i) => &mut out[i].1,
                None => {
                    out.push((label.to_string(), Config::default()));
                    let last = out.len() - 1;
                    &mut out[last].1
                }
            };
            entry.pairs.push((key.to_string(), v.clone()));
        }
        out
    }

    /// Refuses keys other than `known` (and, for sections, `prefix.*` for
    /// every `prefix.` entry of `known`), so that a typo is an error rather
    /// than a silently ignored setting.
    ///
    /// # Errors
    /// [`PluginError::InvalidConfig`] naming the first unknown key and the
    /// known ones.
    pub fn deny_unknown(&self, known: &[&str]) -> Result<(), PluginError> {
        for (k, _) in &self.pairs {
            let ok = known.iter().any(|n| match n.strip_suffix('.') {
                Some(prefix) => k.starts_with(prefix) && k[prefix.len()..].starts_with('.'),
                None => k == n,
            });
            if !ok {
                let list = if known.is_empty() {
                    "this plugin takes no configuration".to_string()
                } else {
                    format!("known settings: {}", known.join(", "))
                };
                return Err(PluginError::InvalidConfig(format!(
                    "unknown setting `{k}` ({list})"
                )));
            }
        }
        Ok(())
    }
}
