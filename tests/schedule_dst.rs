//! Fire times across daylight-saving changes, from a table worked out by hand (the zones'
//! rules: Europe/London changes at 01:00 UTC on the last Sundays of March and October;
//! America/New_York at 02:00 local on the second Sunday of March and the first Sunday of
//! November; Australia/Sydney at 03:00 AEDT on the first Sunday of April and 02:00 AEST on the
//! first Sunday of October).

use baton::config::CronExpr;
use baton::schedule::times::{fires_between, next_fire, upcoming};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// (zone, cron, start, the next fires in UTC)
const TABLE: &[(&str, &str, &str, &[&str])] = &[
    // 09:00 Monday London: GMT (UTC+0) before 29 March 2026, BST (UTC+1) after, GMT again
    // after 25 October.
    (
        "Europe/London",
        "0 9 * * Mon",
        "2026-03-20T00:00:00Z",
        &[
            "2026-03-23T09:00:00Z",
            "2026-03-30T08:00:00Z",
            "2026-04-06T08:00:00Z",
        ],
    ),
    (
        "Europe/London",
        "0 9 * * Mon",
        "2026-10-15T00:00:00Z",
        &["2026-10-19T08:00:00Z", "2026-10-26T09:00:00Z"],
    ),
    // 2027: BST 28 March to 31 October.
    (
        "Europe/London",
        "0 9 * * Mon",
        "2027-03-20T00:00:00Z",
        &["2027-03-22T09:00:00Z", "2027-03-29T08:00:00Z"],
    ),
    (
        "Europe/London",
        "0 9 * * Mon",
        "2027-10-20T00:00:00Z",
        &["2027-10-25T08:00:00Z", "2027-11-01T09:00:00Z"],
    ),
    // London's gap is 01:00-02:00 local: a 01:30 job on 29 March 2026 fires once, at 02:00
    // BST (01:00 UTC), the first instant after the gap.
    (
        "Europe/London",
        "30 1 * * *",
        "2026-03-28T00:00:00Z",
        &[
            "2026-03-28T01:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:30:00Z",
        ],
    ),
    // London's repeated hour is 01:00-02:00 on 25 October 2026: 01:30 fires once, at the
    // first 01:30 (BST, 00:30 UTC), not again at 01:30 GMT.
    (
        "Europe/London",
        "30 1 * * *",
        "2026-10-24T00:00:00Z",
        &[
            "2026-10-24T00:30:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-26T01:30:00Z",
        ],
    ),
    // New York 09:00 Monday: EST (UTC-5) until 8 March 2026, EDT (UTC-4) until 1 November.
    (
        "America/New_York",
        "0 9 * * Mon",
        "2026-03-01T00:00:00Z",
        &["2026-03-02T14:00:00Z", "2026-03-09T13:00:00Z"],
    ),
    (
        "America/New_York",
        "0 9 * * Mon",
        "2026-10-20T00:00:00Z",
        &["2026-10-26T13:00:00Z", "2026-11-02T14:00:00Z"],
    ),
    // 2027: EDT 14 March to 7 November.
    (
        "America/New_York",
        "0 9 * * Mon",
        "2027-03-05T00:00:00Z",
        &["2027-03-08T14:00:00Z", "2027-03-15T13:00:00Z"],
    ),
    (
        "America/New_York",
        "0 9 * * Mon",
        "2027-10-28T00:00:00Z",
        &["2027-11-01T13:00:00Z", "2027-11-08T14:00:00Z"],
    ),
    // 02:30 on the spring-forward day (8 March 2026, 02:00 -> 03:00): 02:30 does not exist;
    // the job fires once, at 03:00 EDT (07:00 UTC).
    (
        "America/New_York",
        "30 2 * * *",
        "2026-03-07T00:00:00Z",
        &[
            "2026-03-07T07:30:00Z",
            "2026-03-08T07:00:00Z",
            "2026-03-09T06:30:00Z",
        ],
    ),
    // 01:30 in the repeated autumn hour (1 November 2026, 02:00 EDT -> 01:00 EST): fires once,
    // at 01:30 EDT (05:30 UTC), not at 01:30 EST (06:30 UTC).
    (
        "America/New_York",
        "30 1 * * *",
        "2026-10-31T00:00:00Z",
        &[
            "2026-10-31T05:30:00Z",
            "2026-11-01T05:30:00Z",
            "2026-11-02T06:30:00Z",
        ],
    ),
    // 2027's autumn hour: 7 November.
    (
        "America/New_York",
        "30 1 * * *",
        "2027-11-06T12:00:00Z",
        &["2027-11-07T05:30:00Z", "2027-11-08T06:30:00Z"],
    ),
    // Sydney 09:00 Monday: AEDT (UTC+11) until 5 April 2026, AEST (UTC+10) until 4 October.
    (
        "Australia/Sydney",
        "0 9 * * Mon",
        "2026-03-25T00:00:00Z",
        &["2026-03-29T22:00:00Z", "2026-04-05T23:00:00Z"],
    ),
    (
        "Australia/Sydney",
        "0 9 * * Mon",
        "2026-09-25T00:00:00Z",
        &["2026-09-27T23:00:00Z", "2026-10-04T22:00:00Z"],
    ),
    // 2027: AEST 4 April to 3 October.
    (
        "Australia/Sydney",
        "0 9 * * Mon",
        "2027-03-25T00:00:00Z",
        &["2027-03-28T22:00:00Z", "2027-04-04T23:00:00Z"],
    ),
    (
        "Australia/Sydney",
        "0 9 * * Mon",
        "2027-09-24T00:00:00Z",
        &["2027-09-26T23:00:00Z", "2027-10-03T22:00:00Z"],
    ),
    // Sydney's spring-forward (4 October 2026, 02:00 -> 03:00): 02:30 fires at 03:00 AEDT.
    (
        "Australia/Sydney",
        "30 2 * * *",
        "2026-10-02T12:00:00Z",
        &[
            "2026-10-02T16:30:00Z",
            "2026-10-03T16:00:00Z",
            "2026-10-04T15:30:00Z",
        ],
    ),
    // Sydney's repeated hour (5 April 2026, 03:00 AEDT -> 02:00 AEST): 02:30 fires once, at
    // 02:30 AEDT (15:30 UTC the day before).
    (
        "Australia/Sydney",
        "30 2 * * *",
        "2026-04-03T12:00:00Z",
        &[
            "2026-04-03T15:30:00Z",
            "2026-04-04T15:30:00Z",
            "2026-04-05T16:30:00Z",
        ],
    ),
    // Day-of-month and day-of-week combine as in standard cron (either fires): the 1st of
    // July 2026 is a Wednesday.
    (
        "Europe/London",
        "0 9 1 * Mon",
        "2026-06-29T12:00:00Z",
        &["2026-07-01T08:00:00Z", "2026-07-06T08:00:00Z"],
    ),
    // Six fields: seconds first.
    (
        "UTC",
        "*/20 * * * * *",
        "2026-01-01T00:00:05Z",
        &[
            "2026-01-01T00:00:20Z",
            "2026-01-01T00:00:40Z",
            "2026-01-01T00:01:00Z",
        ],
    ),
];

#[test]
fn fire_times_follow_each_zones_daylight_saving() {
    for (zone, cron, from, want) in TABLE {
        let tz: Tz = zone.parse().unwrap();
        let cron = CronExpr::parse(cron).unwrap();
        let got = upcoming(&cron, tz, utc(from), want.len());
        let want: Vec<_> = want.iter().map(|s| utc(s)).collect();
        assert_eq!(got, want, "{zone} `{cron}` from {from}");
    }
}

#[test]
fn the_repeated_hour_fires_once_even_when_asked_from_inside_it() {
    let tz: Tz = "America/New_York".parse().unwrap();
    let cron = CronExpr::parse("30 1 * * *").unwrap();
    // From the first 01:30 (EDT) itself, and from between the two 01:30s.
    for from in ["2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z"] {
        assert_eq!(
            next_fire(&cron, tz, utc(from)),
            Some(utc("2026-11-02T06:30:00Z")),
            "from {from}"
        );
    }
    // Over the whole night: one fire.
    let (fires, _) = fires_between(
        &cron,
        tz,
        utc("2026-11-01T04:00:00Z"),
        utc("2026-11-01T08:00:00Z"),
        10,
    );
    assert_eq!(fires, vec![utc("2026-11-01T05:30:00Z")]);
}

#[test]
fn fires_between_keeps_the_newest_when_capped() {
    let cron = CronExpr::parse("0 * * * *").unwrap();
    let (fires, dropped) = fires_between(
        &cron,
        Tz::UTC,
        utc("2026-01-01T00:00:00Z"),
        utc("2026-01-01T05:00:00Z"),
        2,
    );
    assert!(dropped);
    assert_eq!(
        fires,
        vec![utc("2026-01-01T04:00:00Z"), utc("2026-01-01T05:00:00Z")]
    );
}
