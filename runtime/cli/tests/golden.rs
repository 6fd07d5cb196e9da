//! Golden files of `weir validate` diagnostics for broken pipelines.
//!
//! Each `golden/NAME.kdl` is validated and its stderr compared with
//! `golden/NAME.stderr`. Run with `WEIR_BLESS=1` to rewrite the expected
//! files after an intended change, then review the diff.

use std::path::Path;
use std::process::Command;

#[test]
fn diagnostics_match_golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let bless = std::env::var_os("WEIR_BLESS").is_some();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("golden dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "kdl"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 8,
        "expected the golden pipelines, found {files:?}"
    );
    let mut failures = Vec::new();
    for kdl in files {
        let name = kdl.file_name().expect("name").to_string_lossy().to_string();
        let out = Command::new(env!("CARGO_BIN_EXE_weir"))
            .arg("validate")
            .arg(&name)
            .current_dir(&dir)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .output()
            .expect("run weir validate");
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name} should be invalid; stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let expected_path = kdl.with_extension("stderr");
        if bless {
            std::fs::write(&expected_path, &stderr).expect("write golden");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
            panic!("{} missing: run with WEIR_BLESS=1", expected_path.display())
        });
        if expected != stderr {
            failures.push(format!(
                "--- {name}: expected\n{expected}\n--- got\n{stderr}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches (WEIR_BLESS=1 to accept):\n{}",
        failures.join("\n")
    );
}

#[test]
fn example_pipelines_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("pipelines dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|x| x != "kdl") {
            continue;
        }
        n += 1;
        // From the repository root, where the examples' relative paths
        // (lookup files) resolve, as `weir run pipelines/...` would.
        let out = Command::new(env!("CARGO_BIN_EXE_weir"))
            .arg("validate")
            .arg(&path)
            .current_dir(dir.join(".."))
            .env("NO_COLOR", "1")
            .output()
            .expect("run weir validate");
        assert!(
            out.status.success(),
            "{} should be valid:\n{}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(n >= 5, "expected example pipelines, found {n}");
}

#[test]
fn port_in_use_is_a_diagnostic() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("p.kdl");
    std::fs::write(
        &file,
        format!(
            "settings {{ admin #false }}\nreceiver \"apps\" type=\"otlp\" {{\n    grpc \"127.0.0.1:{port}\"\n}}\nexporter \"out\" type=\"debug\" {{\n    from \"apps\"\n}}\n"
        ),
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("run")
        .arg(&file)
        .env("NO_COLOR", "1")
        .output()
        .expect("run weir");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(stderr.contains("weir::config::build"), "stderr:\n{stderr}");
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}")),
        "stderr:\n{stderr}"
    );
    assert!(stderr.contains("p.kdl:3:"), "points at line 3: {stderr}");
}
