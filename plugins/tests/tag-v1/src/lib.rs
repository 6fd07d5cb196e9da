//! Hot-reload test plugin, version `v1`: see `plugins/tests/tag.rs`.

const VERSION: &str = "v1";
const BROKEN: bool = false;

include!("../../tag.rs");
