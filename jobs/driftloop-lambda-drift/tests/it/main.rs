//! The drift function's handler, called with `LambdaEvent`s built from the event fixtures
//! in data-fixtures/events/, over SQLite and a folder, and over MariaDB and the S3 server.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use driftloop_core::LabelSource;
use driftloop_lambda_drift::{handle, Deps, Request};
use driftloop_pipeline::csv_io::read_feature_csv;
use driftloop_pipeline::db::on_both_backends_async;
use driftloop_pipeline::db::{JobKind, JobStatus};
use driftloop_pipeline::frames::describe_query;
use driftloop_pipeline::snapshot::{write_snapshot, LabelSelection};
use driftloop_pipeline::testing::{test_worker, Backend, TestEnv};
use lambda_runtime::{Context, LambdaEvent};

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

/// The function's clients over the test's database and store.
fn deps(env: &TestEnv) -> Deps {
    Deps {
        worker: test_worker(env.db.clone(), env.store.clone()),
        train_function: None,
    }
}

on_both_backends_async!(scheduled_and_direct_invocations_drain_the_drift_jobs);

async fn scheduled_and_direct_invocations_drain_the_drift_jobs(backend: Backend) {
    let env = TestEnv::new(backend, "drift-fn").await;
    let (db, store) = (env.db.clone(), env.store.clone());
    let rows = |name: &str| read_feature_csv(&fixtures().join(name), LabelSource::Expert).unwrap();
    db.insert_rows(&rows("baseline-120.csv")).unwrap();
    let filter = LabelSelection::All.row_filter();
    write_snapshot(
        store.as_ref(),
        &db.read_frame(&filter).unwrap(),
        LabelSelection::All,
        &describe_query(&filter),
    )
    .await
    .unwrap();
    db.insert_rows(&rows("covariate-shift-1000.csv")).unwrap();
    let deps = deps(&env);

    // Too close to the deadline: nothing is started.
    let summary = handle(&deps, event("drift-scheduled.json", 5)).await.unwrap();
    assert!(summary.drift.stopped_at_deadline && summary.drift.jobs.is_empty());
    assert_eq!(db.jobs(Some(JobStatus::Pending)).unwrap().len(), 11);

    let summary = handle(&deps, event("drift-scheduled.json", 900)).await.unwrap();
    assert!(!summary.drift.stopped_at_deadline && summary.drift.failed.is_empty());
    // The 11 pending jobs are answered by one check.
    assert_eq!(summary.drift.jobs.len(), 1);
    assert_eq!(summary.drift.jobs[0].job_ids.len(), 11);
    assert!(summary
        .drift
        .jobs
        .iter()
        .all(|j| j.drift && j.drifted_columns == ["sadness", "sleep_disorder", "optimism"]));
    let pending = db.jobs(Some(JobStatus::Pending)).unwrap();
    assert!(pending.iter().all(|j| j.kind == JobKind::Train) && pending.len() == 1);

    let summary = handle(&deps, event("drift-direct.json", 900)).await.unwrap();
    assert!(summary.drift.jobs.is_empty() && summary.drift.failed.is_empty());
    let json = serde_json::to_value(&summary).unwrap();
    assert_eq!(json["stopped_at_deadline"], false);
}

#[test]
fn unknown_payloads_are_refused() {
    assert!(serde_json::from_str::<Request>(r#"{"action": "explode"}"#).is_err());
    assert!(serde_json::from_str::<Request>(r#"{"hello": 1}"#).is_err());
}

#[tokio::test]
async fn a_job_id_is_a_bad_request_for_the_drift_function() {
    let env = TestEnv::new(Backend::Sqlite, "drift-fn-job").await;
    let deps = deps(&env);
    let payload: Request = serde_json::from_str(r#"{"job_id": 3}"#).unwrap();
    let err = handle(&deps, LambdaEvent::new(payload, Context::default()))
        .await
        .unwrap_err();
    assert!(matches!(err, driftloop_lambda::HandlerError::BadRequest(_)), "{err}");
    let diagnostic = lambda_runtime::Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, "Request.Invalid");
}
