//! Hot-reload test plugin, version `broken`: see `plugins/tests/tag.rs`.

const VERSION: &str = "broken";
const BROKEN: bool = true;

include!("../../tag.rs");
