//! `--input` on the command line: any table through `source::pull_table`, and canonical events
//! through `source::input_source` + `source::pull`, over real HTTP (axum on loopback) and from
//! local paths.

mod source_support;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use baton::config::SourceFormat;
use baton::source::{input_source, pull, pull_table, redact_url, PullOptions, PullWindow};
use polars::prelude::*;
use source_support::serve;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A generic table: dimensions, a numerator and a denominator, a float only on the last row.
const TABLE: &str = "\
week,team,handoffs,conversations,share
W1,Billing,3,10,0.3
W1,Support,1,8,0.125
W2,Billing,5,10,0.5
W2,Support,2,8,1
";

fn check_table(df: &DataFrame) {
    assert_eq!(df.shape(), (4, 5));
    assert_eq!(df.column("handoffs").unwrap().dtype(), &DataType::Int64);
    assert_eq!(df.column("share").unwrap().dtype(), &DataType::Float64);
    let teams: Vec<Option<&str>> = df.column("team").unwrap().str().unwrap().iter().collect();
    assert_eq!(
        teams,
        vec![
            Some("Billing"),
            Some("Support"),
            Some("Billing"),
            Some("Support")
        ]
    );
}

fn as_format(df: &DataFrame, format: SourceFormat) -> Vec<u8> {
    let mut out = Vec::new();
    let mut df = df.clone();
    match format {
        SourceFormat::Parquet => {
            ParquetWriter::new(&mut out).finish(&mut df).unwrap();
        }
        SourceFormat::Jsonl => {
            JsonWriter::new(&mut out)
                .with_json_format(JsonFormat::JsonLines)
                .finish(&mut df)
                .unwrap();
        }
        SourceFormat::Csv => {
            CsvWriter::new(&mut out).finish(&mut df).unwrap();
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_over_http_is_retried_after_a_503_and_typed_from_its_values() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = Router::new().route(
        "/exports/table.csv",
        get(move || {
            let h = h.clone();
            async move {
                if h.fetch_add(1, Ordering::SeqCst) == 0 {
                    (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response()
                } else {
                    TABLE.into_response()
                }
            }
        }),
    );
    let addr = serve(app).await;
    let df = pull_table(
        &format!("http://{addr}/exports/table.csv?token=abc"),
        &PullOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 2, "the 503 was not retried");
    check_table(&df);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_format_comes_from_the_extension_then_the_content_type_then_csv() {
    let want = baton::ingest::read_table(TABLE.as_bytes(), SourceFormat::Csv).unwrap();
    let pq = as_format(&want, SourceFormat::Parquet);
    let jsonl = as_format(&want, SourceFormat::Jsonl);
    let app = Router::new()
        // The extension wins over a misleading Content-Type.
        .route(
            "/t.parquet",
            get(move || async move { ([(header::CONTENT_TYPE, "text/csv")], pq.clone()) }),
        )
        .route(
            "/by-type",
            get(move || async move {
                (
                    [(header::CONTENT_TYPE, "application/x-ndjson")],
                    jsonl.clone(),
                )
            }),
        )
        .route("/plain", get(|| async { TABLE }));
    let addr = serve(app).await;
    let opts = PullOptions::default();
    for path in ["t.parquet", "by-type", "plain"] {
        let got = pull_table(&format!("http://{addr}/{path}"), &opts)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        check_table(&got);
        assert!(got.equals(&want), "{path}: {got}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_the_url_without_its_token() {
    let app = Router::new().route("/bad.parquet", get(|| async { "this is not parquet" }));
    let addr = serve(app).await;
    let opts = PullOptions::default();

    // A 404 fails at once, with the URL but not its query.
    let err = pull_table(
        &format!("http://user:pw-secret@{addr}/missing.csv?token=tok-very-secret"),
        &opts,
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&format!("http://{addr}/missing.csv")), "{msg}");
    assert!(msg.contains("404"), "{msg}");
    assert!(
        !msg.contains("tok-very-secret") && !msg.contains("pw-secret"),
        "{msg}"
    );
    assert!(!format!("{err:?}").contains("tok-very-secret"));

    // A body that does not decode names the format and the (redacted) URL.
    let err = pull_table(
        &format!("http://{addr}/bad.parquet?token=tok-very-secret"),
        &opts,
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&format!("http://{addr}/bad.parquet")), "{msg}");
    assert!(msg.contains("Parquet"), "{msg}");
    assert!(!msg.contains("tok-very-secret"), "{msg}");

    // A scheme baton cannot read is refused, the URL shown without its secrets.
    let err = pull_table("ftp://me:pw-secret@host.example/t.csv?token=x1", &opts)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("ftp://host.example/t.csv"), "{msg}");
    assert!(!msg.contains("pw-secret") && !msg.contains("x1"), "{msg}");

    assert_eq!(
        redact_url(&format!("http://u:p@{addr}/t.csv?token=abc")),
        format!("http://{addr}/t.csv")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_tables_by_relative_path_absolute_path_and_file_url() {
    // Inside the current directory, so the path can be given relative to it.
    let dir = tempfile::Builder::new()
        .prefix(".source-table-")
        .tempdir_in(".")
        .unwrap();
    let name = dir
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    std::fs::write(dir.path().join("t.csv"), TABLE).unwrap();
    let opts = PullOptions::default();
    let relative = format!("{name}/t.csv");
    check_table(&pull_table(&relative, &opts).await.unwrap());
    let absolute = std::fs::canonicalize(dir.path().join("t.csv")).unwrap();
    check_table(&pull_table(absolute.to_str().unwrap(), &opts).await.unwrap());
    let url = format!("file://{}", absolute.display());
    check_table(&pull_table(&url, &opts).await.unwrap());

    let err = pull_table(&format!("{name}/nope.csv"), &opts)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nope.csv"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relative_input_path_is_pulled_as_a_canonical_source() {
    let dir = tempfile::Builder::new()
        .prefix(".source-input-")
        .tempdir_in(".")
        .unwrap();
    let name = dir
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    std::fs::write(
        dir.path().join("events.csv"),
        "conversation_id,at,event,agent,team\n\
         a1,2026-03-02T09:00:00Z,created,,\n\
         a1,2026-03-02T09:01:00Z,assigned,ann,Billing\n\
         a1,not-a-time,resolved,,\n",
    )
    .unwrap();
    let src = input_source(&format!("{name}/events.csv")).unwrap();
    let ing = pull(
        "input",
        &src,
        &PullWindow::everything(),
        &PullOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(ing.events.height(), 2);
    assert_eq!(ing.quarantine.counts.get("unparsable timestamp"), Some(&1));

    // A URL is kept as it is.
    let src = input_source("https://exports.example/events.parquet?token=1").unwrap();
    let baton::config::SourceConfig::Canonical(c) = src else {
        panic!("{src:?}")
    };
    assert_eq!(c.url, "https://exports.example/events.parquet?token=1");
}
