//! The builtin plugins, compiled from `plugins/` by this crate's build
//! script and embedded in the binary: `plugin "builtin:NAME"` needs no file.

/// Builtins by name: (name, component bytes, one-line summary).
const BUILTINS: [(&str, &[u8], &str); 5] = [
    (
        "redact",
        include_bytes!(env!("WEIR_WASM_BUILTIN_REDACT")),
        "Deletes, masks or hashes attribute values by key and value patterns.",
    ),
    (
        "sample",
        include_bytes!(env!("WEIR_WASM_BUILTIN_SAMPLE")),
        "Consistent probability sampling by trace id (OpenTelemetry th/rv rules).",
    ),
    (
        "enrich",
        include_bytes!(env!("WEIR_WASM_BUILTIN_ENRICH")),
        "Upserts attributes from static values and CSV/JSON lookup tables (reloaded on change).",
    ),
    (
        "sli",
        include_bytes!(env!("WEIR_WASM_BUILTIN_SLI")),
        "Counts good and bad events per SLO (availability, latency) as weir.sli.events.",
    ),
    (
        "noop",
        include_bytes!(env!("WEIR_WASM_BUILTIN_NOOP")),
        "Returns every batch unchanged (measures the cost of crossing into a plugin).",
    ),
];

/// The prefix of builtin plugin names in KDL.
pub const PREFIX: &str = "builtin:";

/// The component of builtin `name`.
pub fn get(name: &str) -> Option<&'static [u8]> {
    BUILTINS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, b, _)| *b)
}

/// The names of every builtin.
pub fn names() -> Vec<&'static str> {
    BUILTINS.iter().map(|(n, _, _)| *n).collect()
}

/// Every builtin's name and summary.
pub fn summaries() -> impl Iterator<Item = (&'static str, &'static str)> {
    BUILTINS.iter().map(|(n, _, s)| (*n, *s))
}
