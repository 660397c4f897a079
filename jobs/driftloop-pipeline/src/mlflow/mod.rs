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

//!
//! This file is the client (transport, experiment, aliases, reads); `mirror.rs` copies
//! versions and syncs the registry.

mod mirror;

use std::time::Duration;

use serde_json::{json, Value};

pub use mirror::{calibration_method, sync, version_metrics, SyncReport};

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
