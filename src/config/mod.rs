//! Typed configuration (`config/baton.toml`), read once and validated up front.
//!
//! Every error names the file and the key (`config/baton.toml: tree.routing.owner.email: ...`).
//! Secrets are never read from this file: SMTP passwords and API tokens are named by an
//! environment variable or a file path and resolved at the edge that uses them.

mod source;
mod typed;
mod types;

pub use source::{
    AuthConfig, AuthKind, CanonicalSource, HttpOptions, IntercomSource, SourceConfig, SourceFormat,
    SourceKind, ZendeskSource,
};
pub use typed::CronExpr;
pub use types::*;

use crate::domain::{Cause, Owner, OwnerId};
use chrono_tz::Tz;
use std::path::{Path, PathBuf};

/// The configuration the demo and `baton run` use when no file is given.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../config/baton.toml");
pub const EMBEDDED_NAME: &str = "<embedded config/baton.toml>";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // The io error is the source, not part of the message: `{:#}` prints the chain once.
    #[error("{file}: cannot read")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {key}: {message}")]
    Invalid {
        file: String,
        key: String,
        message: String,
    },
}

impl ConfigError {
    fn invalid(file: &str, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: file.to_string(),
            key: key.into(),
            message: message.into(),
        }
    }
    /// The file the error is about.
    pub fn file(&self) -> &str {
        match self {
            ConfigError::Invalid { file, .. } | ConfigError::Read { file, .. } => file,
        }
    }
    /// The key the error is about (`tree.routing.owner.email`), for tests and tooling.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            ConfigError::Read { .. } => None,
        }
    }
}

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: file.clone(),
            source,
        })?;
        let mut cfg = Config::parse(&text, &file)?;
        cfg.origin = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// `path` if given, else `config/baton.toml` when present, else the embedded default.
    pub fn load_or_default(path: Option<&Path>) -> Result<Config, ConfigError> {
        match path {
            Some(p) => Config::load(p),
            None if Path::new("config/baton.toml").exists() => {
                Config::load(Path::new("config/baton.toml"))
            }
            None => Config::embedded(),
        }
    }

    pub fn embedded() -> Result<Config, ConfigError> {
        Config::parse(EMBEDDED_DEFAULT, EMBEDDED_NAME)
    }

    /// Parses and validates TOML text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let mut doc: toml::Table = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| line_column(text, s.start));
            let message = match at {
                Some((line, column)) => format!("line {line}, column {column}: {}", e.message()),
                None => e.message().to_string(),
            };
            ConfigError::invalid(file, "(syntax)", message)
        })?;
        // Sources first, each on its own, so an error inside one names its key (source.rs).
        let sources = source::take_sources(&mut doc, file)?;
        let de = toml::Value::Table(doc);
        let mut cfg: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let message = e.into_inner().message().to_string();
            ConfigError::invalid(
                file,
                if key == "." {
                    "(top level)".to_string()
                } else {
                    key
                },
                message,
            )
        })?;
        cfg.sources = sources;
        cfg.validate(file)?;
        Ok(cfg)
    }

    fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let bad = |key: String, msg: String| Err(ConfigError::invalid(file, key, msg));
        if self.report.trend_weeks == 0 || self.report.trend_weeks > 104 {
            return bad(
                "report.trend_weeks".into(),
                "must be between 1 and 104".into(),
            );
        }
        if self.report.history_days > 366 {
            return bad(
                "report.history_days".into(),
                "must be between 0 and 366".into(),
            );
        }
        let numbers: [(&str, f64, std::ops::RangeInclusive<f64>, &str); 5] = [
            (
                "explain.fdr",
                self.explain.fdr,
                0.0..=0.5,
                "a false-discovery rate between 0 and 0.5 (0.05 is usual)",
            ),
            (
                "explain.min_segment_size",
                self.explain.min_segment_size as f64,
                1.0..=f64::MAX,
                "at least 1 conversation",
            ),
            (
                "explain.max_drivers",
                self.explain.max_drivers as f64,
                1.0..=100.0,
                "between 1 and 100",
            ),
            (
                "ai.unsafe_escalation_below",
                self.ai.unsafe_escalation_below,
                0.0..=1.0,
                "a rate between 0 and 1",
            ),
            (
                "ai.unsafe_sentiment_below",
                self.ai.unsafe_sentiment_below,
                -1.0..=1.0,
                "a sentiment between -1 and 1",
            ),
        ];
        for (key, value, range, expected) in numbers {
            if !range.contains(&value) {
                return bad(
                    key.into(),
                    format!("{value} is out of range: expected {expected}"),
                );
            }
        }
        if self.report.max_rows_inline == 0 {
            return bad("report.max_rows_inline".into(), "must be at least 1".into());
        }
        if self.delivery.max_attempts == 0 {
            return bad("delivery.max_attempts".into(), "must be at least 1".into());
        }
        for (cause, branch) in &self.tree {
            if !(branch.alert_threshold_pp.is_finite() && branch.alert_threshold_pp >= 0.0) {
                return bad(
                    format!("tree.{cause}.alert_threshold_pp"),
                    format!(
                        "{} is out of range: expected percentage points, 0 or more",
                        branch.alert_threshold_pp
                    ),
                );
            }
        }
        if !(0.0..=1.0).contains(&self.report.quarantine_threshold) {
            return bad(
                "report.quarantine_threshold".into(),
                "must be a fraction between 0 and 1".into(),
            );
        }
        for cause in Cause::ALL {
            let key = format!("tree.{cause}");
            let Some(branch) = self.tree.get(&cause) else {
                return bad(
                    key,
                    "missing: every branch (routing, skill, escalation, channel) needs an owner"
                        .into(),
                );
            };
            check_person(file, &format!("{key}.owner"), &branch.owner)?;
        }
        for team in self.teams.keys() {
            check_name(file, &format!("teams.{team:?}"), team)?;
        }
        for (name, src) in &self.sources {
            src.validate(file, &format!("sources.{name}"))?;
        }
        if self.delivery.mode == DeliveryMode::Smtp && self.smtp.is_none() {
            return bad(
                "smtp".into(),
                "delivery.mode is \"smtp\" but there is no [smtp] table".into(),
            );
        }
        if let Some(smtp) = &self.smtp {
            smtp.validate(file)?;
        }
        let today = chrono::Utc::now().with_timezone(&self.tz()).date_naive();
        self.validate_fixes(file, today)?;
        self.validate_schedules(file)?;
        Ok(())
    }

    /// `[[schedules]]`, `[serve]` and `[alerts]`.
    fn validate_schedules(&self, file: &str) -> Result<(), ConfigError> {
        let bad = |key: String, msg: String| Err(ConfigError::invalid(file, key, msg));
        let owners: Vec<String> = self
            .tree
            .values()
            .filter_map(|b| b.owner.email.as_ref())
            .map(|a| a.to_string().to_ascii_lowercase())
            .collect();
        let mut names = std::collections::BTreeSet::new();
        for (i, s) in self.schedules.iter().enumerate() {
            let key = |k: &str| format!("schedules[{i}].{k}");
            if s.name.trim().is_empty() {
                return bad(key("name"), "missing: every schedule needs a name".into());
            }
            check_name(file, &key("name"), &s.name)?;
            if !names.insert(s.name.as_str()) {
                return bad(
                    key("name"),
                    format!("`{}` names two schedules; names must be unique", s.name),
                );
            }
            // croner also takes a seventh (year) field; baton documents five or six.
            let text = s.cron.as_str().trim();
            let fields = text.split_whitespace().count();
            if !text.starts_with('@') && !(5..=6).contains(&fields) {
                return bad(
                    key("cron"),
                    format!("`{text}` has {fields} fields: expected 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)"),
                );
            }
            if let OwnerSelection::Only(list) = &s.owners {
                for a in list {
                    if !owners.contains(&a.to_string().to_ascii_lowercase()) {
                        return bad(
                            key("owners"),
                            format!(
                                "`{a}` is not an owner of the metric tree (owners: {})",
                                owners.join(", ")
                            ),
                        );
                    }
                }
            }
            if s.grace_hours > 24 * 7 {
                return bad(
                    key("grace_hours"),
                    format!("{} is more than a week", s.grace_hours),
                );
            }
            if s.working_timeout_secs == 0 {
                return bad(key("working_timeout_secs"), "must be at least 1".into());
            }
        }
        if self.serve.listen.parse::<std::net::SocketAddr>().is_err() {
            return bad(
                "serve.listen".into(),
                format!(
                    "`{}` is not an address with a port (e.g. \"127.0.0.1:8787\")",
                    self.serve.listen
                ),
            );
        }
        for (k, v) in [
            ("serve.lease_secs", self.serve.lease_secs),
            (
                "serve.working_timeout_secs",
                self.serve.working_timeout_secs,
            ),
        ] {
            if v == 0 {
                return bad(k.into(), "must be at least 1".into());
            }
        }
        Ok(())
    }

    /// `[[fixes]]`: each fix's own checks ([`Fix::check`]) and unique ids. Unknown branches
    /// and dimensions were already refused while reading (their key is `fixes[N].branch`,
    /// `fixes[N].scope`).
    fn validate_fixes(&self, file: &str, today: chrono::NaiveDate) -> Result<(), ConfigError> {
        for (i, fix) in self.fixes.iter().enumerate() {
            if let Err((field, message)) = fix.check(today) {
                return Err(ConfigError::invalid(
                    file,
                    format!("fixes[{i}].{field}"),
                    message,
                ));
            }
            if let Some(j) = self.fixes[..i].iter().position(|f| f.id == fix.id) {
                return Err(ConfigError::invalid(
                    file,
                    format!("fixes[{i}].id"),
                    format!(
                        "fix id `{}` is already used by fixes[{j}]; ids are unique",
                        fix.id
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The fix declared in the file with this id.
    pub fn fix(&self, id: &str) -> Option<&Fix> {
        self.fixes.iter().find(|f| f.id == id)
    }

    /// The report's time zone.
    pub fn tz(&self) -> Tz {
        self.report.time_zone
    }

    /// The file this config came from, if any.
    pub fn origin(&self) -> Option<&PathBuf> {
        self.origin.as_ref()
    }

    /// The owner of a branch of the metric tree.
    pub fn branch_owner(&self, cause: Cause) -> Owner {
        let b = &self.tree[&cause];
        Owner {
            id: OwnerId::from_name(&b.owner.name),
            name: b.owner.name.clone(),
            email: b
                .owner
                .email
                .as_ref()
                .map(|a| a.to_string())
                .unwrap_or_default(),
        }
    }

    /// Every distinct branch owner, in branch order (two branches may share an owner).
    pub fn owners(&self) -> Vec<(Owner, Vec<Cause>)> {
        let mut out: Vec<(Owner, Vec<Cause>)> = Vec::new();
        for cause in Cause::ALL {
            let o = self.branch_owner(cause);
            match out.iter_mut().find(|(x, _)| x.email == o.email) {
                Some((_, causes)) => causes.push(cause),
                None => out.push((o, vec![cause])),
            }
        }
        out
    }

    /// The tier of a team (1 when the team is not configured).
    pub fn tier(&self, team: &str) -> u32 {
        self.teams.get(team).map(|t| t.tier).unwrap_or(1)
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// A name that goes into a header or a report line: no CR, LF, NUL or other control.
fn check_name(file: &str, key: &str, name: &str) -> Result<(), ConfigError> {
    match crate::text::control_char(name) {
        Some(c) => Err(ConfigError::invalid(
            file,
            key,
            format!(
                "contains the control character U+{:04X}; names must be one line of text",
                c as u32
            ),
        )),
        None => Ok(()),
    }
}

fn check_person(file: &str, key: &str, p: &PersonConfig) -> Result<(), ConfigError> {
    check_name(file, &format!("{key}.name"), &p.name)?;
    if p.name.trim().is_empty() {
        return Err(ConfigError::invalid(
            file,
            format!("{key}.name"),
            "missing: the owner needs a name",
        ));
    }
    if p.email.is_none() {
        return Err(ConfigError::invalid(
            file,
            format!("{key}.email"),
            "missing: the owner needs an email address",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
