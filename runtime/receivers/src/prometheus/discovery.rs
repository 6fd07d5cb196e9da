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
