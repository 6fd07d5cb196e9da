//! `weir plugin new --lang rust|python|js|c NAME`: a plugin project that
//! builds and passes its own test out of the box.
//!
//! The project is self-contained: it carries a copy of the WIT
//! (`wit/pipeline.wit`) and of the language's SDK (`sdk/<lang>/`), taken
//! from the weir binary (which embeds them from this repository, so they
//! always match the host). Its `test.sh` builds the component and runs it
//! through `weir plugin test` on `test/input.json`, expecting
//! `test/expected.json`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::{Lang, PluginNewArgs};

macro_rules! repo_file {
    ($path:literal) => {
        (
            $path,
            include_bytes!(concat!("../../../../", $path)).as_slice(),
        )
    };
}

macro_rules! template {
    ($path:literal) => {
        include_str!(concat!("../../templates/", $path))
    };
}

/// Files copied as they are, by destination path in the project.
fn sdk_files(lang: Lang) -> Vec<(&'static str, &'static [u8])> {
    let mut files = vec![repo_file!("wit/pipeline.wit")];
    match lang {
        Lang::Rust => files.extend([
            repo_file!("sdk/rust/src/lib.rs"),
            repo_file!("sdk/rust/src/attributes.rs"),
            repo_file!("sdk/rust/src/batch.rs"),
            repo_file!("sdk/rust/src/column.rs"),
            repo_file!("sdk/rust/src/config.rs"),
            repo_file!("sdk/rust/src/selection.rs"),
            repo_file!("sdk/rust/src/services.rs"),
        ]),
        Lang::Python => files.push(repo_file!("sdk/python/weir_plugin.py")),
        Lang::Js => files.extend([
            repo_file!("sdk/js/weir-plugin.js"),
            repo_file!("sdk/js/build.mjs"),
            repo_file!("sdk/js/package.json"),
            repo_file!("sdk/js/package-lock.json"),
        ]),
        Lang::C => files.extend([
            repo_file!("sdk/c/weir_plugin.h"),
            repo_file!("sdk/c/build.sh"),
            repo_file!("sdk/c/generated/plugin.h"),
            repo_file!("sdk/c/generated/plugin.c"),
            repo_file!("sdk/c/generated/plugin_component_type.o"),
        ]),
    }
    files
}

/// The standalone manifest of the Rust SDK copy (in weir it inherits from
/// the plugins workspace).
const RUST_SDK_MANIFEST: &str = r#"[package]
name = "weir-plugin"
description = "Write weir processor plugins in Rust (weir:pipeline@0.1.0)."
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
wit-bindgen = { version = "=0.63.0", default-features = false, features = ["macros", "realloc"] }
"#;

/// Template files, by destination path, with `{{name}}` and `{{crate}}`.
fn templates(lang: Lang) -> Vec<(&'static str, &'static str)> {
    let mut t = vec![
        ("test/input.json", template!("common/input.json")),
        ("test/expected.json", template!("common/expected.json")),
    ];
    match lang {
        Lang::Rust => t.extend([
            ("Cargo.toml", template!("rust/Cargo.toml")),
            ("src/lib.rs", template!("rust/src/lib.rs")),
            ("test.sh", template!("rust/test.sh")),
            ("README.md", template!("rust/README.md")),
            ("sdk/rust/Cargo.toml", RUST_SDK_MANIFEST),
        ]),
        Lang::Python => t.extend([
            ("app.py", template!("python/app.py")),
            ("test.sh", template!("python/test.sh")),
            ("README.md", template!("python/README.md")),
        ]),
        Lang::Js => t.extend([
            ("app.js", template!("js/app.js")),
            ("test.sh", template!("js/test.sh")),
            ("README.md", template!("js/README.md")),
        ]),
        Lang::C => t.extend([
            ("plugin.c", template!("c/plugin.c")),
            ("test.sh", template!("c/test.sh")),
            ("README.md", template!("c/README.md")),
        ]),
    }
    t
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.len() <= 64
}

fn write(dir: &Path, rel: &str, bytes: &[u8]) -> Result<(), String> {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    if rel.ends_with(".sh") || rel.ends_with(".mjs") {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("cannot make {} executable: {e}", path.display()))?;
    }
    Ok(())
}

pub fn new(a: &PluginNewArgs) -> Result<ExitCode, String> {
    if !valid_name(&a.name) {
        return Err(format!(
            "{:?} is not a plugin name: lower-case letters, digits, '-' and '_', starting with a letter",
            a.name
        ));
    }
    let dir: PathBuf = a.dir.clone().unwrap_or_else(|| PathBuf::from(&a.name));
    if dir.exists() && std::fs::read_dir(&dir).map_or(true, |mut d| d.next().is_some()) {
        return Err(format!("{} exists and is not empty", dir.display()));
    }
    let krate = a.name.replace('-', "_");
    // The Rust SDK copy lives at sdk/rust/src/; the repository paths
    // already say so. Everything else keeps its repository path too.
    for (rel, bytes) in sdk_files(a.lang) {
        write(&dir, rel, bytes)?;
    }
    for (rel, text) in templates(a.lang) {
        let text = text
            .replace("{{name}}", &a.name)
            .replace("{{crate}}", &krate);
        write(&dir, rel, text.as_bytes())?;
    }
    let lang = match a.lang {
        Lang::Rust => "Rust",
        Lang::Python => "Python",
        Lang::Js => "JavaScript",
        Lang::C => "C",
    };
    println!(
        "Created {} (a {lang} plugin). Build and test it: {}/test.sh",
        dir.display(),
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("tag-slow"));
        assert!(valid_name("a1_b"));
        assert!(!valid_name("1a"));
        assert!(!valid_name("Tag"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(""));
    }

    #[test]
    fn every_language_has_a_test_script_and_the_wit() {
        for lang in [Lang::Rust, Lang::Python, Lang::Js, Lang::C] {
            let t = templates(lang);
            assert!(t.iter().any(|(p, _)| *p == "test.sh"), "{lang:?}");
            assert!(
                sdk_files(lang)
                    .iter()
                    .any(|(p, _)| *p == "wit/pipeline.wit"),
                "{lang:?}"
            );
        }
    }
}
