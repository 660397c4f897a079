//! The predict function's Router fed the Lambda events it receives: a Function URL request
//! and API Gateway HTTP API (v2) requests from data-fixtures/events/, decoded by
//! lambda_http as on AWS, over an SQLite file and a local store with a trained champion.

use std::path::PathBuf;
use std::time::Duration;

use driftloop_api::{router, AppState, Limits};
use driftloop_lambda_predict::drift_kick;
use driftloop_pipeline::db::{on_both_backends_async, RowRef};
use driftloop_pipeline::testing::{Backend, TestEnv};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

on_both_backends_async!(function_url_and_http_api_events_reach_the_router);

async fn function_url_and_http_api_events_reach_the_router(backend: Backend) {
    let env = TestEnv::with_champion(backend, "predict-fn").await;
    let (db, store) = (env.db.clone(), env.store.clone());
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
