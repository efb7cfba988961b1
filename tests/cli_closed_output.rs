//! Every command that prints ends as usual when its standard output is closed early
//! (`insightsim schema | head`): no panic, the usual exit code, and its files still written.
//!
//! Each command runs twice with the real binary: once with its output read (the usual exit
//! code), once with standard output a pipe whose read end was closed before the command
//! started, so that its very first write fails with `BrokenPipe`.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn insightsim(args: &[&str], dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_insightsim"));
    command
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("INSIGHTSIM_TRANSCRIPTS", dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}

/// `args` run with standard output read to the end.
fn read(args: &[&str], dir: &Path) -> Output {
    insightsim(args, dir).output().unwrap()
}

/// `args` run with standard output a pipe nobody reads from any more.
fn closed(args: &[&str], dir: &Path) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    insightsim(args, dir)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// Runs `args` both ways and checks that the closed run ends as the read one did, quietly.
fn ends_as_usual(args: &[&str], dir: &Path) {
    let usual = read(args, dir);
    assert!(
        !usual.stdout.is_empty(),
        "{args:?} prints something to standard output (else this checks nothing)"
    );
    let cut = closed(args, dir);
    let stderr = String::from_utf8_lossy(&cut.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{args:?} with its output closed:\n{stderr}"
    );
    assert_eq!(
        cut.status.code(),
        usual.status.code(),
        "{args:?}: the exit code with the output closed is the usual one\n{stderr}"
    );
    // What the command says on standard error it still says.
    assert_eq!(
        stderr,
        String::from_utf8_lossy(&usual.stderr),
        "{args:?}: standard error is unchanged"
    );
}

#[test]
fn printing_commands_end_as_usual_when_their_output_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    for args in [
        &["schema"][..],
        &["schema", "tenant"],
        &["schema", "expected-failures"],
        &["openapi"],
        &["openapi", "--include-control"],
        &["tenant"],
        &["flow", "--list"],
        &["run", "--list"],
        &["--help"],
        &["serve", "--help"],
        &[
            "definition",
            "check",
            "flows/definitions/teams-on-refresh-failure.json",
        ],
    ] {
        ends_as_usual(args, dir);
    }
}

#[test]
fn a_run_and_a_load_end_as_usual_when_their_output_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // A run prints a line per case and a summary, and writes its reports.
    let run = |junit: &str| {
        vec![
            "run".to_owned(),
            "--flow".to_owned(),
            "teams-on-refresh-failure".to_owned(),
            "--filter".to_owned(),
            "datasource/refresh-failed".to_owned(),
            "--junit".to_owned(),
            dir.join(junit).display().to_string(),
        ]
    };
    let args = run("read.xml");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let usual = read(&args, dir);
    assert_eq!(usual.status.code(), Some(0), "{usual:?}");
    let args = run("closed.xml");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let cut = closed(&args, dir);
    let stderr = String::from_utf8_lossy(&cut.stderr);
    assert_eq!(cut.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let junit = std::fs::read_to_string(dir.join("closed.xml")).unwrap();
    assert!(
        junit.contains("refresh-failed-fires-on-permanent-failure"),
        "the report is written all the same: {junit}"
    );

    // A load prints its figures and grades at the end.
    let load = ["load", "--requests", "20", "--connections", "2"];
    let usual = read(&load, dir);
    assert_eq!(usual.status.code(), Some(0), "{usual:?}");
    let cut = closed(&load, dir);
    let stderr = String::from_utf8_lossy(&cut.stderr);
    assert_eq!(cut.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn connector_export_writes_its_files_when_its_output_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("connector");
    let target_text = target.to_str().unwrap();
    let args = [
        "connector",
        "export",
        target_text,
        "--host",
        "https://abc123.tunnel.example",
    ];
    let cut = closed(&args, dir.path());
    let stderr = String::from_utf8_lossy(&cut.stderr);
    assert_eq!(cut.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(target.join("apiDefinition.swagger.json").is_file());
    assert!(target.join("apiProperties.json").is_file());
}
