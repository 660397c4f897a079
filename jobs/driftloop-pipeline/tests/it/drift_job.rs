//! The drift job end to end on SQLite and on MariaDB, with a local store: the trigger
//! queues drift jobs, the job compares the newest snapshot with the rows since it, writes
//! a report, records it and queues one train job per drift job, however often it runs.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use driftloop_pipeline::db::{JobKind, JobStatus};
use driftloop_pipeline::drift_job::run_drift_job;
use driftloop_pipeline::frames::describe_query;
use driftloop_pipeline::notify::{Event, Notifier};
use driftloop_pipeline::snapshot::{write_snapshot, LabelSelection};
use driftloop_stats::DriftConfig;

use crate::helpers::{fixture, Backend, StoreBackend, TestDb, TestStore};

/// Keeps the events it is given, to check what was sent.
#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

#[async_trait]
impl Notifier for Recorder {
    async fn notify(&self, event: &Event) {
        self.0.lock().unwrap().push(event.clone());
    }
}

async fn drift_job_end_to_end(backend: Backend) {
    let t = TestDb::new(backend, "drift_job");
    let s = TestStore::new(StoreBackend::Local, "drift-job").await;
    let store = s.store.as_ref();
    t.db.insert_rows(&fixture("baseline-120.csv")).unwrap();
    let filter = LabelSelection::All.row_filter();
    let reference = write_snapshot(
        store,
        &t.db.read_frame(&filter).unwrap(),
        LabelSelection::All,
        &describe_query(&filter),
    )
    .await
    .unwrap()
    .manifest;
    // The first drift job (queued at row 100) is about rows already in the reference.
    let first = t.db.claim(&[JobKind::Drift], Duration::from_secs(60)).unwrap().unwrap();
    let recorder = Recorder::default();
    let quiet = run_drift_job(t.db.as_ref(), store, &recorder, &first, &DriftConfig::default())
        .await
        .unwrap();
    assert_eq!((quiet.n_current, quiet.drift, quiet.train_job), (0, false, None));
    t.db.complete(&first).unwrap();

    let outcome = t.db.insert_rows(&fixture("covariate-shift-1000.csv")).unwrap();
    assert_eq!(outcome.drift_jobs_queued, 10);
    let job = t.db.claim(&[JobKind::Drift], Duration::from_secs(60)).unwrap().unwrap();
    let result = run_drift_job(t.db.as_ref(), store, &recorder, &job, &DriftConfig::default())
        .await
        .unwrap();
    assert!(result.drift);
    assert_eq!(result.drifted_columns, ["sadness", "sleep_disorder", "optimism"]);
    assert_eq!(result.n_current, 1000);
    assert_eq!(result.reference_uri, reference.uri);
    let train = result.train_job.expect("drift queues training");
    assert!(train.created);

    // The report is in the store and in drift_reports.
    let key = store.key_of(&result.report_uri).unwrap();
    assert!(
        key.starts_with("reports/drift/date=") && key.ends_with(&format!("/job-{}.json", job.id)),
        "{key}"
    );
    let document: serde_json::Value = serde_json::from_slice(&store.get(&key).await.unwrap()).unwrap();
    assert_eq!(document["report"]["drift"], true);
    assert_eq!(document["current"]["after_id"], 120);
    assert_eq!(document["current"]["max_id"], 1120);
    assert_eq!(document["html_uri"], result.html_uri.as_str());
    let html_key = store.key_of(&result.html_uri).unwrap();
    let page = String::from_utf8(store.get(&html_key).await.unwrap().to_vec()).unwrap();
    assert!(
        page.contains("Drift detected: 3 of 17 columns drifted"),
        "{}",
        &page[..400]
    );
    assert_eq!(page.matches("<svg").count(), 18);

    // The same job again (a lost lease): one report row, one train job.
    let again = run_drift_job(t.db.as_ref(), store, &recorder, &job, &DriftConfig::default())
        .await
        .unwrap();
    assert_eq!(again.train_job.map(|e| (e.id, e.created)), Some((train.id, false)));
    t.db.complete(&job).unwrap();
    let reports = t.db.drift_reports().unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[1].job_id, Some(job.id));
    assert_eq!(
        (
            reports[1].reference_max_id,
            reports[1].current_max_id,
            reports[1].n_current
        ),
        (120, 1120, 1000)
    );
    assert_eq!(reports[1].drifted_columns, "sadness,sleep_disorder,optimism");
    let train_jobs: Vec<_> =
        t.db.jobs(Some(JobStatus::Pending))
            .unwrap()
            .into_iter()
            .filter(|j| j.kind == JobKind::Train)
            .collect();
    assert_eq!(train_jobs.len(), 1);
    assert_eq!(train_jobs[0].payload.as_ref().unwrap()["drift_job_id"], job.id);
    let events = recorder.0.lock().unwrap();
    assert_eq!(events.len(), 2, "each drifting run notifies");
    assert!(
        events[0].text().contains("sadness, sleep_disorder, optimism"),
        "{}",
        events[0].text()
    );
}

#[tokio::test]
async fn drift_job_on_sqlite() {
    drift_job_end_to_end(Backend::Sqlite).await;
}

#[tokio::test]
async fn drift_job_on_mysql() {
    drift_job_end_to_end(Backend::Mysql).await;
}

/// A check just after the reference was written sees a few rows. Twenty rows drawn from
/// the reference's own distribution reach a PSI of 0.25 in enough columns to call drift
/// (and queue a training) under the old rule; with `psi_min_rows` the columns are judged
/// by their chi-square tests, which take the rows into account, and nothing drifts.
#[tokio::test]
async fn a_check_over_a_few_rows_is_judged_by_its_tests_not_by_psi() {
    let t = TestDb::new(Backend::Sqlite, "drift_few_rows");
    let s = TestStore::new(StoreBackend::Local, "drift-few-rows").await;
    let store = s.store.as_ref();
    t.db.insert_rows(&fixture("baseline-120.csv")).unwrap();
    let filter = LabelSelection::All.row_filter();
    let frame = t.db.read_frame(&filter).unwrap();
    write_snapshot(store, &frame, LabelSelection::All, &describe_query(&filter))
        .await
        .unwrap();
    t.db.insert_rows(&fixture("baseline-1000.csv")[..20]).unwrap();
    let job = t.db.claim(&[JobKind::Drift], Duration::from_secs(60)).unwrap().unwrap();
    let recorder = Recorder::default();
    let config = DriftConfig::default();
    assert_eq!(config.psi_min_rows, 100);
    let judged = run_drift_job(t.db.as_ref(), store, &recorder, &job, &config)
        .await
        .unwrap();
    assert_eq!((judged.n_current, judged.drift, judged.train_job), (20, false, None));
    assert!(recorder.0.lock().unwrap().is_empty());
    let key = store.key_of(&judged.html_uri).unwrap();
    let page = String::from_utf8(store.get(&key).await.unwrap().to_vec()).unwrap();
    assert!(page.contains("with at least 100 rows on each side"), "{page}");

    let psi_at_any_size = DriftConfig {
        psi_min_rows: 0,
        ..config
    };
    let noisy = run_drift_job(t.db.as_ref(), store, &recorder, &job, &psi_at_any_size)
        .await
        .unwrap();
    assert!(noisy.drift && noisy.drifted_columns.len() >= 3, "{noisy:?}");
    assert!(noisy.train_job.is_some());
}
