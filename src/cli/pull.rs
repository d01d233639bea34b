//! `baton pull`.

/// Arguments of `baton pull`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`baton pull` is not built yet")
}
