//! Configuration of the `prometheus` receiver and its validation.
//!
//! ```kdl
//! receiver "scrape" type="prometheus" {
//!     interval "15s"                 // defaults of every job
//!     timeout "10s"
//!     job "node" {
//!         targets "127.0.0.1:9100" "127.0.0.1:9101"
//!         labels { env "prod"; }
//!         static { targets "10.0.0.1:9100"; labels { rack "a"; } }
//!         file-sd "targets/*.json" "targets/extra.yaml"
//!         file-sd-refresh "30s"
//!         interval "15s"; timeout "10s"
//!         metrics-path "/metrics"; scheme "http"
//!         params { module "http_2xx"; }
//!         honor-labels #false; honor-timestamps #true
//!         basic-auth { username "u"; password-file "secret"; }   // or bearer-token(-file)
//!         body-size-limit "16MiB"; sample-limit 0
//!         relabel { source-labels "__address__"; regex "(.*):9100"; target-label "host"; replacement "$1"; }
//!         metric-relabel { action "drop"; source-labels "__name__"; regex "go_.*"; }
//!     }
//! }
//! ```

use std::time::Duration;

use weir_config::{ConfigError, ErrorCode, NodeReader};
use weir_engine::registry::{BuildContext, Builder, Built};

use super::receiver::PrometheusReceiver;
use super::relabel::{self, Action, RelabelRule};

/// How a job authenticates to its targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// HTTP basic auth; the password is read from the file at every scrape
    /// when `password_file` is set.
    Basic {
        /// The user name.
        username: String,
        /// The password (or empty).
        password: String,
        /// A file holding the password.
        password_file: Option<std::path::PathBuf>,
    },
    /// `Authorization: Bearer <token>`, the token inline or read from a file
    /// at every scrape.
    Bearer {
        /// The token (or empty).
        token: String,
        /// A file holding the token.
        token_file: Option<std::path::PathBuf>,
    },
}

/// A group of static targets sharing labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetGroup {
    /// `host:port` of each target.
    pub targets: Vec<String>,
    /// Labels every target of the group gets.
    pub labels: Vec<(String, String)>,
}

/// One scrape job.
#[derive(Debug, Clone)]
pub struct JobConfig {
    /// The job's name: the `job` label, the resource's `service.name`.
    pub name: String,
    /// Time between scrapes of one target.
    pub interval: Duration,
    /// How long one scrape may take (at most `interval`).
    pub timeout: Duration,
    /// The HTTP path. Default `/metrics`.
    pub metrics_path: String,
    /// `http` (TLS is not supported yet).
    pub scheme: String,
    /// Query parameters of every scrape.
    pub params: Vec<(String, String)>,
    /// Scraped labels win over target labels.
    pub honor_labels: bool,
    /// Keep the timestamps targets expose. Default true.
    pub honor_timestamps: bool,
    /// Authentication, if any.
    pub auth: Option<Auth>,
    /// Largest body (after decompression); a larger one fails the scrape.
    pub body_size_limit: u64,
    /// Most samples per scrape after relabelling; 0 = no limit.
    pub sample_limit: usize,
    /// Static target groups.
    pub static_groups: Vec<TargetGroup>,
    /// Target files (JSON or YAML; `*` allowed in the file name).
    pub file_sd: Vec<String>,
    /// How often target files are checked for changes.
    pub file_sd_refresh: Duration,
    /// Target relabelling (`relabel_configs`).
    pub relabel: Vec<RelabelRule>,
    /// Sample relabelling (`metric_relabel_configs`).
    pub metric_relabel: Vec<RelabelRule>,
}

/// Configuration of a `prometheus` receiver.
#[derive(Debug, Clone)]
pub struct PrometheusConfig {
    /// The jobs, with defaults applied.
    pub jobs: Vec<JobConfig>,
    /// The directory relative `file-sd` paths resolve against (set at build).
    pub base_dir: std::path::PathBuf,
}

impl PrometheusConfig {
    /// Default `interval`.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);
    /// Default `timeout` (capped at the interval).
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default `body-size-limit`.
    pub const DEFAULT_BODY_SIZE_LIMIT: u64 = 16 << 20;
    /// Default `file-sd-refresh`.
    pub const DEFAULT_FILE_SD_REFRESH: Duration = Duration::from_secs(30);
}

/// Reads a `receiver type="prometheus"` block; `None` when it has errors.
pub fn validate(r: &mut NodeReader<'_>) -> Option<Box<dyn Builder>> {
    read(r).map(|c| Box::new(c) as Box<dyn Builder>)
}

struct Defaults {
    interval: Duration,
    timeout: Option<Duration>,
}

/// Reads the receiver's block, recording every problem.
pub fn read(r: &mut NodeReader<'_>) -> Option<PrometheusConfig> {
    let mut ok = true;
    let mut interval = PrometheusConfig::DEFAULT_INTERVAL;
    if let Some(d) = r.duration("interval") {
        ok &= positive(r, "interval", d);
        interval = d;
    }
    let timeout = r.duration("timeout");
    let defaults = Defaults { interval, timeout };
    let jobs: Vec<Option<JobConfig>> = r.blocks("job", |jr| read_job(jr, &defaults));
    let mut out = Vec::new();
    for j in jobs {
        match j {
            Some(j) => out.push(j),
            None => ok = false,
        }
    }
    if out.is_empty() && ok {
        let span = r.span();
        r.error(
            ConfigError::new(ErrorCode::Missing, "a prometheus receiver needs a `job`")
                .at(span, "this receiver scrapes nothing")
                .help("add `job \"name\" { targets \"127.0.0.1:9100\" }`"),
        );
        ok = false;
    }
    let mut names: Vec<&str> = out.iter().map(|j| j.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        let span = r.span();
        r.error(
            ConfigError::new(
                ErrorCode::Duplicate,
                format!("job {:?} is defined twice", w[0]),
            )
            .at(span, "in this receiver")
            .help("give every job its own name"),
        );
        ok = false;
    }
    ok.then_some(PrometheusConfig {
        jobs: out,
        base_dir: std::path::PathBuf::new(),
    })
}

fn positive(r: &mut NodeReader<'_>, key: &str, d: Duration) -> bool {
    if d.is_zero() {
        let span = r.span();
        r.invalid(
            span,
            format!("`{key}` must be more than 0"),
            "write a duration like \"15s\"",
        );
        return false;
    }
    true
}

fn read_job(r: &mut NodeReader<'_>, defaults: &Defaults) -> Option<JobConfig> {
    let mut ok = true;
    let name = r
        .node()
        .entries()
        .iter()
        .find(|e| e.name().is_none())
        .and_then(|e| e.value().as_string().map(str::to_string));
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        let span = r.span();
        r.error(
            ConfigError::new(ErrorCode::Missing, "a `job` needs a name")
                .at(span, "no name here")
                .help("write `job \"node\" { ... }`"),
        );
        // Keep reading for the other errors.
        let _ = read_job_body(r, defaults, String::new());
        return None;
    };
    let job = read_job_body(r, defaults, name);
    ok &= job.is_some();
    if ok { job } else { None }
}

fn read_job_body(r: &mut NodeReader<'_>, defaults: &Defaults, name: String) -> Option<JobConfig> {
    let mut ok = true;
    let interval = match r.duration("interval") {
        Some(d) => {
            ok &= positive(r, "interval", d);
            d
        }
        None => defaults.interval,
    };
    let timeout = match r.duration("timeout").or(defaults.timeout) {
        Some(t) => {
            ok &= positive(r, "timeout", t);
            if t > interval {
                let span = r.span();
                r.invalid(
                    span,
                    format!("`timeout` ({t:?}) is longer than `interval` ({interval:?})"),
                    "make the timeout at most the interval",
                );
                ok = false;
            }
            t
        }
        None => PrometheusConfig::DEFAULT_TIMEOUT.min(interval),
    };
    let metrics_path = match r.string("metrics-path") {
        Some(p) if p.value.starts_with('/') => p.value,
        Some(p) => {
            r.invalid(
                p.span,
                "the path must start with `/`",
                "write it like \"/metrics\"",
            );
            ok = false;
            String::new()
        }
        None => "/metrics".to_string(),
    };
    let scheme = match r.one_of("scheme", &["http", "https"]) {
        Some(s) if s.value == "https" => {
            r.invalid(
                s.span,
                "TLS is not supported yet",
                "scrape over http, or put a TLS-terminating proxy in front",
            );
            ok = false;
            "https".to_string()
        }
        Some(s) => s.value,
        None => "http".to_string(),
    };
    let params = r.block("params", string_pairs).unwrap_or_default();
    let honor_labels = r.bool("honor-labels").unwrap_or(false);
    let honor_timestamps = r.bool("honor-timestamps").unwrap_or(true);
    let body_size_limit = r
        .byte_size("body-size-limit")
        .map_or(PrometheusConfig::DEFAULT_BODY_SIZE_LIMIT, |b| b.0);
    let sample_limit = r
        .u64_in("sample-limit", 0..=u64::from(u32::MAX))
        .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let auth = read_auth(r, &mut ok);
    let mut static_groups = Vec::new();
    let targets = r.strings("targets");
    let labels = r.block("labels", string_pairs).unwrap_or_default();
    if !targets.is_empty() {
        static_groups.push(TargetGroup {
            targets: targets.into_iter().map(|t| t.value).collect(),
            labels,
        });
    } else if !labels.is_empty() {
        let span = r.span();
        r.invalid(
            span,
            "`labels` without `targets`",
            "labels of file-sd targets go in the target files; for static targets add `targets`",
        );
        ok = false;
    }
    for g in r.blocks("static", |sr| {
        let targets = sr.strings("targets");
        let labels = sr.block("labels", string_pairs).unwrap_or_default();
        TargetGroup {
            targets: targets.into_iter().map(|t| t.value).collect(),
            labels,
        }
    }) {
        static_groups.push(g);
    }
    for g in &static_groups {
        for t in &g.targets {
            if t.is_empty() || t.contains('/') {
                let span = r.span();
                r.invalid(
                    span,
                    format!("target {t:?} is not host:port"),
                    "write targets as \"host:port\"; the path is `metrics-path`",
                );
                ok = false;
            }
        }
    }
    let file_sd: Vec<String> = r.strings("file-sd").into_iter().map(|s| s.value).collect();
    let file_sd_refresh = match r.duration("file-sd-refresh") {
        Some(d) => {
            ok &= positive(r, "file-sd-refresh", d);
            d
        }
        None => PrometheusConfig::DEFAULT_FILE_SD_REFRESH,
    };
    if static_groups.iter().all(|g| g.targets.is_empty()) && file_sd.is_empty() {
        let span = r.span();
        r.error(
            ConfigError::new(ErrorCode::Missing, format!("job {name:?} has no targets"))
                .at(span, "nothing to scrape")
                .help("add `targets \"host:port\"` or `file-sd \"targets.json\"`"),
        );
        ok = false;
    }
    let relabel = rules(r, "relabel", &mut ok);
    let metric_relabel = rules(r, "metric-relabel", &mut ok);
    ok.then_some(JobConfig {
        name,
        interval,
        timeout,
        metrics_path,
        scheme,
        params,
        honor_labels,
        honor_timestamps,
        auth,
        body_size_limit,
        sample_limit,
        static_groups,
        file_sd,
        file_sd_refresh,
        relabel,
        metric_relabel,
    })
}

fn read_auth(r: &mut NodeReader<'_>, ok: &mut bool) -> Option<Auth> {
    let basic = r.block("basic-auth", |br| {
        let username = br.string("username").map(|s| s.value);
        let password = br.string("password").map(|s| s.value);
        let password_file = br.string("password-file").map(|s| s.value.into());
        (username, password, password_file, br.span())
    });
    let token = r.string("bearer-token").map(|s| s.value);
    let token_file = r.string("bearer-token-file").map(|s| s.value);
    match basic {
        Some((username, password, password_file, span)) => {
            if token.is_some() || token_file.is_some() {
                r.invalid(
                    span,
                    "`basic-auth` and `bearer-token` together",
                    "a job authenticates one way: keep one",
                );
                *ok = false;
            }
            let Some(username) = username else {
                r.error(
                    ConfigError::new(ErrorCode::Missing, "`basic-auth` needs `username`")
                        .at(span, "no username"),
                );
                *ok = false;
                return None;
            };
            Some(Auth::Basic {
                username,
                password: password.unwrap_or_default(),
                password_file,
            })
        }
        None if token.is_some() || token_file.is_some() => Some(Auth::Bearer {
            token: token.unwrap_or_default(),
            token_file: token_file.map(Into::into),
        }),
        None => None,
    }
}

/// `{ name "value"; ... }`: every child a pair.
fn string_pairs(r: &mut NodeReader<'_>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(doc) = r.node().children() else {
        return out;
    };
    let keys: Vec<String> = doc
        .nodes()
        .iter()
        .map(|n| n.name().value().to_string())
        .collect();
    for key in keys {
        if let Some(v) = r.string(&key) {
            out.push((key, v.value));
        }
    }
    out
}

fn rules(r: &mut NodeReader<'_>, key: &str, ok: &mut bool) -> Vec<RelabelRule> {
    let rules = r.blocks(key, |rr| {
        let action = match rr.one_of("action", &Action::NAMES) {
            Some(a) => Action::parse(&a.value),
            None if rr.present("action") => None,
            None => Some(Action::Replace),
        };
        let regex_src = rr.string("regex");
        let regex = match &regex_src {
            Some(s) => match relabel::anchored(&s.value) {
                Ok(re) => Some(re),
                Err(e) => {
                    rr.invalid(
                        s.span,
                        format!("not a valid regex: {e}"),
                        "use RE2 syntax, as Prometheus does",
                    );
                    None
                }
            },
            None => relabel::anchored("(.*)").ok(),
        };
        let source_labels: Vec<String> = rr
            .strings("source-labels")
            .into_iter()
            .map(|s| s.value)
            .collect();
        let separator = rr.string("separator").map_or(";".to_string(), |s| s.value);
        let target_label = rr.string("target-label").map(|s| s.value);
        let replacement = rr
            .string("replacement")
            .map_or("$1".to_string(), |s| s.value);
        let (Some(action), Some(regex)) = (action, regex) else {
            return None;
        };
        let span = rr.span();
        match action {
            Action::Replace if target_label.is_none() => {
                rr.error(
                    ConfigError::new(ErrorCode::Missing, "a `replace` rule needs `target-label`")
                        .at(span, "no target-label")
                        .help("add `target-label \"name\"`"),
                );
                return None;
            }
            Action::Keep | Action::Drop if source_labels.is_empty() => {
                rr.error(
                    ConfigError::new(
                        ErrorCode::Missing,
                        "a `keep` or `drop` rule needs `source-labels`",
                    )
                    .at(span, "no source-labels")
                    .help("add `source-labels \"__name__\"`"),
                );
                return None;
            }
            _ => {}
        }
        Some(RelabelRule {
            action,
            source_labels,
            separator,
            regex,
            target_label: target_label.unwrap_or_default(),
            replacement,
        })
    });
    let mut out = Vec::new();
    for rule in rules {
        match rule {
            Some(r) => out.push(r),
            None => *ok = false,
        }
    }
    out
}

impl Builder for PrometheusConfig {
    fn build(mut self: Box<Self>, ctx: &BuildContext<'_>) -> Result<Built, ConfigError> {
        self.base_dir = ctx.base_dir.clone();
        let receiver = PrometheusReceiver::new(*self).map_err(|e| {
            ConfigError::new(
                ErrorCode::Build,
                format!("cannot set up the prometheus receiver {:?}: {e}", ctx.id),
            )
        })?;
        Ok(Built::Receiver(Box::new(receiver)))
    }
}
