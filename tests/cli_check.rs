//! `baton check` and exit codes, through the real binary.

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
fn the_embedded_config_and_templates_pass() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = baton(&["check"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("4 owners"), "{out}");
}

#[test]
fn an_unknown_key_exits_2_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("my.toml");
    std::fs::write(
        &path,
        DEFAULT.replace("[handoffs]", "[handoffs]\ncount_automaton = false"),
    )
    .unwrap();
    let (code, _, err) = baton(&["check", "--config", "my.toml"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("my.toml") && err.contains("count_automaton"),
        "{err}"
    );
}

#[test]
fn a_missing_owner_address_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("my.toml");
    std::fs::write(
        &path,
        DEFAULT.replace(r#", email = "channel-ops@example.com""#, ""),
    )
    .unwrap();
    let (code, _, err) = baton(&["check", "--config", "my.toml"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("my.toml: tree.channel.owner.email"), "{err}");
}

#[test]
fn a_template_syntax_error_exits_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/templates")).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, templates.join(p.file_name().unwrap())).unwrap();
        }
    }
    let html = templates.join("owner_report.html");
    let text = std::fs::read_to_string(&html).unwrap();
    std::fs::write(&html, format!("{text}\n{{% if owner %}}never closed\n")).unwrap();
    let (code, _, err) = baton(&["check", "--templates", "templates"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("owner_report.html"), "{err}");
}

#[test]
fn a_bad_period_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = baton(
        &["metrics", "--input", "nowhere.csv", "--period", "soon"],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("soon"), "{err}");
}

/// `--format json`: what was checked (owners with their branches, sources, schedules), and on
/// a bad file the same object with `ok: false`, the file and the key, exit 2.
#[test]
fn check_as_json_lists_what_it_checked_and_names_the_key_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = baton(&["check", "--format", "json"], dir.path());
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["schema_version"], 1);
    assert_eq!(j["ok"], true);
    assert_eq!(j["templates"], "embedded");
    // The four branch owners of config/baton.toml's [tree], each with its own branch.
    let owners = j["owners"].as_array().unwrap();
    assert_eq!(owners.len(), 4);
    let mut branches: Vec<String> = owners
        .iter()
        .flat_map(|o| o["branches"].as_array().unwrap().clone())
        .map(|b| b.as_str().unwrap().to_string())
        .collect();
    branches.sort();
    assert_eq!(branches, ["channel", "escalation", "routing", "skill"]);
    assert!(j["error"].is_null());

    let path = dir.path().join("my.toml");
    std::fs::write(&path, DEFAULT.replace("fdr = 0.05", "fdr = 1.5")).unwrap();
    let (code, out, err) = baton(
        &["check", "--config", "my.toml", "--format", "json"],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["ok"], false);
    assert_eq!(j["error"]["file"], "my.toml");
    assert_eq!(j["error"]["key"], "explain.fdr");
    assert!(
        err.contains("explain.fdr"),
        "the message still goes to stderr: {err}"
    );
}

#[test]
fn intercom_tag_reasons_are_refused_at_check_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ic.toml"),
        format!(
            "{DEFAULT}\n[sources.ic]\nkind = \"intercom\"\nbase_url = \"https://api.intercom.io\"\n\
             tag_reasons = {{ wrong-team = \"misrouted\" }}\n"
        ),
    )
    .unwrap();
    let (code, _, err) = baton(&["check", "--config", "ic.toml"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("ic.toml")
            && err.contains("sources.ic.tag_reasons")
            && err.contains("does not say when a tag was added"),
        "{err}"
    );
}

#[test]
fn a_toml_syntax_error_exits_2_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    // The default file with one broken line appended after its last line.
    let lines = DEFAULT.lines().count();
    std::fs::write(
        dir.path().join("bad.toml"),
        format!("{DEFAULT}\n[extra]\nweeks = = 3\n"),
    )
    .unwrap();
    let (code, _, err) = baton(&["check", "--config", "bad.toml"], dir.path());
    assert_eq!(code, 2, "{err}");
    // DEFAULT ends with a newline, so "\n[extra]" leaves one empty line: the broken line is
    // the default's line count + 3, and its second `=` is column 9.
    let want = format!("line {}, column 9", lines + 3);
    assert!(
        err.contains("bad.toml") && err.contains(&want),
        "{want}: {err}"
    );
}
