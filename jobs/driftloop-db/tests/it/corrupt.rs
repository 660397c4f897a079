//! Rows that do not fit the schema (planted with the database's checks off) are the same
//! `Error::Corrupt`, naming the row and the column, on both backends: never a default
//! value, never a silently dropped field.

use driftloop_core::fixtures::{generate, Scenario};
use driftloop_db::testing::{Backend, TestDb};
use driftloop_db::{on_both_backends, Error, JobKind, RowFilter};
use serde_json::json;

on_both_backends!(
    a_job_with_an_unknown_status_is_corrupt,
    a_model_version_with_an_unknown_status_is_corrupt,
    a_feature_row_with_a_level_outside_the_spec_fails_the_bulk_read
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

/// SQLite keeps the planted text; MySQL, told to store a value outside an ENUM, keeps its
/// empty value (index 0), which the bulk read selects as the index: either way the read
/// fails and names the column, it never reads the row with a null or a neighbouring level.
fn a_feature_row_with_a_level_outside_the_spec_fails_the_bulk_read(backend: Backend) {
    let t = TestDb::new(backend, "corrupt_level");
    t.db.insert_rows(&generate(Scenario::Baseline, 3, 1)).unwrap();
    assert_eq!(t.db.read_frame(&RowFilter::default()).unwrap().height(), 3);
    let column = &driftloop_core::spec().features[0].name;
    t.exec_unchecked(&format!("UPDATE features SET {column} = 'Rarely-Ever' WHERE id = 2"));
    let err = t.db.read_frame(&RowFilter::default()).unwrap_err().to_string();
    assert!(err.contains(column.as_str()), "{err}");
}
