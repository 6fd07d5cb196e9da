//! Relabelling as Prometheus does it: rules applied in order to a label
//! set, which they may change or drop.
//!
//! Actions: `replace` (the default), `keep`, `drop`, `labelmap`,
//! `labeldrop` and `labelkeep`. A rule's regex is anchored at both ends
//! (`^(?:regex)$`) and its `replacement` may use `$1`, `${1}` or `${name}`.
//! A label set to the empty string is removed, as in Prometheus.

use regex::Regex;

/// What a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Sets `target_label` to `replacement` (expanded) when the joined
    /// source labels match; removes it when that gives "".
    Replace,
    /// Drops the series (or target) unless the joined source labels match.
    Keep,
    /// Drops the series (or target) when the joined source labels match.
    Drop,
    /// Copies every label whose name matches to the name `replacement`
    /// (expanded against the name).
    LabelMap,
    /// Removes every label whose name matches.
    LabelDrop,
    /// Removes every label whose name does not match.
    LabelKeep,
}

impl Action {
    /// The names used in configuration.
    pub const NAMES: [&'static str; 6] = [
        "replace",
        "keep",
        "drop",
        "labelmap",
        "labeldrop",
        "labelkeep",
    ];

    /// The action called `name`.
    pub fn parse(name: &str) -> Option<Action> {
        Some(match name {
            "replace" => Action::Replace,
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            "labelmap" => Action::LabelMap,
            "labeldrop" => Action::LabelDrop,
            "labelkeep" => Action::LabelKeep,
            _ => return None,
        })
    }
}

/// One relabelling rule.
#[derive(Debug, Clone)]
pub struct RelabelRule {
    /// What it does.
    pub action: Action,
    /// The labels whose values are joined (with `separator`) and matched.
    pub source_labels: Vec<String>,
    /// Joins the source values. Default `;`.
    pub separator: String,
    /// The anchored regex. Default `(.*)`.
    pub regex: Regex,
    /// The label `replace` writes.
    pub target_label: String,
    /// What `replace` and `labelmap` write. Default `$1`.
    pub replacement: String,
}

impl RelabelRule {
    /// A rule with Prometheus' defaults.
    ///
    /// # Errors
    /// The regex does not compile.
    pub fn new(action: Action, regex: &str) -> Result<RelabelRule, regex::Error> {
        Ok(RelabelRule {
            action,
            source_labels: Vec::new(),
            separator: ";".to_string(),
            regex: anchored(regex)?,
            target_label: String::new(),
            replacement: "$1".to_string(),
        })
    }
}

/// `^(?:re)$`, compiled.
///
/// # Errors
/// The regex does not compile.
pub fn anchored(re: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{re})$"))
}

/// A label set: `(name, value)` pairs, names unique.
pub type Labels = Vec<(String, String)>;

fn get<'l>(labels: &'l Labels, name: &str) -> &'l str {
    labels
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Sets `name` to `value`, removing it when `value` is empty.
pub fn set(labels: &mut Labels, name: &str, value: String) {
    let at = labels.iter().position(|(n, _)| n == name);
    match (at, value.is_empty()) {
        (Some(i), true) => {
            let _ = labels.remove(i);
        }
        (Some(i), false) => labels[i].1 = value,
        (None, true) => {}
        (None, false) => labels.push((name.to_string(), value)),
    }
}

/// Applies `rules` in order; `false` when a rule dropped the set.
pub fn apply(rules: &[RelabelRule], labels: &mut Labels) -> bool {
    let mut joined = String::new();
    for rule in rules {
        joined.clear();
        for (i, name) in rule.source_labels.iter().enumerate() {
            if i > 0 {
                joined.push_str(&rule.separator);
            }
            joined.push_str(get(labels, name));
        }
        match rule.action {
            Action::Keep => {
                if !rule.regex.is_match(&joined) {
                    return false;
                }
            }
            Action::Drop => {
                if rule.regex.is_match(&joined) {
                    return false;
                }
            }
            Action::Replace => {
                if let Some(caps) = rule.regex.captures(&joined) {
                    let mut target = String::new();
                    caps.expand(&rule.target_label, &mut target);
                    let mut value = String::new();
                    caps.expand(&rule.replacement, &mut value);
                    if !target.is_empty() {
                        set(labels, &target, value);
                    }
                }
            }
            Action::LabelMap => {
                let mut add = Vec::new();
                for (name, value) in labels.iter() {
                    if let Some(caps) = rule.regex.captures(name) {
                        let mut new_name = String::new();
                        caps.expand(&rule.replacement, &mut new_name);
                        add.push((new_name, value.clone()));
                    }
                }
                for (name, value) in add {
                    set(labels, &name, value);
                }
            }
            Action::LabelDrop => labels.retain(|(n, _)| !rule.regex.is_match(n)),
            Action::LabelKeep => labels.retain(|(n, _)| rule.regex.is_match(n)),
        }
    }
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn rule(action: Action, sources: &[&str], regex: &str) -> RelabelRule {
        let mut r = RelabelRule::new(action, regex).unwrap();
        r.source_labels = sources.iter().map(|s| s.to_string()).collect();
        r
    }

    #[test]
    fn replace_with_groups_and_removal() {
        let mut r = rule(Action::Replace, &["__address__"], "(.*):(\\d+)");
        r.target_label = "host".into();
        r.replacement = "${1}-x".into();
        let mut l = labels(&[("__address__", "example:9100")]);
        assert!(apply(&[r.clone()], &mut l));
        assert_eq!(get(&l, "host"), "example-x");
        // No match: unchanged.
        let mut l2 = labels(&[("__address__", "nohost")]);
        assert!(apply(&[r], &mut l2));
        assert_eq!(get(&l2, "host"), "");
        // An empty replacement removes the target label.
        let mut del = rule(Action::Replace, &["x"], ".*");
        del.target_label = "env".into();
        del.replacement = String::new();
        let mut l3 = labels(&[("env", "prod")]);
        assert!(apply(&[del], &mut l3));
        assert!(l3.is_empty());
    }

    #[test]
    fn keep_and_drop_are_anchored() {
        let keep = rule(Action::Keep, &["__name__"], "http_.*");
        assert!(apply(
            std::slice::from_ref(&keep),
            &mut labels(&[("__name__", "http_requests")])
        ));
        assert!(!apply(&[keep], &mut labels(&[("__name__", "go_http_x")])));
        let drop = rule(Action::Drop, &["a", "b"], "1;2");
        assert!(!apply(
            std::slice::from_ref(&drop),
            &mut labels(&[("a", "1"), ("b", "2")])
        ));
        assert!(apply(&[drop], &mut labels(&[("a", "1"), ("b", "22")])));
    }

    #[test]
    fn labelmap_labeldrop_labelkeep() {
        let mut map = rule(Action::LabelMap, &[], "__meta_(.+)");
        map.replacement = "$1".into();
        let mut l = labels(&[("__meta_zone", "a"), ("x", "1")]);
        assert!(apply(&[map], &mut l));
        assert_eq!(get(&l, "zone"), "a");
        let mut l2 = l.clone();
        assert!(apply(&[rule(Action::LabelDrop, &[], "__meta_.*")], &mut l2));
        assert_eq!(l2.len(), 2);
        assert!(apply(&[rule(Action::LabelKeep, &[], "x")], &mut l2));
        assert_eq!(l2, labels(&[("x", "1")]));
    }
}
