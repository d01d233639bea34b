//! `baton generate`.

/// Arguments of `baton generate`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`baton generate` is not built yet")
}
