//! Verify on the demo helpdesk with planted changes (`baton generate --inject` and the
//! library's drift and intake shift): weekly looks from go-live, through ingest, the facts and
//! the polars aggregation, as a report run would make them.

use baton::config::{Config, Expect, Fix, FixScope, FixState};
use baton::demo::{generate_frame, GenerateOptions, Injection, IntakeShift, Scope, Topic};
use baton::domain::{Cause, Dimension};
use baton::ingest::normalise;
use baton::metrics::FactTables;
use baton::verify::{verify, Verdict, VerdictKind};
use chrono::{Duration, NaiveDate};

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Go-live of every scenario: a Monday, 4 weeks of baseline before it.
const LIVE: &str = "2026-11-09";
/// The data ends (exclusive) 8 weeks after go-live.
const END: &str = "2027-01-04";

fn fix(expect: Expect) -> Fix {
    Fix {
        id: "billing-keywords".into(),
        title: "Billing keywords route to Billing".into(),
        branch: Cause::Routing,
        scope: FixScope::new(vec![(Dimension::Topic, "billing".into())]).unwrap(),
        live: date(LIVE),
        expect,
        owner: "support-ops@example.com".into(),
        review_by: Some(date("2026-12-07")),
        state: FixState::Open,
    }
}

fn facts(
    per_week: u32,
    seed: u64,
    injections: Vec<Injection>,
    shift: Option<IntakeShift>,
) -> FactTables {
    let cfg = Config::embedded().unwrap();
    let opts = GenerateOptions {
        weeks: 12,
        per_week,
        seed,
        injections,
        ..GenerateOptions::ending(date(END), cfg.tz())
    };
    let mut raw = generate_frame(&opts).unwrap();
    if let Some(s) = shift {
        raw = s.apply(&raw, opts.tz).unwrap();
    }
    let ingested = normalise(raw, &Default::default(), None).unwrap();
    FactTables::build(&ingested.events, &cfg).unwrap()
}

/// The verdict at each weekly look from one week after go-live to the end of the data.
fn looks(facts: &FactTables, fix: &Fix) -> Vec<Verdict> {
    let cfg = Config::embedded().unwrap();
    (1..=8)
        .map(|w| {
            let as_of = date(LIVE) + Duration::days(7 * w);
            verify(facts, std::slice::from_ref(fix), &cfg, as_of)
                .unwrap()
                .remove(0)
        })
        .collect()
}

fn kinds(v: &[Verdict]) -> Vec<VerdictKind> {
    v.iter().map(Verdict::kind).collect()
}

#[test]
fn a_true_improvement_ends_verified() {
    let inj: Injection = format!("routing:topic=billing:-8pp:from={LIVE}")
        .parse()
        .unwrap();
    let f = facts(3000, 11, vec![inj], None);
    let v = looks(&f, &fix(Expect::Down));
    let k = kinds(&v);
    assert!(!k.contains(&VerdictKind::Regressed), "{k:?}");
    assert_eq!(*k.last().unwrap(), VerdictKind::Verified, "{k:?}");
    let last = v.last().unwrap();
    let e = last.assessment.effect.unwrap();
    assert!(e.controlled);
    assert!(e.always_valid_interval[1] < 0.0);
    // The planted -8 pp is inside the always-valid interval.
    assert!(
        e.always_valid_interval[0] < -0.08 && -0.08 < e.always_valid_interval[1],
        "{e:?}"
    );
    assert!(
        !last.assessment.intake.flagged,
        "{:?}",
        last.assessment.intake
    );
    assert!(last.review_due);
    assert!(
        last.summary
            .contains("verified, routing handoffs in topic billing down"),
        "{}",
        last.summary
    );
    assert!(
        last.summary.contains("always-valid 95 % interval"),
        "{}",
        last.summary
    );
    let similar = last.assessment.similar.as_ref().unwrap();
    assert_eq!(similar.dimension, Dimension::Topic);
    assert!(!similar.segments.contains(&"billing".to_string()));
    assert!(similar.fixed_interval[1] < 0.0, "{similar:?}");
    // The JSON form carries the verdict and the numbers.
    let json = serde_json::to_value(last).unwrap();
    assert_eq!(json["verdict"], "verified");
    assert_eq!(json["fix"]["scope"], "topic=billing");
    assert!(json["effect"]["always_valid_interval"][1].as_f64().unwrap() < 0.0);
}

#[test]
fn a_null_fix_during_a_company_wide_drift_is_not_verified() {
    // Misroutes fall 4 pp everywhere over the two weeks from go-live (a company-wide change
    // the same week); the fix itself does nothing.
    let drift = Injection::drift(Cause::Routing, Scope::All, -4.0, date(LIVE), 2);
    let f = facts(4000, 12, drift, None);
    let v = looks(&f, &fix(Expect::Down));
    let k = kinds(&v);
    assert!(!k.contains(&VerdictKind::Verified), "{k:?}");
    // Without the control the raw change alone would have looked like a clear success.
    let last = v.last().unwrap();
    let raw = last.assessment.scope.change;
    assert!(raw.interval.unwrap()[1] < 0.0, "{raw:?}");
    let outside = last.assessment.outside.unwrap().change;
    assert!(outside.interval.unwrap()[1] < 0.0, "{outside:?}");
}

#[test]
fn a_harmful_fix_ends_regressed() {
    let inj: Injection = format!("routing:topic=billing:+8pp:from={LIVE}")
        .parse()
        .unwrap();
    let f = facts(3000, 13, vec![inj], None);
    let v = looks(&f, &fix(Expect::Down));
    let k = kinds(&v);
    assert!(!k.contains(&VerdictKind::Verified), "{k:?}");
    assert_eq!(*k.last().unwrap(), VerdictKind::Regressed, "{k:?}");
}

#[test]
fn too_little_time_or_volume_is_too_early() {
    let cfg = Config::embedded().unwrap();
    let inj: Injection = format!("routing:topic=billing:-8pp:from={LIVE}")
        .parse()
        .unwrap();
    let f = facts(600, 14, vec![inj], None);
    // Thursday after go-live: no full week since.
    let v = verify(
        &f,
        &[fix(Expect::Down)],
        &cfg,
        date(LIVE) + Duration::days(3),
    )
    .unwrap();
    assert_eq!(v[0].kind(), VerdictKind::TooEarly);
    assert!(v[0].summary.contains("too early"), "{}", v[0].summary);
    // One week in, about 100 billing conversations at 600 a week: under 100 resolved.
    let v = verify(
        &f,
        &[fix(Expect::Down)],
        &cfg,
        date(LIVE) + Duration::days(7),
    )
    .unwrap();
    assert_eq!(v[0].kind(), VerdictKind::TooEarly, "{}", v[0].summary);
    assert!(v[0]
        .assessment
        .too_early
        .as_ref()
        .unwrap()
        .contains("conversations in scope"));
    // A go-live mid-week and a look 5 days on: under 7 days.
    let mut mid = fix(Expect::Down);
    mid.live = date(LIVE) - Duration::days(5);
    let v = verify(&f, &[mid], &cfg, date(LIVE)).unwrap();
    assert_eq!(v[0].kind(), VerdictKind::TooEarly);
    assert!(v[0]
        .assessment
        .too_early
        .as_ref()
        .unwrap()
        .contains("5 days"));
}

#[test]
fn an_intake_shift_at_go_live_is_flagged() {
    // From go-live, 60 % of billing chats stop arriving (say a new self-serve page); rates
    // stay as they were.
    let shift = IntakeShift {
        scope: Scope::Topic(Topic::Billing),
        keep: 0.4,
        from: date(LIVE),
    };
    let f = facts(3000, 15, vec![], Some(shift));
    let v = looks(&f, &fix(Expect::Down));
    let last = v.last().unwrap();
    let intake = &last.assessment.intake;
    assert!(intake.flagged, "{intake:?}");
    let share = intake
        .tests
        .iter()
        .find(|t| t.what == "volume_share")
        .unwrap();
    assert!(share.flagged && share.p_value < 1e-6, "{share:?}");
    assert!(intake.share_after.unwrap() < intake.share_before.unwrap());
    assert!(
        last.summary.contains("caution: the scope's intake changed"),
        "{}",
        last.summary
    );
    // Nothing was injected into the rates, so it is not verified either.
    assert!(!kinds(&v).contains(&VerdictKind::Verified));
    // An unflagged scope for contrast: the same data, a fix on topic login.
    let mut login = fix(Expect::Down);
    login.scope = FixScope::new(vec![(Dimension::Topic, "login".into())]).unwrap();
    let cfg = Config::embedded().unwrap();
    let v = verify(&f, &[login], &cfg, date(END)).unwrap();
    let mix = v[0]
        .assessment
        .intake
        .tests
        .iter()
        .find(|t| t.what == "channel_mix")
        .unwrap();
    assert!(!mix.flagged, "{mix:?}");
}

#[test]
fn a_scope_value_seen_in_no_data_is_warned() {
    let cfg = Config::embedded().unwrap();
    let f = facts(300, 16, vec![], None);
    let mut typo = fix(Expect::Down);
    typo.scope = FixScope::new(vec![(Dimension::Topic, "biling".into())]).unwrap();
    let v = verify(&f, &[typo], &cfg, date(END)).unwrap();
    assert_eq!(v[0].kind(), VerdictKind::TooEarly);
    assert!(
        v[0].warnings.iter().any(|w| w.contains("topic=biling")),
        "{:?}",
        v[0].warnings
    );
}
