//! The MLflow mirror, over MLflow's REST API (`/api/2.0/mlflow/`). The registry tables are
//! the truth; this copies each version there so people can browse it: an experiment, a
//! run per version with params, CV and holdout metrics and tags (snapshot URI and sha256,
//! code version), a registered model version whose `source` is the artifact, and the
//! `champion` alias. MLflow being down never loses a training: a version that could not
//! be mirrored keeps its error in the registry and is mirrored by the next sync.
//!
//! `source`: an `s3://` artifact is named directly. MLflow refuses a `file://` source
//! outside the run's artifact folder, so an artifact in a local store is uploaded into
//! the run's artifacts (through the server's artifact proxy) and that copy is the source.

use std::time::Duration;

use serde_json::{json, Value};

use crate::db::{ModelRegistry, ModelVersion};
use crate::error::{Error, Result};
use crate::store::ObjectStore;

/// Where the artifact goes inside a run's artifacts.
const RUN_ARTIFACT_DIR: &str = "model";

/// A client of one MLflow tracking server and experiment.
pub struct MlflowClient {
    base: String,
    experiment: String,
    http: reqwest::Client,
    attempts: u32,
}

/// An MLflow answer that is not a success.
#[derive(Debug, Clone, PartialEq)]
pub struct MlflowError {
    pub status: Option<u16>,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for MlflowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(status) => write!(f, "HTTP {status} {}: {}", self.code, self.message),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

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
}

impl MlflowClient {
    /// The client the settings name (`MLFLOW_TRACKING_URI`), if any.
    pub fn from_settings(settings: &crate::Settings) -> Option<MlflowClient> {
        settings
            .mlflow_tracking_uri
            .as_deref()
            .map(|uri| MlflowClient::new(uri, &settings.mlflow_experiment))
    }

    pub fn new(tracking_uri: &str, experiment: &str) -> MlflowClient {
        MlflowClient {
            base: tracking_uri.trim_end_matches('/').to_string(),
            experiment: experiment.to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .connect_timeout(Duration::from_secs(3))
                .build()
                .expect("an HTTP client builds"),
            attempts: 3,
        }
    }

    pub fn tracking_uri(&self) -> &str {
        &self.base
    }

    /// One REST call, retried on connection failures and server errors.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        query: &[(&str, &str)],
    ) -> Result<Value, MlflowError> {
        let url = format!("{}/api/2.0/{path}", self.base);
        let mut last = None;
        for attempt in 0..self.attempts {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(300 << attempt)).await;
            }
            let mut request = self.http.request(method.clone(), &url).query(query);
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    last = Some(MlflowError {
                        status: None,
                        code: if e.is_timeout() { "TIMEOUT" } else { "UNREACHABLE" }.into(),
                        message: format!("{} is not answering ({e})", self.base),
                    });
                    continue;
                }
            };
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if status.is_success() {
                return Ok(value);
            }
            let error = MlflowError {
                status: Some(status.as_u16()),
                code: value["error_code"].as_str().unwrap_or("UNKNOWN").to_string(),
                message: value["message"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| text.chars().take(300).collect()),
            };
            if !status.is_server_error() {
                return Err(error);
            }
            last = Some(error);
        }
        Err(last.expect("at least one attempt"))
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, MlflowError> {
        self.call(reqwest::Method::POST, &format!("mlflow/{path}"), Some(&body), &[])
            .await
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, MlflowError> {
        self.call(reqwest::Method::GET, &format!("mlflow/{path}"), None, query)
            .await
    }

    /// The experiment's id, created if missing.
    pub async fn experiment_id(&self) -> Result<String, MlflowError> {
        for _ in 0..2 {
            match self
                .get("experiments/get-by-name", &[("experiment_name", &self.experiment)])
                .await
            {
                Ok(found) => {
                    if let Some(id) = found["experiment"]["experiment_id"].as_str() {
                        return Ok(id.to_string());
                    }
                }
                Err(e) if e.code == "RESOURCE_DOES_NOT_EXIST" => {}
                Err(e) => return Err(e),
            }
            match self.post("experiments/create", json!({"name": self.experiment})).await {
                Ok(created) => {
                    if let Some(id) = created["experiment_id"].as_str() {
                        return Ok(id.to_string());
                    }
                }
                // Created by someone else meanwhile: look it up again.
                Err(e) if e.code == "RESOURCE_ALREADY_EXISTS" => {}
                Err(e) => return Err(e),
            }
        }
        Err(MlflowError {
            status: None,
            code: "NO_EXPERIMENT".into(),
            message: format!("experiment {:?} can be neither found nor created", self.experiment),
        })
    }

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

    /// Points the `champion` alias at an MLflow version.
    pub async fn set_alias(&self, name: &str, alias: &str, mlflow_version: &str) -> Result<(), MlflowError> {
        self.post(
            "registered-models/alias",
            json!({"name": name, "alias": alias, "version": mlflow_version}),
        )
        .await
        .map(drop)
    }

    /// The MLflow version an alias points at; `None` when it is not set (MLflow answers an
    /// unknown alias with HTTP 400 INVALID_PARAMETER_VALUE, not 404).
    pub async fn alias(&self, name: &str, alias: &str) -> Result<Option<String>, MlflowError> {
        match self
            .get("registered-models/alias", &[("name", name), ("alias", alias)])
            .await
        {
            Ok(found) => Ok(match &found["model_version"]["version"] {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }),
            Err(e) if e.code == "INVALID_PARAMETER_VALUE" || e.code == "RESOURCE_DOES_NOT_EXIST" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A run as MLflow stores it (`runs/get`).
    pub async fn run(&self, run_id: &str) -> Result<Value, MlflowError> {
        self.get("runs/get", &[("run_id", run_id)]).await
    }

    /// A registered model version (`model-versions/get`).
    pub async fn model_version(&self, name: &str, version: &str) -> Result<Value, MlflowError> {
        self.get("model-versions/get", &[("name", name), ("version", version)])
            .await
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

/// The numbers of a version worth charting: CV and holdout summary, per-class F1.
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
    for (key, field) in [("holdout_accuracy", "accuracy"), ("holdout_macro_f1", "macro_f1")] {
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
    Ok(report)
}
