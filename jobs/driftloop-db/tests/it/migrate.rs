//! Migrations: applied in order, recorded, and idempotent.

use driftloop_db::on_both_backends;
use driftloop_db::testing::{Backend, TestDb};

on_both_backends!(
    migrating_twice_changes_nothing_the_second_time,
    an_edited_applied_migration_is_refused
);

/// Everything the migrations create, as text: tables and columns, routines, triggers.
fn schema_dump(t: &TestDb) -> Vec<Vec<Option<String>>> {
    match t.backend {
        Backend::Sqlite => t.query("SELECT type, name, sql FROM sqlite_master ORDER BY type, name"),
        Backend::Mysql => {
            let mut dump = t.query(
                "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT FROM information_schema.COLUMNS
                 WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION",
            );
            dump.extend(t.query(
                "SELECT ROUTINE_NAME, ROUTINE_DEFINITION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()",
            ));
            dump.extend(t.query(
                "SELECT TRIGGER_NAME, ACTION_STATEMENT, CREATED FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()",
            ));
            dump
        }
    }
}

fn migrating_twice_changes_nothing_the_second_time(backend: Backend) {
    let t = TestDb::unmigrated(backend, "migrate_twice");
    let first = t.db.migrate().unwrap();
    assert_eq!(
        first.applied,
        [
            "0001_features.sql",
            "0002_jobs.sql",
            "0003_drift_counter.sql",
            "0004_drift_reports.sql",
            "0005_model_registry.sql"
        ]
    );
    assert_eq!(first.already_applied, 0);
    t.db.set_drift_every(7).unwrap();
    let before = schema_dump(&t);
    let recorded = t.query("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version");
    let second = t.reopen().migrate().unwrap();
    assert!(second.applied.is_empty());
    assert_eq!(second.already_applied, 5);
    assert_eq!(schema_dump(&t), before);
    assert_eq!(
        t.query("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version"),
        recorded
    );
    assert_eq!(
        t.db.drift_counter().unwrap().drift_every,
        7,
        "a second migrate keeps the settings"
    );
}

fn an_edited_applied_migration_is_refused(backend: Backend) {
    let t = TestDb::new(backend, "migrate_edited");
    t.exec(
        "UPDATE schema_migrations SET checksum = ? WHERE version = 2",
        &[Some("0000")],
    )
    .unwrap();
    let err = t.db.migrate().unwrap_err().to_string();
    assert!(
        err.contains("0002_jobs.sql") && err.contains("applied with other contents"),
        "{err}"
    );
}

#[test]
fn a_missing_mysql_database_says_how_to_create_it() {
    let url = format!(
        "{}/driftloop_no_such_database",
        driftloop_db::testing::mysql_server_url().trim_end_matches('/')
    );
    let err = driftloop_db::open_database(&driftloop_db::DatabaseUrl::parse(&url).unwrap())
        .err()
        .expect("opening a missing database fails")
        .to_string();
    assert!(
        err.contains("does not exist") && err.contains("CREATE DATABASE `driftloop_no_such_database`"),
        "{err}"
    );
}
