//! `baton fix` and `baton verify` through the real binary, and `[[fixes]]` in the config.

use baton::config::{Config, EMBEDDED_DEFAULT};
use std::process::Command;

fn baton(args: &[&str], dir: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .current_dir(dir)
        .env_remove("BATON_CONFIG")
        .env("USER", "tester")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

const FIX: &str = r#"
[[fixes]]
id = "billing-keywords"
title = "Billing keywords route to Billing"
branch = "routing"
scope = "topic=billing"
live = 2026-11-09
owner = "support-ops@example.com"
review_by = 2026-12-07
"#;

#[test]
fn fixes_in_the_config_are_read_and_checked_with_their_key() {
    let cfg = Config::parse(&format!("{EMBEDDED_DEFAULT}\n{FIX}"), "t.toml").unwrap();
    let f = cfg.fix("billing-keywords").unwrap();
    assert_eq!(f.scope.to_string(), "topic=billing");
    assert_eq!(f.live.to_string(), "2026-11-09");
    let bad = |from: &str, to: &str| {
        Config::parse(
            &format!("{EMBEDDED_DEFAULT}\n{}", FIX.replace(from, to)),
            "t.toml",
        )
        .unwrap_err()
    };
    let e = bad("\"routing\"", "\"queue\"");
    assert_eq!(e.key(), Some("fixes[0].branch"), "{e}");
    let e = bad("topic=billing", "region=eu");
    assert_eq!(e.key(), Some("fixes[0].scope"), "{e}");
    assert!(e.to_string().contains("unknown dimension `region`"), "{e}");
    let e = bad("live = 2026-11-09", "live = 2999-01-04");
    assert_eq!(e.key(), Some("fixes[0].live"), "{e}");
    assert!(e.to_string().contains("in the future"), "{e}");
    let e = bad("review_by = 2026-12-07", "review_by = 2026-11-01");
    assert_eq!(e.key(), Some("fixes[0].review_by"), "{e}");
    let e = bad("support-ops@example.com", "support ops");
    assert_eq!(e.key(), Some("fixes[0].owner"), "{e}");
    let twice = format!("{EMBEDDED_DEFAULT}\n{FIX}\n{FIX}");
    let e = Config::parse(&twice, "t.toml").unwrap_err();
    assert_eq!(e.key(), Some("fixes[1].id"), "{e}");
}

#[test]
fn fix_add_list_show_close_reopen_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for sub in ["fix", "verify"] {
        let (code, out, err) = baton(&[sub, "--help"], d);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("Examples:\n  baton "), "{out}");
    }
    let (code, out, err) = baton(
        &[
            "fix",
            "add",
            "--store",
            "t.db",
            "--title",
            "Billing keywords route to Billing",
            "--branch",
            "routing",
            "--scope",
            "topic=billing",
            "--live",
            "2026-11-09",
            "--owner",
            "support-ops@example.com",
        ],
        d,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("added fix billing-keywords-route-to-billing"),
        "{out}"
    );
    assert!(out.contains("by tester"), "{out}");
    // Bad input is a usage error naming the flag.
    let (code, _, err) = baton(
        &[
            "fix",
            "add",
            "--store",
            "t.db",
            "--title",
            "x",
            "--branch",
            "routing",
            "--scope",
            "region=eu",
            "--live",
            "2026-11-09",
            "--owner",
            "a@example.com",
        ],
        d,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--scope") && err.contains("region"), "{err}");
    let (code, _, err) = baton(
        &[
            "fix",
            "add",
            "--store",
            "t.db",
            "--title",
            "x",
            "--branch",
            "routing",
            "--scope",
            "all",
            "--live",
            "2999-01-04",
            "--owner",
            "a@example.com",
        ],
        d,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--live") && err.contains("future"), "{err}");
    let id = "billing-keywords-route-to-billing";
    let (code, out, _) = baton(&["fix", "list", "--store", "t.db", "--format", "json"], d);
    assert_eq!(code, 0);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["origin"], "store");
    assert_eq!(list[0]["created_by"], "tester");
    let (code, out, err) = baton(
        &["fix", "close", "--store", "t.db", id, "--note", "done"],
        d,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("is closed"), "{out}");
    let (_, out, _) = baton(&["fix", "list", "--store", "t.db"], d);
    assert!(out.contains("no fixes open"), "{out}");
    baton(&["fix", "reopen", "--store", "t.db", id], d);
    let (code, out, _) = baton(&["fix", "show", "--store", "t.db", id], d);
    assert_eq!(code, 0);
    assert!(
        out.contains("closed by tester: done") && out.contains("reopened by tester"),
        "{out}"
    );
    let (code, _, err) = baton(&["fix", "close", "--store", "t.db", "nope"], d);
    assert_eq!(code, 2, "{err}");

    // Verify on a generated export with the improvement planted.
    let (code, _, err) = baton(
        &[
            "generate",
            "--out",
            "ex.csv",
            "--weeks",
            "8",
            "--per-week",
            "3000",
            "--end",
            "2026-12-07",
            "--inject",
            "routing:topic=billing:-8pp:from=2026-11-09",
        ],
        d,
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = baton(
        &[
            "verify",
            "--store",
            "t.db",
            "--input",
            "ex.csv",
            "--as-of",
            "2026-12-07",
            "--format",
            "json",
            "--record",
        ],
        d,
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["fixes"][0]["fix"]["id"], id);
    assert_eq!(
        v["fixes"][0]["verdict"], "verified",
        "{}",
        v["fixes"][0]["summary"]
    );
    let (_, out, _) = baton(&["fix", "show", "--store", "t.db", id], d);
    assert!(out.contains("verdict as of 2026-12-07: verified"), "{out}");
    let (code, out, _) = baton(
        &[
            "verify",
            "--store",
            "t.db",
            "--input",
            "ex.csv",
            "--as-of",
            "2026-12-07",
        ],
        d,
    );
    assert_eq!(code, 0);
    assert!(out.contains("[VERIFIED]"), "{out}");
}
