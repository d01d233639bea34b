//! `[sources.NAME]`: where a helpdesk export is pulled from (SOURCES.md).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Canonical,
    Zendesk,
    Intercom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    Csv,
    Jsonl,
    Parquet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    /// HTTP basic auth: `user` plus the secret as password (Zendesk `user/token`).
    Basic,
    /// `Authorization: Bearer <secret>` (OAuth, Intercom access tokens).
    Bearer,
}

/// Credentials: the secret itself is only ever read from the environment or a file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub kind: AuthKind,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub secret_env: Option<String>,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub kind: SourceKind,
    /// Canonical files: the export's URL (`http(s)://` or `file://`).
    #[serde(default)]
    pub url: Option<String>,
    /// Vendor APIs: `https://acme.zendesk.com`, `https://api.intercom.io`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Canonical files: format, else guessed from the URL's extension.
    #[serde(default)]
    pub format: Option<SourceFormat>,
    /// Canonical files: their column name -> canonical column name.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Canonical files: chrono format of `at` when it is neither RFC 3339 nor Unix seconds.
    #[serde(default)]
    pub timestamp_format: Option<String>,
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Requests in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Retries for 5xx, timeouts and dropped connections.
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Intercom: API version header.
    #[serde(default)]
    pub api_version: Option<String>,
    /// First wait of the exponential backoff (doubled per retry, with jitter).
    #[serde(default = "default_backoff_base_ms")]
    pub backoff_base_ms: u64,
    /// Longest backoff between two retries.
    #[serde(default = "default_backoff_max_secs")]
    pub backoff_max_secs: u64,
    /// 429 answers tolerated for one request before giving up.
    #[serde(default = "default_rate_limit_waits")]
    pub max_rate_limit_waits: u32,
    /// Longest single rate-limit wait accepted (`Retry-After` or reset header); longer fails.
    #[serde(default = "default_max_wait_secs")]
    pub max_wait_secs: u64,
    /// Vendor user / admin / bot ids that are AI agents (their comments are `ai` messages).
    #[serde(default)]
    pub ai_agent_ids: Vec<String>,
    /// Team given to the AI agent when it becomes a conversation's owner (e.g. "AI Agent",
    /// a tier-0 team), so its handover to a human is an escalation.
    #[serde(default)]
    pub ai_team: Option<String>,
    /// Vendor tag -> canonical `reason`, carried on the assignment made with the tag.
    #[serde(default)]
    pub tag_reasons: BTreeMap<String, String>,
    /// Vendor tag -> canonical `topic`.
    #[serde(default)]
    pub tag_topics: BTreeMap<String, String>,
}

fn default_concurrency() -> usize {
    4
}
fn default_retries() -> u32 {
    5
}
fn default_timeout() -> u64 {
    30
}
fn default_backoff_base_ms() -> u64 {
    1000
}
fn default_backoff_max_secs() -> u64 {
    60
}
fn default_rate_limit_waits() -> u32 {
    20
}
fn default_max_wait_secs() -> u64 {
    900
}

impl SourceConfig {
    /// A canonical source at `url`, with defaults for everything else.
    pub fn canonical(url: &str) -> SourceConfig {
        SourceConfig {
            kind: SourceKind::Canonical,
            url: Some(url.to_string()),
            base_url: None,
            format: None,
            columns: BTreeMap::new(),
            timestamp_format: None,
            auth: None,
            concurrency: default_concurrency(),
            max_retries: default_retries(),
            timeout_secs: default_timeout(),
            api_version: None,
            backoff_base_ms: default_backoff_base_ms(),
            backoff_max_secs: default_backoff_max_secs(),
            max_rate_limit_waits: default_rate_limit_waits(),
            max_wait_secs: default_max_wait_secs(),
            ai_agent_ids: Vec::new(),
            ai_team: None,
            tag_reasons: BTreeMap::new(),
            tag_topics: BTreeMap::new(),
        }
    }

    pub(super) fn validate(&self, file: &str, key: &str) -> Result<(), super::ConfigError> {
        let err = |k: &str, m: &str| {
            Err(super::ConfigError::Invalid {
                file: file.into(),
                key: format!("{key}.{k}"),
                message: m.into(),
            })
        };
        match self.kind {
            SourceKind::Canonical if self.url.is_none() => {
                return err("url", "missing: a canonical source needs the export's url")
            }
            SourceKind::Zendesk | SourceKind::Intercom if self.base_url.is_none() => {
                return err(
                    "base_url",
                    "missing: a vendor source needs the API's base_url",
                )
            }
            _ => {}
        }
        if let Some(auth) = &self.auth {
            if auth.secret_env.is_none() && auth.secret_file.is_none() {
                return err(
                    "auth",
                    "names no secret_env or secret_file: secrets are never written in the config",
                );
            }
            if auth.kind == AuthKind::Basic && auth.user.is_none() {
                return err("auth.user", "missing: basic auth needs a user");
            }
        }
        if self.concurrency == 0 {
            return err("concurrency", "must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{AuthKind, Config, SourceKind};

    #[test]
    fn vendor_sources_parse_with_their_options_and_defaults() {
        let text = format!(
            "{}\n{}",
            crate::config::EMBEDDED_DEFAULT,
            r#"
[sources.zd]
kind = "zendesk"
base_url = "https://acme.zendesk.com"
auth = { kind = "basic", user = "ops@acme.com/token", secret_env = "ZENDESK_TOKEN" }
ai_agent_ids = ["4"]
ai_team = "AI Agent"
tag_reasons = { wrong_queue = "wrong_queue" }
tag_topics = { billing_q = "billing" }
backoff_base_ms = 250

[sources.ic]
kind = "intercom"
base_url = "https://api.intercom.io"
api_version = "2.15"
auth = { kind = "bearer", secret_file = "/run/secrets/intercom" }
concurrency = 8
"#
        );
        let cfg = Config::parse(&text, "test.toml").unwrap();
        let zd = &cfg.sources["zd"];
        assert_eq!(zd.kind, SourceKind::Zendesk);
        assert_eq!(zd.backoff_base_ms, 250);
        assert_eq!(zd.max_retries, 5);
        assert_eq!(zd.max_wait_secs, 900);
        assert_eq!(zd.tag_topics["billing_q"], "billing");
        let ic = &cfg.sources["ic"];
        assert_eq!(ic.auth.as_ref().unwrap().kind, AuthKind::Bearer);
        assert_eq!(ic.concurrency, 8);
        assert_eq!(ic.backoff_base_ms, 1000);

        // A typo is an error naming the key.
        let bad = format!(
            "{}\n[sources.zd]\nkind = \"zendesk\"\nbase_url = \"https://a.b\"\nconcurency = 2\n",
            crate::config::EMBEDDED_DEFAULT
        );
        let err = Config::parse(&bad, "test.toml").unwrap_err().to_string();
        assert!(err.contains("concurency"), "{err}");
    }
}
