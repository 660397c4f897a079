//! The train function's handler, called with `LambdaEvent`s built from the event fixtures
//! in data-fixtures/events/, over an SQLite database and a local store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use driftloop_core::LabelSource;
use driftloop_lambda_train::{handle, Deps, Request};
use driftloop_model::TrainConfig;
use driftloop_pipeline::config::TrainLabels;
use driftloop_pipeline::csv_io::read_feature_csv;
use driftloop_pipeline::db::{JobKind, JobStatus};
use driftloop_pipeline::notify::LogNotifier;
use driftloop_pipeline::{open_database, open_store, DatabaseUrl, StoreUrl};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data-fixtures")
}

fn event(name: &str, seconds_left: u64) -> LambdaEvent<Request> {
    let payload: Request =
        serde_json::from_slice(&std::fs::read(fixtures().join("events").join(name)).unwrap()).unwrap();
    let mut context = Context::default();
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    context.deadline = now_ms + seconds_left * 1000;
    LambdaEvent { payload, context }
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduled_direct_and_job_invocations_run_the_train_jobs() {
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
    let deps = Deps {
        db: db.clone(),
        store,
        notifier: Arc::new(LogNotifier),
        mlflow: None,
        labels: TrainLabels::Expert,
        config: TrainConfig::default(),
        promotion_margin: 0.01,
    };
    // Job 1 of the fixture: the first train job.
    let first = db.enqueue(JobKind::Train, &json!({}), None).unwrap();
    assert_eq!(first.id, 1);
    let second = db.enqueue(JobKind::Train, &json!({}), None).unwrap();
    db.insert_rows(&read_feature_csv(&fixtures().join("baseline-120.csv"), LabelSource::Expert).unwrap())
        .unwrap();

    // Too close to the deadline: nothing is started.
    let response = handle(&deps, event("train-scheduled.json", 60)).await.unwrap();
    assert!(response.drain.stopped_at_deadline && response.drain.trainings.is_empty());

    // Job 1 asked for: one training completes both pending jobs.
    let response = handle(&deps, event("train-job.json", 900)).await.unwrap();
    assert_eq!(response.drain.trainings.len(), 1);
    assert_eq!(response.drain.trainings[0].job_ids, vec![first.id, second.id]);
    assert_eq!(response.job.unwrap().status, JobStatus::Done);
    assert_eq!(db.champion("mental_health").unwrap().unwrap().version, 1);

    // Asked again: reported as it stands, nothing runs.
    let response = handle(&deps, event("train-job.json", 900)).await.unwrap();
    assert!(response.drain.trainings.is_empty());
    assert_eq!(response.job.unwrap().status, JobStatus::Done);

    let response = handle(&deps, event("train-direct.json", 900)).await.unwrap();
    assert!(response.drain.trainings.is_empty() && response.drain.failed.is_empty());
    let answer = serde_json::to_value(&response).unwrap();
    assert_eq!(answer["stopped_at_deadline"], false);

    let drift = db.enqueue(JobKind::Drift, &json!({}), None).unwrap();
    let bad = LambdaEvent {
        payload: serde_json::from_value::<Request>(json!({"job_id": drift.id})).unwrap(),
        context: Context::default(),
    };
    let err = handle(&deps, bad).await.unwrap_err().to_string();
    assert!(err.contains("is a drift job"), "{err}");
    let missing = LambdaEvent {
        payload: serde_json::from_value::<Request>(json!({"job_id": 999})).unwrap(),
        context: Context::default(),
    };
    let err = handle(&deps, missing).await.unwrap_err();
    let diagnostic: lambda_runtime::Diagnostic = err.into();
    assert_eq!(diagnostic.error_type, "Request.Invalid");
}

#[test]
fn unknown_payloads_are_refused() {
    assert!(serde_json::from_str::<Request>(r#"{"action": "explode"}"#).is_err());
    assert!(serde_json::from_str::<Request>(r#"{"job_id": "one"}"#).is_err());
}
