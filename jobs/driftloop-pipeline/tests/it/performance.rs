//! The performance job end to end on SQLite + a folder and on MariaDB + S3: a champion
//! scores rows, the label counter queues performance jobs as experts label them, and the
//! job finds nothing on labels drawn as its training data was, decay on labels from a
//! shifted rule (a notification and one train job, however often it runs), and too few
//! labels reported as insufficient.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use driftloop_core::fixtures::{generate, Scenario};
use driftloop_core::LabelSource;
use driftloop_pipeline::db::{on_both_backends_async, JobKind, RowRef};
use driftloop_pipeline::drift_job::run_drift_job;
use driftloop_pipeline::notify::{Event, Notifier};
use driftloop_pipeline::performance_job::{run_performance_job, PerformanceConfig};
use driftloop_pipeline::predict::Champion;
use driftloop_pipeline::testing::TestEnv;
use driftloop_stats::performance::Verdict;

use crate::helpers::Backend;

on_both_backends_async!(
    the_performance_job_finds_decay_from_expert_labels,
    the_drift_job_reports_prediction_drift
);

#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

#[async_trait]
impl Notifier for Recorder {
    async fn notify(&self, event: &Event) {
        self.0.lock().unwrap().push(event.clone());
    }
}

async fn the_performance_job_finds_decay_from_expert_labels(backend: Backend) {
    let env = TestEnv::with_champion(backend, "performance").await;
    let (db, store) = (env.db.as_ref(), env.store.as_ref());
    db.set_labels_every(100).unwrap();
    let champion = Champion::load(db, store).await.unwrap();
    // 240 rows from the training distribution, scored as the predict endpoint scores them.
    let truth = generate(Scenario::Baseline, 240, 77);
    let codes: Vec<&[f64]> = truth.iter().map(|r| r.features.as_slice()).collect();
    let scored = champion.score(&codes).unwrap();
    let rows: Vec<_> = truth
        .iter()
        .zip(&scored)
        .map(|(row, s)| {
            let mut row = row.clone();
            row.label = s.class;
            row.label_source = LabelSource::Model;
            row.model_version = Some(champion.model_version());
            row.probabilities = Some(s.probabilities.clone());
            row
        })
        .collect();
    let (ids, _) = db.insert_rows_with_ids(&rows).unwrap();
    let config = PerformanceConfig {
        window: 100,
        ..PerformanceConfig::default()
    };
    let recorder = Recorder::default();
    let lease = Duration::from_secs(60);

    // No label yet: insufficient, never healthy.
    let early = db.enqueue(JobKind::Performance, &serde_json::json!({}), None).unwrap();
    let job = db.claim(&[JobKind::Performance], lease).unwrap().unwrap();
    assert_eq!(job.id, early.id);
    let outcome = run_performance_job(db, store, &recorder, &job, &config).await.unwrap();
    assert_eq!(
        (outcome.verdict, outcome.window_rows, outcome.accuracy),
        (Verdict::Insufficient, 0, None)
    );
    db.complete(&job).unwrap();

    // 100 expert labels as the generator drew them: the counter queues a job, and the
    // champion is as good as its holdout said.
    for (id, row) in ids.iter().zip(&truth).take(100) {
        db.set_label(&RowRef::Id(*id), row.label, None).unwrap();
    }
    let job = db
        .claim(&[JobKind::Performance], lease)
        .unwrap()
        .expect("the label counter queued a job");
    assert_eq!(job.payload.as_ref().unwrap()["reason"], "label_count");
    let healthy = run_performance_job(db, store, &recorder, &job, &config).await.unwrap();
    assert_eq!(healthy.verdict, Verdict::Healthy, "{healthy:?}");
    assert_eq!((healthy.window_rows, healthy.train_job), (100, None));
    let expected = ids
        .iter()
        .zip(&truth)
        .zip(&scored)
        .take(100)
        .filter(|((_, row), s)| row.label == s.class)
        .count() as f64
        / 100.0;
    assert!((healthy.accuracy.unwrap() - expected).abs() < 1e-12);
    db.complete(&job).unwrap();
    assert!(recorder.0.lock().unwrap().is_empty());

    // 100 more from a shifted rule (the same symptoms, another diagnosis): degraded.
    for (id, row) in ids.iter().zip(&truth).skip(100).take(100) {
        db.set_label(&RowRef::Id(*id), (row.label + 1) % 4, None).unwrap();
    }
    let job = db.claim(&[JobKind::Performance], lease).unwrap().unwrap();
    let degraded = run_performance_job(db, store, &recorder, &job, &config).await.unwrap();
    assert_eq!(degraded.verdict, Verdict::Degraded, "{degraded:?}");
    assert_eq!((degraded.window_rows, degraded.cumulative_rows), (100, 200));
    let train = degraded.train_job.expect("a degradation queues a training");
    // Run again (a lost lease): the same train job, one report row for the job.
    let again = run_performance_job(db, store, &recorder, &job, &config).await.unwrap();
    assert_eq!(again.train_job.unwrap().id, train.id);
    db.complete(&job).unwrap();
    let reports = db.performance_reports().unwrap();
    let verdicts: Vec<&str> = reports.iter().map(|r| r.verdict.as_str()).collect();
    assert_eq!(verdicts, ["insufficient", "healthy", "degraded"]);
    assert_eq!(reports[2].model_version, champion.version.version);
    let events = recorder.0.lock().unwrap().clone();
    assert!(
        matches!(&events[0], Event::PerformanceDegraded { rows: 100, .. }),
        "{events:?}"
    );
    let trains: Vec<_> = db
        .jobs(None)
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == JobKind::Train)
        .collect();
    assert_eq!(trains.len(), 1);
    // The retraining learns from the degraded window's rows on.
    let payload = trains[0].payload.as_ref().unwrap();
    assert_eq!(payload["train_after_id"], ids[100] - 1, "{payload}");

    // The report: both windows, with calibration.
    let key = store.key_of(&degraded.report_uri).unwrap();
    let report: serde_json::Value = serde_json::from_slice(&store.get(&key).await.unwrap()).unwrap();
    assert_eq!(report["verdict"], "degraded");
    assert_eq!(report["window"]["rows"], 100);
    assert!(report["window"]["report"]["calibration"]["ece"].as_f64().unwrap() > 0.0);
    assert_eq!(report["cumulative"]["rows"], 200);
    let page = store.get(&store.key_of(&degraded.html_uri).unwrap()).await.unwrap();
    assert!(String::from_utf8_lossy(&page).contains("degraded"));
}

/// Prediction drift: the drift job compares the classes the champion predicted since its
/// snapshot with the snapshot's labels, beside the label column; rows it did not score
/// (imported) give none.
async fn the_drift_job_reports_prediction_drift(backend: Backend) {
    let env = TestEnv::with_champion(backend, "prediction-drift").await;
    let (db, store) = (env.db.as_ref(), env.store.as_ref());
    let champion = Champion::load(db, store).await.unwrap();
    let lease = Duration::from_secs(60);
    let config = driftloop_stats::DriftConfig::default();
    let recorder = Recorder::default();
    // Imported rows since the snapshot: nothing predicted.
    db.insert_rows(&generate(Scenario::Baseline, 50, 5)).unwrap();
    db.enqueue(JobKind::Drift, &serde_json::json!({}), None).unwrap();
    let job = loop {
        let job = db.claim(&[JobKind::Drift], lease).unwrap().unwrap();
        if job
            .payload
            .as_ref()
            .is_some_and(|p| p.as_object().is_some_and(|o| o.is_empty()))
        {
            break job;
        }
        db.complete(&job).unwrap();
    };
    let quiet = run_drift_job(db, store, &recorder, &job, &config).await.unwrap();
    assert_eq!(quiet.prediction_drift, None);
    db.complete(&job).unwrap();

    // 150 rows the champion scored, every one predicted the last class.
    let mut rows = generate(Scenario::Baseline, 150, 6);
    for row in &mut rows {
        row.label = 3;
        row.label_source = LabelSource::Model;
        row.model_version = Some(champion.model_version());
    }
    db.insert_rows(&rows).unwrap();
    let queued = db
        .enqueue(JobKind::Drift, &serde_json::json!({"reason": "test"}), None)
        .unwrap();
    let job = loop {
        let job = db.claim(&[JobKind::Drift], lease).unwrap().unwrap();
        if job.id == queued.id {
            break job;
        }
        db.complete(&job).unwrap();
    };
    let outcome = run_drift_job(db, store, &recorder, &job, &config).await.unwrap();
    let predicted = outcome.prediction_drift.expect("the champion scored rows since");
    assert_eq!(predicted.name, "predicted");
    assert_eq!(predicted.n_current, 150);
    assert!(predicted.drifted && predicted.psi > 1.0, "{predicted:?}");
    let last = predicted.categories.iter().find(|c| c.value == "Depression").unwrap();
    assert_eq!(last.current_count, 150);
    let key = store.key_of(&outcome.report_uri).unwrap();
    let report: serde_json::Value = serde_json::from_slice(&store.get(&key).await.unwrap()).unwrap();
    assert_eq!(report["predictions"]["name"], "predicted");
}
