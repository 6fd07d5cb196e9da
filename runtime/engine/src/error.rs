//! Engine errors, classified by who must act and whether a retry can help.

/// An error of one node while it runs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// Data that cannot be processed (a bug upstream or a hostile client);
    /// retrying the same data will not help.
    #[error("invalid data: {0}")]
    Data(#[from] weir_pdata::PdataError),
    /// An external system failed (a backend, the disk); a retry may help.
    #[error("{what}: {source}")]
    External {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An external system refused the data for good (an HTTP 4xx other
    /// than 429, gRPC `INVALID_ARGUMENT`); retrying will not help. A
    /// persistent queue does not keep such data; a dead-letter exporter
    /// gets it.
    #[error("{what}: rejected: {source}")]
    Rejected {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A bug in weir.
    #[error("internal error: {0}")]
    Internal(String),
}

impl NodeError {
    /// A permanent refusal with context.
    pub fn rejected(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        NodeError::Rejected {
            what: what.into(),
            source: source.into(),
        }
    }

    /// Whether sending the same data again can never succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(self, NodeError::Data(_) | NodeError::Rejected { .. })
    }

    /// An external failure with context.
    pub fn external(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        NodeError::External {
            what: what.into(),
            source: source.into(),
        }
    }
}

/// An error starting or running a pipeline.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The configuration is invalid or a node could not be built (a port in
    /// use); the diagnostics say where.
    #[error(transparent)]
    Config(#[from] weir_config::Diagnostics),
    /// A node failed while running.
    #[error("node {node:?} failed: {source}")]
    Node {
        /// The node's name.
        node: String,
        /// What went wrong.
        #[source]
        source: NodeError,
    },
    /// An I/O error outside any node (the admin endpoint).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}
