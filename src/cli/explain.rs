//! `baton explain`.

/// Arguments of `baton explain`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`baton explain` is not built yet")
}
