//! The dashboard's reads, run on SQLite and on MySQL/MariaDB: pages by id, the date span
//! of drift checks, today's rows found by bisecting the ids, the trainings a check
//! queued, the job tallies, and the column figures a check keeps.

use driftloop_core::fixtures::{generate, Scenario};
use driftloop_db::dashboard::{Page, TimeSpan};
use driftloop_db::{ColumnFigure, DriftReportRecord, JobKind, JobStatus};
use serde_json::json;

use driftloop_db::on_both_backends;
use driftloop_db::testing::{Backend, TestDb};

on_both_backends!(
    drift_checks_come_in_pages_newest_first_and_by_date,
    rows_since_counts_the_rows_after_a_time,
    a_checks_training_and_its_version_are_found,
    jobs_come_in_pages_and_are_tallied,
    the_newest_rows_say_where_they_came_from,
);

fn record(job_id: i64, drift: bool) -> DriftReportRecord {
    DriftReportRecord {
        job_id: Some(job_id),
        reference_uri: "file:///store/snapshots/x.parquet".into(),
        reference_sha256: "0".repeat(64),
        reference_max_id: 120,
        current_max_id: 120 + job_id * 100,
        n_current: job_id * 100,
        drift,
        drift_share: if drift { 0.25 } else { 0.0 },
        drifted_columns: if drift {
            "sadness,optimism".into()
        } else {
            String::new()
        },
        report_uri: format!("file:///store/reports/drift/date=2026-12-04/job-{job_id}.json"),
        column_figures: vec![
            ColumnFigure {
                name: "sadness".into(),
                psi: 0.1 * job_id as f64,
                p_value: 0.5,
                drifted: drift,
            },
            ColumnFigure {
                name: "optimism".into(),
                psi: 0.01,
                p_value: 1e-6,
                drifted: false,
            },
        ],
    }
}

fn drift_checks_come_in_pages_newest_first_and_by_date(backend: Backend) {
    let t = TestDb::new(backend, "ui_drift_pages");
    assert!(t
        .db
        .drift_checks(Page::first(10), &TimeSpan::default())
        .unwrap()
        .is_empty());
    for job in 1..=5 {
        assert!(t.db.record_drift_report(&record(job, job % 2 == 0)).unwrap());
    }
    // The figures come back as written, and the older readers see the same records.
    let all = t.db.drift_checks(Page::first(10), &TimeSpan::default()).unwrap();
    assert_eq!(
        all.iter().map(|c| c.record.job_id.unwrap()).collect::<Vec<_>>(),
        [5, 4, 3, 2, 1]
    );
    assert_eq!(all[0].record, record(5, false));
    assert_eq!(t.db.drift_reports().unwrap()[1], record(2, true));
    assert_eq!(t.db.count_drift_checks().unwrap(), 5);
    assert!(all[0].created_at.ends_with('Z'), "{}", all[0].created_at);

    let first = t.db.drift_checks(Page::first(2), &TimeSpan::default()).unwrap();
    let next = Page {
        before: Some(first[1].id),
        limit: 2,
    };
    let second = t.db.drift_checks(next, &TimeSpan::default()).unwrap();
    assert_eq!(
        second.iter().map(|c| c.record.job_id.unwrap()).collect::<Vec<_>>(),
        [3, 2]
    );

    // Dates: move checks 1 and 2 to the first of December.
    t.exec(
        "UPDATE drift_reports SET created_at = ? WHERE job_id <= 2",
        &[Some("2026-12-01 10:00:00")],
    )
    .unwrap();
    let span = |from: Option<&str>, until: Option<&str>| TimeSpan {
        from: from.map(String::from),
        until: until.map(String::from),
    };
    let december_first =
        t.db.drift_checks(
            Page::first(10),
            &span(Some("2026-12-01 00:00:00"), Some("2026-12-02 00:00:00")),
        )
        .unwrap();
    assert_eq!(
        december_first
            .iter()
            .map(|c| c.record.job_id.unwrap())
            .collect::<Vec<_>>(),
        [2, 1]
    );
    assert!(december_first[0].created_at.starts_with("2026-12-01T10:00:00"));
    let later =
        t.db.drift_checks(Page::first(10), &span(Some("2026-12-02 00:00:00"), None))
            .unwrap();
    assert_eq!(later.len(), 3);
    assert_eq!(t.db.drift_check(4).unwrap().unwrap().record, record(4, true));
    assert_eq!(t.db.drift_check(99).unwrap(), None);

    // A check recorded before migration 10 has no figures.
    t.exec("UPDATE drift_reports SET column_figures = NULL WHERE job_id = 3", &[])
        .unwrap();
    assert!(t.db.drift_check(3).unwrap().unwrap().record.column_figures.is_empty());
}

fn rows_since_counts_the_rows_after_a_time(backend: Backend) {
    let t = TestDb::new(backend, "ui_rows_since");
    assert_eq!(t.db.rows_since("2026-01-01 00:00:00").unwrap(), 0);
    let rows = generate(Scenario::Baseline, 37, 3);
    t.db.insert_rows(&rows).unwrap();
    // The first 23 rows were stored yesterday; the rest today.
    t.exec(
        "UPDATE features SET created_at = ? WHERE id <= 23",
        &[Some("2026-12-03 12:00:00")],
    )
    .unwrap();
    t.exec(
        "UPDATE features SET created_at = ? WHERE id > 23",
        &[Some("2026-12-04 08:00:00")],
    )
    .unwrap();
    assert_eq!(t.db.rows_since("2026-12-04 00:00:00").unwrap(), 14);
    assert_eq!(t.db.rows_since("2026-12-03 00:00:00").unwrap(), 37);
    assert_eq!(t.db.rows_since("2026-12-05 00:00:00").unwrap(), 0);
    assert_eq!(
        t.db.rows_since("2026-12-04 08:00:00").unwrap(),
        14,
        "the bound is inclusive"
    );
}

fn a_checks_training_and_its_version_are_found(backend: Backend) {
    let t = TestDb::new(backend, "ui_trainings");
    assert!(t.db.trainings_queued_by(&[]).unwrap().is_empty());
    let train =
        t.db.enqueue(JobKind::Train, &json!({"drift_job_id": 7}), Some("train-after-drift-7"))
            .unwrap();
    t.db.enqueue(JobKind::Train, &json!({"drift_job_id": 8}), Some("train-after-drift-8"))
        .unwrap();
    let found = t.db.trainings_queued_by(&[7, 9]).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (
            found[0].drift_job_id,
            found[0].train_job_id,
            found[0].status,
            found[0].version
        ),
        (7, train.id, JobStatus::Pending, None)
    );
    let (version, _) =
        t.db.register_model(&driftloop_db::NewModelVersion {
            name: "mental_health".into(),
            artifact_uri: "file:///a".into(),
            sha256: "a".repeat(64),
            snapshot_uri: "file:///s".into(),
            snapshot_sha256: "s".repeat(64),
            family: "naive_bayes".into(),
            params: json!({}),
            cv_metrics: json!([]),
            holdout_metrics: json!({"accuracy": 0.9, "macro_f1": 0.88}),
            train_job_id: Some(train.id),
        })
        .unwrap();
    assert_eq!(
        t.db.trainings_queued_by(&[7]).unwrap()[0].version,
        Some(version.version)
    );
    let page = t.db.model_version_page("mental_health", Page::first(5)).unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0], version);
    t.db.set_champion(
        "mental_health",
        version.version,
        None,
        driftloop_db::AliasReason::Promoted,
        None,
    )
    .unwrap();
    let moves = t.db.champion_moves("mental_health", Page::first(5)).unwrap();
    assert_eq!(
        (moves.len(), moves[0].version, moves[0].previous),
        (1, version.version, None)
    );
}

fn jobs_come_in_pages_and_are_tallied(backend: Backend) {
    let t = TestDb::new(backend, "ui_jobs");
    assert!(t.db.job_tallies().unwrap().is_empty());
    for i in 0..7 {
        t.db.enqueue(JobKind::Drift, &json!({"n": i}), None).unwrap();
    }
    t.db.enqueue(JobKind::Train, &json!({}), None).unwrap();
    let held =
        t.db.claim(&[JobKind::Drift], std::time::Duration::from_secs(60))
            .unwrap()
            .unwrap();
    t.db.fail(&held, "<script>alert(1)</script>").unwrap();
    let running =
        t.db.claim(&[JobKind::Drift], std::time::Duration::from_secs(60))
            .unwrap()
            .unwrap();

    let tallies = t.db.job_tallies().unwrap();
    let n = |kind, status| {
        tallies
            .iter()
            .find(|t| t.kind == kind && t.status == status)
            .map_or(0, |t| t.n)
    };
    assert_eq!(n(JobKind::Drift, JobStatus::Pending), 5);
    assert_eq!(n(JobKind::Drift, JobStatus::Failed), 1);
    assert_eq!(n(JobKind::Drift, JobStatus::Running), 1);
    assert_eq!(n(JobKind::Train, JobStatus::Pending), 1);

    let first = t.db.job_entries(Page::first(3), None).unwrap();
    assert_eq!(first.iter().map(|j| j.job.id).collect::<Vec<_>>(), [8, 7, 6]);
    let rest =
        t.db.job_entries(
            Page {
                before: Some(6),
                limit: 10,
            },
            None,
        )
        .unwrap();
    assert_eq!(rest.iter().map(|j| j.job.id).collect::<Vec<_>>(), [5, 4, 3, 2, 1]);
    let failed = t.db.job_entries(Page::first(10), Some(JobStatus::Failed)).unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].job.error.as_deref(), Some("<script>alert(1)</script>"));
    let held_now = t.db.job_entries(Page::first(10), Some(JobStatus::Running)).unwrap();
    assert_eq!(held_now[0].job.id, running.id);
    assert!(held_now[0]
        .lease_until
        .as_deref()
        .is_some_and(|l| l > held_now[0].created_at.as_str()));
}

fn the_newest_rows_say_where_they_came_from(backend: Backend) {
    let t = TestDb::new(backend, "ui_recent_rows");
    assert!(t.db.recent_rows(10).unwrap().is_empty());
    let mut rows = generate(Scenario::Baseline, 12, 5);
    rows[11].request_id = Some("<b>req</b>".into());
    t.db.insert_rows(&rows).unwrap();
    let recent = t.db.recent_rows(10).unwrap();
    assert_eq!(recent.len(), 10);
    assert_eq!(recent[0].id, 12);
    assert_eq!(recent[0].request_id.as_deref(), Some("<b>req</b>"));
    assert_eq!(recent[0].label, driftloop_core::spec().classes[rows[11].label as usize]);
}
