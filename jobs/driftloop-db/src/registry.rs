//! The model registry over either backend: versions, the `champion` alias and its history.
//! Written once over [`SqlTx`].

use serde_json::Value as Json;

use crate::error::{Error, Result};
use crate::ports::ModelRegistry;
use crate::records::{AliasReason, ChampionChange, ModelStatus, ModelVersion, NewModelVersion};
use crate::sql::{Cells, Dialect, SqlTx, SqlValue, Transact, TxMode};

const CHAMPION: &str = "champion";

pub(crate) fn version_columns(dialect: Dialect) -> String {
    format!(
        "version, name, artifact_uri, sha256, snapshot_uri, snapshot_sha256, family, params, cv_metrics, \
         holdout_metrics, train_job_id, status, decision, mlflow_run_id, mlflow_version, mlflow_error, wandb_run_id, wandb_error, wandb_status, {}",
        dialect.iso_timestamp("created_at")
    )
}

pub(crate) fn version_from_row(row: &[SqlValue]) -> Result<ModelVersion> {
    let c = Cells {
        table: "model_versions",
        row,
    };
    let status = c.text(11, "status")?;
    Ok(ModelVersion {
        version: c.int(0, "version")?,
        model: NewModelVersion {
            name: c.text(1, "name")?,
            artifact_uri: c.text(2, "artifact_uri")?,
            sha256: c.text(3, "sha256")?,
            snapshot_uri: c.text(4, "snapshot_uri")?,
            snapshot_sha256: c.text(5, "snapshot_sha256")?,
            family: c.text(6, "family")?,
            params: c.json(7, "params")?,
            cv_metrics: c.json(8, "cv_metrics")?,
            holdout_metrics: c.json(9, "holdout_metrics")?,
            train_job_id: c.opt_int(10, "train_job_id")?,
        },
        status: ModelStatus::parse(&status)
            .ok_or_else(|| Error::Corrupt(format!("model_versions.status is {status:?}")))?,
        decision: c.opt_json(12, "decision")?,
        mlflow_run_id: c.opt_text(13, "mlflow_run_id")?,
        mlflow_version: c.opt_text(14, "mlflow_version")?,
        mlflow_error: c.opt_text(15, "mlflow_error")?,
        wandb_run_id: c.opt_text(16, "wandb_run_id")?,
        wandb_error: c.opt_text(17, "wandb_error")?,
        wandb_status: c.opt_text(18, "wandb_status")?,
        created_at: c.text(19, "created_at")?,
    })
}

fn find_versions(tx: &mut dyn SqlTx, name: &str, version: Option<i64>) -> Result<Vec<ModelVersion>> {
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
fn register(tx: &mut dyn SqlTx, new: &NewModelVersion) -> Result<(ModelVersion, bool)> {
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

fn alias(tx: &mut dyn SqlTx, name: &str, alias: &str, lock: bool) -> Result<Option<i64>> {
    let lock = if lock { tx.dialect().for_update() } else { "" };
    let rows = tx.query(
        &format!("SELECT version FROM model_aliases WHERE name = ? AND alias = ?{lock}"),
        vec![name.into(), alias.into()],
    )?;
    rows.first()
        .map(|row| {
            Cells {
                table: "model_aliases",
                row,
            }
            .int(0, "version")
        })
        .transpose()
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
fn set_champion(
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
fn rollback(tx: &mut dyn SqlTx, name: &str) -> Result<ChampionChange> {
    let current = alias(tx, name, CHAMPION, true)?.ok_or_else(|| Error::NoChampion(name.to_string()))?;
    // The move that made the current champion (not a rollback to it) names its
    // predecessor; repeated rollbacks walk further back that way.
    let rows = tx.query(
        "SELECT previous_version FROM model_alias_events
         WHERE name = ? AND alias = ? AND version = ? AND reason <> 'rollback'
         ORDER BY id DESC LIMIT 1",
        vec![name.into(), CHAMPION.into(), current.into()],
    )?;
    let previous = match rows.first() {
        Some(row) => Cells {
            table: "model_alias_events",
            row,
        }
        .opt_int(0, "previous_version")?,
        None => None,
    };
    let target = previous.ok_or(Error::NothingToRollBack {
        name: name.to_string(),
        version: current,
    })?;
    move_champion(tx, name, target, Some(current), AliasReason::Rollback, None)
}

fn reject(tx: &mut dyn SqlTx, name: &str, version: i64, decision: &Json) -> Result<()> {
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

fn record_mirror(
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

fn record_wandb_mirror(
    tx: &mut dyn SqlTx,
    name: &str,
    version: i64,
    mirrored: Option<(&str, ModelStatus)>,
    error: Option<&str>,
) -> Result<()> {
    let (run_id, status) = match mirrored {
        Some((run_id, status)) => (Some(run_id), Some(status.as_str())),
        None => (None, None),
    };
    tx.exec(
        "UPDATE model_versions SET wandb_run_id = COALESCE(?, wandb_run_id), \
         wandb_status = COALESCE(?, wandb_status), wandb_error = ? WHERE name = ? AND version = ?",
        vec![run_id.into(), status.into(), error.into(), name.into(), version.into()],
    )?;
    Ok(())
}

/// Registrations and first champions race on unique keys; running again sees the winner.
const WRITE: TxMode = TxMode {
    read_committed: false,
    retry_on_duplicate: true,
    read_only: false,
};

impl<D: Transact> ModelRegistry for D {
    fn register_model(&self, new: &NewModelVersion) -> Result<(ModelVersion, bool)> {
        self.with_tx("registering a model version", WRITE, &mut |tx| register(tx, new))
    }

    fn model_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        self.with_tx("listing model versions", TxMode::READ, &mut |tx| {
            find_versions(tx, name, None)
        })
    }

    fn model_version(&self, name: &str, version: i64) -> Result<Option<ModelVersion>> {
        self.with_tx("reading a model version", TxMode::READ, &mut |tx| {
            Ok(find_versions(tx, name, Some(version))?.pop())
        })
    }

    fn champion(&self, name: &str) -> Result<Option<ModelVersion>> {
        self.with_tx(
            "reading the champion",
            TxMode::READ,
            &mut |tx| match alias(tx, name, CHAMPION, false)? {
                Some(version) => Ok(find_versions(tx, name, Some(version))?.pop()),
                None => Ok(None),
            },
        )
    }

    fn set_champion(
        &self,
        name: &str,
        version: i64,
        expected: Option<i64>,
        reason: AliasReason,
        decision: Option<&Json>,
    ) -> Result<ChampionChange> {
        self.with_tx("moving the champion alias", WRITE, &mut |tx| {
            set_champion(tx, name, version, expected, reason, decision)
        })
    }

    fn reject_model(&self, name: &str, version: i64, decision: &Json) -> Result<()> {
        self.with_tx("rejecting a model version", WRITE, &mut |tx| {
            reject(tx, name, version, decision)
        })
    }

    fn rollback_champion(&self, name: &str) -> Result<ChampionChange> {
        self.with_tx("rolling the champion back", WRITE, &mut |tx| rollback(tx, name))
    }

    fn record_mirror(
        &self,
        name: &str,
        version: i64,
        run_id: Option<&str>,
        mlflow_version: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        self.with_tx("recording the MLflow mirror", WRITE, &mut |tx| {
            record_mirror(tx, name, version, run_id, mlflow_version, error)
        })
    }

    fn record_wandb_mirror(
        &self,
        name: &str,
        version: i64,
        mirrored: Option<(&str, ModelStatus)>,
        error: Option<&str>,
    ) -> Result<()> {
        self.with_tx("recording the W&B mirror", WRITE, &mut |tx| {
            record_wandb_mirror(tx, name, version, mirrored, error)
        })
    }
}
