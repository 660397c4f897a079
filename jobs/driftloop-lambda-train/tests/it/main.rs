//! The train function's handler, called with `LambdaEvent`s built from the event fixtures
//! in data-fixtures/events/, over SQLite and a folder, and over MariaDB and the S3 server.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use driftloop_core::LabelSource;
use driftloop_lambda_train::{dispatch, handle, Deps, Request};
use driftloop_pipeline::csv_io::read_feature_csv;
use driftloop_pipeline::db::on_both_backends_async;
use driftloop_pipeline::db::{JobKind, JobStatus};
use driftloop_pipeline::testing::{test_worker, Backend, StoreBackend, TestDb, TestEnv, TestStore};
use driftloop_pipeline::{Database, ObjectStore};
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

/// The function's clients over a database and a store.
fn deps(db: Arc<dyn Database>, store: Arc<dyn ObjectStore>) -> Deps {
    Deps {
        worker: test_worker(db, store),
    }
}

on_both_backends_async!(scheduled_direct_and_job_invocations_run_the_train_jobs);

async fn scheduled_direct_and_job_invocations_run_the_train_jobs(backend: Backend) {
    let env = TestEnv::new(backend, "train-fn").await;
    let deps = deps(env.db.clone(), env.store.clone());
    let db = deps.worker.db.clone();
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

#[tokio::test(flavor = "multi_thread")]
async fn deploy_events_apply_the_migrations_once() {
    // Not migrated: the deploy event migrates it.
    let target = TestDb::unmigrated(Backend::Sqlite, "train-deploy");
    let store = TestStore::new(StoreBackend::Local, "train-deploy").await;
    let deps = deps(target.db.clone(), store.store.clone());
    let db = deps.worker.db.clone();
    let raw = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(fixtures().join("events").join(name)).unwrap()).unwrap()
    };
    let create = raw("train-deploy-create.json");
    let answer = dispatch(&deps, LambdaEvent::new(create.clone(), Context::default()))
        .await
        .unwrap();
    assert_eq!(answer["PhysicalResourceId"], "driftloop-schema");
    let applied = answer["Data"]["Applied"].as_u64().unwrap();
    assert!(applied >= 9, "{answer}");
    // The schema is there: rows can be stored.
    db.insert_rows(&read_feature_csv(&fixtures().join("baseline-120.csv"), LabelSource::Expert).unwrap())
        .unwrap();

    // An update (a new sql/ hash) applies nothing new; a delete keeps the data.
    let mut update = create.clone();
    update["RequestType"] = json!("Update");
    update["PhysicalResourceId"] = json!("driftloop-schema");
    let answer = dispatch(&deps, LambdaEvent::new(update, Context::default()))
        .await
        .unwrap();
    assert_eq!(answer["Data"]["Applied"], 0);
    assert_eq!(answer["Data"]["AlreadyApplied"].as_u64().unwrap(), applied);
    let mut delete = create.clone();
    delete["RequestType"] = json!("Delete");
    let answer = dispatch(&deps, LambdaEvent::new(delete, Context::default()))
        .await
        .unwrap();
    assert_eq!(answer["PhysicalResourceId"], "driftloop-schema");
    assert_eq!(db.count_rows().unwrap(), 120);

    // A scheduled event through the same entry runs the train drain.
    let answer = dispatch(&deps, LambdaEvent::new(raw("train-scheduled.json"), Context::default()))
        .await
        .unwrap();
    assert_eq!(answer["stopped_at_deadline"], false, "{answer}");

    let err = dispatch(&deps, LambdaEvent::new(json!({"hello": 1}), Context::default()))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("job_id"), "{err}");
    let mut bad = create;
    bad["RequestType"] = json!("Explode");
    let err = dispatch(&deps, LambdaEvent::new(bad, Context::default()))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("Explode"), "{err}");
}

#[test]
fn unknown_payloads_are_refused() {
    assert!(serde_json::from_str::<Request>(r#"{"action": "explode"}"#).is_err());
    assert!(serde_json::from_str::<Request>(r#"{"job_id": "one"}"#).is_err());
}
