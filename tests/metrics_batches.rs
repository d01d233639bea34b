//! The facts are built a batch of whole conversations at a time. Batching must not change a
//! single value: the tables built in batches of a few events equal those built in one piece.

use baton::config::Config;
use baton::demo::{generate_frame, GenerateOptions};
use baton::metrics::FactTables;
use chrono::NaiveDate;

#[test]
fn facts_in_batches_equal_facts_in_one_piece() {
    let tz = chrono_tz::Europe::London;
    let mut opts = GenerateOptions::ending(NaiveDate::from_ymd_opt(2026, 11, 16).unwrap(), tz);
    opts.weeks = 2;
    opts.per_week = 150;
    opts.seed = 5;
    let raw = generate_frame(&opts).unwrap();
    let ing = baton::ingest::normalise(raw, &Default::default(), None).unwrap();
    let cfg = Config::embedded().unwrap();
    let n = ing.events.height();
    assert!(n > 1000, "{n} events");

    let whole = FactTables::build_in_batches(&ing.events, &cfg, n + 1).unwrap();
    let ids = ing
        .events
        .column("conversation_id")
        .unwrap()
        .n_unique()
        .unwrap();
    assert!(ids > 250, "{ids} conversations");
    assert_eq!(whole.conversations.height(), ids);
    // Every cut that lands inside a conversation moves to its end (conversations have about 8
    // events here, so batches of 13 hold one to three of them).
    for batch in [13, 97, 1000] {
        let parts = FactTables::build_in_batches(&ing.events, &cfg, batch).unwrap();
        for c in whole.conversations.columns() {
            let other = parts.conversations.column(c.name()).unwrap();
            assert_eq!(other.dtype(), c.dtype(), "{}", c.name());
            if c.dtype().is_float() {
                // Sums of sentiments: the same terms, added in another order by the group-by.
                let (x, y) = (other.f64().unwrap(), c.f64().unwrap());
                for (a, b) in x.iter().zip(y.iter()) {
                    match (a, b) {
                        (Some(a), Some(b)) => {
                            assert!((a - b).abs() < 1e-9, "{}: {a} vs {b}", c.name())
                        }
                        (a, b) => assert_eq!(a, b, "{}", c.name()),
                    }
                }
            } else {
                assert!(
                    other
                        .as_materialized_series()
                        .equals_missing(c.as_materialized_series()),
                    "conversations.{} differs with batches of {batch}",
                    c.name()
                );
            }
        }
        assert!(
            parts.handoffs.equals_missing(&whole.handoffs),
            "handoffs differ with batches of {batch}"
        );
    }
}

#[test]
fn no_events_give_empty_tables_with_their_columns() {
    let cfg = Config::embedded().unwrap();
    let ing = baton::ingest::normalise(
        polars::prelude::DataFrame::new(
            0,
            vec![
                polars::prelude::Column::new_empty(
                    "conversation_id".into(),
                    &polars::prelude::DataType::String,
                ),
                polars::prelude::Column::new_empty("at".into(), &polars::prelude::DataType::String),
                polars::prelude::Column::new_empty(
                    "event".into(),
                    &polars::prelude::DataType::String,
                ),
            ],
        )
        .unwrap(),
        &Default::default(),
        None,
    )
    .unwrap();
    let f = FactTables::build(&ing.events, &cfg).unwrap();
    assert_eq!(f.conversations.height(), 0);
    assert!(f.conversations.column("handoffs").is_ok());
    assert!(f.handoffs.column("cause").is_ok());
}
