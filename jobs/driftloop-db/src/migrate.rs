//! Migrations: the files under `sql/`, compiled in, applied in order and recorded in
//! `schema_migrations` with a checksum, so a second run changes nothing and an edited
//! migration that was already applied is refused.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::sql::{Cells, SqlTx};

/// One migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }
}

macro_rules! migrations {
    ($dir:literal: $($version:literal $name:literal),* $(,)?) => {
        &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../sql/", $dir, "/", $name)),
        }),*]
    };
}

/// MySQL 8 / Aurora MySQL / MariaDB 10.6+.
pub static MYSQL_MIGRATIONS: &[Migration] = migrations!("mysql":
    1 "0001_features.sql",
    2 "0002_jobs.sql",
    3 "0003_drift_counter.sql",
    4 "0004_drift_reports.sql",
    5 "0005_model_registry.sql",
);

/// SQLite, the embedded default.
pub static SQLITE_MIGRATIONS: &[Migration] = migrations!("sqlite":
    1 "0001_features.sql",
    2 "0002_jobs.sql",
    3 "0003_drift_counter.sql",
    4 "0004_drift_reports.sql",
    5 "0005_model_registry.sql",
);

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationReport {
    /// Names of the migrations this run applied.
    pub applied: Vec<String>,
    /// How many were applied before this run.
    pub already_applied: usize,
}

/// Applies the migrations `tx` has not recorded, in order, and records each with its
/// checksum; an applied migration whose file changed since is refused.
pub(crate) fn apply(tx: &mut dyn SqlTx, migrations: &[Migration]) -> Result<MigrationReport> {
    tx.exec(tx.dialect().schema_migrations_ddl(), vec![])?;
    let mut report = MigrationReport {
        applied: Vec::new(),
        already_applied: 0,
    };
    for migration in migrations {
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
            Some(_) => {
                return Err(Error::Migration {
                    name: migration.name.into(),
                    reason: "was applied with other contents; add a new migration instead of editing an applied one"
                        .into(),
                })
            }
            None => {
                tx.exec_script(migration.sql).map_err(|reason| Error::Migration {
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
        for migration in MYSQL_MIGRATIONS {
            for statement in split_mysql_statements(migration.sql) {
                assert!(!statement.contains("DELIMITER"), "{}: {statement}", migration.name);
                assert!(!statement.ends_with(';'), "{}: {statement}", migration.name);
            }
        }
        assert_eq!(MYSQL_MIGRATIONS.len(), SQLITE_MIGRATIONS.len());
    }
}
