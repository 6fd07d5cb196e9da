//! Which plugins this host can run: the `weir:pipeline` WIT package and its
//! version, checked on a component's imports and exports before linking so
//! that a plugin built for another ABI is refused with a message that says
//! so (rather than wasmtime's "import not found").

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::WasmError;

/// The WIT package of the plugin ABI.
pub const PACKAGE: &str = "weir:pipeline";

/// The version of [`PACKAGE`] this host implements.
pub const VERSION: &str = "0.1.0";

/// Versions accepted: semver-compatible with [`VERSION`] (same `0.1.x`).
fn compatible(version: &str) -> bool {
    version.split('.').take(2).eq(VERSION.split('.').take(2))
}

/// `("weir:pipeline/processor", "0.1.0")` from `weir:pipeline/processor@0.1.0`.
fn ours(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix(PACKAGE)?.strip_prefix('/')?;
    let (iface, version) = rest.split_once('@')?;
    Some((iface, version))
}

/// Checks that `component` exports `weir:pipeline/processor` and uses
/// `weir:pipeline` interfaces of a compatible version only.
///
/// # Errors
/// [`WasmError::IncompatibleAbi`] naming the version found;
/// [`WasmError::NotAProcessor`] listing what the component exports instead.
pub fn check(plugin: &str, component: &Component, engine: &Engine) -> Result<(), WasmError> {
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    for name in imports.iter().chain(&exports) {
        if let Some((_, version)) = ours(name)
            && !compatible(version)
        {
            return Err(WasmError::IncompatibleAbi {
                plugin: plugin.to_string(),
                found: name.clone(),
                expected: VERSION,
            });
        }
        if name.starts_with(PACKAGE) && ours(name).is_none() {
            // An unversioned `weir:pipeline/...`: built against a WIT
            // without a package version.
            return Err(WasmError::IncompatibleAbi {
                plugin: plugin.to_string(),
                found: format!("{name} (no version)"),
                expected: VERSION,
            });
        }
    }
    if !exports
        .iter()
        .any(|n| ours(n).is_some_and(|(iface, _)| iface == "processor"))
    {
        return Err(WasmError::NotAProcessor {
            plugin: plugin.to_string(),
            exports: if exports.is_empty() {
                "none".to_string()
            } else {
                exports.join(", ")
            },
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(compatible("0.1.0"));
        assert!(compatible("0.1.7"));
        assert!(!compatible("0.2.0"));
        assert!(!compatible("1.1.0"));
        assert_eq!(
            ours("weir:pipeline/processor@0.1.0"),
            Some(("processor", "0.1.0"))
        );
        assert_eq!(ours("wasi:cli/environment@0.2.6"), None);
    }
}
