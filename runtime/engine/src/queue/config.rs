//! The `queue { }` block of an exporter.
//!
//! ```kdl
//! exporter "loki" type="loki" {
//!     from "apps"
//!     queue {
//!         path "queue/loki"        // default: weir-queue/<exporter name>
//!         max-size "1GiB"          // bytes on disk
//!         when-full "block"        // or "drop-oldest"
//!         fsync "always"           // or "never", or an interval like "1s"
//!         segment-size "16MiB"
//!     }
//! }
//! ```

use std::path::PathBuf;
use std::time::Duration;

use weir_config::{NodeReader, Spanned};

/// What the queue does when `max-size` is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Stop taking batches until the exporter frees room: the pipeline
    /// fills and receivers push back on their clients. Nothing is lost.
    Block,
    /// Delete the oldest segment (its records are counted in
    /// `weir_queue_dropped_items_total`) and keep accepting.
    DropOldest,
}

/// When the queue calls `fsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// After every batch, before its acks settle: what was acknowledged
    /// survives a power loss.
    Always,
    /// Every interval: acks settle once the batch is written to the OS,
    /// which survives the process dying (`kill -9`) but a power loss can
    /// lose up to one interval.
    Every(Duration),
    /// Never (the OS writes back when it likes): survives `kill -9`, not a
    /// power loss.
    Never,
}

/// Settings of an exporter's persistent queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueConfig {
    /// The queue's directory, relative to the pipeline file's directory;
    /// `None` means `weir-queue/<exporter name>`.
    pub path: Option<Spanned<String>>,
    /// Bytes the queue may hold on disk. Default 1 GiB.
    pub max_size: u64,
    /// What happens at `max_size`. Default [`WhenFull::Block`].
    pub when_full: WhenFull,
    /// Default [`Fsync::Always`].
    pub fsync: Fsync,
    /// A segment file is closed and a new one started past this size.
    /// Default 16 MiB (at most an eighth of `max-size`).
    pub segment_size: u64,
}

impl QueueConfig {
    /// Default `max-size`.
    pub const DEFAULT_MAX_SIZE: u64 = 1 << 30;
    /// Default `segment-size`.
    pub const DEFAULT_SEGMENT_SIZE: u64 = 16 << 20;

    /// Every default.
    pub fn new() -> Self {
        QueueConfig {
            path: None,
            max_size: Self::DEFAULT_MAX_SIZE,
            when_full: WhenFull::Block,
            fsync: Fsync::Always,
            segment_size: Self::DEFAULT_SEGMENT_SIZE,
        }
    }

    /// The segment size in effect: at most an eighth of `max-size`, so
    /// that dropping or freeing a segment frees a useful part of the queue.
    pub fn effective_segment_size(&self) -> u64 {
        self.segment_size.min(self.max_size / 8).max(4096)
    }

    /// The directory for the exporter `id`, resolved against `base`.
    pub fn dir(&self, base: &std::path::Path, id: &str) -> PathBuf {
        match &self.path {
            Some(p) if std::path::Path::new(&p.value).is_absolute() => PathBuf::from(&p.value),
            Some(p) => base.join(&p.value),
            None => base.join("weir-queue").join(id),
        }
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads a `queue { }` block, recording every problem in `r`.
pub fn read(r: &mut NodeReader<'_>) -> QueueConfig {
    let mut c = QueueConfig::new();
    if let Some(p) = r.string("path") {
        if p.value.is_empty() {
            r.invalid(
                p.span,
                "an empty path",
                "write a directory like \"queue/loki\"",
            );
        } else {
            c.path = Some(p);
        }
    }
    if let Some(size) = r.byte_size("max-size") {
        if size.0 < 64 << 10 {
            if let Some((_, span)) = r.value("max-size") {
                r.invalid(span, "a queue under 64KiB", "write a size like \"1GiB\"");
            }
        } else {
            c.max_size = size.0;
        }
    }
    if let Some(size) = r.byte_size("segment-size") {
        if size.0 < 4096 {
            if let Some((_, span)) = r.value("segment-size") {
                r.invalid(span, "a segment under 4KiB", "write a size like \"16MiB\"");
            }
        } else {
            c.segment_size = size.0;
        }
    }
    if let Some(w) = r.one_of("when-full", &["block", "drop-oldest"]) {
        c.when_full = if w.value == "drop-oldest" {
            WhenFull::DropOldest
        } else {
            WhenFull::Block
        };
    }
    if let Some((v, span)) = r.value("fsync") {
        match v.as_string() {
            Some("always") => c.fsync = Fsync::Always,
            Some("never") => c.fsync = Fsync::Never,
            Some(text) => match humantime::parse_duration(text).ok() {
                Some(d) if !d.is_zero() => c.fsync = Fsync::Every(d),
                _ => r.invalid(
                    span,
                    "expected \"always\", \"never\" or an interval",
                    "write fsync \"always\", fsync \"never\" or fsync \"1s\"",
                ),
            },
            None => r.invalid(
                span,
                "expected a string",
                "write fsync \"always\", fsync \"never\" or fsync \"1s\"",
            ),
        }
    }
    c
}
