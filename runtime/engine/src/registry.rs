//! Component types by name: validate, then build.
//!
//! Adding a component is one folder (its `config.rs` and node) and one line
//! in the binary's registry (`weir-cli`'s `components.rs`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use weir_config::{ConfigError, NodeKind, NodeReader};

use crate::metrics::MetricsRegistry;
use crate::node::{Exporter, Processor, Receiver};

/// A built node, ready to run.
pub enum Built {
    /// A receiver.
    Receiver(Box<dyn Receiver>),
    /// A processor.
    Processor(Box<dyn Processor>),
    /// An exporter.
    Exporter(Box<dyn Exporter>),
}

/// What building may use.
pub struct BuildContext<'a> {
    /// The node's name.
    pub id: &'a str,
    /// The process's metrics (for components with their own series).
    pub metrics: &'a MetricsRegistry,
    /// The directory relative paths in the configuration resolve against.
    pub base_dir: PathBuf,
}

/// A validated node configuration that can acquire its resources.
pub trait Builder: Send {
    /// Acquires resources (binds sockets, creates directories) and returns
    /// the node.
    ///
    /// # Errors
    /// A [`ConfigError`] pointing at the setting that could not be honoured
    /// (the address of a port already in use).
    fn build(self: Box<Self>, ctx: &BuildContext<'_>) -> Result<Built, ConfigError>;
}

/// Reads a node's properties; `None` when it recorded errors.
pub type ValidateFn = fn(&mut NodeReader<'_>) -> Option<Box<dyn Builder>>;

/// One component type.
#[derive(Clone, Copy)]
pub struct Component {
    /// Receiver, processor or exporter.
    pub kind: NodeKind,
    /// The `type=` name.
    pub type_name: &'static str,
    /// One line for `weir components` and error hints.
    pub summary: &'static str,
    /// Reads and checks the configuration.
    pub validate: ValidateFn,
}

/// Every known component type.
#[derive(Default, Clone)]
pub struct Registry {
    components: BTreeMap<(NodeKind, &'static str), Component>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a component type (replacing one of the same kind and name).
    pub fn register(&mut self, c: Component) -> &mut Self {
        let _ = self.components.insert((c.kind, c.type_name), c);
        self
    }

    /// The component of `kind` called `type_name`.
    pub fn get(&self, kind: NodeKind, type_name: &str) -> Option<&Component> {
        self.components
            .iter()
            .find(|((k, n), _)| *k == kind && *n == type_name)
            .map(|(_, c)| c)
    }

    /// The names of the components of `kind`.
    pub fn names(&self, kind: NodeKind) -> Vec<&'static str> {
        self.components
            .keys()
            .filter(|(k, _)| *k == kind)
            .map(|(_, n)| *n)
            .collect()
    }

    /// Every component.
    pub fn all(&self) -> impl Iterator<Item = &Component> {
        self.components.values()
    }
}
