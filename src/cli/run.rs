//! `baton run`.

/// Arguments of `baton run`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`baton run` is not built yet")
}
