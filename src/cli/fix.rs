//! `baton fix add|list|show|close|reopen`: the fix registry. Fixes added here live in the
//! store with who added them and when; `[[fixes]]` in the config declares fixes too, and a
//! declaration there wins over a stored fix with the same id.

use super::common::{load_config, Format};
use super::UsageError;
use crate::config::{valid_fix_id, Config, Expect, Fix, FixScope, FixState};
use crate::domain::Cause;
use crate::store::Store;
use crate::verify::{registry, Origin, RegisteredFix};
use chrono::NaiveDate;
use std::path::{Path, PathBuf};

/// Where the registry is: the config and the store.
#[derive(Debug, Clone, clap::Args)]
pub struct Where {
    /// The configuration file (TOML). Default: $BATON_CONFIG, else config/baton.toml when it
    /// exists, else the built-in defaults.
    #[arg(long, value_name = "FILE", env = "BATON_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// The store (SQLite) instead of the config's `[store] path`.
    #[arg(long, value_name = "FILE", global = true)]
    pub store: Option<PathBuf>,
}

/// Arguments of `baton fix`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  baton fix add --title \"Billing keywords route to Billing\" --branch routing --scope topic=billing --live 2026-11-09 --owner support-ops@example.com\n  baton fix list\n  baton fix show billing-keywords-route-to-billing\n  baton fix close billing-keywords-route-to-billing --note \"verified, rolled out everywhere\""
)]
pub struct Args {
    #[command(flatten)]
    pub at: Where,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Register a fix that went live.
    Add(AddArgs),
    /// Every fix, stored and declared in the config.
    List(ListArgs),
    /// One fix with its history.
    Show(IdArgs),
    /// Stop verifying a fix.
    Close(ChangeArgs),
    /// Verify a closed fix again.
    Reopen(ChangeArgs),
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// What the fix does, in a line.
    #[arg(long)]
    pub title: String,
    /// The branch it acts on: routing, skill, escalation or channel.
    #[arg(long)]
    pub branch: Cause,
    /// The conversations it is meant to change: DIMENSION=VALUE, several joined with `&` or
    /// given again (topic=billing, "team=Billing & channel=chat"), or all.
    #[arg(long, required = true, value_name = "DIM=VALUE")]
    pub scope: Vec<String>,
    /// The local date it went live (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub live: NaiveDate,
    /// The fix owner's email address.
    #[arg(long, value_name = "ADDRESS")]
    pub owner: String,
    /// Which way the branch rate should move: down (default) or up.
    #[arg(long, default_value = "down", value_name = "DIRECTION")]
    pub expect: String,
    /// When the owner should review it.
    #[arg(long, value_name = "DATE")]
    pub review_by: Option<NaiveDate>,
    /// The id; default: made from the title.
    #[arg(long)]
    pub id: Option<String>,
    /// Who is adding it; default: $USER.
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Closed fixes too.
    #[arg(long)]
    pub all: bool,
    /// Output: a terminal table, or JSON on stdout.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct IdArgs {
    /// The fix's id.
    pub id: String,
    /// Output: text, or JSON on stdout.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct ChangeArgs {
    /// The fix's id.
    pub id: String,
    /// Why, for the history.
    #[arg(long)]
    pub note: Option<String>,
    /// Who; default: $USER.
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
}

fn who(by: &Option<String>) -> String {
    by.clone()
        .or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The id a title gives: lower case, words joined by `-`, at most 48 characters.
pub fn slug(title: &str) -> String {
    let mut s = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    let mut s: String = s.trim_end_matches('-').chars().take(48).collect();
    while s.ends_with('-') {
        s.pop();
    }
    if s.is_empty() {
        "fix".into()
    } else {
        s
    }
}

fn open_store(cfg: &Config, at: &Where) -> anyhow::Result<Store> {
    let path: &Path = at.store.as_deref().unwrap_or(&cfg.store.path);
    Ok(Store::open(path)?)
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let cfg = load_config(args.at.config.as_deref())?;
    let store = open_store(&cfg, &args.at)?;
    match args.command {
        Command::Add(a) => add(&cfg, &store, a),
        Command::List(a) => list(&cfg, &store, a),
        Command::Show(a) => show(&cfg, &store, a),
        Command::Close(a) => change(&cfg, &store, a, FixState::Closed),
        Command::Reopen(a) => change(&cfg, &store, a, FixState::Open),
    }
}

fn add(cfg: &Config, store: &Store, a: AddArgs) -> anyhow::Result<()> {
    let scope: FixScope = a
        .scope
        .join(" & ")
        .parse()
        .map_err(|e: String| UsageError(format!("--scope: {e}")))?;
    let expect: Expect = a
        .expect
        .parse()
        .map_err(|e: String| UsageError(format!("--expect: {e}")))?;
    let taken = |id: &str| -> anyhow::Result<bool> {
        Ok(cfg.fix(id).is_some() || store.stored_fix(id)?.is_some())
    };
    let id = match a.id {
        Some(id) => {
            if !valid_fix_id(&id) {
                return Err(UsageError(format!(
                    "--id `{id}`: use 1 to 64 letters, digits, `-`, `_` or `.`"
                ))
                .into());
            }
            if taken(&id)? {
                return Err(UsageError(format!(
                    "fix id `{id}` is already used (`baton fix show {id}`); pick another --id"
                ))
                .into());
            }
            id
        }
        None => {
            let base = slug(&a.title);
            let mut id = base.clone();
            let mut k = 2;
            while taken(&id)? {
                id = format!("{base}-{k}");
                k += 1;
            }
            id
        }
    };
    let fix = Fix {
        id,
        title: a.title.trim().to_string(),
        branch: a.branch,
        scope,
        live: a.live,
        expect,
        owner: a.owner.trim().to_string(),
        review_by: a.review_by,
        state: FixState::Open,
    };
    let today = chrono::Utc::now().with_timezone(&cfg.tz()).date_naive();
    if let Err((field, message)) = fix.check(today) {
        let flag = match field {
            "review_by" => "review-by",
            other => other,
        };
        return Err(UsageError(format!("--{flag}: {message}")).into());
    }
    let rec = store.add_fix(&fix, &who(&a.by))?;
    println!(
        "added fix {}: {} ({} in {}, live {}, expect {}, owner {}) by {}",
        rec.fix.id,
        rec.fix.title,
        rec.fix.branch,
        rec.fix.scope,
        rec.fix.live,
        rec.fix.expect,
        rec.fix.owner,
        rec.created_by
    );
    Ok(())
}

fn origin(r: &RegisteredFix) -> &'static str {
    match (r.origin, r.overrides_stored) {
        (Origin::Config, true) => "config (overrides store)",
        (Origin::Config, false) => "config",
        (Origin::Store, _) => "store",
    }
}

#[derive(serde::Serialize)]
struct FixJson<'a> {
    #[serde(flatten)]
    fix: &'a Fix,
    origin: Origin,
    created_by: Option<&'a str>,
    created_at: Option<String>,
    updated_by: Option<&'a str>,
    updated_at: Option<String>,
}

fn to_json(r: &RegisteredFix) -> FixJson<'_> {
    FixJson {
        fix: &r.fix,
        origin: r.origin,
        created_by: r.record.as_ref().map(|x| x.created_by.as_str()),
        created_at: r.record.as_ref().map(|x| x.created_at.to_rfc3339()),
        updated_by: r.record.as_ref().map(|x| x.updated_by.as_str()),
        updated_at: r.record.as_ref().map(|x| x.updated_at.to_rfc3339()),
    }
}

fn list(cfg: &Config, store: &Store, a: ListArgs) -> anyhow::Result<()> {
    let all: Vec<RegisteredFix> = registry(cfg, Some(store))?
        .into_iter()
        .filter(|r| a.all || r.fix.state == FixState::Open)
        .collect();
    match a.format {
        Format::Json => {
            let rows: Vec<FixJson> = all.iter().map(to_json).collect();
            println!("{}", serde_json::to_string_pretty(&rows)?);
        }
        Format::Table => {
            if all.is_empty() {
                println!(
                    "no fixes{} (add one with `baton fix add`)",
                    if a.all { "" } else { " open" }
                );
                return Ok(());
            }
            println!(
                "{:<36} {:<7} {:<11} {:<24} {:<10} {:<6} owner",
                "id", "state", "branch", "scope", "live", "expect"
            );
            for r in &all {
                let f = &r.fix;
                println!(
                    "{:<36} {:<7} {:<11} {:<24} {:<10} {:<6} {}",
                    crate::format::shorten(&f.id, 36),
                    f.state.as_str(),
                    f.branch.as_str(),
                    crate::format::shorten(&f.scope.to_string(), 24),
                    f.live.to_string(),
                    f.expect.as_str(),
                    f.owner
                );
            }
        }
    }
    Ok(())
}

fn find(cfg: &Config, store: &Store, id: &str) -> anyhow::Result<RegisteredFix> {
    registry(cfg, Some(store))?
        .into_iter()
        .find(|r| r.fix.id == id)
        .ok_or_else(|| {
            UsageError(format!(
                "no fix with id `{id}` (`baton fix list --all` shows them)"
            ))
            .into()
        })
}

fn show(cfg: &Config, store: &Store, a: IdArgs) -> anyhow::Result<()> {
    let r = find(cfg, store, &a.id)?;
    let log = store.fix_log(&a.id)?;
    let verdicts = store.verdict_history(&a.id)?;
    if a.format == Format::Json {
        #[derive(serde::Serialize)]
        struct Show<'a> {
            #[serde(flatten)]
            fix: FixJson<'a>,
            history: Vec<serde_json::Value>,
            verdicts: Vec<serde_json::Value>,
        }
        let out = Show {
            fix: to_json(&r),
            history: log
                .iter()
                .map(|e| {
                    serde_json::json!({"at": e.at.to_rfc3339(), "who": e.who,
                        "action": e.action.as_str(), "note": e.note})
                })
                .collect(),
            verdicts: verdicts
                .iter()
                .map(|(d, v)| serde_json::json!({"as_of": d.to_string(), "verdict": v}))
                .collect(),
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let f = &r.fix;
    println!("{}: {}", f.id, f.title);
    println!("  state      {}", f.state);
    println!("  branch     {}", f.branch);
    println!("  scope      {}", f.scope);
    println!("  live       {}", f.live);
    println!("  expect     {}", f.expect);
    println!("  owner      {}", f.owner);
    if let Some(d) = f.review_by {
        println!("  review by  {d}");
    }
    println!("  declared   {}", origin(&r));
    for e in &log {
        println!(
            "  {} {} by {}{}",
            e.at.format("%Y-%m-%d %H:%M UTC"),
            e.action.as_str(),
            e.who,
            e.note
                .as_deref()
                .map(|n| format!(": {n}"))
                .unwrap_or_default()
        );
    }
    for (d, v) in &verdicts {
        println!("  verdict as of {d}: {v}");
    }
    Ok(())
}

fn change(cfg: &Config, store: &Store, a: ChangeArgs, state: FixState) -> anyhow::Result<()> {
    if let Some(declared) = cfg.fix(&a.id) {
        let file = cfg
            .origin()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| crate::config::EMBEDDED_NAME.to_string());
        return Err(UsageError(format!(
            "fix `{}` is declared in {file} ([[fixes]], state = \"{}\"), which wins over the store: set state = \"{}\" there",
            declared.id, declared.state, state
        ))
        .into());
    }
    let rec = store
        .set_fix_state(&a.id, state, &who(&a.by), a.note.as_deref())
        .map_err(|e| match e {
            crate::store::StoreError::NoSuchFix(id) => anyhow::Error::from(UsageError(format!(
                "no fix with id `{id}` in the store (`baton fix list --all` shows them)"
            ))),
            other => other.into(),
        })?;
    println!(
        "fix {} is {} (by {})",
        rec.fix.id, rec.fix.state, rec.updated_by
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn slugs() {
        assert_eq!(
            slug("Billing keywords route to Billing"),
            "billing-keywords-route-to-billing"
        );
        assert_eq!(slug("  ---  "), "fix");
        assert_eq!(slug("Café: 2 rules!"), "caf-2-rules");
    }
}
