//! `weir validate`: every example pipeline in `pipelines/` is valid (exit
//! 0); broken pipelines exit 1 with a diagnostic naming the file.

use weir_tests::{repo_root, weir_output};

fn example_pipelines() -> Vec<String> {
    let dir = repo_root().join("pipelines");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "kdl"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no example pipeline in {}",
        dir.display()
    );
    files
}

#[test]
fn every_example_pipeline_is_valid() {
    let root = repo_root();
    for file in example_pipelines() {
        let out = weir_output(&root, &["validate", &file]);
        assert!(
            out.status.success(),
            "weir validate {file} exited with {}:\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

const BROKEN: &[(&str, &str)] = &[
    (
        "syntax",
        "receiver \"in\" type=\"otlp\" { grpc \"127.0.0.1:4317\"\n",
    ),
    (
        "unknown-type",
        "receiver \"in\" type=\"no-such-type\" { }\n",
    ),
    (
        "unknown-from",
        "receiver \"in\" type=\"otlp\" { grpc \"127.0.0.1:4317\" }\n\
         exporter \"out\" type=\"debug\" { from \"nowhere\" }\n",
    ),
    (
        "bad-value",
        "receiver \"in\" type=\"otlp\" { grpc \"not an address\" }\n\
         exporter \"out\" type=\"debug\" { from \"in\" }\n",
    ),
    (
        "bad-duration",
        "receiver \"in\" type=\"otlp\" { grpc \"127.0.0.1:4317\" }\n\
         processor \"b\" type=\"batch\" { from \"in\"; timeout \"soon\" }\n\
         exporter \"out\" type=\"debug\" { from \"b\" }\n",
    ),
];

#[test]
fn broken_pipelines_exit_one_with_a_diagnostic() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (name, text) in BROKEN {
        let file = dir.path().join(format!("{name}.kdl"));
        std::fs::write(&file, text).expect("write the broken pipeline");
        let path = file.to_string_lossy();
        let out = weir_output(dir.path(), &["validate", &path]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "weir validate {name}.kdl:\n{stderr}"
        );
        assert!(
            stderr.contains(&format!("{name}.kdl")),
            "the diagnostic for {name}.kdl does not name the file:\n{stderr}"
        );
    }
}

#[test]
fn one_broken_file_among_valid_ones_fails_the_run() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let broken = dir.path().join("broken.kdl");
    std::fs::write(
        &broken,
        "exporter \"out\" type=\"debug\" { from \"nowhere\" }\n",
    )
    .expect("write the broken pipeline");
    let mut args = vec!["validate".to_string()];
    args.extend(example_pipelines());
    args.push(broken.to_string_lossy().into_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = weir_output(dir.path(), &args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
