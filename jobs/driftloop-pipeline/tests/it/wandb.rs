//! Offline W&B runs as W&B's own reader sees them: `wandb leet inspect` (wandb 0.31.0,
//! installed by the README's test command) reads every record of a run driftloop wrote,
//! with nothing on stderr, and reports a run with a flipped byte as corrupt; W&B's SDK
//! computes the same artifact digests and manifest; the online transport's artifact calls,
//! recorded by a server of the test's own.

use std::path::Path;
use std::process::{Command, Output};

use chrono::{DateTime, Utc};
use driftloop_pipeline::wandb::{run_id_of, WandbArtifact, WandbRun};
use serde_json::{json, Map, Value};

/// `wandb` from the test venv (`DRIFTLOOP_TEST_WANDB`, set by scripts/test), else from PATH.
fn wandb(args: &[&str], path: &Path) -> Output {
    let program = std::env::var("DRIFTLOOP_TEST_WANDB").unwrap_or_else(|_| "wandb".into());
    Command::new(&program)
        .args(args)
        .arg(path)
        .current_dir(path.parent().unwrap())
        .env("WANDB_DIR", path.parent().unwrap())
        .env("WANDB_SILENT", "true")
        .env("WANDB_MODE", "offline")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program} ({e}): run the README's test command, which installs wandb 0.31.0 in its \
                 venv and sets DRIFTLOOP_TEST_WANDB, or `pip install wandb==0.31.0` and put it on PATH"
            )
        })
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

/// A run with a grid of three candidates, each one step of the history.
fn run() -> WandbRun {
    WandbRun {
        id: run_id_of("9f2c4e1a7b3d5f60a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718"),
        project: "driftloop".into(),
        entity: None,
        display_name: "v2-logistic_regression".into(),
        job_type: "train".into(),
        tags: vec!["logistic_regression".into(), "champion".into()],
        config: object(json!({
            "family": "logistic_regression",
            "params": {"alpha": 0.1},
            "seed": 42,
            "rows": 1120,
            "dataset": "mental_health",
        })),
        history: (0..3)
            .map(|i| object(json!({"candidate": format!("alpha={}", [0.01, 0.1, 1.0][i]), "cv_macro_f1": 0.8 + i as f64 / 100.0})))
            .collect(),
        summary: object(json!({"holdout_accuracy": 0.875, "holdout_macro_f1": 0.861, "decision": "promoted"})),
        started: DateTime::parse_from_rfc3339("2026-12-03T07:15:00Z").unwrap().with_timezone(&Utc),
        runtime_seconds: 2.5,
        artifact: Some(WandbArtifact {
            name: "mental_health".into(),
            kind: "model".into(),
            description: "driftloop version 2 (logistic_regression)".into(),
            metadata: object(json!({"family": "logistic_regression", "holdout_macro_f1": 0.861})),
            aliases: vec!["driftloop-v2".into(), "champion".into()],
            path: "9f2c.dlmodel".into(),
            reference: "s3://driftloop-models/driftloop/models/mental_health/9f2c.dlmodel".into(),
            md5_base64: WandbArtifact::md5_base64_of(b"the model's bytes"),
            size: 17,
            sha256: "9f2c".into(),
        }),
    }
}

/// `wandb leet inspect ARGS PATH`: its stdout, after checking that it succeeded with
/// nothing on stderr (a corrupt block is reported there with exit code 0).
fn inspect(args: &[&str], path: &Path) -> String {
    let output = wandb(args, path);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.trim().is_empty(),
        "wandb {args:?}: {stderr}"
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn records_of(path: &Path) -> Vec<Value> {
    inspect(&["leet", "inspect", "--json"], path)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

#[test]
fn wandbs_reader_reads_every_record_of_an_offline_run() {
    let dir = tempfile::tempdir().unwrap();
    let run = run();
    let path = run.write_offline(dir.path()).unwrap();
    assert!(path.ends_with("wandb/offline-run-20261203_071500-9f2c4e1a7b3d5f60/run-9f2c4e1a7b3d5f60.wandb"));
    let records = records_of(&path);
    let types: Vec<&str> = records.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["header", "run", "history", "history", "history", "summary", "artifact", "exit", "final"]
    );
    let nums: Vec<i64> = records.iter().map(|r| r["num"].as_i64().unwrap()).collect();
    assert_eq!(nums, (1..=9).collect::<Vec<i64>>());
    let recorded = &records[1]["run"];
    assert_eq!(recorded["run_id"], "9f2c4e1a7b3d5f60");
    assert_eq!(recorded["display_name"], "v2-logistic_regression");
    assert_eq!(recorded["job_type"], "train");
    assert_eq!(recorded["tags"], json!(["logistic_regression", "champion"]));
    assert_eq!(recorded["config"]["update"], Value::Object(run.config.clone()));
    for (step, record) in records[2..5].iter().enumerate() {
        let item = &record["history"]["item"];
        assert_eq!(item["_step"], step);
        assert_eq!(item["candidate"], run.history[step]["candidate"]);
        assert_eq!(item["cv_macro_f1"], run.history[step]["cv_macro_f1"]);
    }
    assert_eq!(records[5]["summary"]["update"], Value::Object(run.summary.clone()));
    let artifact = &records[6]["artifact"];
    assert_eq!(artifact["type"], "model", "{artifact}");
    assert_eq!(artifact["name"], "mental_health");
    assert_eq!(artifact["aliases"], json!(["driftloop-v2", "champion"]));
    assert_eq!(artifact["run_id"], "9f2c4e1a7b3d5f60");
    let expected = run.artifact.as_ref().unwrap();
    assert_eq!(artifact["digest"], expected.digest());
    let metadata: Value = serde_json::from_str(artifact["metadata"].as_str().unwrap()).unwrap();
    assert_eq!(metadata["holdout_macro_f1"], 0.861);
    let entry = &artifact["manifest"]["contents"][0];
    assert_eq!(entry["path"], "9f2c.dlmodel", "{artifact}");
    assert_eq!(entry["ref"], expected.reference);
    assert_eq!(entry["digest"], expected.md5_base64);
    assert_eq!(artifact["manifest"]["storage_policy"], "wandb-storage-policy-v1");
    assert_eq!(records[7]["exit"]["exit_code"], 0);

    let summary: Value = serde_json::from_str(&inspect(&["leet", "inspect", "--summary", "--json"], &path)).unwrap();
    assert_eq!(summary["state"], "finished", "{summary}");
    assert_eq!(summary["run_id"], "9f2c4e1a7b3d5f60");
    assert_eq!(summary["name"], "v2-logistic_regression");
    assert_eq!(summary["project"], "driftloop");
    assert_eq!(summary["step"], 2, "three steps of history");
    assert_eq!(summary["config"], Value::Object(run.config));
    assert_eq!(summary["summary"], Value::Object(run.summary));
    assert_eq!(summary["start_time"], "2026-12-03T07:15:00Z");
}

/// A record larger than a block is split across blocks (first, middle, last); W&B's
/// reader joins it.
#[test]
fn wandbs_reader_joins_a_record_split_across_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let mut large = run();
    let grid: Vec<String> = (0..4000).map(|i| format!("candidate-{i:05}")).collect();
    large.config.insert("grid".into(), json!(grid));
    let path = large.write_offline(dir.path()).unwrap();
    assert!(
        std::fs::metadata(&path).unwrap().len() > 2 * 32 * 1024,
        "the config spans three blocks"
    );
    let records = records_of(&path);
    assert_eq!(records.len(), 9);
    assert_eq!(records[1]["run"]["config"]["update"]["grid"], json!(grid));
}

#[test]
fn wandbs_reader_reports_a_flipped_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = run().write_offline(dir.path()).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[40] ^= 0x10;
    std::fs::write(&path, bytes).unwrap();
    let output = wandb(&["leet", "inspect", "--json"], &path);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("checksum mismatch"),
        "a corrupt block is reported on stderr: {stderr}"
    );
    assert!(
        driftloop_pipeline::wandb::log::read_records(&std::fs::read(&path).unwrap())
            .unwrap_err()
            .contains("fails its checksum"),
        "driftloop's own reader finds it too"
    );
}

/// The artifact's digests are the ones W&B's own SDK computes for the same file (the
/// entry's MD5 in base64; the manifest's MD5 over its header and entries).
#[test]
fn the_artifact_digests_are_wandbs() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = b"the model's bytes, as stored";
    let file = dir.path().join("9f2c.dlmodel");
    std::fs::write(&file, bytes).unwrap();
    let wandb_program = std::env::var("DRIFTLOOP_TEST_WANDB").unwrap_or_else(|_| "wandb".into());
    // The interpreter beside the `wandb` script of the test venv.
    let python = Path::new(&wandb_program)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| "python3".into(), |p| p.join("python"));
    let script = "import sys, json, wandb\n\
        a = wandb.Artifact('mental_health', type='model')\n\
        a.add_file(sys.argv[1], name='9f2c.dlmodel')\n\
        print(a.manifest.entries['9f2c.dlmodel'].digest)\n\
        print(a.manifest.digest())\n\
        r = wandb.Artifact('mental_health', type='model')\n\
        entry = r.add_reference('file://' + sys.argv[1], name='9f2c.dlmodel')[0]\n\
        entry.extra['sha256'] = 'the sha256'\n\
        print(json.dumps(r.manifest.to_manifest_json()))\n\
        print(r.manifest.digest())\n";
    let output = Command::new(&python)
        .args(["-c", script])
        .arg(&file)
        .current_dir(dir.path())
        .env("WANDB_DIR", dir.path())
        .env("WANDB_CACHE_DIR", dir.path().join("cache"))
        .env("WANDB_DATA_DIR", dir.path().join("data"))
        .env("WANDB_SILENT", "true")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} ({e}): run the README's test command", python.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let theirs: Vec<&str> = stdout.lines().collect();
    let mut ours = WandbArtifact {
        name: "mental_health".into(),
        kind: "model".into(),
        description: String::new(),
        metadata: Map::new(),
        aliases: vec![],
        path: "9f2c.dlmodel".into(),
        reference: "file:///models/9f2c.dlmodel".into(),
        md5_base64: WandbArtifact::md5_base64_of(bytes),
        size: bytes.len() as u64,
        sha256: "the sha256".into(),
    };
    assert_eq!(theirs[..2], [ours.md5_base64.as_str(), ours.digest().as_str()]);
    // The manifest uploaded online is the one the SDK makes for a reference to the file.
    ours.reference = format!("file://{}", file.display());
    let manifest: Value = serde_json::from_str(theirs[2]).unwrap();
    assert_eq!(ours.manifest_json(), manifest);
    assert_eq!(theirs[3], ours.digest());
}

/// A W&B server of the test's own, recording what it is sent: the GraphQL operations
/// (name and variables), the file stream's calls and the manifest uploads. `committed`
/// says whether it answers `createArtifact` as a version it holds already.
struct RecordingServer {
    url: String,
    calls: std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>,
}

impl RecordingServer {
    async fn start(committed: bool) -> RecordingServer {
        use axum::extract::State;
        use axum::http::Uri;
        use axum::routing::{post, put};
        type Calls = std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>;
        let calls: Calls = Default::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upload = format!("{url}/signed/manifest?signature=s");
        let graphql = move |State(calls): State<Calls>, axum::Json(body): axum::Json<Value>| {
            let upload = upload.clone();
            async move {
                let query = body["query"].as_str().unwrap().to_string();
                let operation = query.split(['(', ' ']).nth(1).unwrap().to_string();
                calls
                    .lock()
                    .unwrap()
                    .push((operation.clone(), body["variables"].clone()));
                let state = if committed { "COMMITTED" } else { "PENDING" };
                axum::Json(match operation.as_str() {
                    "UpsertBucket" => {
                        json!({"data": {"upsertBucket": {"bucket": {"id": "b", "name": body["variables"]["name"]}, "inserted": true}}})
                    }
                    "CreateArtifact" => {
                        json!({"data": {"createArtifact": {"artifact": {"id": "QXJ0aWZhY3Q6MQ==", "state": state}}}})
                    }
                    "CreateArtifactManifest" => {
                        json!({"data": {"createArtifactManifest": {"artifactManifest": {"id": "m", "file": {"id": "f", "uploadUrl": upload, "uploadHeaders": ["Content-Type:application/json", "x-amz-meta-kind: manifest"]}}}}})
                    }
                    "CommitArtifact" => {
                        json!({"data": {"commitArtifact": {"artifact": {"id": "QXJ0aWZhY3Q6MQ==", "digest": "d"}}}})
                    }
                    other => json!({"errors": [{"message": format!("no operation {other}")}]}),
                })
            }
        };
        let stream = |State(calls): State<Calls>, uri: Uri, axum::Json(body): axum::Json<Value>| async move {
            calls.lock().unwrap().push((format!("POST {}", uri.path()), body));
            axum::Json(json!({}))
        };
        let manifest = |State(calls): State<Calls>, uri: Uri, headers: axum::http::HeaderMap, body: String| async move {
            let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_string());
            let sent = json!({
                "body": serde_json::from_str::<Value>(&body).unwrap(),
                "content_type": header("content-type"),
                "meta": header("x-amz-meta-kind"),
                "authorization": header("authorization"),
                "query": uri.query(),
            });
            calls.lock().unwrap().push((format!("PUT {}", uri.path()), sent));
        };
        let app = axum::Router::new()
            .route("/graphql", post(graphql))
            .route("/files/{entity}/{project}/{run}/file_stream", post(stream))
            .route("/signed/manifest", put(manifest))
            .with_state(calls.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        RecordingServer { url, calls }
    }

    fn calls(&self) -> Vec<(String, Value)> {
        self.calls.lock().unwrap().clone()
    }
}

/// The online transport logs the model as the run's output artifact the way W&B's SDK
/// does: `createArtifact` with the manifest digest, the type, the collection and the
/// aliases; for a version the server does not hold, the manifest uploaded to the URL it
/// signed (with its headers, without the API key) and the version committed, before the
/// run is marked complete.
#[tokio::test]
async fn the_online_transport_logs_the_model_artifact() {
    use driftloop_pipeline::wandb::online::WandbClient;
    let server = RecordingServer::start(false).await;
    let client = WandbClient::new(
        &server.url,
        driftloop_pipeline::Secret::new("local-test-key"),
        std::time::Duration::from_secs(5),
    );
    let mut run = run();
    run.entity = Some("team".into());
    assert_eq!(client.upload(&run).await.unwrap(), "team");
    let calls = server.calls();
    let names: Vec<&str> = calls.iter().map(|(name, _)| name.as_str()).collect();
    let stream = "POST /files/team/driftloop/9f2c4e1a7b3d5f60/file_stream";
    assert_eq!(
        names,
        [
            "UpsertBucket",
            stream,
            "CreateArtifact",
            "CreateArtifactManifest",
            "PUT /signed/manifest",
            "CommitArtifact",
            stream
        ]
    );
    let artifact = run.artifact.as_ref().unwrap();
    let created = &calls[2].1;
    assert_eq!(created["runName"], "9f2c4e1a7b3d5f60");
    assert_eq!(created["entityName"], "team");
    assert_eq!(created["artifactTypeName"], "model");
    assert_eq!(created["artifactCollectionName"], "mental_health");
    assert_eq!(created["digest"], artifact.digest());
    assert_eq!(
        created["aliases"],
        json!([
            {"artifactCollectionName": "mental_health", "alias": "driftloop-v2"},
            {"artifactCollectionName": "mental_health", "alias": "champion"},
        ])
    );
    let metadata: Value = serde_json::from_str(created["metadata"].as_str().unwrap()).unwrap();
    assert_eq!(metadata["holdout_macro_f1"], 0.861);
    assert_eq!(calls[3].1["artifactID"], "QXJ0aWZhY3Q6MQ==");
    assert_eq!(calls[3].1["name"], "wandb_manifest.json");
    let uploaded = &calls[4].1;
    assert_eq!(uploaded["body"], artifact.manifest_json());
    assert_eq!(uploaded["body"]["contents"]["9f2c.dlmodel"]["ref"], artifact.reference);
    assert_eq!(uploaded["content_type"], "application/json");
    assert_eq!(uploaded["meta"], "manifest");
    assert_eq!(uploaded["query"], "signature=s");
    assert_eq!(uploaded["authorization"], Value::Null, "a signed URL gets no API key");
    assert_eq!(calls[5].1["artifactID"], "QXJ0aWZhY3Q6MQ==");
    assert_eq!(calls[6].1, json!({"complete": true, "exitcode": 0}));

    // A digest the server holds already takes the aliases and nothing more.
    let server = RecordingServer::start(true).await;
    let client = WandbClient::new(
        &server.url,
        driftloop_pipeline::Secret::new("local-test-key"),
        std::time::Duration::from_secs(5),
    );
    client.upload(&run).await.unwrap();
    let names: Vec<String> = server.calls().into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["UpsertBucket", stream, "CreateArtifact", stream]);
}
