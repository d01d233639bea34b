//! `baton schedule --next N` and `baton check` on `[[schedules]]`, through the real binary.

use std::process::Command;

fn baton(args: &[&str], dir: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

const DEFAULT: &str = include_str!("../config/baton.toml");

#[test]
fn next_lists_local_and_utc_times_across_the_clock_change() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = baton(
        &["schedule", "--next", "2", "--from", "2026-03-25T00:00:00Z"],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("weekly-owners"), "{out}");
    // 09:00 local both weeks: GMT, then BST.
    assert!(
        out.contains("2026-03-30 09:00:00 BST (+01:00)   2026-03-30 08:00:00 UTC"),
        "{out}"
    );
    assert!(
        out.contains("2026-04-06 09:00:00 BST (+01:00)   2026-04-06 08:00:00 UTC"),
        "{out}"
    );
    let (code, json, _) = baton(
        &[
            "schedule",
            "--next",
            "1",
            "--from",
            "2026-10-20T00:00:00Z",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["fires"][0]["utc"], "2026-10-26T09:00:00.000Z");
    assert_eq!(v[0]["fires"][0]["local"], "2026-10-26T09:00:00+00:00");
}

#[test]
fn a_bad_cron_zone_or_owner_exits_2_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "cron = \"0 9 * * Mon\"",
            "cron = \"0 25 * * Mon\"",
            "schedules[0].cron",
        ),
        (
            "cron = \"0 9 * * Mon\"",
            "cron = \"0 0 9 * * Mon 2027\"",
            "schedules[0].cron",
        ),
        (
            "time_zone = \"Europe/London\"\nreport",
            "time_zone = \"Europe/Londres\"\nreport",
            "schedules[0].time_zone",
        ),
        (
            "grace_hours = 6",
            "grace_hours = 6\nowners = [\"nobody@example.com\"]",
            "schedules[0].owners",
        ),
        (
            "[store]",
            "[serve]\nlisten = \"localhost\"\n\n[store]",
            "serve.listen",
        ),
    ];
    for (from, to, key) in cases {
        let text = DEFAULT.replacen(from, to, 1);
        assert_ne!(text, DEFAULT, "{from}");
        std::fs::write(dir.path().join("bad.toml"), text).unwrap();
        let (code, _, err) = baton(&["check", "--config", "bad.toml"], dir.path());
        assert_eq!(code, 2, "{key}: {err}");
        assert!(
            err.contains("bad.toml") && err.contains(key),
            "{key}: {err}"
        );
    }
    // Owners as a list of tree owners, paused, six fields: fine.
    let ok = DEFAULT.replacen(
        "grace_hours = 6",
        "grace_hours = 6\nowners = [\"support-ops@example.com\"]\npaused = true\nworking_timeout_secs = 600",
        1,
    );
    std::fs::write(dir.path().join("ok.toml"), ok).unwrap();
    let (code, _, err) = baton(&["check", "--config", "ok.toml"], dir.path());
    assert_eq!(code, 0, "{err}");
}
