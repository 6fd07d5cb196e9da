//! Hot reload: what a reload reports, what a node that can swap its own
//! code offers the engine ([`Reloadable`]), and the diff of two pipelines
//! ([`diff`]).
//!
//! A pipeline reload (see `docs/reload.md`) validates the new file, diffs it
//! against the running one by node name and touches only what differs:
//! nodes whose declaration is the same (ignoring `from`, comments and
//! formatting) keep running with their state and queues, and are only
//! rewired when their consumers change. A plugin reload asks every
//! [`Reloadable`] node to re-read its code and swap it between two batches.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;
use weir_config::{NodeDecl, NodeKind, Pipeline};

use crate::node::BoxFuture;

/// What became of one node's plugin on a reload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum PluginReload {
    /// The code did not change (same content hash).
    Unchanged {
        /// The running version's hash.
        hash: String,
    },
    /// The new version runs; the old one stays ready until the canary
    /// batches have passed.
    Swapped {
        /// The old version's hash.
        from: String,
        /// The new version's hash.
        to: String,
        /// Bytes of state moved from the old version to the new one.
        state_bytes: usize,
        /// How long the node's stream stood still for the swap, in
        /// microseconds.
        pause_us: u64,
        /// Batches the new version must pass before the old one is let go.
        canary_batches: u32,
    },
    /// The new version was refused; the old one keeps running.
    Refused {
        /// The running version's hash.
        hash: String,
        /// Where it failed: `read`, `compile`, `init`, `restore` or `swap`.
        stage: &'static str,
        /// Why.
        error: String,
    },
}

/// One node's plugin reload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeReload {
    /// The node's name.
    pub node: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: PluginReload,
}

/// A node that can replace its own code while it runs (a plugin).
///
/// # Errors
/// A failed reload is not an error of the node: it is reported as
/// [`PluginReload::Refused`] and the running version keeps going.
pub trait Reloadable: Send + Sync {
    /// Files whose change should trigger a reload (resolved paths).
    fn watched(&self) -> Vec<PathBuf>;

    /// Re-reads the code; when it changed, prepares the new version off the
    /// hot path and swaps it in between two batches.
    fn reload(&self) -> BoxFuture<PluginReload>;
}

/// How the running pipeline changed on a reload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PipelineChanges {
    /// Nodes that were not there before.
    pub added: Vec<String>,
    /// Nodes that are gone (drained, then stopped).
    pub removed: Vec<String>,
    /// Nodes whose declaration changed (replaced after draining the old one).
    pub changed: Vec<String>,
    /// Unchanged nodes whose consumers changed.
    pub rewired: Vec<String>,
    /// Nodes left exactly as they were.
    pub unchanged: Vec<String>,
    /// Settings that differ but only apply at the next start.
    pub restart_required: Vec<String>,
}

impl PipelineChanges {
    /// Whether nothing at all changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.rewired.is_empty()
    }
}

/// What `POST /reload`, `SIGHUP` or a file change did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReloadReport {
    /// Why the reload happened: `http`, `sighup` or `watch`.
    pub trigger: String,
    /// `true` unless the new pipeline was refused.
    pub ok: bool,
    /// The pipeline's changes (absent when refused or not from a file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<PipelineChanges>,
    /// Why the new pipeline was refused: its diagnostics, as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Every plugin node's reload.
    pub plugins: Vec<NodeReload>,
}

/// A request to reload, with where to send the report.
#[derive(Debug)]
pub struct ReloadRequest {
    /// `http`, `sighup` or `watch`.
    pub trigger: &'static str,
    /// The report goes here.
    pub reply: Option<tokio::sync::oneshot::Sender<ReloadReport>>,
}

/// The two declarations as the node itself would read them: type and
/// properties, without `from` (wiring), spans, comments or formatting.
fn body(decl: &NodeDecl) -> String {
    let mut node = decl.node.clone();
    node.entries_mut()
        .retain(|e| e.name().is_none_or(|n| n.value() != "from"));
    if let Some(children) = node.children_mut() {
        children.nodes_mut().retain(|n| n.name().value() != "from");
    }
    node.clear_format_recursive();
    node.to_string()
}

/// Whether a node's declaration differs in anything but its wiring.
pub fn declaration_changed(old: &NodeDecl, new: &NodeDecl) -> bool {
    old.kind != new.kind || old.type_name.value != new.type_name.value || body(old) != body(new)
}

/// The node-level difference of two pipelines.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Diff {
    /// In `new` only.
    pub added: BTreeSet<String>,
    /// In `old` only.
    pub removed: BTreeSet<String>,
    /// In both, declared differently.
    pub changed: BTreeSet<String>,
    /// In both, declared the same.
    pub unchanged: BTreeSet<String>,
}

/// Compares the nodes of two pipelines by name.
pub fn diff(old: &[NodeDecl], new: &Pipeline) -> Diff {
    let mut d = Diff::default();
    for n in &new.nodes {
        let id = n.id.value.clone();
        match old.iter().find(|o| o.id.value == n.id.value) {
            None => {
                let _ = d.added.insert(id);
            }
            Some(o) if declaration_changed(o, n) => {
                let _ = d.changed.insert(id);
            }
            Some(_) => {
                let _ = d.unchanged.insert(id);
            }
        }
    }
    for o in old {
        if new.node(&o.id.value).is_none() {
            let _ = d.removed.insert(o.id.value.clone());
        }
    }
    d
}

/// The consumers of `id` in a list of declarations, by name.
pub fn consumers_of(nodes: &[NodeDecl], id: &str) -> Vec<String> {
    nodes
        .iter()
        .filter(|n| n.kind != NodeKind::Receiver && n.from.iter().any(|f| f.value == id))
        .map(|n| n.id.value.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(text: &str) -> Pipeline {
        weir_config::parse("test.kdl", text).expect("a valid pipeline")
    }

    #[test]
    fn formatting_comments_and_from_are_not_changes() {
        let old = nodes(
            r#"receiver "a" type="generate" { rate 10 }
receiver "b" type="generate" { rate 10 }
exporter "out" type="debug" { from "a" }"#,
        );
        let new = nodes(
            r#"receiver "a" type="generate" {
    // a comment
    rate    10
}
receiver "b" type="generate" { rate 20 }
exporter "out" type="debug" { from "a" "b" }
exporter "more" type="debug" { from "b" }"#,
        );
        let d = diff(&old.nodes, &new);
        assert_eq!(d.unchanged, ["a", "out"].map(String::from).into());
        assert_eq!(d.changed, ["b"].map(String::from).into());
        assert_eq!(d.added, ["more"].map(String::from).into());
        assert!(d.removed.is_empty());
        let back = diff(&new.nodes, &old);
        assert_eq!(back.removed, ["more"].map(String::from).into());
        assert_eq!(consumers_of(&new.nodes, "b"), ["out", "more"]);
    }

    #[test]
    fn a_new_type_is_a_change() {
        let old = nodes(
            r#"receiver "a" type="generate"
exporter "out" type="debug" { from "a" }"#,
        );
        let new = nodes(
            r#"receiver "a" type="otlp"
exporter "out" type="debug" { from "a" }"#,
        );
        assert_eq!(diff(&old.nodes, &new).changed.len(), 1);
    }
}
