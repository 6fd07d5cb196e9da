//! Building a plugin crate into a component from inside a test.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::TestError;

const TARGET: &str = "wasm32-wasip2";

/// Runs `cargo build --release --target wasm32-wasip2` on the crate at
/// `manifest_dir` and returns the path of its component.
///
/// The build has a target directory of its own — `WEIR_PLUGIN_TARGET_DIR`,
/// else `weir-plugin-test/` under `CARGO_TARGET_DIR` or the crate's
/// `target/` — because the `cargo test` that runs this holds the lock of
/// its own. Settings meant for the host build (`RUSTFLAGS`, the clippy
/// wrapper) are not passed on.
pub fn build_component(manifest_dir: &Path) -> Result<PathBuf, TestError> {
    let manifest = manifest_dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(TestError(format!(
            "{} has no Cargo.toml: pass the plugin crate's directory (env!(\"CARGO_MANIFEST_DIR\"))",
            manifest_dir.display()
        )));
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let target_dir = target_dir(manifest_dir);
    let (package, lib) = cdylib_of(&cargo, &manifest)?;

    let mut cmd = Command::new(&cargo);
    let _ = cmd
        .args(["build", "--release", "--target", TARGET, "-p", &package])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir);
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        let _ = cmd.env_remove(var);
    }
    let out = cmd
        .output()
        .map_err(|e| TestError(format!("cannot run `{cargo}` to build the plugin: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let hint = if stderr.contains("may not be installed")
            || stderr.contains("can't find crate for `core`")
        {
            format!("\nhint: install the target with `rustup target add {TARGET}`")
        } else {
            String::new()
        };
        return Err(TestError(format!(
            "building the plugin {package} failed ({}):\n{stderr}{hint}",
            out.status
        )));
    }
    let wasm = target_dir
        .join(TARGET)
        .join("release")
        .join(format!("{lib}.wasm"));
    if !wasm.is_file() {
        return Err(TestError(format!(
            "the build succeeded but made no {}",
            wasm.display()
        )));
    }
    Ok(wasm)
}

fn target_dir(manifest_dir: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("WEIR_PLUGIN_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir.join("target"));
    base.join("weir-plugin-test")
}

/// The package name and the `cdylib` target's name of the crate.
fn cdylib_of(cargo: &str, manifest: &Path) -> Result<(String, String), TestError> {
    let out = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .arg("--manifest-path")
        .arg(manifest)
        .output()
        .map_err(|e| TestError(format!("cannot run `{cargo} metadata`: {e}")))?;
    if !out.status.success() {
        return Err(TestError(format!(
            "`cargo metadata` on {} failed: {}",
            manifest.display(),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| TestError(format!("`cargo metadata` printed no JSON: {e}")))?;
    let manifest = manifest
        .canonicalize()
        .unwrap_or_else(|_| manifest.to_path_buf());
    let packages = meta["packages"].as_array().cloned().unwrap_or_default();
    let package = packages
        .iter()
        .find(|p| {
            p["manifest_path"]
                .as_str()
                .map(|m| Path::new(m) == manifest)
                .unwrap_or(false)
        })
        .ok_or_else(|| TestError(format!("{} defines no package", manifest.display())))?;
    let name = package["name"].as_str().unwrap_or_default().to_string();
    let lib = package["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| {
            t["crate_types"]
                .as_array()
                .is_some_and(|c| c.iter().any(|k| k == "cdylib"))
        })
        .and_then(|t| t["name"].as_str())
        .ok_or_else(|| {
            TestError(format!(
                "{name} has no cdylib target: a plugin needs `[lib] crate-type = [\"cdylib\"]`"
            ))
        })?;
    Ok((name, lib.replace('-', "_")))
}
