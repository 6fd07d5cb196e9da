//! Targets of a job: static groups and target files, through target
//! relabelling, as Prometheus' `static_configs` and `file_sd_configs`.
//!
//! A target file is JSON or YAML (by extension: `.json`, else YAML) holding
//! a list of groups: `[{"targets": ["host:port"], "labels": {"k": "v"}}]`.
//! A `*` in a file name matches any run of characters; the files are read
//! again whenever their modification times change (checked every
//! `file-sd-refresh`). A file that cannot be read or parsed keeps the
//! targets it gave last time, and the problem is logged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;

use super::config::{JobConfig, TargetGroup};
use super::ingest::TargetLabels;
use super::relabel::{self, Labels};

/// One target to scrape, after relabelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Identifies the target within the receiver (job + final labels).
    pub key: String,
    /// The URL scraped.
    pub url: String,
    /// `host:port`.
    pub address: String,
    /// The labels points get.
    pub labels: TargetLabels,
}

#[derive(Deserialize)]
struct FileGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Parses a target file's content.
///
/// # Errors
/// A message naming what is wrong.
pub fn parse_target_file(path: &Path, content: &str) -> Result<Vec<TargetGroup>, String> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let groups: Vec<FileGroup> = if is_json {
        serde_json::from_str(content).map_err(|e| e.to_string())?
    } else {
        serde_norway::from_str(content).map_err(|e| e.to_string())?
    };
    Ok(groups
        .into_iter()
        .map(|g| TargetGroup {
            targets: g.targets,
            labels: g.labels.into_iter().collect(),
        })
        .collect())
}

/// Whether `name` matches `pattern`, where `*` matches any run.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// The files a `file-sd` entry names right now, sorted.
pub fn expand(base_dir: &Path, entry: &str) -> Vec<PathBuf> {
    let path = if Path::new(entry).is_absolute() {
        PathBuf::from(entry)
    } else {
        base_dir.join(entry)
    };
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return vec![path];
    };
    if !name.contains('*') {
        return vec![path];
    }
    let dir = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| wildcard_match(name, n))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// What the target files of one job gave, with their modification times.
#[derive(Debug, Default)]
pub struct FileTargets {
    files: BTreeMap<PathBuf, (Option<SystemTime>, Vec<TargetGroup>)>,
}

impl FileTargets {
    /// Re-reads files that changed; `true` when anything changed. Problems
    /// are logged, keeping a file's previous groups.
    pub fn refresh(&mut self, node: &str, base_dir: &Path, entries: &[String]) -> bool {
        let mut seen = Vec::new();
        let mut changed = false;
        for entry in entries {
            for path in expand(base_dir, entry) {
                let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
                seen.push(path.clone());
                if let Some((old, _)) = self.files.get(&path)
                    && *old == mtime
                    && mtime.is_some()
                {
                    continue;
                }
                match std::fs::read_to_string(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|c| parse_target_file(&path, &c))
                {
                    Ok(groups) => {
                        let _ = self.files.insert(path, (mtime, groups));
                        changed = true;
                    }
                    Err(e) => {
                        tracing::warn!(node = %node, file = %path.display(), error = %e, "Cannot read a target file; keeping its previous targets.");
                        // Remember the time so the error is logged once per change.
                        let groups = self.files.remove(&path).map(|(_, g)| g).unwrap_or_default();
                        let _ = self.files.insert(path, (mtime, groups));
                    }
                }
            }
        }
        let before = self.files.len();
        self.files.retain(|p, _| seen.contains(p));
        changed || before != self.files.len()
    }

    /// Every group of every file, with the file it came from.
    pub fn groups(&self) -> impl Iterator<Item = (&Path, &TargetGroup)> {
        self.files
            .iter()
            .flat_map(|(p, (_, gs))| gs.iter().map(move |g| (p.as_path(), g)))
    }
}

/// The targets of `job` from its static groups and `files`, relabelled.
pub fn targets(job: &JobConfig, files: &FileTargets) -> Vec<Target> {
    let mut out: Vec<Target> = Vec::new();
    let statics = job.static_groups.iter().map(|g| (None, g));
    let from_files = files.groups().map(|(p, g)| (Some(p), g));
    for (path, group) in statics.chain(from_files) {
        for address in &group.targets {
            let mut labels: Labels = group.labels.clone();
            relabel::set(&mut labels, "__address__", address.clone());
            relabel::set(&mut labels, "__scheme__", job.scheme.clone());
            relabel::set(&mut labels, "__metrics_path__", job.metrics_path.clone());
            relabel::set(
                &mut labels,
                "__scrape_interval__",
                humantime::format_duration(job.interval).to_string(),
            );
            relabel::set(
                &mut labels,
                "__scrape_timeout__",
                humantime::format_duration(job.timeout).to_string(),
            );
            relabel::set(&mut labels, "job", job.name.clone());
            for (k, v) in &job.params {
                relabel::set(&mut labels, &format!("__param_{k}"), v.clone());
            }
            if let Some(p) = path {
                relabel::set(&mut labels, "__meta_filepath", p.display().to_string());
            }
            if !relabel::apply(&job.relabel, &mut labels) {
                continue;
            }
            if let Some(t) = target_of(job, labels)
                && !out.iter().any(|o| o.key == t.key)
            {
                out.push(t);
            }
        }
    }
    out
}

fn target_of(job: &JobConfig, labels: Labels) -> Option<Target> {
    let get = |name: &str| {
        labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let address = get("__address__");
    if address.is_empty() {
        return None;
    }
    let scheme = Some(get("__scheme__"))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| job.scheme.clone());
    let path = Some(get("__metrics_path__"))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| job.metrics_path.clone());
    let mut query = String::new();
    for (k, v) in &labels {
        if let Some(p) = k.strip_prefix("__param_") {
            query.push(if query.is_empty() { '?' } else { '&' });
            query.push_str(&percent_encode(p));
            query.push('=');
            query.push_str(&percent_encode(v));
        }
    }
    let instance = Some(get("instance"))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| address.clone());
    let job_label = get("job");
    let mut extra: Vec<(String, String)> = labels
        .into_iter()
        .filter(|(k, v)| !k.starts_with("__") && k != "job" && k != "instance" && !v.is_empty())
        .collect();
    extra.sort();
    let mut key = format!("{}\u{0}{address}{path}{query}", job.name);
    for (k, v) in &extra {
        key.push('\u{0}');
        key.push_str(k);
        key.push('=');
        key.push_str(v);
    }
    key.push('\u{0}');
    key.push_str(&instance);
    Some(Target {
        key,
        url: format!("{scheme}://{address}{path}{query}"),
        address,
        labels: TargetLabels {
            job: job_label,
            instance,
            extra,
            honor_labels: job.honor_labels,
            honor_timestamps: job.honor_timestamps,
        },
    })
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::prometheus::relabel::{Action, RelabelRule};

    fn job() -> JobConfig {
        JobConfig {
            name: "node".into(),
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
            metrics_path: "/metrics".into(),
            scheme: "http".into(),
            params: vec![("module".into(), "http 2xx".into())],
            honor_labels: false,
            honor_timestamps: true,
            auth: None,
            body_size_limit: 1 << 20,
            sample_limit: 0,
            static_groups: vec![TargetGroup {
                targets: vec!["a:9100".into(), "b:9100".into()],
                labels: vec![("env".into(), "prod".into())],
            }],
            file_sd: Vec::new(),
            file_sd_refresh: Duration::from_secs(30),
            relabel: Vec::new(),
            metric_relabel: Vec::new(),
        }
    }

    #[test]
    fn static_targets_get_urls_labels_and_params() {
        let t = targets(&job(), &FileTargets::default());
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].url, "http://a:9100/metrics?module=http%202xx");
        assert_eq!(t[0].labels.job, "node");
        assert_eq!(t[0].labels.instance, "a:9100");
        assert_eq!(
            t[0].labels.extra,
            vec![("env".to_string(), "prod".to_string())]
        );
    }

    #[test]
    fn relabelling_sets_instance_and_drops_targets() {
        let mut j = job();
        let mut inst = RelabelRule::new(Action::Replace, "(.*):9100").unwrap();
        inst.source_labels = vec!["__address__".into()];
        inst.target_label = "instance".into();
        let mut drop = RelabelRule::new(Action::Drop, "b:.*").unwrap();
        drop.source_labels = vec!["__address__".into()];
        let mut path = RelabelRule::new(Action::Replace, ".*").unwrap();
        path.target_label = "__metrics_path__".into();
        path.replacement = "/probe".into();
        j.relabel = vec![inst, drop, path];
        let t = targets(&j, &FileTargets::default());
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].labels.instance, "a");
        assert_eq!(t[0].url, "http://a:9100/probe?module=http%202xx");
    }

    #[test]
    fn target_files_in_json_and_yaml_with_wildcards() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.json"),
            r#"[{"targets": ["x:1"], "labels": {"team": "a"}}]"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("b.yaml"),
            "- targets: ['y:2', 'z:3']\n  labels:\n    team: b\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("c.txt"), "not targets").unwrap();
        let mut files = FileTargets::default();
        let entries = vec!["*.json".to_string(), "b.yaml".to_string()];
        assert!(files.refresh("n", dir.path(), &entries));
        assert!(!files.refresh("n", dir.path(), &entries), "nothing changed");
        let mut j = job();
        j.static_groups.clear();
        let t = targets(&j, &files);
        let addrs: Vec<&str> = t.iter().map(|t| t.address.as_str()).collect();
        assert_eq!(addrs, vec!["x:1", "y:2", "z:3"]);
        assert_eq!(
            t[1].labels.extra,
            vec![("team".to_string(), "b".to_string())]
        );
        // A broken file keeps its previous targets.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.path().join("b.yaml"), "- targets: [unclosed\n").unwrap();
        let _ = files.refresh("n", dir.path(), &entries);
        assert_eq!(targets(&j, &files).len(), 3);
        assert!(parse_target_file(Path::new("x.json"), "{").is_err());
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.json", "a.json"));
        assert!(wildcard_match("t-*-x.yml", "t-1-x.yml"));
        assert!(!wildcard_match("*.json", "a.yaml"));
        assert!(wildcard_match("exact", "exact"));
    }
}
