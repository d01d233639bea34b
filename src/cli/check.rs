//! `baton check`: validate the configuration and the templates; exit 2 naming the file and key.

use super::common::{load_config, Format};
use crate::config::ConfigError;
use serde::Serialize;
use std::path::PathBuf;

/// The version of `baton check --format json` (docs/json.md).
pub const CHECK_SCHEMA_VERSION: u32 = 1;

/// Arguments of `baton check`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  baton check\n  baton check --config config/baton.toml --templates my-templates/"
)]
pub struct Args {
    /// The configuration file (TOML). Default: $BATON_CONFIG, else config/baton.toml when it
    /// exists, else the built-in defaults.
    #[arg(long, value_name = "FILE", env = "BATON_CONFIG")]
    pub config: Option<PathBuf>,
    /// Template directory to check instead of the embedded templates.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Output: a line for people, or one JSON object on stdout (docs/json.md), also on error
    /// (the exit code is 2 either way).
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

/// `baton check --format json`.
#[derive(Debug, Serialize)]
struct CheckJson {
    schema_version: u32,
    ok: bool,
    /// The file checked (`(embedded defaults)` for none).
    config: Option<String>,
    owners: Vec<OwnerJson>,
    sources: Vec<SourceJson>,
    schedules: Vec<String>,
    /// `embedded`, or the template folder checked.
    templates: String,
    error: Option<ErrorJson>,
}

#[derive(Debug, Serialize)]
struct OwnerJson {
    id: String,
    name: String,
    email: String,
    branches: Vec<String>,
}

#[derive(Debug, Serialize)]
struct SourceJson {
    name: String,
    kind: &'static str,
}

#[derive(Debug, Serialize)]
struct ErrorJson {
    /// The file and the key at fault, when the error is about one.
    file: Option<String>,
    key: Option<String>,
    message: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let templates = args
        .templates
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "embedded".into());
    let checked = check(&args);
    if args.format == Format::Json {
        let json = match &checked {
            Ok(cfg) => CheckJson {
                schema_version: CHECK_SCHEMA_VERSION,
                ok: true,
                config: Some(origin(cfg)),
                owners: cfg
                    .owners()
                    .into_iter()
                    .map(|(o, causes)| OwnerJson {
                        id: o.id.as_str().to_string(),
                        name: o.name,
                        email: o.email,
                        branches: causes.iter().map(|c| c.as_str().to_string()).collect(),
                    })
                    .collect(),
                sources: cfg
                    .sources
                    .iter()
                    .map(|(name, s)| SourceJson {
                        name: name.clone(),
                        kind: s.kind().as_str(),
                    })
                    .collect(),
                schedules: cfg.schedules.iter().map(|s| s.name.clone()).collect(),
                templates,
                error: None,
            },
            Err(e) => {
                let config = e.downcast_ref::<ConfigError>();
                CheckJson {
                    schema_version: CHECK_SCHEMA_VERSION,
                    ok: false,
                    config: None,
                    owners: vec![],
                    sources: vec![],
                    schedules: vec![],
                    templates,
                    error: Some(ErrorJson {
                        file: config.map(|c| c.file().to_string()),
                        key: config.and_then(|c| c.key()).map(str::to_string),
                        message: format!("{e:#}"),
                    }),
                }
            }
        };
        println!("{}", serde_json::to_string_pretty(&json)?);
        return checked.map(drop);
    }
    let cfg = checked?;
    println!(
        "ok: {}: {} owners, {} sources, {} schedules; templates {templates}",
        origin(&cfg),
        cfg.owners().len(),
        cfg.sources.len(),
        cfg.schedules.len(),
    );
    Ok(())
}

/// Loads the config and renders the templates (the embedded ones on the sample view, to
/// prove they compile and run).
fn check(args: &Args) -> anyhow::Result<crate::config::Config> {
    let cfg = load_config(args.config.as_deref())?;
    match &args.templates {
        Some(dir) => crate::report::check_templates(dir)?,
        None => drop(crate::report::Renderer::new().render(&crate::report::sample_view())?),
    }
    Ok(cfg)
}

fn origin(cfg: &crate::config::Config) -> String {
    cfg.origin()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| crate::config::EMBEDDED_NAME.to_string())
}
