//! `baton demo`: the whole pipeline on embedded defaults. A seeded helpdesk is generated (with a
//! planted change so there is a story to explain), served from a loopback HTTP server, pulled
//! over HTTP like any canonical source, computed, rendered and written to an outbox folder.

use crate::config::{Config, SourceConfig, SourceFormat};
use crate::demo::{
    generate_frame, GenerateOptions, Injection, LoopbackServer, ServeOptions, ServedFile,
};
use crate::domain::Period;
use crate::ingest::{normalise, write_canonical};
use crate::run::{run_report, RunRequest, RunSummary, Trigger};
use crate::source::PullOptions;
use crate::store::Store;
use anyhow::Context;
use std::path::PathBuf;

/// Arguments of `baton demo`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  baton demo\n  baton demo --out /tmp/outbox --seed 3 --inject none"
)]
pub struct Args {
    /// Outbox folder (also holds the demo's SQLite store).
    #[arg(long, default_value = "outbox", value_name = "FILE")]
    pub out: PathBuf,
    /// Seed of the generated helpdesk: the same seed gives the same data.
    #[arg(long, default_value_t = 7, value_name = "N")]
    pub seed: u64,
    /// Weeks of history to generate.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub weeks: u32,
    /// Conversations created per week (enough for the planted change to be significant).
    #[arg(long, default_value_t = 3000, value_name = "N")]
    pub per_week: u32,
    /// Planted changes (see `baton generate --help`); default: billing conversations are
    /// misrouted 10 points more often from the start of the reported week. `none` for none.
    #[arg(long, value_name = "SPEC")]
    pub inject: Vec<String>,
    /// The reported period; default last week.
    #[arg(long, default_value = "last-week", value_name = "PERIOD")]
    pub period: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let summary = demo(&args).await?;
    print!("{}", describe(&summary));
    Ok(())
}

/// Runs the demo and returns what the run did (the tests call this).
pub async fn demo(args: &Args) -> anyhow::Result<RunSummary> {
    let mut cfg = Config::embedded()?;
    let tz = cfg.tz();
    let period = Period::parse(&args.period, tz, chrono::Utc::now())?;
    // A fix registered four weeks before the reported week: refund keywords routed to the
    // refund desk, which (planted below) cut misrouted refund conversations by 6 points, so
    // Support Operations' report shows a verdict.
    let fix_live = period.start_date() - chrono::Duration::weeks(4);
    let fix = demo_fix(fix_live)?;
    let injections: Vec<Injection> = if args.inject.is_empty() {
        vec![
            format!("routing:topic=billing:+10pp:from={}", period.start_date()).parse()?,
            format!("routing:topic=refund:-6pp:from={fix_live}").parse()?,
        ]
    } else {
        args.inject
            .iter()
            .filter(|s| s.as_str() != "none")
            .map(|s| s.parse())
            .collect::<Result<_, _>>()?
    };
    if args.weeks >= 8 {
        cfg.fixes.push(fix);
    }
    let mut opts = GenerateOptions::ending(period.end_date(), tz);
    opts.weeks = args.weeks;
    opts.per_week = args.per_week;
    opts.seed = args.seed;
    opts.injections = injections;

    let events = normalise(generate_frame(&opts)?, &Default::default(), None)?.events;
    let mut csv = Vec::new();
    write_canonical(&events, SourceFormat::Csv, &mut csv)?;
    eprintln!(
        "generated {} events for weeks ending {} ({} per week, seed {})",
        events.height(),
        period.end_date(),
        args.per_week,
        args.seed
    );
    drop(events);

    let server = LoopbackServer::start(
        [(
            "/exports/events.csv".to_string(),
            ServedFile::new(csv, "text/csv"),
        )],
        ServeOptions::default(),
    )
    .await
    .context("starting the demo helpdesk on loopback")?;
    let url = server.url("/exports/events.csv");
    eprintln!("serving the demo helpdesk at {url}");
    cfg.sources
        .insert("demo-helpdesk".into(), SourceConfig::canonical(&url));

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let store = Store::open(&args.out.join("baton.db"))?;
    let req = RunRequest {
        report: crate::domain::ReportKind::Owners,
        period,
        trigger: Trigger::Demo,
        outbox: Some(args.out.clone()),
        recipients: Default::default(),
        dry_run: false,
        pull: PullOptions::default(),
        http: Default::default(),
    };
    let summary = run_report(&cfg, &store, &req).await?;
    server.shutdown().await;
    Ok(summary)
}

/// The demo's registered fix (`baton fix add` would store the same in the registry).
fn demo_fix(live: chrono::NaiveDate) -> anyhow::Result<crate::config::Fix> {
    Ok(crate::config::Fix {
        id: "refund-routing".into(),
        title: "Refund keywords route to the refund desk".into(),
        branch: crate::domain::Cause::Routing,
        scope: crate::config::FixScope::new(vec![(
            crate::domain::Dimension::Topic,
            "refund".into(),
        )])
        .map_err(anyhow::Error::msg)?,
        live,
        expect: crate::config::Expect::Down,
        owner: "support-ops@example.com".into(),
        review_by: None,
        state: crate::config::FixState::Open,
    })
}

/// The short summary printed at the end of a run.
pub fn describe(s: &RunSummary) -> String {
    let m = &s.metrics.overall;
    let mut out = format!(
        "{} ({}): {} conversations resolved, {} events pulled, handoff rate {}\n",
        s.period.label(),
        s.period.tz().name(),
        m.measures.conversations,
        s.events,
        crate::format::pct(m.measures.handoff_rate),
    );
    if let Some(dir) = &s.outbox {
        let shown = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        out.push_str(&format!("outbox: {} ({})\n", shown.display(), s.delivery));
    } else {
        out.push_str(&format!("delivery: {}\n", s.delivery));
    }
    for o in &s.owners {
        out.push_str(&format!(
            "  {} <{}>: {}\n",
            o.owner.name, o.owner.email, o.subject
        ));
    }
    out.push_str(&format!(
        "run {} took {:.1} s\n",
        s.run_id.0,
        s.elapsed.as_secs_f64()
    ));
    out
}
