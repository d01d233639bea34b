//! Throughput of the metrics (and explain) stages on large generated helpdesks.
//!
//! `cargo bench --bench pipeline` (sizes in conversations: `-- 100000 1000000`, default
//! 100k and 1M). Each size is generated once into `$TMPDIR/baton-bench-<n>.parquet` (the
//! generator holds the export as text: about 2 GiB per million conversations), then measured
//! in a fresh process so the reported peak memory (VmHWM) belongs to that run alone:
//! Parquet -> canonical events -> every measure -> JSON.
//!
//! Other modes, on a file: `measure FILE` (one run), `facts FILE [BATCH]` (the facts stage three
//! times, for comparing two builds back to back; BATCH events per batch), `profile FILE` (the
//! slowest nodes of the facts query), `dump FILE PREFIX` (both fact tables as CSV, for comparing
//! two builds row by row).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use polars::prelude::{col, IntoLazy, SerWriter, SortMultipleOptions};

// The allocator of the `baton` binary (see src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// CPU seconds (user + system) this process has used: with wall time, how busy both cores were.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime and stime are the 12th and
    // 13th, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}

fn file_for(n: u64) -> PathBuf {
    std::env::temp_dir().join(format!("baton-bench-{n}.parquet"))
}

/// The week the bench reports on: the last full week of the generated data.
fn end_monday() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 16).unwrap()
}

fn generate(n: u64, path: &Path) {
    let weeks = 10u32;
    let tz = chrono_tz::Europe::London;
    let mut opts = baton::demo::GenerateOptions::ending(end_monday(), tz);
    opts.weeks = weeks;
    opts.per_week = (n / weeks as u64) as u32;
    opts.seed = 11;
    let t = Instant::now();
    // The frame straight away: a Vec of rows for 10M conversations would not fit in memory.
    let raw = baton::demo::generate_frame(&opts).unwrap();
    let gen_s = t.elapsed().as_secs_f64();
    let ing = baton::ingest::normalise(raw, &Default::default(), None).unwrap();
    let mut f = std::fs::File::create(path).unwrap();
    baton::ingest::write_canonical(&ing.events, baton::config::SourceFormat::Parquet, &mut f)
        .unwrap();
    eprintln!(
        "generated {n} conversations, {} events in {gen_s:.1} s -> {}",
        ing.events.height(),
        path.display()
    );
}

fn measure(path: &Path) {
    let cfg = baton::config::Config::embedded().unwrap();
    let period = baton::domain::Period::parse("2026-W46", cfg.tz(), chrono::Utc::now()).unwrap();
    let t0 = Instant::now();
    let bytes = std::fs::read(path).unwrap();
    let raw = baton::ingest::read_parquet(&bytes).unwrap();
    drop(bytes);
    let t_read = t0.elapsed().as_secs_f64();
    let peak_read = peak_rss_mib();
    let t = Instant::now();
    let ing = baton::ingest::normalise(raw, &Default::default(), None).unwrap();
    let t_ingest = t.elapsed().as_secs_f64();
    let peak_ingest = peak_rss_mib();
    let events = ing.events.height();
    let req = baton::metrics::MetricsRequest {
        period: &period,
        dimensions: &cfg.report.dimensions,
        trend_weeks: cfg.report.trend_weeks,
    };
    let t = Instant::now();
    let cpu = cpu_s();
    let facts = baton::metrics::FactTables::build(&ing.events, &cfg).unwrap();
    let t_facts = t.elapsed().as_secs_f64();
    let cpu_facts = cpu_s() - cpu;
    let peak_facts = peak_rss_mib();
    let t = Instant::now();
    let report = baton::metrics::report(&facts, &cfg, &req, &ing.quarantine.counts).unwrap();
    let json = serde_json::to_string(&report).unwrap();
    let t_report = t.elapsed().as_secs_f64();
    let total = t0.elapsed().as_secs_f64();
    println!(
        "events {events:>10}  read {t_read:5.2} s  ingest {t_ingest:5.2} s  facts {t_facts:5.2} s (cpu {cpu_facts:.2} s)  measures+json {t_report:5.2} s  total {total:6.2} s (cpu {:.2} s)  ({:.2} M events/s)  peak {:5.0} MiB (after read {peak_read:.0}, ingest {peak_ingest:.0}, facts {peak_facts:.0})  json {} KB",
        cpu_s(),
        events as f64 / total / 1e6,
        peak_rss_mib(),
        json.len() / 1024
    );
}

/// Reads and ingests a generated export (the modes that time later stages only).
fn load(path: &Path) -> baton::ingest::Ingested {
    let bytes = std::fs::read(path).unwrap();
    let raw = baton::ingest::read_parquet(&bytes).unwrap();
    baton::ingest::normalise(raw, &Default::default(), None).unwrap()
}

/// The slowest nodes of the facts query (`-- profile FILE`): where to look next.
fn profile(path: &Path) {
    let cfg = baton::config::Config::embedded().unwrap();
    let ing = load(path);
    let kinds = ing
        .events
        .clone()
        .lazy()
        .group_by([col("event"), col("author"), col("actor")])
        .agg([polars::prelude::len()])
        .sort(
            ["len"],
            SortMultipleOptions::default().with_order_descending(true),
        )
        .collect()
        .unwrap();
    println!("{kinds}");
    let rules = baton::metrics::HandoffRules::from_config(&cfg);
    let f = baton::metrics::facts::build(ing.events.lazy(), &rules).unwrap();
    let (_, prof) = f.conversations.profile().unwrap();
    let prof = prof
        .lazy()
        .with_column((col("end") - col("start")).alias("us"))
        .sort(
            ["us"],
            SortMultipleOptions::default().with_order_descending(true),
        )
        .limit(25)
        .collect()
        .unwrap();
    let nodes = prof.column("node").unwrap().str().unwrap().clone();
    let us = prof
        .column("us")
        .unwrap()
        .cast(&polars::prelude::DataType::Int64)
        .unwrap();
    for (n, t) in nodes.iter().zip(us.i64().unwrap().iter()) {
        println!(
            "{:8.3} s  {}",
            t.unwrap_or(0) as f64 / 1e6,
            n.unwrap_or("?").chars().take(150).collect::<String>()
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("gen") => return generate(args[1].parse().unwrap(), Path::new(&args[2])),
        Some("measure") => return measure(Path::new(&args[1])),
        Some("profile") => return profile(Path::new(&args[1])),
        Some("dump") => {
            // Both fact tables as CSV, for comparing two builds of the engine row by row.
            let cfg = baton::config::Config::embedded().unwrap();
            let ing = load(Path::new(&args[1]));
            let f = baton::metrics::FactTables::build(&ing.events, &cfg).unwrap();
            for (mut df, name) in [(f.conversations, "conversations"), (f.handoffs, "handoffs")] {
                let mut out = std::fs::File::create(format!("{}.{name}.csv", args[2])).unwrap();
                polars::prelude::CsvWriter::new(&mut out)
                    .finish(&mut df)
                    .unwrap();
            }
            return;
        }
        Some("facts") => {
            // The facts stage alone, three times on one loaded export: for comparing changes.
            let cfg = baton::config::Config::embedded().unwrap();
            let ing = load(Path::new(&args[1]));
            let batch: usize = args
                .get(2)
                .map(|b| b.parse().unwrap())
                .unwrap_or(baton::metrics::FACTS_BATCH_EVENTS);
            for _ in 0..3 {
                let (t, cpu) = (Instant::now(), cpu_s());
                let f =
                    baton::metrics::FactTables::build_in_batches(&ing.events, &cfg, batch).unwrap();
                println!(
                    "facts {:.2} s (cpu {:.2} s) {} conversations",
                    t.elapsed().as_secs_f64(),
                    cpu_s() - cpu,
                    f.conversations.height()
                );
            }
            return;
        }
        _ => {}
    }
    let sizes: Vec<u64> = if args.is_empty() {
        vec![100_000, 1_000_000]
    } else {
        args.iter().filter_map(|a| a.parse().ok()).collect()
    };
    let me = std::env::current_exe().unwrap();
    for n in sizes {
        let path = file_for(n);
        if !path.exists() {
            let ok = Command::new(&me)
                .args(["gen", &n.to_string(), path.to_str().unwrap()])
                .status()
                .unwrap();
            assert!(ok.success(), "generating {n} failed");
        }
        print!("{n:>9} conversations: ");
        use std::io::Write;
        std::io::stdout().flush().unwrap();
        let ok = Command::new(&me)
            .args(["measure", path.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(ok.success(), "measuring {n} failed");
    }
}
