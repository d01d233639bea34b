//! Usage through the real binary: exit codes of usage and config mistakes, `--help`, and
//! `BATON_CONFIG`.

use std::process::Command;

fn baton(args: &[&str], dir: &std::path::Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_baton"));
    cmd.args(args).current_dir(dir).env_remove("BATON_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

const DEFAULT: &str = include_str!("../config/baton.toml");

#[test]
fn every_subcommand_documents_its_options_with_value_names_and_examples() {
    let dir = tempfile::tempdir().unwrap();
    for sub in [
        "demo", "generate", "metrics", "explain", "pull", "run", "check",
    ] {
        let (code, out, err) = baton(&[sub, "--help"], dir.path(), &[]);
        assert_eq!(code, 0, "{sub}: {err}");
        assert!(out.contains("Examples:\n  baton "), "{sub}:\n{out}");
        if sub != "demo" && sub != "generate" {
            assert!(out.contains("--config <FILE>"), "{sub}:\n{out}");
            assert!(out.contains("BATON_CONFIG"), "{sub}:\n{out}");
        }
        // Every option has a line of help: no bare `--name <VALUE>` lines.
        for line in out.lines().filter(|l| l.trim_start().starts_with("--")) {
            let help = line
                .trim_start()
                .splitn(2, "  ")
                .nth(1)
                .unwrap_or("")
                .trim();
            assert!(!help.is_empty(), "{sub}: `{line}` has no help");
        }
    }
}

#[test]
fn baton_config_is_read_when_no_flag_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("from-env.toml");
    std::fs::write(&bad, DEFAULT.replace("fdr = 0.05", "fdr = 1.5")).unwrap();
    let (code, _, err) = baton(
        &["check"],
        dir.path(),
        &[("BATON_CONFIG", bad.to_str().unwrap())],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("from-env.toml: explain.fdr"), "{err}");
}

#[test]
fn usage_mistakes_exit_2_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("e.csv");
    std::fs::write(
        &export,
        "conversation_id,at,event\nc1,2026-11-10T09:00:00Z,created\nc1,2026-11-10T10:00:00Z,resolved\n",
    )
    .unwrap();
    let (code, _, err) = baton(
        &[
            "metrics",
            "--input",
            export.to_str().unwrap(),
            "--by",
            "region",
        ],
        dir.path(),
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("region"), "{err}");

    // The embedded config has no sources: `run` says so with the code `pull` gives.
    let (code, _, err) = baton(&["run", "--dry-run"], dir.path(), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no [sources]"), "{err}");
    let (code, _, err) = baton(&["pull"], dir.path(), &[]);
    assert_eq!(code, 2, "{err}");

    let (code, _, err) = baton(&["run", "--report", "weekly"], dir.path(), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown report `weekly`"), "{err}");

    // A missing config file: named once, the OS reason once.
    let (code, _, err) = baton(&["check", "--config", "nope.toml"], dir.path(), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nope.toml: cannot read"), "{err}");
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}
