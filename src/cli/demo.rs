//! `baton demo`.

/// Arguments of `baton demo`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`baton demo` is not built yet")
}
