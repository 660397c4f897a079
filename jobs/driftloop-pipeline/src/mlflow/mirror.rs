//! Copying registry versions to MLflow (a run, a registered version, the `champion`
//! alias) and syncing the versions MLflow lacks.

use serde_json::{json, Value};

use super::{MlflowClient, MlflowError};
use crate::db::{ModelRegistry, ModelVersion};
use crate::error::{Error, Result};
use crate::objects::ObjectStore;

/// Where the artifact goes inside a run's artifacts.
const RUN_ARTIFACT_DIR: &str = "model";

fn mirror_error(e: MlflowError) -> Error {
    Error::Tracker(e.to_string())
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SyncReport {
    /// Versions mirrored by this sync, with their MLflow version.
    pub mirrored: Vec<(i64, String)>,
    /// Versions that could not be mirrored, and why.
    pub failed: Vec<(i64, String)>,
    /// The MLflow version the `champion` alias points at after the sync.
    pub champion_alias: Option<String>,
    pub alias_error: Option<String>,
    /// Wall-clock seconds the sync took.
    pub seconds: f64,
}

impl MlflowClient {
    async fn ensure_registered_model(&self, name: &str) -> Result<(), MlflowError> {
        match self
            .post(
                "registered-models/create",
                json!({"name": name, "description": "Registered by driftloop; the driftloop registry tables are the source of truth."}),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code == "RESOURCE_ALREADY_EXISTS" => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Creates the run of a version (params, metrics, tags), unless `run_id` names one
    /// made by an earlier attempt. Returns the run id and its artifact URI.
    async fn ensure_run(&self, v: &ModelVersion, code_version: &str) -> Result<(String, String), MlflowError> {
        if let Some(run_id) = &v.mlflow_run_id {
            let run = self.get("runs/get", &[("run_id", run_id)]).await?;
            let artifact_uri = run["run"]["info"]["artifact_uri"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            return Ok((run_id.clone(), artifact_uri));
        }
        let experiment_id = self.experiment_id().await?;
        let now = chrono::Utc::now().timestamp_millis();
        let created = self
            .post(
                "runs/create",
                json!({
                    "experiment_id": experiment_id,
                    "run_name": format!("{} v{} {}", v.model.name, v.version, v.model.family),
                    "start_time": now,
                }),
            )
            .await?;
        let run_id = created["run"]["info"]["run_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let artifact_uri = created["run"]["info"]["artifact_uri"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut params = vec![json!({"key": "family", "value": v.model.family})];
        if let Some(map) = v.model.params.as_object() {
            for (key, value) in map {
                let value = match value {
                    Value::String(s) => s.clone(),
                    Value::Null => "none".into(),
                    other => other.to_string(),
                };
                params.push(json!({"key": key, "value": value}));
            }
        }
        if let Some(method) = calibration_method(v) {
            params.push(json!({"key": "calibration", "value": method}));
        }
        let metrics: Vec<Value> = version_metrics(v)
            .into_iter()
            .map(|(key, value)| json!({"key": key, "value": value, "timestamp": now, "step": 0}))
            .collect();
        let tags = vec![
            json!({"key": "driftloop.version", "value": v.version.to_string()}),
            json!({"key": "driftloop.artifact_uri", "value": v.model.artifact_uri}),
            json!({"key": "driftloop.artifact_sha256", "value": v.model.sha256}),
            json!({"key": "driftloop.snapshot_uri", "value": v.model.snapshot_uri}),
            json!({"key": "driftloop.snapshot_sha256", "value": v.model.snapshot_sha256}),
            json!({"key": "driftloop.code_version", "value": code_version}),
        ];
        self.post(
            "runs/log-batch",
            json!({"run_id": run_id, "params": params, "metrics": metrics, "tags": tags}),
        )
        .await?;
        self.post(
            "runs/update",
            json!({"run_id": run_id, "status": "FINISHED", "end_time": chrono::Utc::now().timestamp_millis()}),
        )
        .await?;
        Ok((run_id, artifact_uri))
    }

    /// Uploads an artifact into a run's artifacts through the server's proxy; returns its
    /// URI there.
    async fn upload_to_run(
        &self,
        run_artifact_uri: &str,
        file: &str,
        bytes: bytes::Bytes,
    ) -> Result<String, MlflowError> {
        let path = run_artifact_uri
            .strip_prefix("mlflow-artifacts:/")
            .ok_or_else(|| MlflowError {
                status: None,
                code: "NO_ARTIFACT_PROXY".into(),
                message: format!(
                    "the run's artifacts live at {run_artifact_uri}, which this server does not proxy; keep models in s3:// to mirror them"
                ),
            })?
            .trim_start_matches('/');
        let url = format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{path}/{RUN_ARTIFACT_DIR}/{file}",
            self.base
        );
        let response = self.http.put(&url).body(bytes).send().await.map_err(|e| MlflowError {
            status: None,
            code: "UNREACHABLE".into(),
            message: e.to_string(),
        })?;
        if !response.status().is_success() {
            return Err(MlflowError {
                status: Some(response.status().as_u16()),
                code: "UPLOAD_FAILED".into(),
                message: response.text().await.unwrap_or_default(),
            });
        }
        Ok(format!("{}/{RUN_ARTIFACT_DIR}", run_artifact_uri.trim_end_matches('/')))
    }

    /// Mirrors one version: its run, and a registered model version. Returns the run id
    /// and MLflow's version number.
    pub async fn mirror_version(&self, store: &dyn ObjectStore, v: &ModelVersion) -> Result<(String, String)> {
        let key = store
            .key_of(&v.model.artifact_uri)
            .unwrap_or_else(|| v.model.artifact_uri.clone());
        let bytes = store.get(&key).await?;
        let (header, _) = driftloop_model::artifact::decode_header(&bytes)?;
        let (run_id, run_artifacts) = self.ensure_run(v, &header.code_version).await.map_err(mirror_error)?;
        let source = if v.model.artifact_uri.starts_with("s3://") {
            v.model.artifact_uri.clone()
        } else {
            let file = key.rsplit('/').next().unwrap_or("model.dlmodel").to_string();
            self.upload_to_run(&run_artifacts, &file, bytes)
                .await
                .map_err(mirror_error)?
        };
        self.ensure_registered_model(&v.model.name)
            .await
            .map_err(mirror_error)?;
        let created = self
            .post(
                "model-versions/create",
                json!({
                    "name": v.model.name,
                    "source": source,
                    "run_id": run_id,
                    "description": format!("driftloop version {} ({})", v.version, v.model.family),
                    "tags": [
                        {"key": "driftloop.version", "value": v.version.to_string()},
                        {"key": "driftloop.sha256", "value": v.model.sha256},
                    ],
                }),
            )
            .await
            .map_err(mirror_error)?;
        let mlflow_version = match &created["model_version"]["version"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(Error::Tracker(format!(
                    "model-versions/create answered version {other}"
                )))
            }
        };
        Ok((run_id, mlflow_version))
    }
}

/// Metric keys MLflow accepts: lower case, `_` for anything else.
fn metric_key(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The probability calibration a version's family was offered and the one it took
/// (`sigmoid`, `isotonic` or `none`); `None` when it was not offered one (logistic
/// regression, gradient boosting, `DRIFTLOOP_CALIBRATE=false`, versions trained before).
pub fn calibration_method(v: &ModelVersion) -> Option<String> {
    let choice = v.model.holdout_metrics["calibration"].as_object()?;
    Some(
        choice
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("none")
            .to_string(),
    )
}

/// The numbers of a version worth charting: CV and holdout summary (with the holdout
/// probabilities' log-loss and Brier score), per-class F1.
pub fn version_metrics(v: &ModelVersion) -> Vec<(String, f64)> {
    let mut metrics = Vec::new();
    for (key, field) in [
        ("cv_macro_f1_mean", "mean_macro_f1"),
        ("cv_macro_f1_std", "std_macro_f1"),
        ("cv_accuracy_mean", "mean_accuracy"),
    ] {
        if let Some(value) = v.model.cv_metrics[field].as_f64() {
            metrics.push((key.to_string(), value));
        }
    }
    for (key, field) in [
        ("holdout_accuracy", "accuracy"),
        ("holdout_macro_f1", "macro_f1"),
        ("holdout_log_loss", "log_loss"),
        ("holdout_brier", "brier"),
    ] {
        if let Some(value) = v.model.holdout_metrics[field].as_f64() {
            metrics.push((key.to_string(), value));
        }
    }
    if let Some(per_class) = v.model.holdout_metrics["per_class"].as_array() {
        for (class, scores) in driftloop_core::spec().classes.iter().zip(per_class) {
            if let Some(f1) = scores["f1"].as_f64() {
                metrics.push((format!("holdout_f1_{}", metric_key(class)), f1));
            }
        }
    }
    metrics
}

/// Mirrors every version not mirrored yet, then moves MLflow's `champion` alias to the
/// registry's champion. Failures are recorded on the versions and reported, never
/// returned: only the registry itself failing is an error.
pub async fn sync(
    db: &dyn ModelRegistry,
    store: &dyn ObjectStore,
    client: &MlflowClient,
    name: &str,
) -> Result<SyncReport> {
    let started = std::time::Instant::now();
    let mut report = SyncReport::default();
    for v in db.model_versions(name)? {
        if v.mlflow_version.is_some() {
            continue;
        }
        match client.mirror_version(store, &v).await {
            Ok((run_id, mlflow_version)) => {
                db.record_mirror(name, v.version, Some(&run_id), Some(&mlflow_version), None)?;
                report.mirrored.push((v.version, mlflow_version));
            }
            Err(e) => {
                let error = e.to_string();
                tracing::warn!(
                    version = v.version,
                    tracking_uri = client.tracking_uri(),
                    "MLflow mirror failed: {error}"
                );
                db.record_mirror(name, v.version, None, None, Some(&error))?;
                report.failed.push((v.version, error));
            }
        }
    }
    if let Some(champion) = db.champion(name)? {
        let mlflow_version = match &champion.mlflow_version {
            Some(mv) => Some(mv.clone()),
            None => report
                .mirrored
                .iter()
                .find(|(v, _)| *v == champion.version)
                .map(|(_, mv)| mv.clone()),
        };
        if let Some(mlflow_version) = mlflow_version {
            match client.set_alias(name, "champion", &mlflow_version).await {
                Ok(()) => report.champion_alias = Some(mlflow_version),
                Err(e) => report.alias_error = Some(e.to_string()),
            }
        } else {
            report.alias_error = Some(format!(
                "the champion (version {}) is not mirrored yet",
                champion.version
            ));
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
