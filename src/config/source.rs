//! `[sources.NAME]`: where a helpdesk export is pulled from (SOURCES.md), one typed table per
//! `kind`.
//!
//! Why a hand-written decoder rather than `#[serde(tag = "kind")]` with `#[serde(flatten)]`:
//! serde's `deny_unknown_fields` does not combine with `flatten` (the shared HTTP keys would
//! swallow or let through foreign keys), and inside an internally tagged enum serde buffers the
//! table, so `serde_path_to_error` loses the key of any error in it (`sources.zd` instead of
//! `sources.zd.concurrency`). So a source is decoded in two parts, each a derived struct with
//! `deny_unknown_fields`: the shared [`HttpOptions`] from its own keys, and the kind's struct from
//! the rest. A key neither takes is an error naming it, and saying which kind it belongs to
//! when it is another kind's option. The key lists come from the derived structs themselves
//! ([`keys_of`]), so there is no hand-kept copy to drift.

use super::ConfigError;
use serde::de::{self, Deserialize, DeserializeOwned, Deserializer, Visitor};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Canonical,
    Zendesk,
    Intercom,
}

impl SourceKind {
    pub const ALL: [SourceKind; 3] = [
        SourceKind::Canonical,
        SourceKind::Zendesk,
        SourceKind::Intercom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Canonical => "canonical",
            SourceKind::Zendesk => "zendesk",
            SourceKind::Intercom => "intercom",
        }
    }

    /// The keys of this kind's own struct (the shared HTTP keys not included).
    fn own_keys(self) -> &'static [&'static str] {
        match self {
            SourceKind::Canonical => keys_of::<CanonicalSource>(),
            SourceKind::Zendesk => keys_of::<ZendeskSource>(),
            SourceKind::Intercom => keys_of::<IntercomSource>(),
        }
    }
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    Csv,
    Jsonl,
    Parquet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    /// HTTP basic auth: `user` plus the secret as password (Zendesk `user/token`).
    Basic,
    /// `Authorization: Bearer <secret>` (OAuth, Intercom access tokens).
    Bearer,
}

/// Credentials: the secret itself is only ever read from the environment or a file.
#[derive(Debug, Clone, serde::Deserialize)]
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

/// `[sources.NAME]`: one variant per `kind`, each with only its own options.
#[derive(Debug, Clone)]
pub enum SourceConfig {
    Canonical(CanonicalSource),
    Zendesk(ZendeskSource),
    Intercom(IntercomSource),
}

/// Options every kind takes: credentials, concurrency, timeouts, retries and rate limits.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpOptions {
    pub auth: Option<AuthConfig>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Retries for 5xx, timeouts and dropped connections.
    pub max_retries: u32,
    pub timeout_secs: u64,
    /// First wait of the exponential backoff (doubled per retry, with jitter).
    pub backoff_base_ms: u64,
    /// Longest backoff between two retries.
    pub backoff_max_secs: u64,
    /// 429 answers tolerated for one request before giving up.
    pub max_rate_limit_waits: u32,
    /// Longest single rate-limit wait accepted (`Retry-After` or reset header); longer fails.
    pub max_wait_secs: u64,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            auth: None,
            concurrency: 4,
            max_retries: 5,
            timeout_secs: 30,
            backoff_base_ms: 1000,
            backoff_max_secs: 60,
            max_rate_limit_waits: 20,
            max_wait_secs: 900,
        }
    }
}

/// `kind = "canonical"`: a CSV, JSON Lines or Parquet export with baton's columns.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanonicalSource {
    /// The export's URL (`http(s)://` or `file://`).
    pub url: String,
    /// Format, else guessed from the URL's extension, then the Content-Type, then CSV.
    #[serde(default)]
    pub format: Option<SourceFormat>,
    /// Their column name -> canonical column name.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// chrono format of `at` when it is neither RFC 3339 nor Unix seconds.
    #[serde(default)]
    pub timestamp_format: Option<String>,
    /// Decoded from the shared keys, not from this struct's (see the module comment).
    #[serde(skip)]
    pub http: HttpOptions,
}

/// `kind = "zendesk"`: Zendesk Support's incremental exports.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZendeskSource {
    /// `https://acme.zendesk.com`.
    pub base_url: String,
    /// User ids that are AI agents (their comments are `ai` messages).
    #[serde(default)]
    pub ai_agent_ids: Vec<String>,
    /// Team given to the AI agent when it becomes a ticket's owner (e.g. "AI Agent", a tier-0
    /// team), so its handover to a human is an escalation.
    #[serde(default)]
    pub ai_team: Option<String>,
    /// Tag -> canonical `reason`, carried on the assignment made with the tag.
    #[serde(default)]
    pub tag_reasons: BTreeMap<String, String>,
    /// Tag -> canonical `topic`.
    #[serde(default)]
    pub tag_topics: BTreeMap<String, String>,
    #[serde(skip)]
    pub http: HttpOptions,
}

/// `kind = "intercom"`: Intercom conversations and their parts.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntercomSource {
    /// `https://api.intercom.io`.
    pub base_url: String,
    /// Sent as `Intercom-Version` (default in `source::intercom`).
    #[serde(default)]
    pub api_version: Option<String>,
    /// Admin / bot ids that are AI agents.
    #[serde(default)]
    pub ai_agent_ids: Vec<String>,
    /// Team given to the AI agent when it owns a conversation.
    #[serde(default)]
    pub ai_team: Option<String>,
    /// Tag -> canonical `topic`. (No `tag_reasons`: Intercom does not say when a tag was
    /// added, so a tag cannot be tied to the assignment it would explain; the key is refused.)
    #[serde(default)]
    pub tag_topics: BTreeMap<String, String>,
    #[serde(skip)]
    pub http: HttpOptions,
}

impl SourceConfig {
    /// A canonical source at `url`, with defaults for everything else (`--input URL`).
    pub fn canonical(url: &str) -> SourceConfig {
        SourceConfig::Canonical(CanonicalSource {
            url: url.to_string(),
            format: None,
            columns: BTreeMap::new(),
            timestamp_format: None,
            http: HttpOptions::default(),
        })
    }

    pub fn kind(&self) -> SourceKind {
        match self {
            SourceConfig::Canonical(_) => SourceKind::Canonical,
            SourceConfig::Zendesk(_) => SourceKind::Zendesk,
            SourceConfig::Intercom(_) => SourceKind::Intercom,
        }
    }

    pub fn http(&self) -> &HttpOptions {
        match self {
            SourceConfig::Canonical(s) => &s.http,
            SourceConfig::Zendesk(s) => &s.http,
            SourceConfig::Intercom(s) => &s.http,
        }
    }

    pub fn http_mut(&mut self) -> &mut HttpOptions {
        match self {
            SourceConfig::Canonical(s) => &mut s.http,
            SourceConfig::Zendesk(s) => &mut s.http,
            SourceConfig::Intercom(s) => &mut s.http,
        }
    }

    /// Decodes one `[sources.NAME]` table. The error's key is relative to the table
    /// (`api_version`, `auth.user`).
    fn from_table(mut table: toml::Table) -> Result<SourceConfig, KeyError> {
        let kind = match table.remove("kind") {
            None => {
                return Err(KeyError::new(
                    "kind",
                    format!("missing: one of {}", kinds_listed()),
                ))
            }
            Some(v) => decode::<SourceKind>(v).map_err(|e| KeyError::new("kind", e.message))?,
        };
        let http_keys = keys_of::<HttpOptions>();
        let own_keys = kind.own_keys();
        let mut http = toml::Table::new();
        for key in table.keys().cloned().collect::<Vec<_>>() {
            if http_keys.contains(&key.as_str()) {
                http.insert(key.clone(), table.remove(&key).expect("listed"));
            } else if !own_keys.contains(&key.as_str()) {
                return Err(KeyError::new(&key, not_an_option(kind, &key)));
            }
        }
        let required = match kind {
            SourceKind::Canonical => ("url", "a canonical source needs the export's url"),
            SourceKind::Zendesk | SourceKind::Intercom => {
                ("base_url", "a vendor source needs the API's base_url")
            }
        };
        if !table.contains_key(required.0) {
            return Err(KeyError::new(
                required.0,
                format!("missing: {}", required.1),
            ));
        }
        let http: HttpOptions = decode(toml::Value::Table(http))?;
        let own = toml::Value::Table(table);
        Ok(match kind {
            SourceKind::Canonical => SourceConfig::Canonical(CanonicalSource {
                http,
                ..decode(own)?
            }),
            SourceKind::Zendesk => SourceConfig::Zendesk(ZendeskSource {
                http,
                ..decode(own)?
            }),
            SourceKind::Intercom => SourceConfig::Intercom(IntercomSource {
                http,
                ..decode(own)?
            }),
        })
    }

    pub(super) fn validate(&self, file: &str, key: &str) -> Result<(), ConfigError> {
        let err = |k: &str, m: &str| {
            Err(ConfigError::Invalid {
                file: file.into(),
                key: format!("{key}.{k}"),
                message: m.into(),
            })
        };
        let http = self.http();
        if let Some(auth) = &http.auth {
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
        if http.concurrency == 0 {
            return err("concurrency", "must be at least 1");
        }
        let (url_key, url) = match self {
            SourceConfig::Canonical(c) => ("url", c.url.as_str()),
            SourceConfig::Zendesk(z) => ("base_url", z.base_url.as_str()),
            SourceConfig::Intercom(i) => ("base_url", i.base_url.as_str()),
        };
        if userinfo_password(url) {
            return err(
                url_key,
                "has a password in its user-info (`https://user:password@host`): secrets are \
                 never written in the config; use `auth` with `secret_env` or `secret_file`",
            );
        }
        Ok(())
    }
}

/// Whether `url` carries a password in its user-info (`scheme://user:password@host/...`).
/// Checked by hand as well as with a URL parser, so that a URL that does not parse (a bad
/// port, say) is still caught.
fn userinfo_password(url: &str) -> bool {
    if let Ok(u) = reqwest::Url::parse(url) {
        if u.password().is_some() {
            return true;
        }
    }
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

/// Takes `[sources]` out of the parsed file and decodes each source on its own, so that an
/// error inside one names its key (`sources.zd.api_version`).
pub(super) fn take_sources(
    doc: &mut toml::Table,
    file: &str,
) -> Result<BTreeMap<String, SourceConfig>, ConfigError> {
    let Some(value) = doc.remove("sources") else {
        return Ok(BTreeMap::new());
    };
    let toml::Value::Table(sources) = value else {
        return Err(ConfigError::invalid(
            file,
            "sources",
            "must be a table of [sources.NAME] tables",
        ));
    };
    let mut out = BTreeMap::new();
    for (name, value) in sources {
        let toml::Value::Table(table) = value else {
            return Err(ConfigError::invalid(
                file,
                format!("sources.{name}"),
                "must be a table (`[sources.NAME]` with `kind = ...`)",
            ));
        };
        let src = SourceConfig::from_table(table).map_err(|e| {
            ConfigError::invalid(file, format!("sources.{name}.{}", e.key), e.message)
        })?;
        out.insert(name, src);
    }
    Ok(out)
}

/// An error inside one source table: the key (relative to the table) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyError {
    key: String,
    message: String,
}

impl KeyError {
    fn new(key: &str, message: impl Into<String>) -> KeyError {
        KeyError {
            key: key.to_string(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Serde form, for a `Config` decoded by other means than `Config::parse` (which decodes sources
/// with [`take_sources`] for exact keys): the key goes into the message.
impl<'de> Deserialize<'de> for SourceConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let table = toml::Table::deserialize(d)?;
        SourceConfig::from_table(table).map_err(de::Error::custom)
    }
}

fn kinds_listed() -> String {
    SourceKind::ALL.map(|k| format!("`{k}`")).join(", ")
}

/// Why `key` is not accepted by a source of `kind`: another kind's option, or unknown.
fn not_an_option(kind: SourceKind, key: &str) -> String {
    let owners: Vec<&str> = SourceKind::ALL
        .into_iter()
        .filter(|k| *k != kind && k.own_keys().contains(&key))
        .map(SourceKind::as_str)
        .collect();
    if owners.is_empty() {
        let mut accepted: Vec<&str> = kind.own_keys().to_vec();
        accepted.extend(keys_of::<HttpOptions>());
        format!(
            "unknown key for a {kind} source (it takes `kind`, {})",
            accepted
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        let why = if kind == SourceKind::Intercom && key == "tag_reasons" {
            " (Intercom does not say when a tag was added, so a tag cannot be tied to the \
             assignment it explains; use `tag_topics`, or a canonical export's `reason` column)"
        } else {
            ""
        };
        format!(
            "`{key}` is an option of {} sources; a {kind} source does not take it{why}",
            owners.join(" and ")
        )
    }
}

/// Decodes `value` as `T`, the error naming the key inside it (`auth.user`, `concurrency`).
fn decode<T: DeserializeOwned>(value: toml::Value) -> Result<T, KeyError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let key = e.path().to_string();
        KeyError {
            key: if key == "." { String::new() } else { key },
            message: e.into_inner().message().to_string(),
        }
    })
}

/// The keys a derived struct accepts. Serde passes them to `deserialize_struct`, so a
/// deserializer that only records them reads the list off the type itself.
fn keys_of<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("keys recorded"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut keys: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut keys));
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn parse(extra: &str) -> Result<Config, ConfigError> {
        Config::parse(
            &format!("{}\n{extra}", crate::config::EMBEDDED_DEFAULT),
            "test.toml",
        )
    }

    /// The error's key and message, which must start with the file and the key.
    fn error(extra: &str) -> (String, String) {
        let err = parse(extra).unwrap_err();
        let msg = err.to_string();
        let key = err.key().unwrap_or_default().to_string();
        assert!(msg.starts_with(&format!("test.toml: {key}: ")), "{msg}");
        (key, msg)
    }

    #[test]
    fn vendor_sources_parse_with_their_options_and_defaults() {
        let cfg = parse(
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

[sources.files]
kind = "canonical"
url = "file:///data/events.csv"
format = "csv"
columns = { ticket = "conversation_id" }
max_retries = 2
"#,
        )
        .unwrap();
        let SourceConfig::Zendesk(zd) = &cfg.sources["zd"] else {
            panic!("{:?}", cfg.sources["zd"])
        };
        assert_eq!(zd.base_url, "https://acme.zendesk.com");
        assert_eq!(zd.http.backoff_base_ms, 250);
        assert_eq!(zd.http.max_retries, 5);
        assert_eq!(zd.http.max_wait_secs, 900);
        assert_eq!(zd.tag_topics["billing_q"], "billing");
        assert_eq!(zd.ai_agent_ids, vec!["4".to_string()]);
        let SourceConfig::Intercom(ic) = &cfg.sources["ic"] else {
            panic!()
        };
        assert_eq!(ic.api_version.as_deref(), Some("2.15"));
        assert_eq!(ic.http.auth.as_ref().unwrap().kind, AuthKind::Bearer);
        assert_eq!(ic.http.concurrency, 8);
        assert_eq!(ic.http.backoff_base_ms, 1000);
        let SourceConfig::Canonical(c) = &cfg.sources["files"] else {
            panic!()
        };
        assert_eq!(c.format, Some(SourceFormat::Csv));
        assert_eq!(c.columns["ticket"], "conversation_id");
        assert_eq!(c.http.max_retries, 2);
        assert_eq!(cfg.sources["files"].kind(), SourceKind::Canonical);
    }

    #[test]
    fn a_foreign_key_on_each_kind_is_an_error_naming_it_and_its_kind() {
        let (key, msg) = error(
            "[sources.helpdesk]\nkind = \"canonical\"\nurl = \"file:///x.csv\"\napi_version = \"2.15\"\n",
        );
        assert_eq!(key, "sources.helpdesk.api_version");
        assert!(msg.contains("an option of intercom sources"), "{msg}");

        let (key, msg) = error(
            "[sources.helpdesk]\nkind = \"canonical\"\nurl = \"file:///x.csv\"\ntag_topics = { a = \"b\" }\n",
        );
        assert_eq!(key, "sources.helpdesk.tag_topics");
        assert!(msg.contains("zendesk and intercom sources"), "{msg}");

        let (key, msg) = error(
            "[sources.zd]\nkind = \"zendesk\"\nbase_url = \"https://a.b\"\napi_version = \"2.15\"\n",
        );
        assert_eq!(key, "sources.zd.api_version");
        assert!(msg.contains("a zendesk source does not take it"), "{msg}");

        let (key, msg) = error(
            "[sources.ic]\nkind = \"intercom\"\nbase_url = \"https://a.b\"\ncolumns = { a = \"b\" }\n",
        );
        assert_eq!(key, "sources.ic.columns");
        assert!(msg.contains("an option of canonical sources"), "{msg}");

        // The old flat table let a canonical source carry a base_url; it is now refused.
        let (key, _) = error(
            "[sources.c]\nkind = \"canonical\"\nurl = \"file:///x.csv\"\nbase_url = \"https://a.b\"\n",
        );
        assert_eq!(key, "sources.c.base_url");
    }

    #[test]
    fn intercom_refuses_tag_reasons_and_urls_refuse_passwords() {
        let (key, msg) = error(
            "[sources.ic]\nkind = \"intercom\"\nbase_url = \"https://a.b\"\ntag_reasons = { wrong = \"misrouted\" }\n",
        );
        assert_eq!(key, "sources.ic.tag_reasons");
        assert!(msg.contains("does not say when a tag was added"), "{msg}");

        let (key, msg) = error(
            "[sources.helpdesk]\nkind = \"canonical\"\nurl = \"https://me:hunter2-pw@exports.example/e.csv\"\n",
        );
        assert_eq!(key, "sources.helpdesk.url");
        assert!(
            msg.contains("password") && !msg.contains("hunter2-pw"),
            "{msg}"
        );
        // Even when the URL does not parse (a bad port).
        let (key, _) = error(
            "[sources.zd]\nkind = \"zendesk\"\nbase_url = \"https://me:pw@acme.example:99999\"\n",
        );
        assert_eq!(key, "sources.zd.base_url");
        // A user name alone is not a secret.
        parse("[sources.c]\nkind = \"canonical\"\nurl = \"https://me@exports.example/e.csv\"\n")
            .unwrap();
    }

    #[test]
    fn unknown_keys_types_and_missing_keys_are_named() {
        let (key, msg) =
            error("[sources.zd]\nkind = \"zendesk\"\nbase_url = \"https://a.b\"\nconcurency = 2\n");
        assert_eq!(key, "sources.zd.concurency");
        assert!(
            msg.contains("unknown key") && msg.contains("`concurrency`"),
            "{msg}"
        );

        let (key, msg) =
            error("[sources.zd]\nkind = \"zendesk\"\nbase_url = \"https://a.b\"\nconcurrency = \"many\"\n");
        assert_eq!(key, "sources.zd.concurrency");
        assert!(msg.contains("invalid type"), "{msg}");

        let (key, _) = error(
            "[sources.zd]\nkind = \"zendesk\"\nbase_url = \"https://a.b\"\nauth = { kind = \"basic\", usr = \"x\", secret_env = \"T\" }\n",
        );
        assert_eq!(key, "sources.zd.auth.usr");

        let (key, _) = error("[sources.zd]\nkind = \"zendesk\"\nbase_url = 3\n");
        assert_eq!(key, "sources.zd.base_url");

        let (key, msg) = error("[sources.x]\nkind = \"freshdesk\"\n");
        assert_eq!(key, "sources.x.kind");
        assert!(msg.contains("`canonical`, `zendesk`, `intercom`"), "{msg}");

        let (key, _) = error("[sources.x]\nurl = \"file:///x.csv\"\n");
        assert_eq!(key, "sources.x.kind");

        let (key, msg) = error("[sources.x]\nkind = \"canonical\"\n");
        assert_eq!(key, "sources.x.url");
        assert!(msg.contains("missing"), "{msg}");

        let (key, _) = error("[sources.x]\nkind = \"intercom\"\n");
        assert_eq!(key, "sources.x.base_url");

        let (key, _) =
            error("[sources.x]\nkind = \"canonical\"\nurl = \"file:///x\"\nconcurrency = 0\n");
        assert_eq!(key, "sources.x.concurrency");

        // Before the embedded default's tables, so that it is a top-level key.
        let text = format!("sources = 3\n{}", crate::config::EMBEDDED_DEFAULT);
        let err = Config::parse(&text, "test.toml").unwrap_err();
        assert_eq!(err.key(), Some("sources"), "{err}");
    }

    #[test]
    fn the_serde_form_names_the_key_in_its_message() {
        let err = toml::from_str::<BTreeMap<String, SourceConfig>>(
            "[a]\nkind = \"canonical\"\nurl = \"x\"\nsubdomain = \"acme\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("subdomain: unknown key"), "{err}");
    }

    #[test]
    fn the_example_in_docs_sources_md_parses() {
        let doc = include_str!("../../docs/sources.md");
        let example = doc
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("a toml block in docs/sources.md");
        let cfg = parse(example).unwrap();
        let kinds: Vec<SourceKind> = cfg.sources.values().map(SourceConfig::kind).collect();
        assert_eq!(
            kinds,
            [
                SourceKind::Canonical,
                SourceKind::Intercom,
                SourceKind::Zendesk
            ]
        );
    }

    #[test]
    fn every_kind_lists_its_keys() {
        assert!(SourceKind::Canonical
            .own_keys()
            .contains(&"timestamp_format"));
        assert!(SourceKind::Intercom.own_keys().contains(&"api_version"));
        assert!(!SourceKind::Zendesk.own_keys().contains(&"http"));
        assert!(keys_of::<HttpOptions>().contains(&"max_wait_secs"));
    }
}
