//! Migrations: the feature table generated from the dataset spec (ddl.rs), then the files
//! under `sql/`, compiled in (a few are templates naming the dataset's label column and
//! classes); applied in order and recorded in `schema_migrations` with a
//! checksum, so a second run changes nothing and an edited migration that was already
//! applied is refused. The dataset a database was made for is recorded in
//! `driftloop_dataset`; migrating it for another dataset is refused.

use std::borrow::Cow;

use driftloop_core::DatasetSpec;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::ddl::{features_ddl, legacy_features_checksum, quoted_list};
use crate::error::{Error, Result};
use crate::sql::{Cells, Dialect, SqlTx};

/// One migration.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: Cow<'static, str>,
}

impl Migration {
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }
}

macro_rules! migration_files {
    ($dir:literal: $($version:literal $name:literal),* $(,)?) => {
        &[$(($version, $name, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../sql/", $dir, "/", $name)))),*]
    };
}

type MigrationFile = (u32, &'static str, &'static str);

/// MySQL 8 / Aurora MySQL / MariaDB 10.6+.
static MYSQL_FILES: &[MigrationFile] = migration_files!("mysql":
    2 "0002_jobs.sql",
    3 "0003_drift_counter.sql",
    4 "0004_drift_reports.sql",
    5 "0005_model_registry.sql",
    6 "0006_wandb_mirror.sql",
    7 "0007_wandb_status.sql",
    9 "0009_bulk_counting.sql",
    10 "0010_dashboard.sql",
    11 "0011_job_claims.sql",
);

/// SQLite, the embedded default.
static SQLITE_FILES: &[MigrationFile] = migration_files!("sqlite":
    2 "0002_jobs.sql",
    3 "0003_drift_counter.sql",
    4 "0004_drift_reports.sql",
    5 "0005_model_registry.sql",
    6 "0006_wandb_mirror.sql",
    7 "0007_wandb_status.sql",
    9 "0009_bulk_counting.sql",
    10 "0010_dashboard.sql",
    11 "0011_job_claims.sql",
);

/// Migrations that name the dataset's label column or classes: files with `__LABEL__` and
/// `__CLASSES__` in them, filled in for the dataset (all are applied in version order).
static MYSQL_TEMPLATES: &[MigrationFile] = migration_files!("mysql":
    8 "0008_predictions_labels.sql",
);

static SQLITE_TEMPLATES: &[MigrationFile] = migration_files!("sqlite":
    8 "0008_predictions_labels.sql",
);

/// A template migration's text for `spec`.
fn fill_template(sql: &str, spec: &DatasetSpec) -> String {
    sql.replace("__LABEL__", &spec.label)
        .replace("__CLASSES__", &quoted_list(&spec.classes))
}

/// The name the feature table's migration is recorded under.
const FEATURES_MIGRATION: &str = "0001_features.sql";

/// Every migration of `dialect` for `spec`, in order.
pub fn migrations(dialect: Dialect, spec: &DatasetSpec) -> Vec<Migration> {
    let (files, templates) = match dialect {
        Dialect::Mysql => (MYSQL_FILES, MYSQL_TEMPLATES),
        Dialect::Sqlite => (SQLITE_FILES, SQLITE_TEMPLATES),
    };
    let features = Migration {
        version: 1,
        name: FEATURES_MIGRATION,
        sql: Cow::Owned(features_ddl(dialect, spec)),
    };
    let mut migrations = std::iter::once(features)
        .chain(files.iter().map(|&(version, name, sql)| Migration {
            version,
            name,
            sql: Cow::Borrowed(sql),
        }))
        .chain(templates.iter().map(|&(version, name, sql)| Migration {
            version,
            name,
            sql: Cow::Owned(fill_template(sql, spec)),
        }))
        .collect::<Vec<Migration>>();
    migrations.sort_by_key(|m| m.version);
    migrations
}

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationReport {
    /// Names of the migrations this run applied.
    pub applied: Vec<String>,
    /// How many were applied before this run.
    pub already_applied: usize,
}

/// Applies the migrations `tx` has not recorded, in order, and records each with its
/// checksum; an applied migration whose text changed since is refused, and so is a
/// database made for another dataset.
pub(crate) fn apply(tx: &mut dyn SqlTx, spec: &DatasetSpec) -> Result<MigrationReport> {
    let dialect = tx.dialect();
    tx.exec(dialect.schema_migrations_ddl(), vec![])?;
    record_dataset(tx, spec)?;
    // A database migrated before the feature table was generated recorded the file's
    // checksum; the shipped dataset generates that same table.
    let shipped = spec.is_shipped();
    let migrations = migrations(dialect, spec);
    let mut report = MigrationReport {
        applied: Vec::new(),
        already_applied: 0,
    };
    for migration in &migrations {
        let rows = tx.query(
            "SELECT checksum FROM schema_migrations WHERE version = ?",
            vec![migration.version.into()],
        )?;
        let recorded = rows
            .first()
            .map(|row| {
                Cells {
                    table: "schema_migrations",
                    row,
                }
                .text(0, "checksum")
            })
            .transpose()?;
        match recorded {
            Some(checksum) if checksum == migration.checksum() => report.already_applied += 1,
            Some(checksum) if shipped && migration.version == 1 && checksum == legacy_features_checksum(dialect) => {
                report.already_applied += 1
            }
            Some(_) => {
                return Err(Error::Migration {
                    name: migration.name.into(),
                    reason: "was applied with other contents; add a new migration instead of editing an applied one"
                        .into(),
                })
            }
            None => {
                tx.exec_script(&migration.sql).map_err(|reason| Error::Migration {
                    name: migration.name.into(),
                    reason,
                })?;
                tx.exec(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                    vec![
                        migration.version.into(),
                        migration.name.into(),
                        migration.checksum().into(),
                    ],
                )?;
                report.applied.push(migration.name.to_string());
            }
        }
    }
    Ok(report)
}

/// Checks the dataset the database records against `spec`, recording `spec` in a database
/// that records none. A database migrated before datasets were recorded holds the shipped
/// dataset's table (the only one there was).
fn record_dataset(tx: &mut dyn SqlTx, spec: &DatasetSpec) -> Result<()> {
    tx.exec(
        "CREATE TABLE IF NOT EXISTS driftloop_dataset (
             id INT NOT NULL PRIMARY KEY, name VARCHAR(64) NOT NULL, spec_hash CHAR(64) NOT NULL)",
        vec![],
    )?;
    let recorded = tx.query("SELECT name, spec_hash FROM driftloop_dataset WHERE id = 1", vec![])?;
    let mismatch = |name: &str, hash: &str| Error::DatasetMismatch {
        database: format!("{name} ({})", &hash[..hash.len().min(12)]),
        given: format!("{} ({})", spec.name, &spec.spec_hash()[..12]),
    };
    if let Some(row) = recorded.first() {
        let cells = Cells {
            table: "driftloop_dataset",
            row,
        };
        let (name, hash) = (cells.text(0, "name")?, cells.text(1, "spec_hash")?);
        if hash != spec.spec_hash() {
            return Err(mismatch(&name, &hash));
        }
        return Ok(());
    }
    let features_applied = !tx
        .query("SELECT version FROM schema_migrations WHERE version = 1", vec![])?
        .is_empty();
    let shipped = driftloop_core::spec::shipped_spec();
    if features_applied && !spec.is_shipped() {
        return Err(mismatch(&shipped.name, &shipped.spec_hash()));
    }
    tx.exec(
        "INSERT INTO driftloop_dataset (id, name, spec_hash) VALUES (1, ?, ?)",
        vec![spec.name.as_str().into(), spec.spec_hash().into()],
    )?;
    Ok(())
}

/// Splits a MySQL script into statements the way the `mysql` client does: `;` ends a
/// statement unless a `DELIMITER` line chose another terminator (stored routines and
/// triggers contain `;`). Comment-only lines between statements are dropped.
pub(crate) fn split_mysql_statements(script: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut delimiter = ";".to_string();
    let mut current = String::new();
    for line in script.lines() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed
            .strip_prefix("DELIMITER ")
            .or_else(|| trimmed.strip_prefix("delimiter "))
        {
            delimiter = rest.trim().to_string();
            continue;
        }
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with("--")) {
            continue;
        }
        if let Some(body) = trimmed.strip_suffix(delimiter.as_str()) {
            let indent = &line[..line.len() - line.trim_start().len()];
            current.push_str(indent);
            current.push_str(body);
            statements.push(std::mem::take(&mut current).trim().to_string());
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    if !current.trim().is_empty() {
        statements.push(current.trim().to_string());
    }
    statements
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_semicolons_and_custom_delimiters() {
        let script = "-- a comment\nCREATE TABLE a (x INT);\n\nDELIMITER //\nCREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\n  SELECT 2;\nEND //\nDELIMITER ;\nDROP TABLE a;\n";
        let statements = split_mysql_statements(script);
        assert_eq!(statements.len(), 3, "{statements:#?}");
        assert_eq!(statements[0], "CREATE TABLE a (x INT)");
        assert!(statements[1].starts_with("CREATE PROCEDURE p()") && statements[1].ends_with("END"));
        assert!(statements[1].contains("SELECT 1;\n  SELECT 2;"));
        assert_eq!(statements[2], "DROP TABLE a");
    }

    #[test]
    fn shipped_mysql_migrations_split_cleanly() {
        let spec = DatasetSpec::shipped();
        for migration in migrations(Dialect::Mysql, &spec) {
            for statement in split_mysql_statements(&migration.sql) {
                assert!(!statement.contains("DELIMITER"), "{}: {statement}", migration.name);
                assert!(!statement.ends_with(';'), "{}: {statement}", migration.name);
            }
        }
        assert_eq!(MYSQL_FILES.len(), SQLITE_FILES.len());
    }
}
