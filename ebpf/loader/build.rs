//! Builds the eBPF probes (`ebpf/probes`) for `bpfel-unknown-none` with
//! aya-build and leaves the object in `OUT_DIR/weir-probes`, which
//! `src/object.rs` embeds.
//!
//! Needs `bpf-linker`: on PATH, or where `scripts/setup-ebpf` installs it
//! (`$WEIR_BPF_LINKER_ROOT/bin`, default `~/.cache/weir/bpf-linker/bin`).
//! Without it the build still succeeds with an empty object and a warning;
//! the receiver then reports at run time that the probes were not built and
//! how to fix it. `AYA_BUILD_SKIP=1` skips the eBPF build on purpose.
//!
//! The pinned stable toolchain builds `core` for the BPF target with
//! `-Z build-std=core` because `RUSTC_BOOTSTRAP=1` is set for the nested
//! cargo (only there; the rest of the build stays on stable semantics).

#![allow(unsafe_code)] // std::env::set_var, before any thread exists

use std::env;
use std::path::{Path, PathBuf};

fn linker_dir() -> Option<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_default();
    if env::split_paths(&path).any(|d| d.join("bpf-linker").is_file()) {
        return None; // already on PATH
    }
    let root = env::var_os("WEIR_BPF_LINKER_ROOT")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| Path::new(&h).join(".cache/weir/bpf-linker")))?;
    Some(root.join("bin"))
}

fn main() {
    println!("cargo:rerun-if-env-changed=WEIR_BPF_LINKER_ROOT");
    println!("cargo:rerun-if-env-changed=PATH");
    println!("cargo:rerun-if-changed=../common");
    println!("cargo:rerun-if-changed=build.rs");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let object = out_dir.join("weir-probes");

    let found = match linker_dir() {
        None => true,
        Some(dir) if dir.join("bpf-linker").is_file() => {
            let path = env::var_os("PATH").unwrap_or_default();
            let paths = std::iter::once(dir).chain(env::split_paths(&path));
            let joined = env::join_paths(paths).expect("PATH entries are valid");
            // SAFETY: the build script is single-threaded here.
            unsafe { env::set_var("PATH", joined) };
            true
        }
        Some(_) => false,
    };
    let skip = env::var("AYA_BUILD_SKIP").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    if !found || skip {
        if !found {
            println!(
                "cargo:warning=bpf-linker not found (PATH, $WEIR_BPF_LINKER_ROOT/bin or ~/.cache/weir/bpf-linker/bin): the eBPF probes are not built; run scripts/setup-ebpf"
            );
        }
        std::fs::write(&object, b"").expect("write an empty probes object");
        return;
    }

    // SAFETY: the build script is single-threaded here.
    unsafe { env::set_var("RUSTC_BOOTSTRAP", "1") };
    // The toolchain cargo runs us with (rust-toolchain.toml), for `rustup run`.
    let toolchain = env::var("RUSTUP_TOOLCHAIN").unwrap_or_else(|_| "1.95.0".to_string());
    // aya-build builds under OUT_DIR, which is per profile: `cargo test`
    // and `cargo build --release` would each compile `core` for BPF. Point
    // it at one directory beside the profiles instead (cargo's own lock on
    // that directory serialises concurrent builds) and copy the object.
    let shared = shared_out_dir(&out_dir);
    std::fs::create_dir_all(&shared).expect("create the shared eBPF build directory");
    // SAFETY: the build script is single-threaded here.
    unsafe { env::set_var("OUT_DIR", &shared) };
    let package = aya_build::Package {
        name: "weir-ebpf-probes",
        root_dir: "../probes",
        ..Default::default()
    };
    if let Err(e) = aya_build::build_ebpf([package], aya_build::Toolchain::Custom(&toolchain)) {
        panic!("building the eBPF probes failed: {e:#}");
    }
    let built = shared.join("weir-probes");
    if let Err(e) = std::fs::copy(&built, &object) {
        panic!(
            "copying {} to {} failed: {e}",
            built.display(),
            object.display()
        );
    }
}

/// `<target dir>/weir-ebpf` for an OUT_DIR of `<target dir>/<profile>/build/<pkg>/out`
/// (or `<target dir>/<triple>/<profile>/...`), else OUT_DIR itself.
fn shared_out_dir(out_dir: &Path) -> PathBuf {
    let build = out_dir.ancestors().nth(2);
    match build {
        Some(b) if b.file_name().is_some_and(|n| n == "build") => match b.ancestors().nth(2) {
            Some(target) => target.join("weir-ebpf"),
            None => out_dir.to_path_buf(),
        },
        _ => out_dir.to_path_buf(),
    }
}
