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
        "demo", "generate", "metrics", "explain", "pull", "run", "check", "verify",
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
                .split_once("  ")
                .map_or("", |(_, h)| h)
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

/// The JSON outputs carry their schema version, and every field they print is documented in
/// docs/json.md (a field added without its line fails here).
#[test]
fn json_outputs_carry_a_schema_version_and_are_documented() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("e.csv");
    let (code, _, err) = baton(
        &[
            "generate",
            "--out",
            export.to_str().unwrap(),
            "--weeks",
            "3",
            "--per-week",
            "300",
            "--end",
            "2026-11-23",
            "--seed",
            "1",
        ],
        dir.path(),
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let doc = include_str!("../docs/json.md");
    let documented = |key: &str| doc.contains(&format!("`{key}`"));
    // A config whose one source is the export (the store lands in the working folder), an
    // outbox for the run.
    let cfg = dir.path().join("baton.toml");
    std::fs::write(
        &cfg,
        format!(
            "{}\n[sources.helpdesk]\nkind = \"canonical\"\nurl = \"file://{}\"\n",
            baton::config::EMBEDDED_DEFAULT,
            export.display()
        ),
    )
    .unwrap();
    let (cfg_s, export_s) = (cfg.to_str().unwrap(), export.to_str().unwrap());
    // A fix live in the middle of the export, so verify prints every part of a verdict.
    let fixes = dir.path().join("fixes.toml");
    std::fs::write(
        &fixes,
        format!(
            "{}\n[[fixes]]\nid = \"billing-keywords\"\ntitle = \"Billing keywords\"\n\
             branch = \"routing\"\nscope = \"topic=billing\"\nlive = 2026-11-09\n\
             owner = \"ops@example.com\"\nreview_by = 2026-12-07\n",
            baton::config::EMBEDDED_DEFAULT
        ),
    )
    .unwrap();
    let store = dir.path().join("verify.db");
    let (fixes_s, store_s) = (fixes.to_str().unwrap(), store.to_str().unwrap());
    let pulled = dir.path().join("pulled.csv");
    let outbox = dir.path().join("outbox");
    let with_input = ["--input", export_s, "--period", "2026-W47"];
    let commands: [(&str, Vec<&str>); 6] = [
        ("metrics", with_input.to_vec()),
        ("explain", with_input.to_vec()),
        (
            "run",
            vec![
                "--config",
                cfg_s,
                "--period",
                "2026-W47",
                "--outbox",
                outbox.to_str().unwrap(),
            ],
        ),
        (
            "pull",
            vec![
                "--config",
                cfg_s,
                "--period",
                "2026-W47",
                "--out",
                pulled.to_str().unwrap(),
            ],
        ),
        ("check", vec!["--config", cfg_s]),
        (
            "verify",
            vec![
                "--config",
                fixes_s,
                "--input",
                export_s,
                "--as-of",
                "2026-11-30",
                "--store",
                store_s,
            ],
        ),
    ];
    for (cmd, args) in commands {
        let mut argv = vec![cmd];
        argv.extend(args);
        argv.extend(["--format", "json"]);
        let (code, out, err) = baton(&argv, dir.path(), &[]);
        assert_eq!(code, 0, "{cmd}: {err}");
        let j: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(j["schema_version"], 1, "{cmd}");
        let mut missing = vec![];
        // `summary` is keyed by owner id: data, not fields.
        let mut j = j;
        if let Some(s) = j.get_mut("summary") {
            *s = serde_json::Value::Null;
        }
        walk_keys(&j, &mut |k| {
            // Keys that are data, not fields: dimension names, cause names, segment values,
            // owner ids, distribution buckets.
            let data = ["team", "channel", "topic", "agent", "0", "1", "2", "3+"].contains(&k)
                || ["routing", "skill", "escalation", "channel"].contains(&k)
                || k.contains('-')
                || k.chars().next().is_some_and(|c| c.is_uppercase());
            if !data && !documented(k) {
                missing.push(k.to_string());
            }
        });
        missing.sort();
        missing.dedup();
        assert!(
            missing.is_empty(),
            "{cmd}: not in docs/json.md: {missing:?}"
        );
    }
}

fn walk_keys(v: &serde_json::Value, f: &mut impl FnMut(&str)) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                f(k);
                walk_keys(x, f);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| walk_keys(x, f)),
        _ => {}
    }
}

/// `--max-retries` shortens a pull that cannot connect; the log says what is retried.
#[test]
fn max_retries_from_the_command_line_bounds_a_refused_connection() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/export.csv");
    let started = std::time::Instant::now();
    let (code, _, err) = baton(
        &[
            "metrics",
            "--input",
            &url,
            "--max-retries",
            "1",
            "--timeout-secs",
            "2",
        ],
        dir.path(),
        &[],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("gave up after 2 attempts"), "{err}");
    assert!(err.contains("retry 1 in"), "the retry is announced: {err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let (code, _, err) = baton(
        &["metrics", "--input", &url, "--max-retries", "0"],
        dir.path(),
        &[],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("gave up after 1 attempts"), "{err}");
}

/// Runs `baton ARGS` with stderr on a real terminal: util-linux `script` (Debian's essential
/// bsdutils) gives the command a pseudo-terminal and copies what it draws to our pipe.
fn on_a_terminal(args: &str, dir: &std::path::Path) -> (i32, String) {
    let cmd = format!("{} {args}", env!("CARGO_BIN_EXE_baton"));
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .current_dir(dir)
        .env_remove("BATON_CONFIG")
        .output()
        .expect("util-linux `script` runs the command on a pseudo-terminal");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
    )
}

#[test]
fn long_commands_show_progress_on_a_terminal_and_not_in_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let generate = "generate --weeks 2 --per-week 3000 --end 2026-11-30 --out g.csv";
    let (code, drawn) = on_a_terminal(generate, dir.path());
    assert_eq!(code, 0, "{drawn}");
    assert!(drawn.contains("generating"), "no progress drawn: {drawn}");
    for (cmd, step) in [
        (
            "metrics --input g.csv --period 2026-W48",
            "computing conversation facts",
        ),
        (
            "explain --input g.csv --period 2026-W48",
            "computing conversation facts",
        ),
    ] {
        let (code, drawn) = on_a_terminal(cmd, dir.path());
        assert_eq!(code, 0, "{cmd}: {drawn}");
        assert!(drawn.contains(step), "{cmd}: no progress drawn: {drawn}");
        // In a pipe (a cron job, CI) nothing is drawn.
        let args: Vec<&str> = cmd.split(' ').collect();
        let (code, _, err) = baton(&args, dir.path(), &[]);
        assert_eq!(code, 0, "{err}");
        assert!(!err.contains(step), "{cmd}: a spinner in a pipe: {err}");
    }
}
