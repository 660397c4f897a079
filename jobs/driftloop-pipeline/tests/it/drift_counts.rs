//! Drift counted where the rows are, on SQLite and on MariaDB: the database's profile of
//! the rows since a watermark equals the one Polars makes of the same rows read whole, a
//! drift check over profiles reports exactly what the comparison of the rows reports, a
//! burst of pending jobs is one check, the windows take the rows they say, a check counts
//! only the rows since the previous one, and a snapshot whose manifest predates profiles
//! gains one at its first check.

use std::time::Duration;

use driftloop_core::{spec, Profile};
use driftloop_pipeline::db::{JobKind, JobStatus, RowFilter};
use driftloop_pipeline::drift_job::{drain_drift_jobs, DriftWindow};
use driftloop_pipeline::frames::describe_query;
use driftloop_pipeline::notify::LogNotifier;
use driftloop_pipeline::snapshot::{load_manifest, load_snapshot, write_snapshot, LabelSelection};
use driftloop_stats::{compare, DriftConfig, DriftReport};
use serde_json::json;

use crate::helpers::{fixture, Backend, StoreBackend, TestDb, TestStore};

async fn counted_where_the_rows_are(backend: Backend) {
    let t = TestDb::new(backend, "drift_counts");
    let s = TestStore::new(StoreBackend::Local, "drift-counts").await;
    let (db, store) = (t.db.as_ref(), s.store.as_ref());
    db.insert_rows(&fixture("baseline-120.csv")).unwrap();
    let all = LabelSelection::All.row_filter();
    let reference = write_snapshot(
        store,
        &db.read_frame(&all).unwrap(),
        LabelSelection::All,
        &describe_query(&all),
    )
    .await
    .unwrap()
    .manifest;
    let (reference_frame, _) = load_snapshot(store, &reference.uri).await.unwrap();
    assert_eq!(
        reference.profile.as_ref(),
        Some(&driftloop_stats::profile(&reference_frame, "reference").unwrap()),
        "the manifest holds the snapshot's profile"
    );
    db.insert_rows(&fixture("covariate-shift-1000.csv")).unwrap();

    // The database's counts are Polars' counts of the same rows.
    let since = RowFilter {
        after_id: Some(120),
        label_source: None,
    };
    let current_frame = db.read_frame(&since).unwrap();
    let (profile, max_id) = db.profile_rows(120).unwrap();
    assert_eq!(profile, driftloop_stats::profile(&current_frame, "current").unwrap());
    assert_eq!((profile.rows, max_id), (1000, Some(1120)));
    assert_eq!(db.profile_rows(1120).unwrap(), (Profile::empty(spec()), None));
    assert_eq!(db.id_before_newest(100).unwrap(), 1020);
    assert_eq!(db.id_before_newest(5000).unwrap(), 0);

    // 11 pending jobs (one per 100 rows): one check, the same report the rows give.
    assert_eq!(db.jobs(Some(JobStatus::Pending)).unwrap().len(), 11);
    let config = DriftConfig::default();
    let notifier = LogNotifier;
    let summary = drain_drift_jobs(db, store, &notifier, &config, DriftWindow::SinceSnapshot, None)
        .await
        .unwrap();
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert_eq!(summary.jobs.len(), 1);
    let check = &summary.jobs[0];
    assert_eq!(check.job_ids.len(), 11);
    assert_eq!(check.job_id, *check.job_ids.last().unwrap());
    assert_eq!((check.after_id, check.n_current, check.drift), (120, 1000, true));
    assert!(db.jobs(Some(JobStatus::Done)).unwrap().len() == 11);
    let document: serde_json::Value =
        serde_json::from_slice(&store.get(&store.key_of(&check.report_uri).unwrap()).await.unwrap()).unwrap();
    let from_rows: DriftReport = compare(&reference_frame, &current_frame, &config).unwrap();
    assert_eq!(document["report"], serde_json::to_value(&from_rows).unwrap());
    assert_eq!(document["job_ids"], json!(check.job_ids));
    assert_eq!(document["current"]["window"], "since-snapshot");
    let reports = db.drift_reports().unwrap();
    assert_eq!(reports.len(), 1);
    let pending = db.jobs(Some(JobStatus::Pending)).unwrap();
    assert!(
        pending.len() == 1 && pending[0].kind == JobKind::Train,
        "one training: {pending:?}"
    );

    // Windows: the newest 100 rows, then the rows since that check (none), and a window
    // that does not parse fails its job with the reason.
    for window in [json!("last:100"), json!("since-last-check"), json!("last:0")] {
        db.enqueue(JobKind::Drift, &json!({ "window": window }), None).unwrap();
    }
    let summary = drain_drift_jobs(db, store, &notifier, &config, DriftWindow::SinceSnapshot, None)
        .await
        .unwrap();
    let windows: Vec<(String, i64, u64)> = summary
        .jobs
        .iter()
        .map(|c| (c.window.to_string(), c.after_id, c.n_current))
        .collect();
    assert_eq!(
        windows,
        [
            ("last:100".to_string(), 1020, 100),
            ("since-last-check".to_string(), 1120, 0)
        ]
    );
    assert_eq!(summary.failed.len(), 1);
    assert!(
        summary.failed[0].error.contains("\"last:0\" is not a drift window"),
        "{}",
        summary.failed[0].error
    );
    // A window never reaches into the reference's rows.
    db.enqueue(JobKind::Drift, &json!({"window": "last:5000"}), None)
        .unwrap();
    let summary = drain_drift_jobs(db, store, &notifier, &config, DriftWindow::SinceSnapshot, None)
        .await
        .unwrap();
    assert_eq!((summary.jobs[0].after_id, summary.jobs[0].n_current), (120, 1000));

    // A manifest written before profiles: the check profiles the file, reports the same,
    // and the manifest gains the profile.
    let manifest_key = store.key_of(&reference.uri).unwrap().replace(".parquet", ".json");
    let mut old: serde_json::Value = serde_json::from_slice(&store.get(&manifest_key).await.unwrap()).unwrap();
    old.as_object_mut().unwrap().remove("profile");
    store
        .put(&manifest_key, serde_json::to_vec(&old).unwrap().into())
        .await
        .unwrap();
    assert_eq!(load_manifest(store, &reference.uri).await.unwrap().profile, None);
    db.enqueue(JobKind::Drift, &json!({}), None).unwrap();
    let summary = drain_drift_jobs(db, store, &notifier, &config, DriftWindow::SinceSnapshot, None)
        .await
        .unwrap();
    assert_eq!(summary.jobs[0].drift_share, check.drift_share);
    assert_eq!(summary.jobs[0].drifted_columns, check.drifted_columns);
    assert_eq!(
        load_manifest(store, &reference.uri).await.unwrap().profile,
        reference.profile
    );
    // Profiles add up: with 1,000 more rows, the next check counts only them and adds
    // the profile the previous check kept, and reports what all 2,000 rows give.
    assert_eq!(summary.jobs[0].counted_rows, 0, "nothing new since the previous check");
    db.insert_rows(&fixture("label-shift-1000.csv")).unwrap();
    let summary = drain_drift_jobs(db, store, &notifier, &config, DriftWindow::SinceSnapshot, None)
        .await
        .unwrap();
    let check = &summary.jobs[0];
    assert_eq!((check.n_current, check.counted_rows, check.after_id), (2000, 1000, 120));
    let document: serde_json::Value =
        serde_json::from_slice(&store.get(&store.key_of(&check.report_uri).unwrap()).await.unwrap()).unwrap();
    let since = db.read_frame(&since).unwrap();
    assert_eq!(since.height(), 2000);
    let from_rows = compare(&reference_frame, &since, &config).unwrap();
    assert_eq!(document["report"], serde_json::to_value(&from_rows).unwrap());
    // A report that is gone is counted anew, with the same result.
    store.delete(&store.key_of(&check.report_uri).unwrap()).await.unwrap();
    db.enqueue(JobKind::Drift, &json!({}), None).unwrap();
    let summary = drain_drift_jobs(db, store, &notifier, &config, DriftWindow::SinceSnapshot, None)
        .await
        .unwrap();
    assert_eq!((summary.jobs[0].n_current, summary.jobs[0].counted_rows), (2000, 2000));
    assert_eq!(summary.jobs[0].drifted_columns, check.drifted_columns);

    // A job that waits its turn while another holds the lease is not taken.
    let held = db.enqueue(JobKind::Drift, &json!({}), None).unwrap();
    let claimed = db.claim(&[JobKind::Drift], Duration::from_secs(60)).unwrap().unwrap();
    assert_eq!(claimed.id, held.id);
    let summary = drain_drift_jobs(db, store, &notifier, &config, DriftWindow::SinceSnapshot, None)
        .await
        .unwrap();
    assert!(summary.jobs.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_is_counted_where_the_rows_are_on_sqlite() {
    counted_where_the_rows_are(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_is_counted_where_the_rows_are_on_mysql() {
    counted_where_the_rows_are(Backend::Mysql).await;
}
