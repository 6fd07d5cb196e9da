//! The SLOs' in-stream part: one `builtin:sli` processor per source node.
//!
//! Every SLO whose SLI reads spans or logs of a node is counted by a
//! `wasm` processor running `builtin:sli`, fed by that node. The SLOs of
//! one source share one processor. With one source it is called `slo`;
//! with several, `slo.<source>`, and `from "slo"` in any node stands for
//! all of them. The processors forward only the counters they emit
//! (`weir.sli.events`, `weir_sli_events_total` in Prometheus), never the
//! spans they read, so `from "slo"` on a metrics exporter is all the
//! wiring an SLO needs. `weir slo wiring FILE` prints them as KDL.

use std::time::Duration;

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

use super::{SliKind, SliSource, Slo};
use crate::pipeline::{NodeDecl, NodeKind};
use crate::values::Spanned;

/// The name the SLI counters are read from (`from "slo"`).
pub const SLO_NODE: &str = "slo";

/// The name of the SLI processor for `source` when there are `sources`
/// distinct sources.
pub fn sli_node_name(sources: usize, source: &str) -> String {
    if sources <= 1 {
        SLO_NODE.to_string()
    } else {
        format!("{SLO_NODE}.{source}")
    }
}

fn prop(name: &str, value: impl Into<KdlValue>) -> KdlNode {
    let mut n = KdlNode::new(name);
    n.push(KdlEntry::new(value));
    n
}

fn set_spans(node: &mut KdlNode, span: SourceSpan) {
    node.set_span(span);
    for e in node.entries_mut() {
        e.set_span(span);
    }
    if let Some(doc) = node.children_mut() {
        doc.set_span(span);
        for n in doc.nodes_mut() {
            set_spans(n, span);
        }
    }
}

/// A duration as the `sli` plugin reads it (`300ms`, else nanoseconds).
fn plugin_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns.is_multiple_of(1_000_000) {
        format!("{}ms", ns / 1_000_000)
    } else {
        format!("{ns}ns")
    }
}

/// The plugin's `slo "name" { ... }` section for one SLO.
fn plugin_section(slo: &Slo) -> Option<KdlNode> {
    let SliSource::Stream {
        signal,
        route,
        span_kind,
        ..
    } = &slo.sli.source
    else {
        return None;
    };
    let mut n = KdlNode::new("slo");
    n.push(KdlEntry::new(slo.name.value.clone()));
    let body = n.ensure_children();
    body.nodes_mut().push(prop("service", slo.service.clone()));
    body.nodes_mut().push(prop("signal", signal.as_str()));
    body.nodes_mut().push(prop("sli", slo.sli.kind.as_str()));
    if let SliKind::Latency { threshold: Some(t) } = slo.sli.kind {
        body.nodes_mut().push(prop("threshold", plugin_duration(t)));
    }
    if let Some(r) = route {
        body.nodes_mut().push(prop("route", r.clone()));
    }
    if let Some(k) = span_kind {
        body.nodes_mut().push(prop("kind", k.clone()));
    }
    Some(n)
}

/// The SLI processors of `slos`: one per source node, in the order the
/// sources first appear. `interval` is how often they emit the counters.
/// `invalid` are the sources of SLOs that have errors: they get their
/// processor too (without those SLOs), so that the pipeline's shape is
/// checked as the user meant it.
pub fn wiring(slos: &[Slo], invalid: &[Spanned<String>], interval: Duration) -> Vec<NodeDecl> {
    let mut groups: Vec<(&Spanned<String>, Vec<&Slo>)> = Vec::new();
    let stream = slos.iter().filter_map(|slo| match &slo.sli.source {
        SliSource::Stream { from, .. } => Some((from, Some(slo))),
        SliSource::Metrics { .. } => None,
    });
    for (from, slo) in stream.chain(invalid.iter().map(|f| (f, None))) {
        match groups.iter_mut().find(|(f, _)| f.value == from.value) {
            Some((_, list)) => list.extend(slo),
            None => groups.push((from, slo.into_iter().collect())),
        }
    }
    let count = groups.len();
    groups
        .into_iter()
        .map(|(from, list)| {
            let span = list.first().map_or(from.span, |s| s.name.span);
            let id = sli_node_name(count, &from.value);
            let mut node = KdlNode::new("processor");
            node.push(KdlEntry::new(id.clone()));
            node.push(KdlEntry::new_prop("type", "wasm"));
            let body = node.ensure_children();
            body.nodes_mut().push(prop("from", from.value.clone()));
            body.nodes_mut().push(prop("plugin", "builtin:sli"));
            body.nodes_mut().push(prop(
                "tick",
                humantime::format_duration(interval).to_string(),
            ));
            body.nodes_mut().push(prop("forward", false));
            let mut config = KdlNode::new("config");
            let mut sections = KdlDocument::new();
            sections
                .nodes_mut()
                .extend(list.iter().filter_map(|s| plugin_section(s)));
            config.set_children(sections);
            body.nodes_mut().push(config);
            node.autoformat();
            set_spans(&mut node, span);
            NodeDecl {
                id: Spanned::new(id, span),
                kind: NodeKind::Processor,
                type_name: Spanned::new("wasm".to_string(), span),
                from: vec![from.clone()],
                dead_letter: None,
                node,
            }
        })
        .collect()
}
