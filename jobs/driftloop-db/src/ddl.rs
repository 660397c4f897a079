//! The feature table's DDL, generated from the dataset spec for each dialect: levels as
//! ENUM (MySQL) or a CHECK list (SQLite), integers in the smallest integer type holding
//! their range with a range CHECK, numbers as DOUBLE/REAL with their bounds, `NULL` only
//! where the dataset allows a missing value. The columns after the dataset's own (label
//! provenance, model version, request id, creation time) and the indexes are fixed.

use driftloop_core::{ColumnKind, DatasetSpec};

use crate::sql::Dialect;

/// The checksums the feature migration had when it was a file (`sql/*/0001_features.sql`,
/// the shipped dataset, before dataset files): a database migrated then recorded one of
/// these for version 1, and it holds exactly the table the shipped dataset generates.
pub(crate) fn legacy_features_checksum(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Mysql => "b6d8a5f4ac1e1c25f38c594099360c53f6e88c924221f225feef320d9aba0fca",
        Dialect::Sqlite => "68aa3b752ec6a1f500ad7e705684eb25a0b658d13e5baee692c76947e8b1d6df",
    }
}

pub(crate) fn quoted_list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("'{}'", v.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(",")
}

/// The MySQL integer type holding `min..=max`.
fn mysql_integer(min: i64, max: i64) -> &'static str {
    let fits = |lo: i64, hi: i64| lo <= min && max <= hi;
    if fits(0, 255) {
        "TINYINT UNSIGNED"
    } else if fits(i16::MIN.into(), i16::MAX.into()) {
        "SMALLINT"
    } else if fits(i32::MIN.into(), i32::MAX.into()) {
        "INT"
    } else {
        "BIGINT"
    }
}

/// A number's bounds as a CHECK condition, `None` when it has none.
fn number_bounds(name: &str, min: Option<f64>, max: Option<f64>) -> Option<String> {
    match (min, max) {
        (Some(lo), Some(hi)) => Some(format!("{name} >= {lo:?} AND {name} <= {hi:?}")),
        (Some(lo), None) => Some(format!("{name} >= {lo:?}")),
        (None, Some(hi)) => Some(format!("{name} <= {hi:?}")),
        (None, None) => None,
    }
}

/// `CREATE TABLE features` (and, for SQLite, its index) for `spec`.
pub fn features_ddl(dialect: Dialect, spec: &DatasetSpec) -> String {
    let width = spec
        .features
        .iter()
        .map(|c| c.name.len())
        .chain([spec.label.len(), "label_source".len()])
        .max()
        .unwrap_or(0)
        .max(19);
    let mut lines: Vec<String> = Vec::new();
    let mut checks: Vec<String> = Vec::new();
    let mut line = |name: &str, definition: String| lines.push(format!("    {name:<width$} {definition}"));
    match dialect {
        Dialect::Mysql => line("id", "BIGINT NOT NULL AUTO_INCREMENT".into()),
        Dialect::Sqlite => line("id", "INTEGER PRIMARY KEY AUTOINCREMENT".into()),
    }
    for column in &spec.features {
        let name = column.name.as_str();
        let null = if column.nullable { "NULL" } else { "NOT NULL" };
        let (sql_type, check) = match (&column.kind, dialect) {
            (ColumnKind::Categorical { levels } | ColumnKind::Ordinal { levels }, Dialect::Mysql) => {
                (format!("ENUM({})", quoted_list(levels)), None)
            }
            (ColumnKind::Categorical { levels } | ColumnKind::Ordinal { levels }, Dialect::Sqlite) => {
                ("TEXT".to_string(), Some(format!("{name} IN ({})", quoted_list(levels))))
            }
            (ColumnKind::Integer { min, max, .. }, Dialect::Mysql) => (
                mysql_integer(*min, *max).to_string(),
                Some(format!("{name} BETWEEN {min} AND {max}")),
            ),
            (ColumnKind::Integer { min, max, .. }, Dialect::Sqlite) => {
                ("INTEGER".to_string(), Some(format!("{name} BETWEEN {min} AND {max}")))
            }
            (ColumnKind::Number { min, max }, Dialect::Mysql) => {
                ("DOUBLE".to_string(), number_bounds(name, *min, *max))
            }
            (ColumnKind::Number { min, max }, Dialect::Sqlite) => ("REAL".to_string(), number_bounds(name, *min, *max)),
        };
        match (dialect, check) {
            (Dialect::Mysql, Some(check)) => {
                line(name, format!("{sql_type} {null}"));
                checks.push(format!("    CONSTRAINT features_{name}_range CHECK ({check})"));
            }
            (Dialect::Sqlite, Some(check)) => line(name, format!("{sql_type} {null} CHECK ({check})")),
            (_, None) => line(name, format!("{sql_type} {null}")),
        }
    }
    let classes = quoted_list(&spec.classes);
    match dialect {
        Dialect::Mysql => {
            line(&spec.label, format!("ENUM({classes}) NOT NULL"));
            line("label_source", "ENUM('expert','model') NOT NULL".into());
            line("model_version", "VARCHAR(64) NULL".into());
            line("request_id", "VARCHAR(128) NULL".into());
            line(
                "created_at",
                "TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)".into(),
            );
            lines.push("    PRIMARY KEY (id)".into());
            lines.push("    UNIQUE KEY features_request_id (request_id)".into());
            lines.push("    KEY features_label_source_id (label_source, id)".into());
            lines.extend(checks);
            format!(
                "-- The feature table of dataset {} ({}), generated from its dataset file.\n\
                 CREATE TABLE IF NOT EXISTS features (\n{}\n) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;\n",
                spec.name,
                spec.spec_hash(),
                lines.join(",\n")
            )
        }
        Dialect::Sqlite => {
            let label = &spec.label;
            line(label, format!("TEXT NOT NULL CHECK ({label} IN ({classes}))"));
            line(
                "label_source",
                "TEXT NOT NULL CHECK (label_source IN ('expert','model'))".into(),
            );
            line("model_version", "TEXT NULL".into());
            line("request_id", "TEXT NULL UNIQUE".into());
            line(
                "created_at",
                "TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))".into(),
            );
            format!(
                "-- The feature table of dataset {} ({}), generated from its dataset file.\n\
                 CREATE TABLE IF NOT EXISTS features (\n{}\n);\n\n\
                 CREATE INDEX IF NOT EXISTS features_label_source_id ON features (label_source, id);\n",
                spec.name,
                spec.spec_hash(),
                lines.join(",\n")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated table for the shipped dataset is the one the migration file created
    /// (compared without comments and white space).
    #[test]
    fn the_shipped_dataset_generates_the_former_file() {
        let fold = |sql: &str| -> String {
            sql.lines()
                .map(|l| l.split("--").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join(" ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        let former_mysql = include_str!("../tests/it/former_0001_features.mysql.sql");
        let former_sqlite = include_str!("../tests/it/former_0001_features.sqlite.sql");
        let spec = DatasetSpec::shipped();
        assert_eq!(fold(&features_ddl(Dialect::Mysql, &spec)), fold(former_mysql));
        assert_eq!(fold(&features_ddl(Dialect::Sqlite, &spec)), fold(former_sqlite));
        use sha2::{Digest, Sha256};
        assert_eq!(
            hex::encode(Sha256::digest(former_mysql)),
            legacy_features_checksum(Dialect::Mysql)
        );
        assert_eq!(
            hex::encode(Sha256::digest(former_sqlite)),
            legacy_features_checksum(Dialect::Sqlite)
        );
    }

    #[test]
    fn integer_types_hold_their_range() {
        assert_eq!(mysql_integer(1, 10), "TINYINT UNSIGNED");
        assert_eq!(mysql_integer(-1, 10), "SMALLINT");
        assert_eq!(mysql_integer(0, 40_000), "INT");
        assert_eq!(mysql_integer(0, 1 << 40), "BIGINT");
    }
}
