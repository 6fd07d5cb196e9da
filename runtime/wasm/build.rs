//! Builds the plugins workspace (`plugins/`: the guest SDK, the builtin
//! plugins and the hostile test plugins) for `wasm32-wasip2` in release, so
//! that `builtin:NAME` components are embedded in the `weir` binary and the
//! tests run plugins built from the source next to them, never stale
//! fixtures.
//!
//! The inner `cargo build` uses a target directory of its own
//! (`<target>/wasm-plugins`), so it never waits on the lock the outer build
//! holds. It shares the outer build's jobserver (`CARGO_MAKEFLAGS`), so `-j`
//! still bounds the machine's load.
//!
//! Exposed to the crate (`cargo:rustc-env`):
//! - `WEIR_WASM_PLUGIN_DIR`: the directory holding every built `.wasm`;
//! - `WEIR_WASM_BUILTIN_<NAME>`: the path of each builtin plugin.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

/// Builtin plugins embedded in the binary: (name, crate).
const BUILTINS: [(&str, &str); 5] = [
    ("REDACT", "weir_plugin_redact"),
    ("SAMPLE", "weir_plugin_sample"),
    ("ENRICH", "weir_plugin_enrich"),
    ("SLI", "weir_plugin_sli"),
    ("NOOP", "weir_plugin_noop"),
];

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.join("..").join("..");
    let plugins = root.join("plugins");
    for path in [
        plugins.clone(),
        root.join("sdk").join("rust"),
        root.join("wit"),
    ] {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");

    let target_dir = plugin_target_dir();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    ensure_target(&cargo);

    let mut cmd = Command::new(&cargo);
    let _ = cmd
        .current_dir(&plugins)
        .args([
            "build",
            "--release",
            "--workspace",
            "--locked",
            "--target",
            TARGET,
        ])
        .arg("--manifest-path")
        .arg(plugins.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    // Settings meant for the host build must not leak into the guest build;
    // clippy's wrapper would lint (and maybe deny) the plugins' code as part
    // of linting this crate.
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
    let output = match cmd.output() {
        Ok(o) => o,
        Err(e) => fail(&format!(
            "could not run `{cargo}` to build the WASM plugins: {e}"
        )),
    };
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        fail(&format!(
            "building the WASM plugins failed ({}): see the cargo output above. \
             Reproduce with `cargo build --release --target {TARGET} --manifest-path plugins/Cargo.toml`.",
            output.status
        ));
    }

    let out = target_dir.join(TARGET).join("release");
    println!("cargo:rustc-env=WEIR_WASM_PLUGIN_DIR={}", out.display());
    for (name, krate) in BUILTINS {
        let path = out.join(format!("{krate}.wasm"));
        if !path.is_file() {
            fail(&format!(
                "the plugin build did not produce {}",
                path.display()
            ));
        }
        println!(
            "cargo:rustc-env=WEIR_WASM_BUILTIN_{name}={}",
            path.display()
        );
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| fail(&format!("cargo did not set {name}")))
}

/// `<target>/wasm-plugins`, next to `debug/` and `release/`.
fn plugin_target_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        let dir = if dir.is_absolute() {
            dir
        } else {
            PathBuf::from(env("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(dir)
        };
        return dir.join("wasm-plugins");
    }
    // OUT_DIR is <target>[/<triple>]/<profile>/build/<pkg>-<hash>/out.
    let out = PathBuf::from(env("OUT_DIR"));
    let target = out.ancestors().nth(4).map(Path::to_path_buf).unwrap_or(out);
    target.join("wasm-plugins")
}

/// Checks that the standard library for `wasm32-wasip2` is installed, and
/// asks rustup for it once if not.
fn ensure_target(cargo: &str) {
    if target_installed() {
        return;
    }
    println!("cargo:warning=The {TARGET} target is missing; running `rustup target add {TARGET}`.");
    let added = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .is_ok_and(|s| s.success());
    if !added || !target_installed() {
        fail(&format!(
            "the Rust target {TARGET} is not installed, and weir's builtin plugins are built for it. \
             Install it with `rustup target add {TARGET}` (rust-toolchain.toml lists it, so rustup \
             adds it when it installs the toolchain). Cargo used: {cargo}"
        ));
    }
}

fn target_installed() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let Ok(out) = Command::new(rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
    else {
        return false;
    };
    if !out.status.success() {
        return false;
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    std::fs::read_dir(dir).is_ok_and(|mut d| {
        d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("libstd-")))
    })
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
