//! `driftloop models list | show | promote | rollback | sync`: the model registry.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use driftloop_pipeline::db::AliasReason;
use driftloop_pipeline::mlflow::{sync, MlflowClient};
use driftloop_pipeline::train_job::model_name;
use driftloop_pipeline::wandb::{run_of_stored_version, sync_wandb, WandbMirror};
use driftloop_pipeline::{open_store, Settings};
use serde_json::json;

use crate::args::Output;
use crate::output::{print, version_line};

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Lists the registered versions, oldest first.
    List {
        #[command(flatten)]
        out: Output,
    },
    /// Shows one version (a number, or `champion`) with its metrics.
    Show {
        which: String,
        #[command(flatten)]
        out: Output,
    },
    /// Makes a version the champion, whatever the scores say (and mirrors the change to
    /// MLflow's alias and the W&B runs, when configured).
    Promote {
        version: i64,
        #[command(flatten)]
        out: Output,
    },
    /// Gives the champion back to the version the current one replaced (mirrored like
    /// `promote`).
    Rollback {
        #[command(flatten)]
        out: Output,
    },
    /// Mirrors the versions MLflow does not have yet, and the champion alias (with
    /// MLFLOW_TRACKING_URI), and the versions W&B does not have yet or shows with another
    /// standing (with WANDB_API_KEY or WANDB_MODE=offline).
    Sync {
        #[command(flatten)]
        out: Output,
    },
    /// Writes every registered version as an offline Weights & Biases run under DIR
    /// (DIR/wandb/offline-run-<time>-<id>/run-<id>.wandb, W&B's own format), the same run
    /// for the same version at every export, for `wandb sync`.
    ExportWandb {
        #[arg(long)]
        dir: std::path::PathBuf,
        /// The W&B project the runs belong to.
        #[arg(long, default_value = "driftloop")]
        project: String,
        /// The W&B entity (team or user); W&B's default when not given.
        #[arg(long)]
        entity: Option<String>,
        #[command(flatten)]
        out: Output,
    },
}

async fn mirror_alias(settings: &Settings, db: &dyn driftloop_pipeline::Database) -> Result<Option<serde_json::Value>> {
    let Some(client) = MlflowClient::from_settings(settings) else {
        return Ok(None);
    };
    let store = open_store(&settings.store).await?;
    let report = sync(db, store.as_ref(), &client, model_name()).await?;
    Ok(Some(json!(report)))
}

/// After the champion moved: the W&B runs whose standing changed (tags, summary, the
/// `champion` alias), when W&B is configured.
async fn mirror_standing(
    settings: &Settings,
    db: &dyn driftloop_pipeline::Database,
) -> Result<Option<serde_json::Value>> {
    let Some(mirror) = WandbMirror::from_settings(settings) else {
        return Ok(None);
    };
    let store = open_store(&settings.store).await?;
    let report = sync_wandb(db, store.as_ref(), &mirror, model_name()).await?;
    Ok(Some(json!(report)))
}

pub async fn run(command: ModelsCommand, settings: &Settings) -> Result<()> {
    let db = crate::open(settings)?;
    let name = model_name();
    match command {
        ModelsCommand::List { out } => {
            let versions = db.model_versions(name)?;
            let champion = db.champion(name)?.map(|c| c.version);
            print(
                out.json,
                json!({"name": name, "champion": champion, "versions": versions}),
                || {
                    if versions.is_empty() {
                        return format!("no {name} model is registered yet: run `driftloop train`");
                    }
                    versions.iter().map(version_line).collect::<Vec<_>>().join("\n")
                },
            );
        }
        ModelsCommand::Show { which, out } => {
            let version = if which == "champion" {
                db.champion(name)?
                    .ok_or_else(|| driftloop_pipeline::db::Error::NoChampion(name.to_string()))?
            } else {
                let number: i64 = which
                    .parse()
                    .with_context(|| format!("{which:?} is neither a version number nor `champion`"))?;
                db.model_version(name, number)?
                    .ok_or_else(|| driftloop_pipeline::db::Error::NoSuchModelVersion {
                        name: name.to_string(),
                        version: which.clone(),
                    })?
            };
            print(out.json, json!(version), || {
                serde_json::to_string_pretty(&version).unwrap_or_default()
            });
        }
        ModelsCommand::Promote { version, out } => {
            let current = db.champion(name)?.map(|c| c.version);
            let change = db.set_champion(
                name,
                version,
                current,
                AliasReason::Manual,
                Some(&json!({"decision": {"outcome": "manual", "previous": current}})),
            )?;
            let mlflow = mirror_alias(settings, db.as_ref()).await?;
            let wandb = mirror_standing(settings, db.as_ref()).await?;
            print(
                out.json,
                json!({"change": change, "mlflow": mlflow, "wandb": wandb}),
                || {
                    format!(
                        "version {version} is the champion (was {})",
                        current.map_or("none".to_string(), |c| c.to_string())
                    )
                },
            );
        }
        ModelsCommand::Rollback { out } => {
            let change = db.rollback_champion(name)?;
            let mlflow = mirror_alias(settings, db.as_ref()).await?;
            let wandb = mirror_standing(settings, db.as_ref()).await?;
            print(
                out.json,
                json!({"change": change, "mlflow": mlflow, "wandb": wandb}),
                || {
                    format!(
                        "champion rolled back from version {} to version {}",
                        change.previous.unwrap_or_default(),
                        change.version
                    )
                },
            );
        }
        ModelsCommand::Sync { out } => {
            let wandb = WandbMirror::from_settings(settings);
            if settings.mlflow_tracking_uri.is_none() && wandb.is_none() {
                bail!(
                    "neither MLFLOW_TRACKING_URI nor WANDB_API_KEY (or WANDB_MODE=offline) is set: there is no tracker to mirror to"
                );
            }
            // The MLflow report's fields, and the W&B report under "wandb".
            let mut report = mirror_alias(settings, db.as_ref()).await?.unwrap_or_else(|| json!({}));
            if let Some(mirror) = &wandb {
                let store = open_store(&settings.store).await?;
                report["wandb"] = json!(sync_wandb(db.as_ref(), store.as_ref(), mirror, name).await?);
            }
            print(out.json, report.clone(), || {
                serde_json::to_string_pretty(&report).unwrap_or_default()
            });
        }
        ModelsCommand::ExportWandb {
            dir,
            project,
            entity,
            out,
        } => {
            let target = driftloop_pipeline::wandb::WandbTarget { project, entity };
            let store = open_store(&settings.store).await?;
            let mut runs = Vec::new();
            for version in db.model_versions(name)? {
                let run = run_of_stored_version(store.as_ref(), &version, &target)
                    .await
                    .with_context(|| format!("reading the artifact of version {}", version.version))?;
                let path = run.write_offline(&dir).with_context(|| {
                    format!(
                        "writing the W&B run of version {} under {}",
                        version.version,
                        dir.display()
                    )
                })?;
                runs.push(json!({"version": version.version, "run_id": run.id, "file": path}));
            }
            print(out.json, json!({"runs": runs}), || {
                if runs.is_empty() {
                    return format!("no {name} model is registered yet: nothing to export");
                }
                runs.iter()
                    .map(|r| format!("version {}: {}", r["version"], r["file"].as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}
