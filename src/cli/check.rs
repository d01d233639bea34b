//! `baton check`: validate the configuration and the templates; exit 2 naming the file and key.

use super::common::load_config;
use std::path::PathBuf;

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
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let cfg = load_config(args.config.as_deref())?;
    let origin = cfg
        .origin()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| crate::config::EMBEDDED_NAME.to_string());
    match &args.templates {
        Some(dir) => crate::report::check_templates(dir)?,
        // The embedded templates: render the sample view to prove they compile and run.
        None => drop(crate::report::Renderer::new().render(&crate::report::sample_view())?),
    }
    println!(
        "ok: {origin}: {} owners, {} sources, {} schedules; templates {}",
        cfg.owners().len(),
        cfg.sources.len(),
        cfg.schedules.len(),
        args.templates
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "embedded".into())
    );
    Ok(())
}
