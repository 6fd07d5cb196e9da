//! `weir plugin new`: every language's scaffold builds and passes its own
//! test out of the box (its `test.sh` builds the component with the
//! language's toolchain and runs it through `weir plugin test`, which
//! compares the output with `test/expected.json`). Also: `weir plugin test`
//! reports a mismatch with exit status 1, and `weir plugin new` refuses a
//! bad name or a non-empty directory.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use weir_tests::process::output_within;
use weir_tests::{repo_root, weir_bin};

const BUILD: Duration = Duration::from_secs(900);

fn weir(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(weir_bin());
    let _ = cmd.args(args).current_dir(dir);
    output_within(cmd, Duration::from_secs(120)).unwrap_or_else(|e| panic!("weir {args:?}: {e}"))
}

fn scaffold_passes_its_test(lang: &str, setup: Option<&str>) {
    if let Some(script) = setup {
        let out = output_within(Command::new(repo_root().join(script)), BUILD)
            .unwrap_or_else(|e| panic!("{script}: {e}"));
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let name = format!("hello-{lang}");
    let out = weir(dir.path(), &["plugin", "new", "--lang", lang, &name]);
    assert!(
        out.status.success(),
        "weir plugin new --lang {lang}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let project = dir.path().join(&name);
    let mut test = Command::new(project.join("test.sh"));
    let _ = test
        .env("WEIR", weir_bin())
        .env("PYTHON", weir_tests::python::python());
    if let Ok(target) = std::env::var("CARGO_TARGET_DIR") {
        // Reuse one target directory across runs for the Rust scaffold.
        let _ = test.env("CARGO_TARGET_DIR", Path::new(&target).join("scaffold-rust"));
    }
    let out = output_within(test, BUILD).unwrap_or_else(|e| panic!("{lang} test.sh: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.contains("ok: the output equals test/expected.json"),
        "{lang}: test.sh failed ({}):\n{}\n{stderr}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn rust_scaffold_builds_and_passes_its_test() {
    scaffold_passes_its_test("rust", None);
}

#[test]
fn python_scaffold_builds_and_passes_its_test() {
    scaffold_passes_its_test("python", None);
}

#[test]
fn js_scaffold_builds_and_passes_its_test() {
    scaffold_passes_its_test("js", Some("scripts/setup-js"));
}

#[test]
fn c_scaffold_builds_and_passes_its_test() {
    scaffold_passes_its_test("c", Some("scripts/setup-c"));
}

#[test]
fn plugin_test_reports_a_mismatch_and_plugin_new_refuses_bad_input() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = repo_root();
    let input = root.join("runtime/cli/templates/common/input.json");
    // builtin:redact hashing http.route changes the output: it cannot equal
    // the input.
    let out = weir(
        dir.path(),
        &[
            "plugin",
            "test",
            "builtin:redact",
            "--config",
            "rule.r.keys=http.route",
            "--config",
            "rule.r.action=hash",
            "--input",
            input.to_str().expect("utf-8 path"),
            "--expect",
            input.to_str().expect("utf-8 path"),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("FAILED: the output differs"), "{stderr}");
    // The hashed value is in the printed output.
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"key\": \"http.route\""));

    // A configuration the plugin refuses is reported as such.
    let out = weir(
        dir.path(),
        &[
            "plugin",
            "test",
            "builtin:sample",
            "--config",
            "ratio=2",
            "--input",
            input.to_str().expect("utf-8 path"),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("refused to start") && stderr.contains("ratio"),
        "{stderr}"
    );

    let out = weir(dir.path(), &["plugin", "new", "--lang", "c", "Bad/Name"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a plugin name"));
    std::fs::create_dir(dir.path().join("taken")).expect("mkdir");
    std::fs::write(dir.path().join("taken/file"), "x").expect("write");
    let out = weir(dir.path(), &["plugin", "new", "--lang", "c", "taken"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
}
