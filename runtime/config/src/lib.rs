//! weir pipeline configuration: KDL text to a typed pipeline, with miette
//! diagnostics that point at the file, line and column of every problem.
//!
//! The flow is *validate, then build*: [`parse`] reads the KDL document and
//! checks the pipeline's shape (node kinds, names, `from` references, cycles);
//! each component then reads its own body through a [`NodeReader`], which
//! records every problem instead of stopping at the first. All errors of a
//! file are reported at once as one [`Diagnostics`].
//!
//! The syntax is documented in `docs/configuration.md`.

mod diagnostic;
mod pipeline;
mod reader;
pub mod slo;
mod values;

pub use diagnostic::{ConfigError, Diagnostics, ErrorCode};
pub use pipeline::{NodeDecl, NodeKind, Pipeline, Settings, parse, parse_partial};
pub use reader::NodeReader;
pub use values::{ByteSize, Spanned};

pub use miette::{NamedSource, SourceSpan};
