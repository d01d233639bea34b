//! The `baton` command line. Parses, calls the library, maps errors to exit codes:
//! 0 ok, 1 the run failed, 2 bad usage or configuration. JSON goes to stdout, logs to stderr.

use baton::cli;
use clap::{Parser, Subcommand};

// polars allocates and frees column-sized buffers all the time; with the system allocator each
// one is a fresh mmap whose pages fault in again (a third of the metrics time at a million
// conversations). mimalloc keeps and reuses them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "baton",
    version,
    about = "Weekly conversation-handoff reports for support teams"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a helpdesk, serve it on loopback, pull, compute, render and write the outbox.
    Demo(cli::demo::Args),
    /// Write a synthetic helpdesk export (canonical events).
    Generate(cli::generate::Args),
    /// Every handoff measure for a period, overall and per segment.
    Metrics(cli::metrics::Args),
    /// Why did a metric change: attribution per branch and segment.
    Explain(cli::explain::Args),
    /// Pull a configured source and write the canonical events it gave.
    Pull(cli::pull::Args),
    /// One report run: pull, compute, explain, render, deliver.
    Run(cli::run::Args),
    /// Validate the configuration and the templates.
    Check(cli::check::Args),
    /// The fix registry: add, list, show, close, reopen.
    Fix(cli::fix::Args),
    /// Did the fixes work: before/after, difference-in-differences, always-valid verdicts.
    Verify(cli::verify::Args),
    /// The scheduler daemon: fires [[schedules]], HTTP trigger, health and metrics.
    Serve(cli::serve::Args),
    /// The coming fire times of each schedule, in its own time zone and in UTC.
    Schedule(cli::schedule::Args),
    /// The run log, newest first.
    Runs(cli::runs::Args),
}

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BATON_LOG")
                .unwrap_or_else(|_| "baton=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Demo(a) => cli::demo::run(a).await,
            Command::Generate(a) => cli::generate::run(a).await,
            Command::Metrics(a) => cli::metrics::run(a).await,
            Command::Explain(a) => cli::explain::run(a).await,
            Command::Pull(a) => cli::pull::run(a).await,
            Command::Run(a) => cli::run::run(a).await,
            Command::Check(a) => cli::check::run(a).await,
            Command::Fix(a) => cli::fix::run(a).await,
            Command::Verify(a) => cli::verify::run(a).await,
            Command::Serve(a) => cli::serve::run(a).await,
            Command::Schedule(a) => cli::schedule::run(a).await,
            Command::Runs(a) => cli::runs::run(a).await,
        }
    });
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(cli::exit_code(&err));
    }
}
