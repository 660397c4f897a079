//! The predict function's Router fed the Lambda events it receives: a Function URL request
//! and API Gateway HTTP API (v2) requests from data-fixtures/events/, decoded by
//! lambda_http as on AWS, over an SQLite file and a local store with a trained champion.

use std::path::PathBuf;
use std::time::Duration;

use driftloop_api::{router, AppState, Limits};
use driftloop_core::LabelSource;
use driftloop_lambda_predict::drift_kick;
use driftloop_pipeline::config::TrainLabels;
use driftloop_pipeline::csv_io::read_feature_csv;
use driftloop_pipeline::db::RowRef;
use driftloop_pipeline::notify::LogNotifier;
use driftloop_pipeline::train_job::{run_training, TrainOptions, TrainSource};
use driftloop_pipeline::{open_database, open_store, DatabaseUrl, StoreUrl};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test(flavor = "multi_thread")]
async fn function_url_and_http_api_events_reach_the_router() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_database(&DatabaseUrl::Sqlite {
        path: dir.path().join("features.db"),
    })
    .unwrap();
    db.migrate().unwrap();
    let store = open_store(&StoreUrl::Local {
        root: dir.path().join("store"),
    })
    .await
    .unwrap();
    let original = repo().join("../shared/data/mental-disorders-120.csv");
    db.insert_rows(&read_feature_csv(&original, LabelSource::Expert).unwrap())
        .unwrap();
    let options = TrainOptions {
        config: Default::default(),
        promotion_margin: 0.01,
        mlflow: None,
    };
    let source = TrainSource::Database(TrainLabels::Expert);
    run_training(db.as_ref(), store.as_ref(), &LogNotifier, &source, &options, &[])
        .await
        .unwrap();
    let state = AppState::new(
        db.clone(),
        store,
        Limits::default(),
        Duration::from_secs(60),
        drift_kick(None).await,
    )
    .await;
    let app = router(state);

    let mut answers = Vec::new();
    for (fixture, status) in [
        ("predict-function-url.json", 200),
        ("predict-apigw-v2.json", 200),
        ("predict-apigw-v2-healthz.json", 200),
    ] {
        let event = std::fs::read_to_string(repo().join("data-fixtures/events").join(fixture)).unwrap();
        let request = lambda_http::request::from_str(&event).unwrap_or_else(|e| panic!("{fixture}: {e}"));
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{fixture}");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        answers.push(serde_json::from_slice::<Value>(&body).unwrap());
    }
    assert_eq!(answers[0]["model_version"], "1");
    assert_eq!(answers[1]["prediction"], answers[0]["prediction"], "the same features");
    assert_eq!(answers[2]["status"], "ok");
    let stored = db
        .find_row(&RowRef::RequestId("function-url-1".into()))
        .unwrap()
        .unwrap();
    assert_eq!(stored.id, answers[0]["row_id"].as_i64().unwrap());
    assert_eq!(db.count_rows().unwrap(), 122);
}
