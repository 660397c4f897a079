//! W&B's HTTP API as its SDK uses it: the GraphQL `upsertBucket` mutation makes or updates
//! a run (name, display name, job type, tags, config), then the run's file stream carries
//! its history (`wandb-history.jsonl`) and summary (`wandb-summary.json`), the model is
//! logged as the run's output artifact (`createArtifact`; when the server does not hold
//! that digest yet, `createArtifactManifest`, the manifest's upload, `commitArtifact`), and
//! the stream marks the run complete. Requests authenticate as W&B's SDK does (HTTP basic,
//! user `api`, the key as password); connection failures, 429 and server errors are
//! retried with back-off.

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::{WandbArtifact, WandbRun};
use crate::config::Secret;

/// A client of one W&B server.
pub struct WandbClient {
    base: String,
    key: Secret,
    http: reqwest::Client,
    attempts: u32,
}

/// A W&B answer that is not a success.
#[derive(Debug, Clone, PartialEq)]
pub struct WandbError {
    pub status: Option<u16>,
    pub message: String,
}

impl std::fmt::Display for WandbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(status) => write!(f, "HTTP {status}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The mutation W&B's SDK sends to create or update a run.
const UPSERT_BUCKET: &str = "mutation UpsertBucket($name: String, $project: String, $entity: String, \
$displayName: String, $jobType: String, $tags: [String!], $config: JSONString, $summaryMetrics: JSONString, \
$state: String) { upsertBucket(input: {name: $name, modelName: $project, entityName: $entity, \
displayName: $displayName, jobType: $jobType, tags: $tags, config: $config, summaryMetrics: $summaryMetrics, \
state: $state}) { bucket { id name displayName } inserted } }";

/// Logs an artifact version as a run's output. W&B keeps one version per digest: for a
/// digest it holds already it answers `COMMITTED` and applies the aliases (so `champion`
/// moves to it); the collection is the model's name.
const CREATE_ARTIFACT: &str = "mutation CreateArtifact($entityName: String!, $projectName: String!, \
$runName: String, $artifactTypeName: String!, $artifactCollectionName: String!, $digest: String!, \
$description: String, $metadata: JSONString, $aliases: [ArtifactAliasInput!], $clientID: ID!, \
$sequenceClientID: ID!) { createArtifact(input: {entityName: $entityName, projectName: $projectName, \
runName: $runName, artifactTypeName: $artifactTypeName, artifactCollectionName: $artifactCollectionName, \
digest: $digest, digestAlgorithm: MANIFEST_MD5, description: $description, metadata: $metadata, \
aliases: $aliases, clientID: $clientID, sequenceClientID: $sequenceClientID}) { artifact { id state } } }";

/// Where a new artifact version's manifest is to be uploaded.
const CREATE_ARTIFACT_MANIFEST: &str = "mutation CreateArtifactManifest($artifactID: ID!, $name: String!, \
$digest: String!, $entityName: String!, $projectName: String!, $runName: String!) { \
createArtifactManifest(input: {artifactID: $artifactID, name: $name, digest: $digest, entityName: $entityName, \
projectName: $projectName, runName: $runName, type: FULL}) { artifactManifest { id file { id uploadUrl \
uploadHeaders } } } }";

/// Seals a new artifact version once its manifest is uploaded.
const COMMIT_ARTIFACT: &str = "mutation CommitArtifact($artifactID: ID!) { \
commitArtifact(input: {artifactID: $artifactID}) { artifact { id digest } } }";

/// The name W&B gives an artifact's manifest file.
pub const MANIFEST_NAME: &str = "wandb_manifest.json";

impl WandbClient {
    /// `request_timeout` bounds each request; a call makes at most three attempts.
    pub fn new(base_url: &str, key: Secret, request_timeout: Duration) -> WandbClient {
        WandbClient {
            base: base_url.trim_end_matches('/').to_string(),
            key,
            http: reqwest::Client::builder()
                .timeout(request_timeout)
                .connect_timeout(request_timeout.min(Duration::from_secs(3)))
                .build()
                .expect("an HTTP client builds"),
            attempts: 3,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// One POST of JSON to the server, retried on connection failures, 429 and server
    /// errors; its JSON answer.
    async fn post(&self, path: &str, body: &Value) -> Result<Value, WandbError> {
        let url = format!("{}/{path}", self.base);
        let text = self
            .send(&url, || {
                self.http
                    .post(&url)
                    .basic_auth("api", Some(self.key.expose()))
                    .json(body)
            })
            .await?;
        serde_json::from_str(&text).map_err(|e| WandbError {
            status: None,
            message: format!("{url} answered something that is not JSON ({e})"),
        })
    }

    /// A request (made anew for each attempt), retried on connection failures, 429 and
    /// server errors; the body of its successful answer.
    async fn send(&self, url: &str, request: impl Fn() -> reqwest::RequestBuilder) -> Result<String, WandbError> {
        let mut last = None;
        for attempt in 0..self.attempts {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
            }
            let request = request().header("User-Agent", concat!("driftloop/", env!("CARGO_PKG_VERSION")));
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    let what = if e.is_timeout() {
                        "timed out"
                    } else {
                        "is not answering"
                    };
                    last = Some(WandbError {
                        status: None,
                        message: format!("W&B at {} {what} ({e})", self.base),
                    });
                    continue;
                }
            };
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            if status.is_success() {
                return Ok(text);
            }
            let error = WandbError {
                status: Some(status.as_u16()),
                message: match status.as_u16() {
                    401 | 403 => format!("{url} refused the API key (WANDB_API_KEY)"),
                    _ => format!("{url}: {}", text.chars().take(300).collect::<String>()),
                },
            };
            if !(status.is_server_error() || status.as_u16() == 429) {
                return Err(error);
            }
            last = Some(error);
        }
        Err(last.expect("at least one attempt"))
    }

    /// A GraphQL call; an answer with `errors` is an error.
    async fn graphql(&self, query: &str, variables: Value) -> Result<Value, WandbError> {
        let answer = self
            .post("graphql", &json!({"query": query, "variables": variables}))
            .await?;
        if let Some(errors) = answer["errors"].as_array().filter(|e| !e.is_empty()) {
            let messages: Vec<&str> = errors.iter().filter_map(|e| e["message"].as_str()).collect();
            return Err(WandbError {
                status: None,
                message: format!("W&B's GraphQL API: {}", messages.join("; ")),
            });
        }
        Ok(answer["data"].clone())
    }

    /// The entity runs go to when none is named: the key's own.
    pub async fn default_entity(&self) -> Result<String, WandbError> {
        let data = self.graphql("query Viewer { viewer { entity } }", json!({})).await?;
        data["viewer"]["entity"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| WandbError {
                status: None,
                message: "W&B did not say which entity the API key belongs to: set WANDB_ENTITY".into(),
            })
    }

    /// Sends a run: created or updated under its id, its history and summary streamed,
    /// then marked finished. Returns the entity it went to.
    pub async fn upload(&self, run: &WandbRun) -> Result<String, WandbError> {
        let entity = match &run.entity {
            Some(entity) => entity.clone(),
            None => self.default_entity().await?,
        };
        // W&B keeps a run's config as {key: {"value": …}}, as its SDK sends it.
        let config: Map<String, Value> = run
            .config
            .iter()
            .map(|(key, value)| (key.clone(), json!({ "value": value })))
            .collect();
        let summary = Value::Object(run.summary.clone()).to_string();
        let variables = json!({
            "name": run.id,
            "project": run.project,
            "entity": entity,
            "displayName": run.display_name,
            "jobType": run.job_type,
            "tags": run.tags,
            "config": Value::Object(config).to_string(),
            "summaryMetrics": summary,
            "state": "running",
        });
        self.graphql(UPSERT_BUCKET, variables).await?;
        let started = run.started.timestamp_millis() as f64 / 1000.0;
        let history: Vec<String> = run
            .history
            .iter()
            .enumerate()
            .map(|(step, values)| {
                let mut line = values.clone();
                line.insert("_step".into(), Value::from(step));
                line.insert("_timestamp".into(), Value::from(started));
                line.insert("_runtime".into(), Value::from(run.runtime_seconds));
                Value::Object(line).to_string()
            })
            .collect();
        let stream = format!("files/{entity}/{}/{}/file_stream", run.project, run.id);
        self.post(
            &stream,
            &json!({
                "files": {
                    "wandb-history.jsonl": {"offset": 0, "content": history},
                    "wandb-summary.json": {"offset": 0, "content": [summary]},
                },
            }),
        )
        .await?;
        if let Some(artifact) = &run.artifact {
            self.log_artifact(run, &entity, artifact).await?;
        }
        self.post(&stream, &json!({"complete": true, "exitcode": 0})).await?;
        Ok(entity)
    }

    /// Logs the model artifact as the run's output: a new version is created, its
    /// manifest uploaded (the entry references the stored file; no bytes of the model are
    /// sent) and committed; a version W&B already holds only takes the aliases. Returns
    /// whether a new version was committed.
    pub async fn log_artifact(
        &self,
        run: &WandbRun,
        entity: &str,
        artifact: &WandbArtifact,
    ) -> Result<bool, WandbError> {
        let digest = artifact.digest();
        let aliases: Vec<Value> = artifact
            .aliases
            .iter()
            .map(|alias| json!({"artifactCollectionName": artifact.name, "alias": alias}))
            .collect();
        let created = self
            .graphql(
                CREATE_ARTIFACT,
                json!({
                    "entityName": entity,
                    "projectName": run.project,
                    "runName": run.id,
                    "artifactTypeName": artifact.kind,
                    "artifactCollectionName": artifact.name,
                    "digest": digest,
                    "description": artifact.description,
                    "metadata": Value::Object(artifact.metadata.clone()).to_string(),
                    "aliases": aliases,
                    // Ids the client picks for the version and its collection: derived, so
                    // that a retry names the same ones.
                    "clientID": format!("{}-{digest}", run.id),
                    "sequenceClientID": format!("{}-{}", artifact.name, run.project),
                }),
            )
            .await?;
        let created = &created["createArtifact"]["artifact"];
        let id = created["id"].as_str().ok_or_else(|| WandbError {
            status: None,
            message: format!("W&B's createArtifact answered no artifact id: {created}"),
        })?;
        if created["state"] == "COMMITTED" {
            return Ok(false);
        }
        let manifest = self
            .graphql(
                CREATE_ARTIFACT_MANIFEST,
                json!({
                    "artifactID": id,
                    "name": MANIFEST_NAME,
                    "digest": digest,
                    "entityName": entity,
                    "projectName": run.project,
                    "runName": run.id,
                }),
            )
            .await?;
        let file = &manifest["createArtifactManifest"]["artifactManifest"]["file"];
        let url = file["uploadUrl"].as_str().ok_or_else(|| WandbError {
            status: None,
            message: format!("W&B's createArtifactManifest answered no upload URL: {file}"),
        })?;
        // The upload URL is signed for this request: W&B's headers, not the API key.
        let headers: Vec<(String, String)> = file["uploadHeaders"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| h.as_str()?.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let body = artifact.manifest_json().to_string();
        self.send(url, || {
            headers
                .iter()
                .fold(self.http.put(url), |request, (k, v)| request.header(k, v))
                .body(body.clone())
        })
        .await?;
        self.graphql(COMMIT_ARTIFACT, json!({"artifactID": id})).await?;
        Ok(true)
    }
}
