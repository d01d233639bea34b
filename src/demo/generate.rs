//! A seeded, deterministic synthetic helpdesk in the canonical event table.
//!
//! Every conversation is simulated on its own ChaCha8 stream (the seed's key, stream = the
//! conversation's number), so the output does not depend on how the work is split across
//! threads, and an [`Injection`] changes only the conversations it touches: their first draws
//! (topic, channel, the misroute draw) come before any injected rate is used, so two runs with
//! the same seed share every conversation the injection does not flip.
//!
//! A conversation's life (people act only in business hours, see `hours`; customers, Fin and
//! automation at any hour): created with a customer message; then either
//! - misrouted (chance per topic): it lands on a wrong team (through the Triage queue, or the
//!   phone menu), may be picked up there, gets no reply, and is moved to its home team
//!   (`wrong_queue` on some of those moves, by automation on some);
//! - or, for most chats, the AI agent Fin answers and resolves it or hands it over (it must hand
//!   over account closures and keep password resets, and breaks that policy now and then);
//! - or Triage (email, chat) or the phone menu sends it to its home team.
//!
//! People then work it: a pickup from the team queue, replies, customer answers, and after each
//! owner's work a chance of a move to phone (`callback`), an escalation to a higher tier, a pass
//! to a colleague at the same or a lower tier (the owner lacked the skill), or an automated
//! reassignment at the end of a shift; else it is resolved, and sometimes reopened later.
//! Nothing at or after `end` is written: conversations still running then are the backlog.

use super::hours::{local_secs, Calendar};
use super::inject::Injection;
use super::model::{Channel, Reason, Team, Topic, AGENTS, FIN};
use crate::domain::Cause;
use crate::ingest::{Actor, Author, EventKind, EventRow, OwnerKind};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Weeks of conversations, ending at `end`.
    pub weeks: u32,
    /// Conversations created per week, on average (more on weekdays).
    pub per_week: u32,
    pub seed: u64,
    /// Exclusive local end date, normally a Monday: conversations are created in
    /// `[end - weeks * 7 days, end)` and nothing at or after its local midnight is written.
    pub end: NaiveDate,
    /// The zone of business hours, of the weeks and of injection dates.
    pub tz: Tz,
    pub injections: Vec<Injection>,
}

impl GenerateOptions {
    /// The demo defaults: 8 weeks of 1,500 conversations, seed 7, no injection.
    pub fn ending(end: NaiveDate, tz: Tz) -> GenerateOptions {
        GenerateOptions {
            weeks: 8,
            per_week: 1500,
            seed: 7,
            end,
            tz,
            injections: Vec::new(),
        }
    }

    /// First local date on which conversations are created.
    pub fn start(&self) -> NaiveDate {
        self.end - Duration::days(7 * i64::from(self.weeks))
    }
}

/// Generates the helpdesk as canonical rows, sorted by conversation (ids follow creation order)
/// and time.
pub fn generate(opts: &GenerateOptions) -> Vec<EventRow> {
    let g = simulate(opts);
    let ids = g.ids();
    let name = |s: &'static str| Some(s.to_string());
    g.events
        .iter()
        .map(|e| EventRow {
            conversation_id: ids[e.conv as usize].clone(),
            at: instant(e.at),
            event: e.kind,
            agent: e.agent.and_then(|a| name(AGENTS[a as usize].name)),
            team: e.team.and_then(|t| name(t.name())),
            owner_kind: e.owner_kind,
            author: e.author,
            channel: e.channel.and_then(|c| name(c.name())),
            actor: e.actor,
            reason: e.reason.and_then(|r| name(r.name())),
            topic: e.topic.and_then(|t| name(t.name())),
            sentiment: e.sentiment.map(hundredths),
        })
        .collect()
}

/// The same events as [`generate`], straight into the raw frame that
/// [`crate::ingest::rows_to_frame`] builds, without an allocation per row (for large runs).
pub fn generate_frame(opts: &GenerateOptions) -> PolarsResult<DataFrame> {
    let g = simulate(opts);
    let ids = g.ids();
    let ev = &g.events;
    let text = |name: &str, f: &dyn Fn(&Ev) -> Option<&'static str>| -> Column {
        Series::new(name.into(), ev.iter().map(f).collect::<Vec<_>>()).into()
    };
    let at: Vec<i64> = ev.iter().map(|e| e.at * 1_000_000).collect();
    let at =
        Series::new("at".into(), at).cast(&DataType::Datetime(TimeUnit::Microseconds, None))?;
    let conv: Vec<&str> = ev.iter().map(|e| ids[e.conv as usize].as_str()).collect();
    DataFrame::new(
        ev.len(),
        vec![
            Series::new("conversation_id".into(), conv).into(),
            at.into(),
            text("event", &|e| Some(e.kind.as_str())),
            text("agent", &|e| e.agent.map(|a| AGENTS[a as usize].name)),
            text("team", &|e| e.team.map(Team::name)),
            text("owner_kind", &|e| e.owner_kind.map(OwnerKind::as_str)),
            text("author", &|e| e.author.map(Author::as_str)),
            text("channel", &|e| e.channel.map(Channel::name)),
            text("actor", &|e| e.actor.map(Actor::as_str)),
            text("reason", &|e| e.reason.map(Reason::name)),
            text("topic", &|e| e.topic.map(Topic::name)),
            Series::new(
                "sentiment".into(),
                ev.iter()
                    .map(|e| e.sentiment.map(hundredths))
                    .collect::<Vec<_>>(),
            )
            .into(),
        ],
    )
}

fn instant(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("generated instants are in range")
}

fn hundredths(v: i8) -> f64 {
    f64::from(v) / 100.0
}

/// One event, compact: names are indices into the static cast, times Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Ev {
    conv: u32,
    at: i64,
    kind: EventKind,
    agent: Option<u8>,
    team: Option<Team>,
    owner_kind: Option<OwnerKind>,
    author: Option<Author>,
    channel: Option<Channel>,
    actor: Option<Actor>,
    reason: Option<Reason>,
    topic: Option<Topic>,
    /// Hundredths, in [-100, 100].
    sentiment: Option<i8>,
}

struct Simulated {
    conversations: usize,
    events: Vec<Ev>,
}

impl Simulated {
    /// `C000001`, ...: zero-padded so text order is creation order.
    fn ids(&self) -> Vec<String> {
        let width = self.conversations.to_string().len().max(6);
        (1..=self.conversations)
            .map(|i| format!("C{i:0width$}"))
            .collect()
    }
}

/// Below this many conversations one thread is quicker than starting more.
const PARALLEL_FROM: usize = 20_000;

fn simulate(opts: &GenerateOptions) -> Simulated {
    let expected = u64::from(opts.weeks) * u64::from(opts.per_week);
    let threads = if expected < PARALLEL_FROM as u64 {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |p| p.get().min(8))
    };
    simulate_on(opts, threads)
}

fn simulate_on(opts: &GenerateOptions, threads: usize) -> Simulated {
    let key = ChaCha8Rng::seed_from_u64(opts.seed).get_seed();
    let start = opts.start();
    let created = creation_times(opts, key);
    // The table runs a week past the end so waits near it resolve; later events are cut.
    let cal = Calendar::new(
        opts.tz,
        start - Duration::days(1),
        opts.end + Duration::days(7),
    );
    let end = local_secs(opts.tz, opts.end, NaiveTime::MIN);
    let injections: Vec<(i64, Injection)> = opts
        .injections
        .iter()
        .map(|i| (local_secs(opts.tz, i.from, NaiveTime::MIN), *i))
        .collect();
    let world = World {
        cal: &cal,
        end,
        injections: &injections,
        key,
    };

    let n = created.len();
    let chunk = n.div_ceil(threads.max(1)).max(1);
    let run = |lo: usize, hi: usize| {
        let mut out = Vec::with_capacity((hi - lo) * 8);
        for (i, &t0) in created.iter().enumerate().take(hi).skip(lo) {
            world.conversation(i as u32, t0, &mut out);
        }
        out
    };
    let events = if threads == 1 {
        run(0, n)
    } else {
        // Each conversation has its own random stream, so chunks can run anywhere and are
        // joined back in order.
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .step_by(chunk)
                .map(|lo| {
                    let run = &run;
                    s.spawn(move || run(lo, (lo + chunk).min(n)))
                })
                .collect();
            let parts: Vec<Vec<Ev>> = handles
                .into_iter()
                .map(|h| h.join().expect("generator thread panicked"))
                .collect();
            let mut all = Vec::with_capacity(parts.iter().map(Vec::len).sum());
            for p in parts {
                all.extend(p);
            }
            all
        })
    };
    Simulated {
        conversations: n,
        events,
    }
}

/// Relative arrivals per weekday, Monday first: weekday-heavy, quiet weekends.
const DAY_WEIGHT: [f64; 7] = [1.25, 1.15, 1.10, 1.05, 0.95, 0.30, 0.20];

/// Creation instants of every conversation, in order, from the seed's stream 0.
fn creation_times(opts: &GenerateOptions, key: [u8; 32]) -> Vec<i64> {
    let mut rng = ChaCha8Rng::from_seed(key);
    let week: f64 = DAY_WEIGHT.iter().sum();
    let mut out = Vec::with_capacity((opts.weeks as usize) * (opts.per_week as usize) + 16);
    let mut day = opts.start();
    while day < opts.end {
        let wd = day.weekday().num_days_from_monday() as usize;
        let expected = f64::from(opts.per_week) * DAY_WEIGHT[wd] / week;
        // Randomised rounding keeps the weekly total at `per_week` on average.
        let n = (expected + rng.random::<f64>()).floor() as usize;
        let midnight = local_secs(opts.tz, day, NaiveTime::MIN);
        let next = local_secs(opts.tz, day + Duration::days(1), NaiveTime::MIN);
        let first = out.len();
        for _ in 0..n {
            let u: f64 = rng.random();
            let hours = if wd < 5 {
                // Mostly office hours, some evenings and nights.
                if u < 0.8 {
                    8.0 + 10.0 * rng.random::<f64>()
                } else {
                    24.0 * rng.random::<f64>()
                }
            } else {
                8.0 + 14.0 * rng.random::<f64>()
            };
            let secs = (hours * 3600.0) as u32;
            let t = if next - midnight == 86_400 {
                midnight + i64::from(secs)
            } else {
                // A daylight-saving day: convert the local time properly.
                let local = NaiveTime::from_num_seconds_from_midnight_opt(secs.min(86_399), 0)
                    .expect("seconds of a day");
                local_secs(opts.tz, day, local)
            };
            out.push(t);
        }
        out[first..].sort_unstable();
        day += Duration::days(1);
    }
    out
}

/// What every conversation shares.
struct World<'a> {
    cal: &'a Calendar,
    /// Unix seconds of the end: nothing at or after it is written.
    end: i64,
    /// Injections with their start as Unix seconds.
    injections: &'a [(i64, Injection)],
    key: [u8; 32],
}

/// Injected changes of the four base rates for one conversation.
#[derive(Debug, Default, Clone, Copy)]
struct Deltas {
    routing: f64,
    skill: f64,
    escalation: f64,
    channel: f64,
}

impl World<'_> {
    fn conversation(&self, i: u32, t0: i64, out: &mut Vec<Ev>) {
        let mut rng = ChaCha8Rng::from_seed(self.key);
        rng.set_stream(u64::from(i) + 1);
        let topic = pick_by(&mut rng, &Topic::ALL, |t| t.rates().weight);
        let open = self.cal.is_open(t0);
        let channel = if open {
            pick(
                &mut rng,
                &[
                    (Channel::Chat, 0.45),
                    (Channel::Email, 0.35),
                    (Channel::Phone, 0.20),
                ],
            )
        } else {
            // Phones are answered in office hours only.
            pick(&mut rng, &[(Channel::Chat, 0.6), (Channel::Email, 0.4)])
        };
        let mut d = Deltas::default();
        for (from, inj) in self.injections {
            if t0 >= *from && inj.scope.matches(topic, channel) {
                let slot = match inj.kind {
                    Cause::Routing => &mut d.routing,
                    Cause::Skill => &mut d.skill,
                    Cause::Escalation => &mut d.escalation,
                    Cause::Channel => &mut d.channel,
                };
                *slot += inj.delta();
            }
        }
        let rates = topic.rates();
        let mood = rates.mood + 0.3 * (rng.random::<f64>() + rng.random::<f64>() - 1.0);
        let mut sim = Sim {
            rng,
            cal: self.cal,
            out,
            end: self.end,
            conv: i,
            t: t0,
            channel,
            topic,
            mood,
            d,
        };
        sim.run();
    }
}

/// Picks from `(value, weight)` pairs.
fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, f64)]) -> T {
    pick_by(rng, items, |x| x.1).0
}

/// Picks one item with probability proportional to `weight`.
fn pick_by<T: Copy>(rng: &mut ChaCha8Rng, items: &[T], weight: impl Fn(&T) -> f64) -> T {
    let total: f64 = items.iter().map(&weight).sum();
    let mut u = rng.random::<f64>() * total;
    for x in items {
        u -= weight(x);
        if u < 0.0 {
            return *x;
        }
    }
    items[items.len() - 1]
}

/// One conversation being played out.
struct Sim<'a> {
    rng: ChaCha8Rng,
    cal: &'a Calendar,
    out: &'a mut Vec<Ev>,
    end: i64,
    conv: u32,
    /// The clock: never goes backwards.
    t: i64,
    channel: Channel,
    topic: Topic,
    /// The customer's current sentiment.
    mood: f64,
    d: Deltas,
}

const MIN: i64 = 60;
const HOUR: i64 = 3600;

impl Sim<'_> {
    fn u(&mut self) -> f64 {
        self.rng.random()
    }
    fn chance(&mut self, p: f64) -> bool {
        self.u() < p
    }
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        self.rng.random_range(lo..=hi)
    }
    /// An exponential wait with the given mean, in seconds. Hand-written: one line, and
    /// `rand_distr` is not a dependency.
    fn exp(&mut self, mean: i64) -> i64 {
        (-(mean as f64) * (1.0 - self.u()).ln()) as i64
    }
    fn pick_from<T: Copy>(&mut self, items: &[(T, f64)]) -> T {
        pick(&mut self.rng, items)
    }
    /// A member of `team`, other than `not` when the team has anyone else.
    fn member(&mut self, team: Team, not: Option<u8>) -> u8 {
        let people = team.agents();
        loop {
            let a = people[self.rng.random_range(0..people.len())];
            if Some(a) != not || people.len() == 1 {
                return a;
            }
        }
    }

    fn ev(&self, kind: EventKind) -> Ev {
        Ev {
            conv: self.conv,
            at: self.t,
            kind,
            agent: None,
            team: None,
            owner_kind: None,
            author: None,
            channel: None,
            actor: None,
            reason: None,
            topic: None,
            sentiment: None,
        }
    }
    fn push(&mut self, e: Ev) {
        // The export is taken at `end`: later events do not exist yet.
        if e.at < self.end {
            self.out.push(e);
        }
    }
    fn assign(&mut self, team: Team, agent: Option<u8>, actor: Actor, reason: Option<Reason>) {
        let mut e = self.ev(EventKind::Assigned);
        e.team = Some(team);
        e.agent = agent;
        e.owner_kind = Some(if team == Team::AiAgent {
            OwnerKind::Ai
        } else {
            OwnerKind::Human
        });
        e.channel = Some(self.channel);
        e.actor = Some(actor);
        e.reason = reason;
        self.push(e);
    }
    /// The customer writes after `gap` seconds (customers write at any hour).
    fn customer(&mut self, gap: i64, drift: f64) {
        self.t += gap;
        let noise = 0.1 * (self.u() - 0.5);
        self.mood = (self.mood + drift + noise).clamp(-1.0, 1.0);
        let mut e = self.ev(EventKind::Message);
        e.author = Some(Author::Customer);
        e.sentiment = Some((self.mood * 100.0).round() as i8);
        self.push(e);
    }
    /// A person replies after `gap` seconds of business time.
    fn reply(&mut self, agent: u8, team: Team, gap: i64) {
        self.t = self.cal.add(self.t, gap);
        let mut e = self.ev(EventKind::Message);
        e.agent = Some(agent);
        e.team = Some(team);
        e.owner_kind = Some(OwnerKind::Human);
        e.author = Some(Author::Agent);
        self.push(e);
    }
    /// Fin replies after `gap` seconds, at any hour.
    fn ai_reply(&mut self, gap: i64) {
        self.t += gap;
        let mut e = self.ev(EventKind::Message);
        e.agent = Some(FIN);
        e.team = Some(Team::AiAgent);
        e.owner_kind = Some(OwnerKind::Ai);
        e.author = Some(Author::Ai);
        self.push(e);
    }
    fn resolve(&mut self) {
        let e = self.ev(EventKind::Resolved);
        self.push(e);
    }
    /// The customer comes back, hours or days later (sometimes in a later week).
    fn reopen(&mut self) {
        let gap = 30 * MIN + self.exp(30 * HOUR);
        self.customer(gap, -0.25);
        let e = self.ev(EventKind::Reopened);
        self.push(e);
    }

    /// Business time from arriving at a new owner to the owner taking it from the queue.
    fn pickup_wait(&mut self) -> i64 {
        match self.channel {
            Channel::Chat => self.between(3 * MIN, 20 * MIN),
            Channel::Phone => self.between(3 * MIN, 10 * MIN),
            Channel::Email => 3 * MIN + self.exp(90 * MIN),
        }
    }
    /// Business time from an owner taking a conversation to their first reply: never under
    /// six minutes, so work handed over in the last minutes before closing waits for the next
    /// opening.
    fn work_wait(&mut self) -> i64 {
        match self.channel {
            Channel::Chat => self.between(6 * MIN, 15 * MIN),
            Channel::Phone => self.between(6 * MIN, 12 * MIN),
            Channel::Email => 6 * MIN + self.exp(40 * MIN),
        }
    }
    /// Real time before the customer answers.
    fn customer_gap(&mut self) -> i64 {
        match self.channel {
            Channel::Chat => self.between(30, 5 * MIN),
            Channel::Phone => self.between(MIN, 10 * MIN),
            Channel::Email => 10 * MIN + self.exp(4 * HOUR),
        }
    }
    /// Business time of a follow-up reply.
    fn reply_gap(&mut self) -> i64 {
        match self.channel {
            Channel::Chat => self.between(MIN, 5 * MIN),
            Channel::Phone => self.between(30, 3 * MIN),
            Channel::Email => 10 * MIN + self.exp(60 * MIN),
        }
    }

    fn run(&mut self) {
        let rates = self.topic.rates();
        let home = self.topic.home();
        let mut e = self.ev(EventKind::Created);
        e.channel = Some(self.channel);
        e.topic = Some(self.topic);
        self.push(e);
        self.customer(0, 0.0);
        // The misroute draw is the first draw after topic and channel: an injection on routing
        // adds misroutes without changing any other conversation.
        let misrouted = self.chance((rates.misroute + self.d.routing).clamp(0.0, 1.0));
        if misrouted {
            let wrong = self.pick_from(rates.wrong_teams);
            self.route_first(wrong);
            self.correct_misroute(wrong, home);
            self.human(home, None);
        } else if self.channel == Channel::Chat && self.chance(0.75) {
            self.ai_front_door();
        } else {
            let agent = self.route_first(home);
            self.human(home, agent);
        }
    }

    /// Intake: the phone menu puts callers straight through to an agent of `team`; chats and
    /// emails go through the Triage queue, sorted by a rule or by a dispatcher.
    fn route_first(&mut self, team: Team) -> Option<u8> {
        if self.channel == Channel::Phone {
            self.t += self.between(20, 180);
            let a = self.member(team, None);
            self.assign(team, Some(a), Actor::Automation, None);
            return Some(a);
        }
        self.t += self.between(1, 30);
        self.assign(Team::Triage, None, Actor::Automation, None);
        let actor = if self.chance(0.45) {
            self.t += self.between(30, 5 * MIN);
            Actor::Automation
        } else {
            let wait = self.between(5 * MIN, 90 * MIN);
            self.t = self.cal.add(self.t, wait);
            Actor::Human
        };
        self.assign(team, None, actor, None);
        None
    }

    /// At the wrong team: maybe someone picks it up, nobody replies, and it moves on to the
    /// home team's queue.
    fn correct_misroute(&mut self, wrong: Team, home: Team) {
        if self.channel != Channel::Phone && self.chance(0.5) {
            let wait = self.pickup_wait();
            self.t = self.cal.add(self.t, wait);
            let a = self.member(wrong, None);
            self.assign(wrong, Some(a), Actor::Human, None);
        }
        let r = self.u();
        let reason = if r < 0.5 {
            Some(Reason::WrongQueue)
        } else if r < 0.6 {
            Some(Reason::Misrouted)
        } else {
            None
        };
        let actor = if self.channel != Channel::Phone && self.chance(0.3) {
            // A topic rule catches it.
            self.t += self.between(MIN, 15 * MIN);
            Actor::Automation
        } else {
            let wait = 2 * MIN + self.exp(40 * MIN);
            self.t = self.cal.add(self.t, wait);
            Actor::Human
        };
        self.mood -= 0.1;
        self.assign(home, None, actor, reason);
    }

    /// Fin answers a chat, then resolves it or hands it to people.
    fn ai_front_door(&mut self) {
        let rates = self.topic.rates();
        self.t += self.between(2, 8);
        self.assign(Team::AiAgent, Some(FIN), Actor::Automation, None);
        let hand_over = !self.chance(rates.ai_resolves);
        let rounds = if self.chance(0.7) { 1 } else { 2 };
        for _ in 0..rounds {
            let gap = self.between(3, 20);
            self.ai_reply(gap);
            let gap = self.between(20, 4 * MIN);
            self.customer(gap, if hand_over { -0.12 } else { 0.06 });
        }
        if hand_over {
            return self.ai_handover();
        }
        // The customer's last answer settles it.
        self.t += self.between(30, 10 * MIN);
        self.resolve();
        if self.chance(0.09) {
            self.reopen();
            if self.chance(0.5) {
                let gap = self.between(3, 20);
                self.ai_reply(gap);
                self.t += self.between(30, 10 * MIN);
                self.resolve();
            } else {
                self.ai_handover();
            }
        }
    }

    /// Fin hands over to a team queue: the home team, now and then a wrong one.
    fn ai_handover(&mut self) {
        let home = self.topic.home();
        let target = if self.chance(0.04) {
            self.pick_from(self.topic.rates().wrong_teams)
        } else {
            home
        };
        self.t += self.between(5, 30);
        self.assign(target, None, Actor::Ai, None);
        if target != home {
            self.correct_misroute(target, home);
        }
        self.human(home, None);
    }

    /// People work the conversation, owner after owner, until it is resolved.
    fn human(&mut self, team: Team, agent: Option<u8>) {
        let mut team = team;
        let mut agent = agent;
        for stint in 0..6 {
            let a = match agent {
                Some(a) => a,
                None => {
                    let wait = self.pickup_wait();
                    self.t = self.cal.add(self.t, wait);
                    let a = self.member(team, None);
                    self.assign(team, Some(a), Actor::Human, None);
                    a
                }
            };
            agent = Some(a);
            let wait = self.work_wait();
            self.reply(a, team, wait);
            let rounds = match self.channel {
                Channel::Email => usize::from(self.chance(0.4)),
                _ => usize::from(self.chance(0.25)),
            };
            for _ in 0..rounds {
                let gap = self.customer_gap();
                self.customer(gap, 0.03);
                let gap = self.reply_gap();
                self.reply(a, team, gap);
            }
            if stint == 5 {
                break;
            }
            // Later owners pass it on less: the conversation is in the right hands by then.
            let decay = 0.6f64.powi(stint);
            let p = |base: f64, delta: f64| (base * decay + delta).clamp(0.0, 1.0);
            let p_channel = if self.channel == Channel::Phone {
                0.0
            } else {
                p(self.channel.move_to_phone(), self.d.channel)
            };
            let (esc_base, esc_targets) = team.escalation();
            let p_escalate = if esc_targets.is_empty() {
                0.0
            } else {
                p(esc_base, self.d.escalation)
            };
            let p_skill = p(AGENTS[a as usize].skill_gap, self.d.skill);
            let p_shift = 0.025 * decay;
            let u = self.u();
            if u < p_channel {
                // A callback: same agent or a colleague, now on the phone.
                let b = if self.chance(0.6) {
                    a
                } else {
                    self.member(team, Some(a))
                };
                let wait = self.between(MIN, 10 * MIN);
                self.t = self.cal.add(self.t, wait);
                self.channel = Channel::Phone;
                let reason = self.chance(0.5).then_some(Reason::Callback);
                self.assign(team, Some(b), Actor::Human, reason);
                agent = Some(b);
            } else if u < p_channel + p_escalate {
                let target = self.pick_from(esc_targets);
                let wait = self.between(2 * MIN, 20 * MIN);
                self.t = self.cal.add(self.t, wait);
                let reason = self.chance(0.3).then_some(Reason::Escalate);
                self.mood -= 0.05;
                self.assign(target, None, Actor::Human, reason);
                team = target;
                agent = None;
            } else if u < p_channel + p_escalate + p_skill {
                let wait = self.between(2 * MIN, 30 * MIN);
                self.t = self.cal.add(self.t, wait);
                let reason = self.chance(0.25).then_some(Reason::NeedsSpecialist);
                self.mood -= 0.05;
                if self.chance(0.75) {
                    let b = self.member(team, Some(a));
                    self.assign(team, Some(b), Actor::Human, reason);
                    agent = Some(b);
                } else {
                    team = team.pass_sideways();
                    self.assign(team, None, Actor::Human, reason);
                    agent = None;
                }
            } else if u < p_channel + p_escalate + p_skill + p_shift {
                // The owner's shift ends: a rule hands their open work to a colleague.
                self.t += self.between(MIN, HOUR);
                let b = self.member(team, Some(a));
                self.assign(team, Some(b), Actor::Automation, Some(Reason::ShiftEnd));
                agent = Some(b);
            } else {
                break;
            }
        }
        self.finish(team, agent.expect("an owner worked the conversation"));
    }

    /// The owner resolves it; sometimes the customer comes back.
    fn finish(&mut self, team: Team, agent: u8) {
        let wait = self.between(MIN, 20 * MIN);
        self.t = self.cal.add(self.t, wait);
        self.resolve();
        if !self.chance(0.06) {
            return;
        }
        self.reopen();
        let mut a = agent;
        let r = self.u();
        if r < 0.3 {
            // The owner is away: a colleague takes it (a handoff).
            let wait = self.pickup_wait();
            self.t = self.cal.add(self.t, wait);
            a = self.member(team, Some(agent));
            self.assign(team, Some(a), Actor::Human, None);
        } else if r < 0.5 {
            // Re-assigned to the same owner: not a handoff.
            let wait = self.pickup_wait();
            self.t = self.cal.add(self.t, wait);
            self.assign(team, Some(a), Actor::Human, None);
        }
        let wait = self.work_wait();
        self.reply(a, team, wait);
        let wait = self.between(MIN, 20 * MIN);
        self.t = self.cal.add(self.t, wait);
        self.resolve();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_do_not_change_the_output() {
        let mut o = GenerateOptions::ending(
            NaiveDate::from_ymd_opt(2026, 11, 16).unwrap(),
            chrono_tz::Europe::London,
        );
        o.weeks = 1;
        o.per_week = 3000;
        let one = simulate_on(&o, 1);
        let three = simulate_on(&o, 3);
        assert_eq!(one.conversations, three.conversations);
        assert!(one.events.len() > 20_000);
        assert_eq!(one.events, three.events);
    }
}
