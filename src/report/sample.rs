//! A small made-up report, used to check templates (`baton check`) without data: every
//! section is present (drivers, summary, quarantine), so every template branch renders.

use super::view::{owner_views_at, DriverLine, OwnerView};
use crate::config::Config;
use crate::domain::{Cause, Period};
use crate::metrics::{CauseMeasures, Measures, MetricsReport, Overall, Segment, TrendPoint};
use chrono::{TimeZone, Utc};
use std::collections::BTreeMap;

fn measures(conversations: i64, rates: [f64; 4]) -> Measures {
    let mut by_cause = BTreeMap::new();
    for (c, r) in Cause::ALL.into_iter().zip(rates) {
        let first = (r * conversations as f64).round() as i64;
        by_cause.insert(
            c,
            CauseMeasures {
                handoffs: first,
                rate: Some(r),
                per_conversation: Some(r),
                conversations: first,
            },
        );
    }
    let rate: f64 = rates.iter().sum();
    Measures {
        conversations,
        ticket_volume: conversations,
        handoff_rate: Some(rate),
        handoffs_per_conversation: Some(rate),
        fcr_rate: Some(1.0 - rate),
        time_lost_hours: 10.0,
        avoidable_share: Some(0.5),
        escalation_rate: Some(rates[2]),
        band: Some(crate::metrics::Band::of(rate)),
        by_cause,
        ..Measures::default()
    }
}

/// One owner's view of a made-up week.
pub fn sample_view() -> OwnerView {
    let cfg = Config::embedded().expect("embedded config is valid");
    let period = Period::iso_week(2026, 46, chrono_tz::Europe::London).expect("valid week");
    let now = measures(200, [0.10, 0.05, 0.04, 0.02]);
    let before = measures(180, [0.07, 0.05, 0.05, 0.02]);
    let metrics = MetricsReport {
        schema_version: crate::metrics::METRICS_SCHEMA_VERSION,
        period: period.to_json(),
        previous_period: period.previous().to_json(),
        overall: Overall {
            measures: now.clone(),
            backlog: 12,
            quarantined_rows: 2,
        },
        previous: before.clone(),
        segments: BTreeMap::from([(
            "team".to_string(),
            vec![Segment {
                value: "Billing".into(),
                measures: now.clone(),
                previous: before.clone(),
            }],
        )]),
        trend: period
            .trailing(3)
            .iter()
            .map(|p| TrendPoint {
                period: p.label(),
                conversations: 190,
                handoff_rate: Some(0.2),
                fcr_rate: Some(0.8),
                by_cause: Cause::ALL.into_iter().map(|c| (c, Some(0.05))).collect(),
            })
            .collect(),
        quarantine: BTreeMap::from([("unparsable timestamp".to_string(), 2)]),
    };
    let at = Utc.with_ymd_and_hms(2026, 11, 16, 9, 0, 0).unwrap();
    let mut view = owner_views_at(&cfg, &metrics, at).remove(0);
    view.summary = Some("Routing rose 3.0 pp, mostly in Billing.".into());
    view.drivers = vec![DriverLine {
        cause: Cause::Routing,
        dimension: "team".into(),
        segment: "Billing".into(),
        contribution_pp: 2.5,
        change_pp: Some(3.0),
        conversations: 200,
        significant: true,
        note: Some("new routing rule on 10 Nov".into()),
        footnote: Some(1),
        pairs: vec![("team".into(), "Billing".into())],
        examples: vec![
            super::view::Example {
                id: "48213".into(),
                url: Some("https://acme.zendesk.com/agent/tickets/48213".into()),
            },
            super::view::Example {
                id: "48190".into(),
                url: None,
            },
        ],
    }];
    view.breakdowns = vec![super::view::Breakdown {
        cause: Cause::Routing,
        label: "Routing".into(),
        dimension: "team".into(),
        change_pp: 3.0,
        change_text: "+3.0 pp".into(),
        rows: vec![super::view::BreakdownRow {
            segment: "Billing".into(),
            contribution_pp: 2.5,
            contribution_text: "+2.5 pp".into(),
            arrow: "↑".into(),
            role: "drove it".into(),
            significant: true,
            footnote: Some(1),
        }],
        other_pp: 0.5,
        other_text: "+0.5 pp".into(),
        other_role: "drove it".into(),
    }];
    view.footnotes =
        vec!["team Billing: 95 % interval of its share +1.0 pp to +4.0 pp; q = 0.010.".into()];
    view
}
