//! `baton serve`: the schedules of `[[schedules]]` fired exactly once per report and period,
//! catch-up after downtime, failure notices to the operator, and the HTTP trigger / health /
//! metrics endpoint ([`http`]). Every run goes through [`crate::run::run_report`], like
//! `baton run`.
//!
//! Exactly once rests on two rows in the store, so it holds across processes sharing one
//! file, not only inside one:
//! - a **lease per report** (`leases`): one run of a report at a time. The holder renews it
//!   while its run works; a killed `serve` stops renewing, and once it expires the next
//!   taker marks the dead run abandoned (its claims released) and goes on;
//! - the **fire log** (`schedule_fires`): one row per (schedule, fire time), `started`, then
//!   `done` or `failed`, or `skipped` with the reason. A fire that is in the log is never run
//!   again, whichever process sees it.
//!
//! Under both, the delivery ledger makes a rerun of a period (catch-up after a kill -9, an
//! HTTP trigger of the same week) send only what was not delivered.
//!
//! One process runs at most one run per report (the lease), and baton has one report kind,
//! so the store's "current run" and "lease holder" (process-wide) are unambiguous.

pub mod alert;
pub mod http;
pub mod times;

use crate::config::{Config, ScheduleConfig};
use crate::domain::{Period, ReportKind};
use crate::run::{run_report, Recipients, RunError, RunRequest, RunSummary, Trigger};
use crate::source::PullOptions;
use crate::store::{
    Acquired, FireStart, FireState, RunId, RunKind, RunRecord, RunState, Store, StoreError,
};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, watch, Notify};
use tokio_cron_scheduler::{Job, JobScheduler};

/// How many missed fires a catch-up looks at (the newest ones); older ones are not logged.
const CATCH_UP_CAP: usize = 200;

/// What one run asks of [`Daemon::execute`].
#[derive(Debug, Clone)]
pub struct RunJob {
    pub report: ReportKind,
    pub period: Period,
    pub trigger: Trigger,
    pub recipients: Recipients,
    /// The lease holder (already granted).
    pub holder: String,
    pub timeout: Duration,
    /// The fire this run stands for.
    pub fire: Option<(String, DateTime<Utc>)>,
}

/// What a finished run left, in memory, for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Seconds of the last run per schedule (or `http`).
    pub last_duration: BTreeMap<String, f64>,
    /// Fires seen by this process by outcome (`started`, `already_handled`, `busy`, ...).
    pub fires: BTreeMap<&'static str, u64>,
    pub alerts_sent: u64,
    pub alerts_failed: u64,
}

/// The scheduler daemon's shared state: config, store, who this process is, what it is doing.
pub struct Daemon {
    pub cfg: Arc<Config>,
    pub store: Arc<Store>,
    /// `host:pid:random`: prefix of every lease this process takes.
    id: String,
    seq: AtomicU64,
    next: Mutex<BTreeMap<String, DateTime<Utc>>>,
    observed: Mutex<Observed>,
    /// When the scheduler's ticker last ran (for `/healthz`).
    last_tick: Mutex<Option<DateTime<Utc>>>,
    scheduler_ok: AtomicBool,
    stopping: watch::Sender<bool>,
    /// Set after the shutdown grace: runs still working are abandoned.
    abandon: watch::Sender<bool>,
    active: AtomicUsize,
    idle: Notify,
    /// Pull options of every run (tests point the cache somewhere).
    pub pull: PullOptions,
}

/// Decrements the active-run count when a run ends, however it ends.
struct Active<'a>(&'a Daemon);
impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
        self.0.idle.notify_waiters();
    }
}

/// Why a run of [`Daemon::execute`] ended without a summary.
#[derive(Debug)]
pub enum Ended {
    Finished(Box<Result<RunSummary, RunError>>),
    TimedOut,
    Abandoned,
    /// Another process took the report's lease (this one renewed too late): stopped, so two
    /// runs never work at once.
    LostLease,
    Panicked(String),
}

impl Daemon {
    pub fn new(cfg: Config, store: Store) -> Arc<Daemon> {
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "host".into());
        let id = format!(
            "{host}:{}:{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        Arc::new(Daemon {
            cfg: Arc::new(cfg),
            store: Arc::new(store),
            id,
            seq: AtomicU64::new(0),
            next: Mutex::new(BTreeMap::new()),
            observed: Mutex::new(Observed::default()),
            last_tick: Mutex::new(None),
            scheduler_ok: AtomicBool::new(false),
            stopping: watch::channel(false).0,
            abandon: watch::channel(false).0,
            active: AtomicUsize::new(0),
            idle: Notify::new(),
            pull: PullOptions::default(),
        })
    }

    /// A fresh lease holder name.
    fn holder(&self) -> String {
        format!("{}:{}", self.id, self.seq.fetch_add(1, Ordering::SeqCst))
    }

    pub fn lease_ttl(&self) -> Duration {
        Duration::from_secs(self.cfg.serve.lease_secs)
    }

    fn stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// The next armed fire of each schedule.
    pub fn next_fires(&self) -> BTreeMap<String, DateTime<Utc>> {
        self.next.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn observed(&self) -> Observed {
        self.observed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn count_fire(&self, what: &'static str) {
        *self
            .observed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .fires
            .entry(what)
            .or_default() += 1;
    }

    /// Whether the scheduler started and its ticker ran in the last few seconds.
    pub fn scheduler_alive(&self) -> bool {
        let tick = *self.last_tick.lock().unwrap_or_else(|p| p.into_inner());
        self.scheduler_ok.load(Ordering::SeqCst)
            && tick.is_some_and(|t| Utc::now() - t < chrono::Duration::seconds(5))
    }

    /// Runs the daemon on `listener` until `shutdown` completes: arms every schedule, catches
    /// up what was missed, serves HTTP; then stops accepting, lets a run in progress finish
    /// for `serve.shutdown_grace_secs` and abandons it after that (the ledger keeps its sends
    /// safe).
    pub async fn serve(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let sched = JobScheduler::new().await?;
        sched.start().await?;
        self.scheduler_ok.store(true, Ordering::SeqCst);
        let ticker = {
            let me = self.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(1));
                loop {
                    every.tick().await;
                    *me.last_tick.lock().unwrap_or_else(|p| p.into_inner()) = Some(Utc::now());
                }
            })
        };
        let now = Utc::now();
        for (i, s) in self.cfg.schedules.iter().enumerate() {
            if s.paused {
                tracing::info!(schedule = %s.name, "paused: not armed");
                continue;
            }
            self.clone().arm(sched.clone(), i, now).await;
        }
        for i in 0..self.cfg.schedules.len() {
            if let Err(e) = self.clone().catch_up(i, now) {
                tracing::error!(schedule = %self.cfg.schedules[i].name, "catch-up: {e}");
            }
        }
        let app = http::router(self.clone());
        let addr = listener.local_addr()?;
        tracing::info!("listening on http://{addr}");
        let me = self.clone();
        let stop = async move {
            shutdown.await;
            tracing::info!("stopping: no new runs; waiting for the run in progress");
            let _ = me.stopping.send(true);
        };
        axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await?;
        let _ = self.stopping.send(true);
        let mut sched = sched;
        if let Err(e) = sched.shutdown().await {
            tracing::warn!("stopping the scheduler: {e}");
        }
        ticker.abort();
        let grace = Duration::from_secs(self.cfg.serve.shutdown_grace_secs);
        if !self.wait_idle(grace).await {
            tracing::warn!("a run is still working after {grace:?}: abandoning it");
            let _ = self.abandon.send(true);
            self.wait_idle(Duration::from_secs(10)).await;
        }
        tracing::info!("stopped");
        Ok(())
    }

    async fn wait_idle(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let idle = self.idle.notified();
            if self.active.load(Ordering::SeqCst) == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return self.active.load(Ordering::SeqCst) == 0;
            }
        }
    }

    /// Arms schedule `i`'s next fire after `after` as a one-shot job; the job arms the one
    /// after it when it fires. Why one-shots and not a tokio-cron-scheduler cron job: its
    /// cron jobs keep the zone's UTC offset of the day they were created (so a 09:00 London
    /// job would fire at 10:00 BST all summer), need a seconds field and AND day-of-month
    /// with day-of-week. Each fire time here comes from croner on the schedule's own
    /// `chrono_tz` zone ([`times`]), so every fire follows daylight saving.
    fn arm(
        self: Arc<Self>,
        sched: JobScheduler,
        i: usize,
        after: DateTime<Utc>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            if self.stopping() {
                return;
            }
            let s = &self.cfg.schedules[i];
            let Some(at) = times::schedule_next(s, after) else {
                tracing::warn!(schedule = %s.name, "the cron `{}` never fires again", s.cron);
                return;
            };
            self.next
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(s.name.clone(), at);
            let wait = (at - Utc::now()).to_std().unwrap_or_default();
            let instant = std::time::Instant::now() + wait;
            let me = self.clone();
            let job = Job::new_one_shot_at_instant_async(instant, move |_id, sched| {
                let me = me.clone();
                Box::pin(async move {
                    // tokio-cron-scheduler keeps whole seconds and polls every 500 ms: it may
                    // call a little early. The fire belongs to `at`.
                    if let Ok(early) = (at - Utc::now()).to_std() {
                        tokio::time::sleep(early).await;
                    }
                    // Re-arm first, so a long run never delays the next fire.
                    me.clone().arm(sched, i, at).await;
                    tokio::spawn(me.fire(i, at, RunKind::Scheduled));
                })
            });
            match job {
                Ok(job) => {
                    if let Err(e) = sched.add(job).await {
                        tracing::error!(schedule = %s.name, "cannot arm the fire at {at}: {e}");
                        self.scheduler_ok.store(false, Ordering::SeqCst);
                    } else {
                        tracing::info!(
                            schedule = %s.name,
                            "next fire {} ({} UTC)",
                            times::local_text(at, s.time_zone),
                            at.format("%Y-%m-%d %H:%M:%S")
                        );
                    }
                }
                Err(e) => {
                    tracing::error!(schedule = %s.name, "cannot arm the fire at {at}: {e}");
                    self.scheduler_ok.store(false, Ordering::SeqCst);
                }
            }
        })
    }

    /// After downtime: the latest missed fire of schedule `i` within its grace period runs
    /// once (as `catch-up`); the others missed since the last fire in the log are logged as
    /// skipped (the newest [`CATCH_UP_CAP`] of them, in one transaction). A fire left
    /// `started` by a process that died counts as missed (the ledger makes its rerun send
    /// only what had not gone out). A schedule with nothing in the fire log has missed
    /// nothing: this store never served it, so it starts with its next fire.
    pub fn catch_up(self: Arc<Self>, i: usize, now: DateTime<Utc>) -> Result<(), StoreError> {
        let s = &self.cfg.schedules[i];
        if s.paused {
            return Ok(());
        }
        let grace = chrono::Duration::hours(s.grace_hours as i64);
        let Some(last) = self.store.fires(&s.name, 1)?.into_iter().next() else {
            return Ok(());
        };
        let (mut missed, dropped) =
            times::fires_between(&s.cron, s.time_zone, last.scheduled_for, now, CATCH_UP_CAP);
        if last.state == FireState::Started {
            missed.insert(0, last.scheduled_for);
        }
        if dropped {
            tracing::warn!(schedule = %s.name, "more than {CATCH_UP_CAP} fires were missed: only the newest are logged");
        }
        let Some(latest) = missed.pop() else {
            return Ok(());
        };
        let run_latest = now - latest <= grace;
        let mut skipped: Vec<(DateTime<Utc>, String)> = missed
            .into_iter()
            .map(|at| {
                (
                    at,
                    "missed while baton serve was not running; only the latest missed fire \
                     within grace_hours runs"
                        .to_string(),
                )
            })
            .collect();
        if !run_latest {
            skipped.push((
                latest,
                format!(
                    "missed while baton serve was not running, more than grace_hours ({}) ago",
                    s.grace_hours
                ),
            ));
        }
        let logged =
            self.store
                .skip_fires(&s.name, s.report.as_str(), RunKind::CatchUp, &skipped)?;
        if logged > 0 {
            tracing::info!(schedule = %s.name, "logged {logged} missed fire(s) as skipped");
        }
        if run_latest {
            tracing::info!(schedule = %s.name, "catching up the missed fire of {latest}");
            tokio::spawn(self.clone().fire(i, latest, RunKind::CatchUp));
        }
        Ok(())
    }

    /// One fire of schedule `i` at `at`: run it unless the fire log says it was dealt with;
    /// while the report is busy with another run, wait (until the grace period ends or a
    /// later fire of the schedule is due).
    pub async fn fire(self: Arc<Self>, i: usize, at: DateTime<Utc>, kind: RunKind) {
        let s: &ScheduleConfig = &self.cfg.schedules[i];
        let report = s.report.as_str();
        let deadline = at + chrono::Duration::hours(s.grace_hours as i64);
        let mut stopping = self.stopping.subscribe();
        loop {
            if self.stopping() {
                return;
            }
            let holder = self.holder();
            let begun = self
                .store
                .begin_fire(&s.name, at, report, kind, &holder, self.lease_ttl());
            match begun {
                Err(e) => {
                    tracing::error!(schedule = %s.name, "cannot start the fire of {at}: {e}");
                    self.count_fire("error");
                    return;
                }
                Ok(FireStart::Handled(f)) => {
                    tracing::info!(
                        schedule = %s.name,
                        "the fire of {at} is {} already{}",
                        f.state.as_str(),
                        f.holder.map(|h| format!(" (by {h})")).unwrap_or_default()
                    );
                    self.count_fire("already_handled");
                    return;
                }
                Ok(FireStart::Begun { took_over }) => {
                    if let Some(r) = took_over {
                        tracing::warn!(schedule = %s.name, "took over from run {r}, whose serve stopped renewing its lease");
                    }
                    self.count_fire("started");
                    let period = match Period::parse("last-week", self.cfg.tz(), at) {
                        Ok(p) => p,
                        Err(e) => {
                            let _ = self.store.finish_fire(
                                &s.name,
                                at,
                                FireState::Failed,
                                None,
                                Some(&e.to_string()),
                            );
                            let _ = self
                                .store
                                .release_lease(&crate::store::report_lease_name(report), &holder);
                            return;
                        }
                    };
                    let trigger = match kind {
                        RunKind::CatchUp => Trigger::CatchUp {
                            schedule: s.name.clone(),
                            scheduled_for: at,
                        },
                        _ => Trigger::Scheduled {
                            schedule: s.name.clone(),
                            scheduled_for: at,
                        },
                    };
                    let job = RunJob {
                        report: s.report,
                        period,
                        trigger,
                        recipients: Recipients {
                            only: s.owners.addresses(),
                            ..Default::default()
                        },
                        holder,
                        timeout: Duration::from_secs(s.working_timeout_secs),
                        fire: Some((s.name.clone(), at)),
                    };
                    self.execute(job, None).await;
                    return;
                }
                Ok(FireStart::Busy(lease)) => {
                    let now = Utc::now();
                    let superseded = times::schedule_next(s, at).is_some_and(|n| n <= now);
                    if now > deadline || superseded {
                        let why = if superseded {
                            "a later fire of the schedule is due"
                        } else {
                            "the grace period ended"
                        };
                        let note = format!(
                            "the report was busy with {} ({}) and {why}",
                            lease
                                .run_id
                                .map(|r| format!("run {r}"))
                                .unwrap_or_else(|| "another run".into()),
                            lease.what.clone().unwrap_or_default()
                        );
                        let _ = self.store.skip_fire(&s.name, at, report, kind, &note);
                        tracing::warn!(schedule = %s.name, "skipped the fire of {at}: {note}");
                        self.count_fire("skipped_busy");
                        return;
                    }
                    self.count_fire("waited_busy");
                    tracing::info!(
                        schedule = %s.name,
                        "the report is busy ({}): the fire of {at} waits",
                        lease.what.clone().unwrap_or_default()
                    );
                    let wait = (lease.until - now)
                        .to_std()
                        .unwrap_or_default()
                        .clamp(Duration::from_millis(200), Duration::from_secs(2));
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stopping.changed() => return,
                    }
                }
            }
        }
    }

    /// Starts an HTTP-triggered run: 409-style `Err(lease holder's run)` when the report is
    /// busy, else the run id once the run is in the log.
    pub async fn trigger(
        self: Arc<Self>,
        report: ReportKind,
        period: Period,
        recipients: Recipients,
    ) -> Result<RunId, TriggerError> {
        if self.stopping() {
            return Err(TriggerError::Stopping);
        }
        let holder = self.holder();
        let name = crate::store::report_lease_name(report.as_str());
        match self
            .store
            .acquire_lease(&name, &holder, "http", self.lease_ttl())?
        {
            Acquired::Held(l) => {
                let running = l.run_id.or_else(|| {
                    self.store
                        .running_runs(report.as_str())
                        .ok()
                        .and_then(|r| r.last().map(|r| r.id))
                });
                Err(TriggerError::Busy {
                    run: running,
                    what: l.what.unwrap_or_default(),
                })
            }
            Acquired::Granted { .. } => {
                let job = RunJob {
                    report,
                    period,
                    trigger: Trigger::Http,
                    recipients,
                    holder,
                    timeout: Duration::from_secs(self.cfg.serve.working_timeout_secs),
                    fire: None,
                };
                let (tx, rx) = oneshot::channel();
                tokio::spawn(self.clone().execute(job, Some(tx)));
                match rx.await {
                    Ok(Ok(id)) => Ok(id),
                    Ok(Err(e)) => Err(TriggerError::Failed(e)),
                    Err(_) => Err(TriggerError::Failed(
                        "the run stopped before it started".into(),
                    )),
                }
            }
        }
    }

    /// Runs `job` (its lease already granted) with the lease renewed meanwhile, the working
    /// timeout and shutdown applied; then records it (run log counts, fire log), releases
    /// the lease and tells the operator when it failed. `started` gets the run id as soon as
    /// the run is in the log.
    pub async fn execute(
        self: Arc<Self>,
        job: RunJob,
        started: Option<oneshot::Sender<Result<RunId, String>>>,
    ) -> Option<RunId> {
        self.active.fetch_add(1, Ordering::SeqCst);
        let _active = Active(&self);
        let store = self.store.clone();
        let lease_name = crate::store::report_lease_name(job.report.as_str());
        let what = job
            .fire
            .as_ref()
            .map(|(s, _)| s.clone())
            .unwrap_or_else(|| "http".into());
        store.set_current_run(None);
        store.set_lease_holder(Some(job.holder.clone()));
        let req = RunRequest {
            report: job.report,
            period: job.period.clone(),
            trigger: job.trigger.clone(),
            outbox: None,
            recipients: job.recipients.clone(),
            dry_run: false,
            pull: self.pull.clone(),
            http: Default::default(),
        };
        let t0 = std::time::Instant::now();
        // The run in a task of its own: a panic in it ends this run, not the daemon.
        let mut task = {
            let (cfg, store) = (self.cfg.clone(), store.clone());
            tokio::spawn(async move { run_report(&cfg, &store, &req).await })
        };
        let ttl = self.lease_ttl();
        let mut renew = tokio::time::interval((ttl / 3).max(Duration::from_millis(100)));
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut seen = tokio::time::interval(Duration::from_millis(10));
        let mut started = started;
        let mut abandon = self.abandon.subscribe();
        let deadline = tokio::time::sleep(job.timeout);
        tokio::pin!(deadline);
        let ended = loop {
            tokio::select! {
                r = &mut task => break match r {
                    Ok(r) => Ended::Finished(Box::new(r)),
                    Err(e) => Ended::Panicked(panic_text(e)),
                },
                _ = renew.tick() => {
                    match store.renew_lease(&lease_name, &job.holder, ttl) {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::error!("the report's lease was taken from this run (renewed too late): stopping it");
                            break Ended::LostLease;
                        }
                        Err(e) => tracing::warn!("cannot renew the report's lease: {e}"),
                    }
                }
                _ = seen.tick(), if started.is_some() => {
                    if let Some(id) = store.current_run() {
                        let _ = started.take().expect("checked").send(Ok(id));
                    }
                }
                _ = &mut deadline => break Ended::TimedOut,
                _ = abandon.changed() => break Ended::Abandoned,
            }
        };
        // The run's row id: from the summary, else the lease (named at start), else the store.
        let lease_run = store
            .lease(&lease_name)
            .ok()
            .flatten()
            .filter(|l| l.holder == job.holder)
            .and_then(|l| l.run_id);
        let run_id = match &ended {
            Ended::Finished(r) => match r.as_ref() {
                Ok(s) => Some(s.run_id),
                Err(_) => lease_run,
            },
            _ => {
                task.abort();
                let _ = (&mut task).await;
                lease_run.or_else(|| store.current_run())
            }
        };
        let stop = |state: RunState, reason: String| {
            if let Some(id) = run_id {
                if let Err(e) = store.stop_run(id, state, &reason) {
                    tracing::error!(run = id.0, "cannot record the run's end: {e}");
                }
            }
        };
        match &ended {
            Ended::Finished(r) => {
                let already = match r.as_ref() {
                    Ok(s) => Some(s.delivery.already_delivered()),
                    Err(RunError::DeliveryStopped { report, .. }) => {
                        Some(report.already_delivered())
                    }
                    Err(_) => None,
                };
                if let (Some(id), Some(n)) = (run_id, already) {
                    let _ = store.set_run_already(id, n as u32);
                }
                if let Err(e) = r.as_ref() {
                    tracing::error!("run {}: {e}", run_id.map(|r| r.0).unwrap_or(0));
                }
            }
            Ended::TimedOut => stop(
                RunState::Failed,
                format!(
                    "stuck past its working timeout ({} s): stopped and marked failed; \
                     unconfirmed sends are in doubt, the rest are retried by the next run",
                    job.timeout.as_secs()
                ),
            ),
            Ended::Abandoned => stop(
                RunState::Abandoned,
                "baton serve was stopped (SIGTERM / SIGINT) before the run finished; \
                 unconfirmed sends are in doubt, the rest are retried by the next run"
                    .into(),
            ),
            Ended::Panicked(p) => stop(RunState::Failed, format!("the run panicked: {p}")),
            Ended::LostLease => stop(
                RunState::Failed,
                "another baton serve took the report's lease (this one renewed it too late); \
                 stopped so two runs never work at once"
                    .into(),
            ),
        }
        store.set_current_run(None);
        store.set_lease_holder(None);
        if let Some(tx) = started.take() {
            let _ = tx.send(run_id.ok_or_else(|| match &ended {
                Ended::Finished(r) => match r.as_ref() {
                    Err(e) => e.to_string(),
                    Ok(_) => "no run id".into(),
                },
                _ => "the run stopped before it started".into(),
            }));
        }
        let record: Option<RunRecord> = run_id.and_then(|id| store.run(id).ok().flatten());
        if let Some((schedule, at)) = &job.fire {
            let (state, note) = match &record {
                Some(r) if matches!(r.state, RunState::Succeeded | RunState::Partial) => {
                    (FireState::Done, None)
                }
                Some(r) => (FireState::Failed, r.error.clone()),
                None => (
                    FireState::Failed,
                    Some(match &ended {
                        Ended::Finished(r) => match r.as_ref() {
                            Err(e) => e.to_string(),
                            Ok(_) => "no run".into(),
                        },
                        _ => "stopped before the run started".into(),
                    }),
                ),
            };
            // Stopped by shutdown: left `started`, so the next start catches it up.
            if !matches!(ended, Ended::Abandoned) {
                if let Err(e) = store.finish_fire(schedule, *at, state, run_id, note.as_deref()) {
                    tracing::error!("cannot record the end of the fire: {e}");
                }
            }
        }
        if let Err(e) = store.release_lease(&lease_name, &job.holder) {
            tracing::warn!("cannot release the report's lease (it expires by itself): {e}");
        }
        self.observed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last_duration
            .insert(what, t0.elapsed().as_secs_f64());
        if let Some(r) = &record {
            tracing::info!(
                run = r.id.0,
                "run {} ({}): {}, {} sent, {} failed, {} delivered before",
                r.id,
                r.kind.trigger(),
                r.state.as_str(),
                r.messages_sent,
                r.messages_failed,
                r.messages_already
            );
            if r.state == RunState::Failed {
                let ok = alert::notify_failure(&self.cfg, &store, r).await;
                let mut o = self.observed.lock().unwrap_or_else(|p| p.into_inner());
                match ok {
                    Some(true) => o.alerts_sent += 1,
                    Some(false) => o.alerts_failed += 1,
                    None => {}
                }
            }
        }
        run_id
    }
}

fn panic_text(e: tokio::task::JoinError) -> String {
    if e.is_cancelled() {
        return "cancelled".into();
    }
    let p = e.into_panic();
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic".into())
}

/// Why `POST /runs` did not start a run.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("the report is already running ({what})")]
    Busy { run: Option<RunId>, what: String },
    #[error("baton serve is stopping")]
    Stopping,
    #[error("the run could not start: {0}")]
    Failed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}
