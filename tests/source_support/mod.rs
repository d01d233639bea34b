//! Shared by the `source_*` tests: a real HTTP server on loopback and a second look at the
//! pulled events through the metrics engine.
#![allow(dead_code)]

use baton::config::Config;
use baton::metrics::facts;
use baton::metrics::HandoffRules;
use polars::prelude::*;
use std::net::SocketAddr;

/// Serves `app` on 127.0.0.1 on a free port until the test ends.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

/// (conversations, handoffs, handoffs per cause "routing,skill,escalation,channel") as the
/// metrics engine sees the events: a check that the pulled rows mean what we expect.
pub fn handoff_summary(events: &DataFrame) -> (usize, i64, Vec<(String, i64)>) {
    let cfg = Config::embedded().unwrap();
    let f = facts::build(events.clone().lazy(), &HandoffRules::from_config(&cfg)).unwrap();
    let conv = f.conversations.collect().unwrap();
    let h = f.handoffs.collect().unwrap();
    let mut by: Vec<(String, i64)> = Vec::new();
    for c in h.column("cause").unwrap().str().unwrap().iter() {
        let c = c.unwrap_or("?").to_string();
        match by.iter_mut().find(|(k, _)| *k == c) {
            Some((_, n)) => *n += 1,
            None => by.push((c, 1)),
        }
    }
    by.sort();
    (conv.height(), h.height() as i64, by)
}

/// The events as `conversation_id|at|event|agent|team|owner_kind|author|channel|actor|reason`
/// lines, in table order, for exact comparison with hand-written expectations.
pub fn lines(events: &DataFrame) -> Vec<String> {
    let cols = [
        "conversation_id",
        "at",
        "event",
        "agent",
        "team",
        "owner_kind",
        "author",
        "channel",
        "actor",
        "reason",
    ];
    let df = events
        .clone()
        .lazy()
        .with_column(col("at").dt().strftime("%Y-%m-%dT%H:%M:%SZ"))
        .select(cols.iter().map(|c| col(*c)).collect::<Vec<_>>())
        .collect()
        .unwrap();
    (0..df.height())
        .map(|i| {
            cols.iter()
                .map(|c| {
                    let v = df.column(c).unwrap().str().unwrap().get(i);
                    v.unwrap_or("").to_string()
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}
