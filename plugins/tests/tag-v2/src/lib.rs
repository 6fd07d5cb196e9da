//! Hot-reload test plugin, version `v2`: see `plugins/tests/tag.rs`.

const VERSION: &str = "v2";
const BROKEN: bool = false;

include!("../../tag.rs");
