//! weir's SLOs beyond the pipeline: from the `slo` blocks of a pipeline
//! file ([`weir_config::slo`]), the Prometheus recording rules and
//! multi-window, multi-burn-rate alerts ([`rules`]) and a Grafana
//! dashboard over them ([`dashboard`]). `weir slo rules FILE` and
//! `weir slo dashboard FILE` print them; `docs/slo.md` is the guide.

pub mod dashboard;
pub mod rules;

pub use dashboard::dashboard;
pub use rules::{RuleFile, rule_file, to_yaml};
