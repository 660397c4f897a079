//! Migrations: applied in order, recorded, and idempotent.

use driftloop_db::on_both_backends;
use driftloop_db::testing::{Backend, TestDb};

on_both_backends!(
    migrating_twice_changes_nothing_the_second_time,
    an_edited_applied_migration_is_refused,
    a_database_made_for_another_dataset_is_refused,
    a_database_migrated_from_the_former_files_migrates_again,
    the_generated_table_holds_every_kind,
    rows_stored_before_predictions_were_kept_migrate_without_loss
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
            "0005_model_registry.sql",
            "0006_wandb_mirror.sql",
            "0007_wandb_status.sql",
            "0008_predictions_labels.sql",
            "0009_bulk_counting.sql",
            "0010_dashboard.sql",
            "0011_job_claims.sql"
        ]
    );
    assert_eq!(first.already_applied, 0);
    t.db.set_drift_every(7).unwrap();
    let before = schema_dump(&t);
    let recorded = t.query("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version");
    let second = t.reopen().migrate().unwrap();
    assert!(second.applied.is_empty());
    assert_eq!(second.already_applied, 11);
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

fn a_database_made_for_another_dataset_is_refused(backend: Backend) {
    let t = TestDb::new(backend, "migrate_other_dataset");
    let recorded = t.query("SELECT name, spec_hash FROM driftloop_dataset");
    assert_eq!(
        recorded,
        [[
            Some("mental_health".to_string()),
            Some(driftloop_core::spec().spec_hash())
        ]]
    );
    t.exec(
        "UPDATE driftloop_dataset SET name = 'churn', spec_hash = ?",
        &[Some("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")],
    )
    .unwrap();
    let before = schema_dump(&t);
    let err = t.db.migrate().unwrap_err().to_string();
    let ours = &driftloop_core::spec().spec_hash()[..12];
    assert!(
        err.contains("holds dataset churn (0123456789ab), not dataset mental_health") && err.contains(ours),
        "{err}"
    );
    assert_eq!(schema_dump(&t), before, "a refused migration changes nothing");
}

/// A database migrated when the feature table was a file recorded that file's checksum and
/// no dataset: it is the shipped dataset's, and migrates again without a change.
fn a_database_migrated_from_the_former_files_migrates_again(backend: Backend) {
    let t = TestDb::new(backend, "migrate_former_files");
    let former = match backend {
        Backend::Sqlite => include_str!("former_0001_features.sqlite.sql"),
        Backend::Mysql => include_str!("former_0001_features.mysql.sql"),
    };
    let checksum = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(former))
    };
    t.exec(
        "UPDATE schema_migrations SET checksum = ? WHERE version = 1",
        &[Some(&checksum)],
    )
    .unwrap();
    t.exec("DROP TABLE driftloop_dataset", &[]).unwrap();
    let report = t.db.migrate().unwrap();
    assert!(report.applied.is_empty(), "{report:?}");
    assert_eq!(report.already_applied, 11);
    assert_eq!(
        t.query("SELECT name FROM driftloop_dataset"),
        [[Some("mental_health".to_string())]]
    );
    assert_eq!(t.db.migrate().unwrap().already_applied, 11);
}

/// The feature table the synthetic every-kind dataset generates takes its values and
/// refuses others, on both backends (the shipped dataset's is checked in schema.rs).
fn the_generated_table_holds_every_kind(backend: Backend) {
    let t = TestDb::unmigrated(backend, "ddl_every_kind");
    let spec = driftloop_core::DatasetSpec::from_file(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data-fixtures/synthetic/dataset.toml"
    )))
    .unwrap();
    let dialect = match backend {
        Backend::Sqlite => driftloop_db::Dialect::Sqlite,
        Backend::Mysql => driftloop_db::Dialect::Mysql,
    };
    let ddl = driftloop_db::ddl::features_ddl(dialect, &spec);
    let statements: Vec<String> = ddl
        .split(';')
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|s| !s.trim().is_empty())
        .collect();
    assert_eq!(statements.len(), if backend == Backend::Sqlite { 2 } else { 1 });
    for statement in &statements {
        t.exec(statement, &[]).unwrap_or_else(|e| panic!("{e}\n{statement}"));
    }
    let insert = "INSERT INTO features (plan, satisfaction, tenure_months, support_calls, monthly_spend, churned, label_source) \
                  VALUES (?, ?, ?, ?, ?, ?, 'expert')";
    let row = |values: [Option<&str>; 6]| t.exec(insert, &values);
    row([
        Some("pro"),
        Some("high"),
        Some("120"),
        Some("3"),
        Some("19.5"),
        Some("yes"),
    ])
    .unwrap();
    row([Some("basic"), Some("low"), Some("0"), None, None, Some("no")]).unwrap();
    for (what, bad) in [
        (
            "an unknown level",
            [Some("gold"), Some("low"), Some("1"), None, None, Some("no")],
        ),
        (
            "an unknown ordinal level",
            [Some("plus"), Some("top"), Some("1"), None, None, Some("no")],
        ),
        (
            "an integer above max",
            [Some("plus"), Some("low"), Some("121"), None, None, Some("no")],
        ),
        (
            "an integer below min",
            [Some("plus"), Some("low"), Some("-1"), None, None, Some("no")],
        ),
        (
            "a number below min",
            [Some("plus"), Some("low"), Some("1"), None, Some("-0.5"), Some("no")],
        ),
        (
            "a missing non-nullable value",
            [Some("plus"), None, Some("1"), None, None, Some("no")],
        ),
        (
            "an unknown class",
            [Some("plus"), Some("low"), Some("1"), None, None, Some("maybe")],
        ),
    ] {
        assert!(row(bad).is_err(), "{what} was accepted");
    }
    let stored = t.query("SELECT plan, support_calls, monthly_spend FROM features ORDER BY id");
    assert_eq!(stored[1], [Some("basic".to_string()), None, None]);
    assert_eq!(stored.len(), 2);
}

/// Migration 0008 on rows stored before it: a row the model labelled keeps that answer as
/// its prediction, a scored row an expert labelled since keeps the label as the first of
/// its history, an imported row gets neither; the feature rows themselves are untouched.
fn rows_stored_before_predictions_were_kept_migrate_without_loss(backend: Backend) {
    use driftloop_core::fixtures::{generate, Scenario};
    use driftloop_core::LabelSource;
    use driftloop_db::RowRef;
    let t = TestDb::new(backend, "backfill");
    let mut rows = generate(Scenario::Baseline, 6, 3);
    for row in &mut rows[..4] {
        row.label_source = LabelSource::Model;
        row.model_version = Some("v0003".into());
    }
    t.db.insert_rows(&rows).unwrap();
    // As before 0008: no predictions, no history, and row 2 labelled by an expert since
    // (which overwrote the model's answer).
    t.exec("DROP TABLE predictions", &[]).unwrap();
    t.exec("DROP TABLE labels", &[]).unwrap();
    t.exec("DELETE FROM schema_migrations WHERE version = 8", &[]).unwrap();
    t.exec(
        "UPDATE features SET diagnosis = 'Normal', label_source = 'expert' WHERE id = 2",
        &[],
    )
    .unwrap();
    let features_before = t.query("SELECT * FROM features ORDER BY id");

    let report = t.reopen().migrate().unwrap();
    assert_eq!(report.applied, ["0008_predictions_labels.sql"]);
    assert_eq!(t.query("SELECT * FROM features ORDER BY id"), features_before);
    for id in [1, 3, 4] {
        let history = t.db.row_history(&RowRef::Id(id)).unwrap().unwrap();
        let kept = history.prediction.expect("a model-labelled row keeps its answer");
        assert_eq!(kept.predicted, rows[id as usize - 1].label_text());
        assert_eq!((kept.probability, kept.model_version.as_deref()), (None, Some("v0003")));
        assert!(history.labels.is_empty());
    }
    let relabelled = t.db.row_history(&RowRef::Id(2)).unwrap().unwrap();
    assert_eq!(relabelled.prediction, None, "its answer was overwritten before 0008");
    assert_eq!(relabelled.labels.len(), 1);
    assert_eq!(
        (
            relabelled.labels[0].label.as_str(),
            relabelled.labels[0].source.as_str()
        ),
        ("Normal", "expert")
    );
    for id in [5, 6] {
        let imported = t.db.row_history(&RowRef::Id(id)).unwrap().unwrap();
        assert_eq!((imported.prediction, imported.labels.len()), (None, 0));
    }
    assert_eq!(t.db.migrate().unwrap().applied, Vec::<String>::new());
}
