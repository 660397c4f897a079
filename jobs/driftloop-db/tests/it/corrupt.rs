//! Rows that do not fit the schema (planted with the database's checks off) are the same
//! `Error::Corrupt`, naming the row and the column, on both backends: never a default
//! value, never a silently dropped field.

use driftloop_db::testing::{Backend, TestDb};
use driftloop_db::{on_both_backends, Error, JobKind};
use serde_json::json;

on_both_backends!(
    a_job_with_an_unknown_status_is_corrupt,
    a_model_version_with_an_unknown_status_is_corrupt
);

fn a_job_with_an_unknown_status_is_corrupt(backend: Backend) {
    let t = TestDb::new(backend, "corrupt_job");
    let job =
        t.db.enqueue(JobKind::Drift, &json!({"reason": "manual"}), None)
            .unwrap();
    t.exec_unchecked(&format!("UPDATE jobs SET status = 'lost' WHERE id = {}", job.id));
    let err = t.db.jobs(None).unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt(message) if message.contains(&format!("job {}", job.id))),
        "{err}"
    );
}

fn a_model_version_with_an_unknown_status_is_corrupt(backend: Backend) {
    let t = TestDb::new(backend, "corrupt_version");
    t.exec_unchecked(
        "INSERT INTO model_versions (name, artifact_uri, sha256, snapshot_uri, snapshot_sha256, family, params, \
         cv_metrics, holdout_metrics, status) VALUES ('m', 'models/a', 'aa', 'snapshots/s', 'ss', 'decision_tree', \
         '{}', '{}', '{}', 'lost')",
    );
    let err = t.db.model_versions("m").unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt(message) if message.contains("model_versions.status")),
        "{err}"
    );
}
