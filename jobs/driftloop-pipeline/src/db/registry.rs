//! The model registry over either backend: versions, the `champion` alias and its history.
//! The logic is written once against [`SqlTx`], a transaction that runs `?`-placeholder
//! SQL both MySQL and SQLite accept; each adapter implements it for its own transaction.

use serde_json::Value as Json;

use super::{AliasReason, ChampionChange, ModelStatus, ModelVersion, NewModelVersion};
use crate::error::{Error, Result};

/// A value going into or coming out of SQL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SqlValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> SqlValue {
        SqlValue::Text(v.to_string())
    }
}
impl From<i64> for SqlValue {
    fn from(v: i64) -> SqlValue {
        SqlValue::Int(v)
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> SqlValue {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// Which SQL a statement needs where the two backends differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Mysql,
    Sqlite,
}

/// A transaction (or connection) that runs statements with positional parameters.
pub(crate) trait SqlTx {
    fn dialect(&self) -> Dialect;
    fn exec(&mut self, sql: &str, params: Vec<SqlValue>) -> Result<u64>;
    fn last_insert_id(&mut self) -> Result<i64>;
    fn query(&mut self, sql: &str, params: Vec<SqlValue>) -> Result<Vec<Vec<SqlValue>>>;
}

const CHAMPION: &str = "champion";

fn version_columns(dialect: Dialect) -> String {
    let created_at = match dialect {
        Dialect::Mysql => "DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%s.%fZ')",
        Dialect::Sqlite => "strftime('%Y-%m-%dT%H:%M:%fZ', created_at)",
    };
    format!(
        "version, name, artifact_uri, sha256, snapshot_uri, snapshot_sha256, family, params, cv_metrics, \
         holdout_metrics, train_job_id, status, decision, mlflow_run_id, mlflow_version, mlflow_error, {created_at}"
    )
}

fn text(v: &SqlValue, column: &str) -> Result<String> {
    match v {
        SqlValue::Text(s) => Ok(s.clone()),
        SqlValue::Int(i) => Ok(i.to_string()),
        other => Err(Error::Corrupt(format!("model_versions.{column} is {other:?}"))),
    }
}

fn opt_text(v: &SqlValue, column: &str) -> Result<Option<String>> {
    match v {
        SqlValue::Null => Ok(None),
        other => text(other, column).map(Some),
    }
}

fn int(v: &SqlValue, column: &str) -> Result<i64> {
    match v {
        SqlValue::Int(i) => Ok(*i),
        SqlValue::Text(s) => s
            .parse()
            .map_err(|_| Error::Corrupt(format!("model_versions.{column} is {s:?}"))),
        other => Err(Error::Corrupt(format!("{column} is {other:?}"))),
    }
}

fn json(v: &SqlValue, column: &str) -> Result<Json> {
    let raw = text(v, column)?;
    serde_json::from_str(&raw).map_err(|e| Error::Corrupt(format!("model_versions.{column}: {e}")))
}

fn version_from_row(row: &[SqlValue]) -> Result<ModelVersion> {
    let status = text(&row[11], "status")?;
    Ok(ModelVersion {
        version: int(&row[0], "version")?,
        model: NewModelVersion {
            name: text(&row[1], "name")?,
            artifact_uri: text(&row[2], "artifact_uri")?,
            sha256: text(&row[3], "sha256")?,
            snapshot_uri: text(&row[4], "snapshot_uri")?,
            snapshot_sha256: text(&row[5], "snapshot_sha256")?,
            family: text(&row[6], "family")?,
            params: json(&row[7], "params")?,
            cv_metrics: json(&row[8], "cv_metrics")?,
            holdout_metrics: json(&row[9], "holdout_metrics")?,
            train_job_id: match &row[10] {
                SqlValue::Null => None,
                v => Some(int(v, "train_job_id")?),
            },
        },
        status: ModelStatus::parse(&status)
            .ok_or_else(|| Error::Corrupt(format!("model_versions.status is {status:?}")))?,
        decision: match &row[12] {
            SqlValue::Null => None,
            v => Some(json(v, "decision")?),
        },
        mlflow_run_id: opt_text(&row[13], "mlflow_run_id")?,
        mlflow_version: opt_text(&row[14], "mlflow_version")?,
        mlflow_error: opt_text(&row[15], "mlflow_error")?,
        created_at: text(&row[16], "created_at")?,
    })
}

pub(crate) fn find_versions(tx: &mut dyn SqlTx, name: &str, version: Option<i64>) -> Result<Vec<ModelVersion>> {
    let sql = format!(
        "SELECT {} FROM model_versions WHERE name = ? AND (? IS NULL OR version = ?) ORDER BY version",
        version_columns(tx.dialect())
    );
    let rows = tx.query(&sql, vec![name.into(), version.into(), version.into()])?;
    rows.iter().map(|r| version_from_row(r)).collect()
}

fn find_by_sha(tx: &mut dyn SqlTx, name: &str, sha256: &str) -> Result<Option<ModelVersion>> {
    let sql = format!(
        "SELECT {} FROM model_versions WHERE name = ? AND sha256 = ?",
        version_columns(tx.dialect())
    );
    let rows = tx.query(&sql, vec![name.into(), sha256.into()])?;
    rows.first().map(|r| version_from_row(r)).transpose()
}

/// Registers a version; the same artifact registered again returns the first version.
pub(crate) fn register(tx: &mut dyn SqlTx, new: &NewModelVersion) -> Result<(ModelVersion, bool)> {
    if let Some(existing) = find_by_sha(tx, &new.name, &new.sha256)? {
        return Ok((existing, false));
    }
    tx.exec(
        "INSERT INTO model_versions (name, artifact_uri, sha256, snapshot_uri, snapshot_sha256, family, params, \
         cv_metrics, holdout_metrics, train_job_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            new.name.as_str().into(),
            new.artifact_uri.as_str().into(),
            new.sha256.as_str().into(),
            new.snapshot_uri.as_str().into(),
            new.snapshot_sha256.as_str().into(),
            new.family.as_str().into(),
            SqlValue::Text(new.params.to_string()),
            SqlValue::Text(new.cv_metrics.to_string()),
            SqlValue::Text(new.holdout_metrics.to_string()),
            new.train_job_id.into(),
        ],
    )?;
    let version = tx.last_insert_id()?;
    let stored = find_versions(tx, &new.name, Some(version))?
        .pop()
        .ok_or_else(|| Error::Corrupt(format!("model version {version} vanished after its insert")))?;
    Ok((stored, true))
}

pub(crate) fn alias(tx: &mut dyn SqlTx, name: &str, alias: &str, lock: bool) -> Result<Option<i64>> {
    let lock = if lock && tx.dialect() == Dialect::Mysql {
        " FOR UPDATE"
    } else {
        ""
    };
    let rows = tx.query(
        &format!("SELECT version FROM model_aliases WHERE name = ? AND alias = ?{lock}"),
        vec![name.into(), alias.into()],
    )?;
    rows.first().map(|r| int(&r[0], "model_aliases.version")).transpose()
}

fn set_status(tx: &mut dyn SqlTx, version: i64, status: ModelStatus, decision: Option<&Json>) -> Result<()> {
    tx.exec(
        "UPDATE model_versions SET status = ?, decision = COALESCE(?, decision) WHERE version = ?",
        vec![
            status.as_str().into(),
            decision
                .map(|d| SqlValue::Text(d.to_string()))
                .unwrap_or(SqlValue::Null),
            version.into(),
        ],
    )?;
    Ok(())
}

fn move_champion(
    tx: &mut dyn SqlTx,
    name: &str,
    version: i64,
    current: Option<i64>,
    reason: AliasReason,
    decision: Option<&Json>,
) -> Result<ChampionChange> {
    if find_versions(tx, name, Some(version))?.is_empty() {
        return Err(Error::NoSuchModelVersion {
            name: name.to_string(),
            version: version.to_string(),
        });
    }
    match current {
        Some(current) => {
            tx.exec(
                "UPDATE model_aliases SET version = ? WHERE name = ? AND alias = ?",
                vec![version.into(), name.into(), CHAMPION.into()],
            )?;
            let old_status = if reason == AliasReason::Rollback {
                ModelStatus::RolledBack
            } else {
                ModelStatus::Retired
            };
            set_status(tx, current, old_status, None)?;
        }
        None => {
            tx.exec(
                "INSERT INTO model_aliases (name, alias, version) VALUES (?, ?, ?)",
                vec![name.into(), CHAMPION.into(), version.into()],
            )?;
        }
    }
    set_status(tx, version, ModelStatus::Champion, decision)?;
    tx.exec(
        "INSERT INTO model_alias_events (name, alias, version, previous_version, reason) VALUES (?, ?, ?, ?, ?)",
        vec![
            name.into(),
            CHAMPION.into(),
            version.into(),
            current.into(),
            reason.as_str().into(),
        ],
    )?;
    Ok(ChampionChange {
        name: name.to_string(),
        version,
        previous: current,
        reason,
    })
}

/// Moves `champion` to `version` if it still points at `expected`.
pub(crate) fn set_champion(
    tx: &mut dyn SqlTx,
    name: &str,
    version: i64,
    expected: Option<i64>,
    reason: AliasReason,
    decision: Option<&Json>,
) -> Result<ChampionChange> {
    let current = alias(tx, name, CHAMPION, true)?;
    if current != expected {
        return Err(Error::ChampionChanged {
            expected,
            found: current,
        });
    }
    if current == Some(version) {
        set_status(tx, version, ModelStatus::Champion, decision)?;
        return Ok(ChampionChange {
            name: name.to_string(),
            version,
            previous: current,
            reason,
        });
    }
    move_champion(tx, name, version, current, reason, decision)
}

/// Gives the champion back to the version it replaced.
pub(crate) fn rollback(tx: &mut dyn SqlTx, name: &str) -> Result<ChampionChange> {
    let current = alias(tx, name, CHAMPION, true)?.ok_or_else(|| Error::NoChampion(name.to_string()))?;
    // The move that made the current champion (not a rollback to it) names its
    // predecessor; repeated rollbacks walk further back that way.
    let rows = tx.query(
        "SELECT previous_version FROM model_alias_events
         WHERE name = ? AND alias = ? AND version = ? AND reason <> 'rollback'
         ORDER BY id DESC LIMIT 1",
        vec![name.into(), CHAMPION.into(), current.into()],
    )?;
    let previous = match rows.first().map(|r| &r[0]) {
        Some(SqlValue::Null) | None => None,
        Some(v) => Some(int(v, "model_alias_events.previous_version")?),
    };
    let target = previous.ok_or(Error::NothingToRollBack {
        name: name.to_string(),
        version: current,
    })?;
    move_champion(tx, name, target, Some(current), AliasReason::Rollback, None)
}

pub(crate) fn reject(tx: &mut dyn SqlTx, name: &str, version: i64, decision: &Json) -> Result<()> {
    let changed = tx.exec(
        "UPDATE model_versions SET status = 'rejected', decision = ? WHERE name = ? AND version = ? AND status = 'registered'",
        vec![SqlValue::Text(decision.to_string()), name.into(), version.into()],
    )?;
    if changed == 0 && find_versions(tx, name, Some(version))?.is_empty() {
        return Err(Error::NoSuchModelVersion {
            name: name.to_string(),
            version: version.to_string(),
        });
    }
    Ok(())
}

pub(crate) fn record_mirror(
    tx: &mut dyn SqlTx,
    name: &str,
    version: i64,
    run_id: Option<&str>,
    mlflow_version: Option<&str>,
    error: Option<&str>,
) -> Result<()> {
    tx.exec(
        "UPDATE model_versions SET mlflow_run_id = COALESCE(?, mlflow_run_id), \
         mlflow_version = COALESCE(?, mlflow_version), mlflow_error = ? WHERE name = ? AND version = ?",
        vec![
            run_id.into(),
            mlflow_version.into(),
            error.into(),
            name.into(),
            version.into(),
        ],
    )?;
    Ok(())
}
