//! `baton serve`'s scheduler in-process, on a one-second schedule (six-field cron) and a real
//! SMTP server on loopback: each tick is one fire, each fire at most one run, each owner one
//! message per period; catch-up after a simulated downtime.

mod deliver_support;
mod serve_support;

use baton::schedule::Daemon;
use baton::store::{FireState, RunKind, RunState, Store};
use deliver_support::{Script, Server, OWNERS};
use serve_support::*;
use std::time::Duration;

async fn listener() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_second_schedule_fires_each_tick_once_and_each_owner_gets_one_message() {
    let server = Server::start(Script::default());
    let dir = tempfile::tempdir().unwrap();
    let url = export(dir.path());
    let cfg = config(dir.path(), &url, server.addr.port(), "* * * * * *", "");
    let store = Store::open(&cfg.store.path).unwrap();
    let daemon = Daemon::new(cfg, store);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(daemon.clone().serve(listener().await, async {
        let _ = stopped.await;
    }));
    // Wait for three fires dealt with (done, or skipped while the report was busy).
    let check = Store::open(&dir.path().join("baton.db")).unwrap();
    let dealt = wait_until_async(Duration::from_secs(15), || {
        check
            .fires("tick", 100)
            .unwrap()
            .iter()
            .filter(|f| f.state != FireState::Started)
            .count()
            >= 3
    })
    .await;
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
    assert!(dealt, "{:?}", check.fires("tick", 100).unwrap());

    let fires = check.fires("tick", 100).unwrap();
    let runs = check.recent_runs(100).unwrap();
    // Fires are whole seconds, one row each; every run stands for one fire, and no fire
    // has two runs.
    for f in &fires {
        assert_eq!(f.scheduled_for.timestamp_subsec_millis(), 0);
        let n = runs
            .iter()
            .filter(|r| r.scheduled_for == Some(f.scheduled_for))
            .count();
        assert!(n <= 1, "fire {} has {n} runs", f.scheduled_for);
        if f.state == FireState::Done {
            assert_eq!(n, 1);
        }
    }
    assert!(runs.iter().all(|r| r.kind == RunKind::Scheduled));
    assert!(
        runs.iter().all(|r| r.state == RunState::Succeeded),
        "{runs:?}"
    );
    // No two runs at once.
    let mut spans: Vec<_> = runs
        .iter()
        .map(|r| (r.started_at, r.finished_at.unwrap()))
        .collect();
    spans.sort();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "runs overlap: {w:?}");
    }
    // The first run delivered every owner's message; later ticks found them delivered.
    assert_eq!(server.per_owner(), [1, 1, 1, 1]);
    let oldest = runs.last().unwrap();
    assert_eq!(oldest.messages_sent, 4);
    for r in &runs[..runs.len() - 1] {
        assert_eq!((r.messages_sent, r.messages_already), (0, 4), "{r:?}");
    }
    assert!(runs.len() >= 2, "{runs:?}");
    let _ = OWNERS;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_downtime_the_latest_missed_fire_runs_once_and_older_ones_are_skipped() {
    let server = Server::start(Script::default());
    let dir = tempfile::tempdir().unwrap();
    let url = export(dir.path());
    // Hourly, 3 hours of grace; the last fire the log knows of was 5 hours ago.
    let cfg = config(dir.path(), &url, server.addr.port(), "0 * * * *", "").with_grace(3);
    let store = Store::open(&cfg.store.path).unwrap();
    let now = chrono::Utc::now();
    let hour = |h: i64| {
        let t = now - chrono::Duration::hours(h);
        t.date_naive()
            .and_hms_opt(t.format("%H").to_string().parse().unwrap(), 0, 0)
            .unwrap()
            .and_utc()
    };
    let last = hour(5);
    assert!(matches!(
        store
            .begin_fire(
                "tick",
                last,
                "owners",
                RunKind::Scheduled,
                "old",
                Duration::from_secs(1)
            )
            .unwrap(),
        baton::store::FireStart::Begun { .. }
    ));
    store
        .finish_fire("tick", last, FireState::Done, None, None)
        .unwrap();
    store.release_lease("report:owners", "old").unwrap();
    let daemon = Daemon::new(cfg, store);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(daemon.clone().serve(listener().await, async {
        let _ = stopped.await;
    }));
    let check = Store::open(&dir.path().join("baton.db")).unwrap();
    let caught = wait_until_async(Duration::from_secs(15), || {
        check
            .fires("tick", 100)
            .unwrap()
            .iter()
            .any(|f| f.kind == RunKind::CatchUp && f.state == FireState::Done)
    })
    .await;
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
    assert!(caught, "{:?}", check.fires("tick", 100).unwrap());
    let fires = check.fires("tick", 100).unwrap();
    // 5 missed since the one 5 hours ago: the newest (this hour's) ran, 4 skipped with the
    // reason (the 3 beyond the grace period among them).
    let latest = hour(0);
    let by_time = |t| fires.iter().find(|f| f.scheduled_for == t).unwrap();
    assert_eq!(by_time(latest).state, FireState::Done);
    assert_eq!(by_time(latest).kind, RunKind::CatchUp);
    for h in 1..=4 {
        let f = by_time(hour(h));
        assert_eq!(f.state, FireState::Skipped, "{f:?}");
        assert!(f.note.as_deref().unwrap().contains("missed"), "{f:?}");
    }
    assert_eq!(fires.len(), 6);
    let runs = check.recent_runs(10).unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].kind, RunKind::CatchUp);
    assert_eq!(runs[0].scheduled_for, Some(latest));
    assert_eq!(server.per_owner(), [1, 1, 1, 1]);
}

trait Grace {
    fn with_grace(self, hours: u32) -> Self;
}
impl Grace for baton::config::Config {
    fn with_grace(mut self, hours: u32) -> Self {
        self.schedules[0].grace_hours = hours;
        self
    }
}
