//! Mirroring registry versions to W&B, beside MLflow and under the same rule: the registry
//! is the truth, and W&B being slow or down never fails a training nor delays it by more
//! than the mirror's timeout. A version that could not be mirrored keeps the error in the
//! registry (`wandb_error`) and is mirrored by the next training or `models sync`; one
//! that was (`wandb_run_id`) is sent again only when its standing changed since
//! (`wandb_status`: a promotion, retirement or rollback), so that its tags, summary and
//! artifact aliases follow the champion; the run id is the same, so W&B updates the run.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use driftloop_model::artifact::{decode_header, sha256_hex};
use serde::Serialize;

use super::online::WandbClient;
use super::{run_of_version, ArtifactFile, WandbArtifact, WandbRun, WandbTarget};
use crate::config::{Settings, WandbSettings};
use crate::db::{ModelRegistry, ModelVersion};
use crate::error::{Error, Result};
use crate::objects::ObjectStore;

/// Where offline runs go in the store when `WANDB_DIR` is not set.
pub const STORE_PREFIX: &str = "tracking";

/// How long one request to a W&B server may take (the sync as a whole is bounded by
/// [`WandbMirror::timeout`]).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How runs reach W&B.
pub enum Transport {
    /// Sent to a W&B server.
    Online(WandbClient),
    /// Written in W&B's offline format under this folder, for `wandb sync`.
    Folder(PathBuf),
    /// Written in W&B's offline format into the store, under `tracking/wandb/`.
    Store,
}

/// The W&B mirror the settings describe.
pub struct WandbMirror {
    pub target: WandbTarget,
    pub transport: Transport,
    /// The longest one sync may take; what is not mirrored by then waits for the next.
    pub timeout: Duration,
}

/// What a W&B sync did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WandbSyncReport {
    /// Versions mirrored by this sync, with their W&B run id.
    pub mirrored: Vec<(i64, String)>,
    /// Versions that could not be mirrored, and why.
    pub failed: Vec<(i64, String)>,
    /// Where the runs went: a W&B server's URL, a folder, or the store's prefix.
    pub destination: String,
    /// Wall-clock seconds the sync took.
    pub seconds: f64,
}

impl WandbMirror {
    /// The mirror of `WANDB_*`, if the settings turn it on.
    pub fn from_settings(settings: &Settings) -> Option<WandbMirror> {
        settings.wandb.as_ref().map(WandbMirror::new)
    }

    pub fn new(w: &WandbSettings) -> WandbMirror {
        let transport = match (&w.api_key, w.offline, &w.dir) {
            (Some(key), false, _) => Transport::Online(WandbClient::new(&w.base_url, key.clone(), REQUEST_TIMEOUT)),
            (_, _, Some(dir)) => Transport::Folder(dir.clone()),
            (_, _, None) => Transport::Store,
        };
        WandbMirror {
            target: WandbTarget {
                project: w.project.clone(),
                entity: w.entity.clone(),
            },
            transport,
            timeout: w.timeout,
        }
    }

    pub fn destination(&self) -> String {
        match &self.transport {
            Transport::Online(client) => client.base_url().to_string(),
            Transport::Folder(dir) => dir.display().to_string(),
            Transport::Store => format!("the store's {STORE_PREFIX}/wandb/"),
        }
    }

    /// Sends or writes one run.
    async fn send(&self, store: &dyn ObjectStore, run: &WandbRun) -> std::result::Result<(), String> {
        match &self.transport {
            Transport::Online(client) => client.upload(run).await.map(drop).map_err(|e| e.to_string()),
            Transport::Folder(dir) => {
                let dir = dir.clone();
                let run = run.clone();
                tokio::task::spawn_blocking(move || run.write_offline(&dir))
                    .await
                    .map_err(|e| e.to_string())?
                    .map(drop)
                    .map_err(|e| format!("writing the offline W&B run: {e}"))
            }
            Transport::Store => {
                let key = store_key(run);
                store
                    .put(&key, Bytes::from(run.log_bytes()))
                    .await
                    .map_err(|e| format!("writing the offline W&B run to {key}: {e}"))
            }
        }
    }

    /// Mirrors one version.
    async fn mirror_version(&self, store: &dyn ObjectStore, v: &ModelVersion) -> std::result::Result<String, String> {
        let run = run_of_stored_version(store, v, &self.target)
            .await
            .map_err(|e| format!("reading the artifact: {e}"))?;
        self.send(store, &run).await?;
        Ok(run.id)
    }
}

/// The W&B run of a registered version, from the registry and its stored artifact (checked
/// to hash to the registry's sha256; its header gives the training's configuration and
/// grid).
pub async fn run_of_stored_version(
    store: &dyn ObjectStore,
    v: &ModelVersion,
    target: &WandbTarget,
) -> Result<WandbRun> {
    let key = store
        .key_of(&v.model.artifact_uri)
        .unwrap_or_else(|| v.model.artifact_uri.clone());
    let bytes = store.get(&key).await?;
    let sha256 = sha256_hex(&bytes);
    if sha256 != v.model.sha256 {
        return Err(Error::CorruptModel {
            uri: v.model.artifact_uri.clone(),
            reason: format!("it hashes to {sha256}, the registry has {}", v.model.sha256),
        });
    }
    let (header, _) = decode_header(&bytes)?;
    let file = ArtifactFile {
        path: key.rsplit('/').next().unwrap_or(&key).to_string(),
        md5_base64: WandbArtifact::md5_base64_of(&bytes),
        size: bytes.len() as u64,
    };
    Ok(run_of_version(v, &header, &file, target))
}

/// The store key of an offline run: W&B's folder layout under `tracking/`, so that copying
/// the prefix down gives a folder `wandb sync` takes.
pub fn store_key(run: &WandbRun) -> String {
    let folder = run.folder(std::path::Path::new(STORE_PREFIX));
    format!("{}/run-{}.wandb", folder.display(), run.id)
}

/// Mirrors every version W&B does not have yet or shows with another standing, oldest
/// first, within the mirror's timeout. Failures are recorded on the versions and
/// reported, never returned: only the registry itself failing is an error. When the
/// timeout passes, the versions left are recorded as timed out and wait for the next sync.
pub async fn sync_wandb(
    db: &dyn ModelRegistry,
    store: &dyn ObjectStore,
    mirror: &WandbMirror,
    name: &str,
) -> Result<WandbSyncReport> {
    let mut report = WandbSyncReport {
        destination: mirror.destination(),
        ..WandbSyncReport::default()
    };
    let started = tokio::time::Instant::now();
    let deadline = started + mirror.timeout;
    let mut gave_up: Option<String> = None;
    for v in db.model_versions(name)? {
        if v.wandb_run_id.is_some() && v.wandb_status.as_deref() == Some(v.status.as_str()) {
            continue;
        }
        let outcome = match &gave_up {
            Some(error) => Err(error.clone()),
            None => match tokio::time::timeout_at(deadline, mirror.mirror_version(store, &v)).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    let error = format!(
                        "W&B ({}) did not finish within {} s; the next training or `driftloop models sync` mirrors it",
                        report.destination,
                        mirror.timeout.as_secs_f64()
                    );
                    gave_up = Some(error.clone());
                    Err(error)
                }
            },
        };
        match outcome {
            Ok(run_id) => {
                db.record_wandb_mirror(name, v.version, Some((&run_id, v.status)), None)?;
                report.mirrored.push((v.version, run_id));
            }
            Err(error) => {
                tracing::warn!(version = v.version, destination = %report.destination, "W&B mirror failed: {error}");
                db.record_wandb_mirror(name, v.version, None, Some(&error))?;
                report.failed.push((v.version, error));
            }
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
