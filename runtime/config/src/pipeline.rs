//! The pipeline document: settings and nodes, and the checks of its shape.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kdl::{KdlDocument, KdlNode};
use miette::{NamedSource, SourceSpan};

use crate::diagnostic::{ConfigError, Diagnostics, ErrorCode};
use crate::reader::{NodeReader, edit_distance};
use crate::slo::Slo;
use crate::values::Spanned;

/// What a node does in the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeKind {
    /// Brings data in; has no `from`.
    Receiver,
    /// Transforms data; has `from` and feeds other nodes.
    Processor,
    /// Sends data out; has `from` and feeds nothing.
    Exporter,
}

impl NodeKind {
    /// `receiver`, `processor` or `exporter`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Receiver => "receiver",
            NodeKind::Processor => "processor",
            NodeKind::Exporter => "exporter",
        }
    }
}

/// One node of the pipeline as written.
#[derive(Debug, Clone)]
pub struct NodeDecl {
    /// The node's unique name.
    pub id: Spanned<String>,
    /// Receiver, processor or exporter.
    pub kind: NodeKind,
    /// The component type (`otlp`, `batch`, `parquet`, ...).
    pub type_name: Spanned<String>,
    /// The nodes this one reads from, in the order written.
    pub from: Vec<Spanned<String>>,
    /// For an exporter or a processor: the exporter that gets the batches
    /// this one gives up on (`dead-letter "name"`).
    pub dead_letter: Option<Spanned<String>>,
    /// The KDL node itself, for the component to read its properties from.
    pub node: KdlNode,
}

impl NodeDecl {
    /// How the node is named in messages: `exporter "store"`.
    pub fn context(&self) -> String {
        format!("{} {:?}", self.kind.as_str(), self.id.value)
    }

    /// A reader over the node's properties. `type` and `from` are already
    /// marked as read.
    pub fn reader<'a>(&'a self, errors: &'a mut Vec<ConfigError>) -> NodeReader<'a> {
        let mut r = NodeReader::new(&self.node, errors, self.context());
        r.mark_used("type");
        r.mark_used("from");
        r.mark_used("dead-letter");
        r
    }
}

/// Process-wide settings from the optional `settings { ... }` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Address of the admin HTTP endpoint (`/metrics`, `/healthz`,
    /// `/readyz`); `None` turns it off. Default `127.0.0.1:8888`.
    pub admin: Option<Spanned<SocketAddr>>,
    /// How long a graceful shutdown may take to drain queues. Default 10 s.
    pub shutdown_timeout: Duration,
    /// Capacity of each channel between nodes, in batches. Default 64.
    pub channel_capacity: usize,
    /// Worker threads of the data plane; 0 means one per core. Default 0.
    pub threads: usize,
    /// How often the SLI processors of the `slo` blocks emit their
    /// counters. Default 10 s.
    pub sli_interval: Duration,
    /// Reload when the pipeline file or a plugin file changes. Default
    /// off (`SIGHUP` and `POST /reload` always work).
    pub watch: bool,
    /// How long files must be quiet before a watched change reloads (an
    /// editor or a copy writes in several steps). Default 250 ms.
    pub watch_debounce: Duration,
    /// Bytes of received data the pipeline may hold at once; receivers
    /// push back beyond it. `None` (the default): only the channel
    /// capacities bound memory.
    pub memory_limit: Option<u64>,
}

impl Settings {
    /// The default admin address.
    pub const DEFAULT_ADMIN: &'static str = "127.0.0.1:8888";
    /// The default `sli-interval`.
    pub const DEFAULT_SLI_INTERVAL: Duration = Duration::from_secs(10);
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            admin: Self::DEFAULT_ADMIN
                .parse()
                .ok()
                .map(|a| Spanned::new(a, SourceSpan::from(0..0))),
            shutdown_timeout: Duration::from_secs(10),
            channel_capacity: 64,
            threads: 0,
            sli_interval: Self::DEFAULT_SLI_INTERVAL,
            watch: false,
            watch_debounce: Duration::from_millis(250),
            memory_limit: None,
        }
    }
}

/// A parsed pipeline whose shape is valid: names are unique, every `from`
/// names a receiver or processor, there is no cycle.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The file name and text, for diagnostics found later.
    pub source: Arc<NamedSource<String>>,
    /// Process-wide settings.
    pub settings: Settings,
    /// The nodes, in the order written, then the SLI processors generated
    /// for the `slo` blocks.
    pub nodes: Vec<NodeDecl>,
    /// The `slo` blocks, in the order written.
    pub slos: Vec<Slo>,
    /// How many of `nodes`, at the end, are generated SLI processors.
    generated: usize,
}

impl Pipeline {
    /// The node called `id`.
    pub fn node(&self, id: &str) -> Option<&NodeDecl> {
        self.nodes.iter().find(|n| n.id.value == id)
    }

    /// The processors generated for the `slo` blocks (see
    /// [`crate::slo::wiring`]).
    pub fn sli_nodes(&self) -> impl Iterator<Item = &NodeDecl> {
        let n = self.nodes.len() - self.generated.min(self.nodes.len());
        self.nodes[n..].iter()
    }

    /// The nodes that read from `id`.
    pub fn consumers<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a NodeDecl> + 'a {
        self.nodes
            .iter()
            .filter(move |n| n.from.iter().any(|f| f.value == id))
    }

    /// Turns a list of errors found after parsing (by components, or when
    /// building) into diagnostics over this file.
    pub fn diagnostics(&self, errors: Vec<ConfigError>) -> Diagnostics {
        let mut d = Diagnostics::new(self.source.name());
        d.errors = errors;
        d.finish(&self.source)
    }
}

/// Parses a pipeline file: KDL syntax, node kinds, names, `from` references
/// and cycles. Component properties are read later by the components.
///
/// # Errors
/// Every problem found, as one [`Diagnostics`].
pub fn parse(name: &str, text: &str) -> Result<Pipeline, Diagnostics> {
    let (pipeline, errors) = parse_partial(name, text)?;
    if errors.is_empty() {
        Ok(pipeline)
    } else {
        Err(pipeline.diagnostics(errors))
    }
}

/// Like [`parse`], but returns the pipeline together with the shape errors
/// found, so that the components of the nodes that could be read are still
/// validated and every error of the file is reported at once.
///
/// # Errors
/// Only KDL syntax errors (nothing else can be checked then).
pub fn parse_partial(name: &str, text: &str) -> Result<(Pipeline, Vec<ConfigError>), Diagnostics> {
    let source = Arc::new(NamedSource::new(name, text.to_string()).with_language("kdl"));
    let mut errors = Vec::new();
    let doc = match KdlDocument::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            for d in e.diagnostics {
                let message = d
                    .message
                    .clone()
                    .unwrap_or_else(|| "invalid KDL".to_string());
                let mut err =
                    ConfigError::new(ErrorCode::Syntax, format!("syntax error: {message}")).at(
                        d.span,
                        d.label.clone().unwrap_or_else(|| "here".to_string()),
                    );
                if let Some(help) = d.help.clone() {
                    err = err.help(help);
                }
                errors.push(err);
            }
            let mut diags = Diagnostics::new(name);
            diags.errors = errors;
            return Err(diags.finish(&source));
        }
    };

    let mut settings = Settings::default();
    let mut nodes: Vec<NodeDecl> = Vec::new();
    let mut seen_settings = false;
    let mut slos: Vec<Slo> = Vec::new();
    let mut invalid_slo_sources = Vec::new();
    for node in doc.nodes() {
        let word = node.name().value();
        let kind = match word {
            "receiver" => NodeKind::Receiver,
            "processor" => NodeKind::Processor,
            "exporter" => NodeKind::Exporter,
            "slo" => {
                let Some(slo) = crate::slo::read(node, &mut errors) else {
                    invalid_slo_sources.extend(crate::slo::stream_source(node));
                    continue;
                };
                if slos.iter().any(|s| s.name.value == slo.name.value) {
                    errors.push(
                        ConfigError::new(
                            ErrorCode::Duplicate,
                            format!("two SLOs are called {:?}", slo.name.value),
                        )
                        .at(slo.name.span, "this name is taken")
                        .help("SLO names must be unique: they are the `slo` label of their series"),
                    );
                } else {
                    slos.push(slo);
                }
                continue;
            }
            "settings" => {
                if seen_settings {
                    errors.push(
                        ConfigError::new(ErrorCode::Duplicate, "`settings` appears twice")
                            .at(node.name().span(), "second `settings` block")
                            .help("merge the two blocks into one"),
                    );
                }
                seen_settings = true;
                settings = read_settings(node, &mut errors);
                continue;
            }
            other => {
                let suggestion = ["receiver", "processor", "exporter", "settings", "slo"]
                    .into_iter()
                    .min_by_key(|k| edit_distance(k, other))
                    .filter(|k| edit_distance(k, other) <= 3);
                let mut err =
                    ConfigError::new(ErrorCode::UnknownNode, format!("unknown node `{other}`"))
                        .at(node.name().span(), "not a pipeline node");
                err = match suggestion {
                    Some(s) => err.help(format!("did you mean `{s}`?")),
                    None => err.help(
                        "top-level nodes are receiver, processor, exporter, slo and settings",
                    ),
                };
                errors.push(err);
                continue;
            }
        };
        if let Some(decl) = read_node(node, kind, &mut errors) {
            if let Some(prev) = nodes.iter().find(|n| n.id.value == decl.id.value) {
                errors.push(
                    ConfigError::new(
                        ErrorCode::Duplicate,
                        format!("two nodes are called {:?}", decl.id.value),
                    )
                    .at(decl.id.span, "this name is taken")
                    .help(format!(
                        "the {} declared first has it; node names must be unique",
                        prev.kind.as_str()
                    )),
                );
                continue;
            }
            nodes.push(decl);
        }
    }

    let generated = add_sli_nodes(
        &mut nodes,
        &slos,
        &invalid_slo_sources,
        settings.sli_interval,
        &mut errors,
    );
    check_graph(&nodes, &mut errors);

    Ok((
        Pipeline {
            source,
            settings,
            nodes,
            slos,
            generated,
        },
        errors,
    ))
}

/// Appends the SLI processors of `slos` to `nodes` and makes `from "slo"`
/// read from all of them; returns how many were added. A node of the
/// user's that takes one of their names is an error.
fn add_sli_nodes(
    nodes: &mut Vec<NodeDecl>,
    slos: &[Slo],
    invalid: &[Spanned<String>],
    interval: Duration,
    errors: &mut Vec<ConfigError>,
) -> usize {
    let generated = crate::slo::wiring(slos, invalid, interval);
    for g in &generated {
        if let Some(taken) = nodes.iter().find(|n| n.id.value == g.id.value) {
            errors.push(
                ConfigError::new(
                    ErrorCode::Duplicate,
                    format!("the name {:?} is reserved for the SLI counters", g.id.value),
                )
                .at(taken.id.span, "this name is taken by the SLOs' processor")
                .help("rename this node: the `slo` blocks count their events in a processor of this name"),
            );
        }
    }
    let names: Vec<String> = generated.iter().map(|g| g.id.value.clone()).collect();
    if names.len() > 1 {
        for n in nodes.iter_mut() {
            let mut from = Vec::with_capacity(n.from.len());
            for f in n.from.drain(..) {
                if f.value == crate::slo::SLO_NODE {
                    from.extend(names.iter().map(|id| Spanned::new(id.clone(), f.span)));
                } else {
                    from.push(f);
                }
            }
            n.from = from;
        }
    }
    let count = generated.len();
    nodes.extend(generated);
    count
}

fn read_settings(node: &KdlNode, errors: &mut Vec<ConfigError>) -> Settings {
    let mut s = Settings::default();
    let mut r = NodeReader::new(node, errors, "settings");
    if let Some((v, span)) = r.value("admin") {
        if v.is_null() || v.as_bool() == Some(false) {
            s.admin = None;
        } else if let Some(text) = v.as_string() {
            match text.parse::<SocketAddr>() {
                Ok(a) => s.admin = Some(Spanned::new(a, span)),
                Err(_) => r.invalid(
                    span,
                    "expected host:port",
                    "write an address like \"127.0.0.1:8888\", or #false to turn the endpoint off",
                ),
            }
        } else {
            r.invalid(
                span,
                "expected host:port or #false",
                "write an address like \"127.0.0.1:8888\"",
            );
        }
    }
    if let Some(d) = r.duration("shutdown-timeout") {
        s.shutdown_timeout = d;
    }
    if let Some(n) = r.u64_in("channel-capacity", 1..=1_000_000) {
        s.channel_capacity = n as usize;
    }
    if let Some(n) = r.u64_in("threads", 0..=1024) {
        s.threads = n as usize;
    }
    if let Some((_, span)) = r.value("sli-interval") {
        match r.duration("sli-interval") {
            Some(d) if d >= Duration::from_millis(100) => s.sli_interval = d,
            Some(_) => r.invalid(
                span,
                "expected at least 100ms",
                "the SLI counters are emitted this often; write \"10s\"",
            ),
            None => {}
        }
    }
    if let Some(w) = r.bool("watch") {
        s.watch = w;
    }
    if let Some(d) = r.duration("watch-debounce") {
        if d > Duration::from_secs(60) {
            let span = r.span();
            r.invalid(
                span,
                "`watch-debounce` above 1m",
                "files are quiet long before a minute: write \"250ms\"",
            );
        }
        s.watch_debounce = d;
    }
    if let Some(size) = r.byte_size("memory-limit") {
        if size.0 < 1 << 20 {
            if let Some((_, span)) = r.value("memory-limit") {
                r.invalid(
                    span,
                    "a memory limit under 1MiB",
                    "write a size like \"512MiB\"",
                );
            }
        } else {
            s.memory_limit = Some(size.0);
        }
    }
    r.finish();
    s
}

fn read_node(node: &KdlNode, kind: NodeKind, errors: &mut Vec<ConfigError>) -> Option<NodeDecl> {
    let args: Vec<_> = node
        .entries()
        .iter()
        .filter(|e| e.name().is_none())
        .collect();
    let word = kind.as_str();
    let id = match args.first() {
        Some(e) => match e.value().as_string() {
            Some(s) if !s.is_empty() => Spanned::new(s.to_string(), e.span()),
            _ => {
                errors.push(
                    ConfigError::new(
                        ErrorCode::InvalidValue,
                        format!("a {word} name must be a non-empty string"),
                    )
                    .at(e.span(), "expected a name")
                    .help(format!("write it as `{word} \"name\" type=\"...\"`")),
                );
                return None;
            }
        },
        None => {
            errors.push(
                ConfigError::new(ErrorCode::Missing, format!("this {word} has no name"))
                    .at(node.name().span(), "expected a name after this")
                    .help(format!("write it as `{word} \"name\" type=\"...\"`")),
            );
            return None;
        }
    };
    for extra in args.iter().skip(1) {
        errors.push(
            ConfigError::new(
                ErrorCode::InvalidValue,
                format!("{word} {:?} has more than one name", id.value),
            )
            .at(extra.span(), "unexpected argument")
            .help(format!("write it as `{word} \"name\" type=\"...\"`")),
        );
    }
    let type_name = match node.entry("type") {
        Some(e) => match e.value().as_string() {
            Some(s) => Spanned::new(s.to_string(), e.span()),
            None => {
                errors.push(
                    ConfigError::new(ErrorCode::InvalidValue, "`type` must be a string")
                        .at(e.span(), "expected a component type"),
                );
                return None;
            }
        },
        None => {
            errors.push(
                ConfigError::new(
                    ErrorCode::Missing,
                    format!("{word} {:?} has no type", id.value),
                )
                .at(id.span, "`type=` is missing")
                .help(format!("write it as `{word} {:?} type=\"...\"`", id.value)),
            );
            return None;
        }
    };
    let mut scratch = Vec::new();
    let mut from = Vec::new();
    {
        let mut r = NodeReader::new(node, &mut scratch, "");
        for (v, span) in r.values("from") {
            match v.as_string() {
                Some(s) => from.push(Spanned::new(s.to_string(), span)),
                None => errors.push(
                    ConfigError::new(ErrorCode::InvalidValue, "`from` takes node names")
                        .at(span, "expected a node name in quotes"),
                ),
            }
        }
    }
    let mut dead_letter = None;
    {
        let mut r = NodeReader::new(node, &mut scratch, "");
        if let Some((v, span)) = r.value("dead-letter") {
            match v.as_string() {
                // Exporters give up on batches; of the processors, only
                // `wasm` nodes fail batches (`on-error "dead-letter"`).
                Some(s)
                    if kind == NodeKind::Exporter
                        || (kind == NodeKind::Processor && type_name.value == "wasm") =>
                {
                    dead_letter = Some(Spanned::new(s.to_string(), span));
                }
                Some(_) => errors.push(
                    ConfigError::new(
                        ErrorCode::InvalidValue,
                        format!(
                            "only exporters and `wasm` processors have a `dead-letter`, not {word} {:?}",
                            id.value
                        ),
                    )
                    .at(span, "nothing here fails batches")
                    .help("put `dead-letter` in the block of the exporter or `wasm` processor whose failures it takes"),
                ),
                None => errors.push(
                    ConfigError::new(
                        ErrorCode::InvalidValue,
                        "`dead-letter` takes an exporter name",
                    )
                    .at(span, "expected an exporter name in quotes"),
                ),
            }
        }
    }
    Some(NodeDecl {
        id,
        kind,
        type_name,
        from,
        dead_letter,
        node: node.clone(),
    })
}

fn check_graph(nodes: &[NodeDecl], errors: &mut Vec<ConfigError>) {
    let by_id: HashMap<&str, &NodeDecl> = nodes.iter().map(|n| (n.id.value.as_str(), n)).collect();
    let is_dead_letter = |id: &str| {
        nodes
            .iter()
            .any(|n| n.dead_letter.as_ref().is_some_and(|d| d.value == id))
    };
    for n in nodes {
        if let Some(d) = &n.dead_letter {
            match by_id.get(d.value.as_str()) {
                None => errors.push(
                    ConfigError::new(
                        ErrorCode::UnknownSource,
                        format!(
                            "{} sends failures to {:?}, which is not a node",
                            n.context(),
                            d.value
                        ),
                    )
                    .at(d.span, "no node has this name")
                    .help("name an exporter declared in this file"),
                ),
                Some(t) if t.kind != NodeKind::Exporter => errors.push(
                    ConfigError::new(
                        ErrorCode::InvalidValue,
                        format!(
                            "the dead letter of {} must be an exporter, not {}",
                            n.context(),
                            t.context()
                        ),
                    )
                    .at(d.span, "not an exporter"),
                ),
                Some(t) if t.id.value == n.id.value => errors.push(
                    ConfigError::new(
                        ErrorCode::Cycle,
                        format!("{} is its own dead letter", n.context()),
                    )
                    .at(d.span, "an exporter cannot take its own failures"),
                ),
                Some(t) if t.dead_letter.is_some() => errors.push(
                    ConfigError::new(
                        ErrorCode::InvalidValue,
                        format!(
                            "the dead letter {} has a dead letter of its own",
                            t.context()
                        ),
                    )
                    .at(d.span, "dead letters do not chain")
                    .help("point every exporter at one final dead-letter exporter"),
                ),
                Some(_) => {}
            }
        }
        match n.kind {
            NodeKind::Receiver => {
                if let Some(f) = n.from.first() {
                    errors.push(
                        ConfigError::new(
                            ErrorCode::InvalidValue,
                            format!("receiver {:?} cannot have `from`", n.id.value),
                        )
                        .at(f.span, "receivers take no input")
                        .help("receivers bring data in; use a processor to combine streams"),
                    );
                }
            }
            NodeKind::Processor | NodeKind::Exporter => {
                if n.from.is_empty()
                    && !(n.kind == NodeKind::Exporter && is_dead_letter(&n.id.value))
                {
                    errors.push(
                        ConfigError::new(
                            ErrorCode::Unconnected,
                            format!("{} has no input", n.context()),
                        )
                        .at(n.id.span, "nothing feeds this node")
                        .help("add `from \"<receiver or processor>\"` to its block"),
                    );
                }
                for f in &n.from {
                    match by_id.get(f.value.as_str()) {
                        None => {
                            let suggestion = by_id
                                .keys()
                                .min_by_key(|k| edit_distance(k, &f.value))
                                .filter(|k| edit_distance(k, &f.value) <= 3);
                            let mut err = ConfigError::new(
                                ErrorCode::UnknownSource,
                                format!(
                                    "{} reads from {:?}, which is not a node",
                                    n.context(),
                                    f.value
                                ),
                            )
                            .at(f.span, "no node has this name");
                            if let Some(s) = suggestion {
                                err = err.help(format!("did you mean {s:?}?"));
                            }
                            errors.push(err);
                        }
                        Some(src) if src.kind == NodeKind::Exporter => errors.push(
                            ConfigError::new(
                                ErrorCode::UnknownSource,
                                format!("{} reads from exporter {:?}", n.context(), f.value),
                            )
                            .at(f.span, "an exporter has no output")
                            .help("read from the receiver or processor that feeds the exporter"),
                        ),
                        Some(_) if f.value == n.id.value => errors.push(
                            ConfigError::new(
                                ErrorCode::Cycle,
                                format!("{} reads from itself", n.context()),
                            )
                            .at(f.span, "a node cannot feed itself"),
                        ),
                        Some(_) => {}
                    }
                }
            }
        }
    }
    // Cycles among processors (self-loops reported above).
    let mut state: BTreeMap<&str, u8> = BTreeMap::new(); // 1 = visiting, 2 = done
    fn visit<'a>(
        id: &'a str,
        by_id: &HashMap<&'a str, &'a NodeDecl>,
        state: &mut BTreeMap<&'a str, u8>,
        errors: &mut Vec<ConfigError>,
    ) {
        match state.get(id) {
            Some(2) => return,
            Some(1) => {
                if let Some(n) = by_id.get(id) {
                    errors.push(
                        ConfigError::new(
                            ErrorCode::Cycle,
                            format!("the pipeline has a cycle through {}", n.context()),
                        )
                        .at(n.id.span, "this node is part of a cycle")
                        .help("data must flow from receivers to exporters without coming back"),
                    );
                }
                return;
            }
            _ => {}
        }
        let _ = state.insert(id, 1);
        if let Some(n) = by_id.get(id) {
            for f in &n.from {
                if f.value != n.id.value && by_id.contains_key(f.value.as_str()) {
                    visit(f.value.as_str(), by_id, state, errors);
                }
            }
        }
        let _ = state.insert(id, 2);
    }
    for n in nodes {
        visit(n.id.value.as_str(), &by_id, &mut state, errors);
    }
}
