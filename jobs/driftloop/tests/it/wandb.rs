//! `driftloop models export-wandb`: every registered version as an offline W&B run, read
//! back by W&B's own reader (`wandb leet inspect`, wandb 0.31.0 from the test venv).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::{driftloop, json_of, repo_root};

/// `wandb leet inspect --summary --json PATH`, checked to succeed with nothing on stderr.
fn inspected(path: &Path) -> Value {
    let program = std::env::var("DRIFTLOOP_TEST_WANDB").unwrap_or_else(|_| "wandb".into());
    let output = Command::new(&program)
        .args(["leet", "inspect", "--summary", "--json"])
        .arg(path)
        .current_dir(path.parent().unwrap())
        .env("WANDB_DIR", path.parent().unwrap())
        .env("WANDB_SILENT", "true")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program} ({e}): run the README's test command, which installs wandb 0.31.0 and sets \
                 DRIFTLOOP_TEST_WANDB, or `pip install wandb==0.31.0` and put it on PATH"
            )
        });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.trim().is_empty(),
        "wandb leet inspect: {stderr}"
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn registered_versions_export_as_offline_wandb_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    json_of(&driftloop(d, &["db", "migrate", "--json"]));
    let published = repo_root().join("../shared/data/mental-disorders-120.csv");
    json_of(&driftloop(d, &["import", published.to_str().unwrap(), "--json"]));
    json_of(&driftloop(d, &["train", "--family", "naive-bayes", "--json"]));
    let version = json_of(&driftloop(d, &["models", "show", "1", "--json"]));

    let exported = json_of(&driftloop(d, &["models", "export-wandb", "--dir", "w", "--json"]));
    let runs = exported["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{exported}");
    let file = runs[0]["file"].as_str().unwrap();
    let sha = version["sha256"].as_str().unwrap();
    assert_eq!(
        runs[0]["run_id"],
        sha[..16],
        "the run id comes from the artifact's sha256"
    );
    let bytes = std::fs::read(d.join(file)).unwrap();

    let run = inspected(&d.join(file));
    assert_eq!(run["state"], "finished", "{run}");
    assert_eq!(run["name"], "v1-naive_bayes");
    assert_eq!(run["project"], "driftloop");
    assert_eq!(
        run["tags"],
        serde_json::json!(["naive_bayes", "champion", "first-champion"])
    );
    assert_eq!(run["config"]["dataset"], "mental_health");
    assert_eq!(run["config"]["artifact_sha256"], sha);
    assert_eq!(run["config"]["params"], version["params"]);
    assert_eq!(
        run["summary"]["holdout_accuracy"],
        version["holdout_metrics"]["accuracy"]
    );
    assert_eq!(
        run["summary"]["cv_mean_macro_f1"],
        version["cv_metrics"]["mean_macro_f1"]
    );
    assert_eq!(run["step"], 4, "one history step per cross-validation fold");

    // Exporting again writes the same run to the same file.
    let again = json_of(&driftloop(d, &["models", "export-wandb", "--dir", "w", "--json"]));
    assert_eq!(again["runs"][0]["file"], runs[0]["file"]);
    assert_eq!(std::fs::read(d.join(file)).unwrap(), bytes);
}

/// The test W&B-compatible server (openwandb, started by the README's test command).
fn wandb_server() -> String {
    std::env::var("DRIFTLOOP_TEST_WANDB_URL").unwrap_or_else(|_| {
        panic!(
            "DRIFTLOOP_TEST_WANDB_URL is not set: run the README's test command, which starts openwandb 0.5.25, or \
             start it (`openwandb serve --host 127.0.0.1 -p PORT --data-dir DIR`) and set the variable to its URL"
        )
    })
}

/// The API key the test server accepts.
const TEST_KEY: &str = "local0000000000000000000000000000000000000000";

/// One GraphQL query to the test server.
fn graphql(server: &str, query: &str) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(format!("{server}/graphql"))
            .basic_auth("api", Some(TEST_KEY))
            .json(&serde_json::json!({ "query": query }))
            .timeout(std::time::Duration::from_secs(30))
            .send()
            .await
            .unwrap_or_else(|e| panic!("the W&B test server at {server} does not answer: {e}"));
        response.json::<Value>().await.unwrap()
    })
}

#[test]
fn wandb_sync_uploads_an_exported_run_to_a_wandb_server() {
    let server = wandb_server();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    json_of(&driftloop(d, &["db", "migrate", "--json"]));
    let published = repo_root().join("../shared/data/mental-disorders-120.csv");
    json_of(&driftloop(d, &["import", published.to_str().unwrap(), "--json"]));
    json_of(&driftloop(d, &["train", "--family", "logistic-regression", "--json"]));
    let version = json_of(&driftloop(d, &["models", "show", "1", "--json"]));
    let project = format!("driftloop-test-{}", std::process::id());
    let exported = json_of(&driftloop(
        d,
        &[
            "models",
            "export-wandb",
            "--dir",
            "w",
            "--project",
            &project,
            "--entity",
            "local",
            "--json",
        ],
    ));
    let file = d.join(exported["runs"][0]["file"].as_str().unwrap());

    let program = std::env::var("DRIFTLOOP_TEST_WANDB").unwrap_or_else(|_| "wandb".into());
    let output = Command::new(&program)
        .arg("sync")
        .arg(file.parent().unwrap())
        // wandb writes its debug logs under the working directory: keep them in the test's folder.
        .current_dir(d)
        .env("WANDB_DIR", d)
        .env("WANDB_BASE_URL", &server)
        .env("WANDB_API_KEY", TEST_KEY)
        .env_remove("WANDB_MODE")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): run the README's test command"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.contains("Finished syncing"),
        "wandb sync: {stderr}"
    );

    let answer = graphql(
        &server,
        &format!(
            "{{ project(name: \"{project}\", entityName: \"local\") {{ runs {{ edges {{ node {{ name displayName state tags config summaryMetrics }} }} }} }} }}"
        ),
    );
    let runs = answer["data"]["project"]["runs"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"));
    assert_eq!(runs.len(), 1, "{answer}");
    let node = &runs[0]["node"];
    let sha = version["sha256"].as_str().unwrap();
    assert_eq!(node["name"], sha[..16]);
    assert_eq!(node["displayName"], "v1-logistic_regression");
    assert_eq!(node["state"], "finished");
    assert_eq!(
        node["tags"],
        serde_json::json!(["logistic_regression", "champion", "first-champion"])
    );
    let config: Value = serde_json::from_str(node["config"].as_str().unwrap()).unwrap();
    assert_eq!(config["artifact_sha256"]["value"], sha);
    assert_eq!(config["dataset"]["value"], "mental_health");
    // Numbers come back through the server's JSON as floats or integers alike (1.0 as 1).
    for (key, value) in version["params"].as_object().unwrap() {
        assert_eq!(config["params"]["value"][key].as_f64(), value.as_f64(), "params.{key}");
    }
    let summary: Value = serde_json::from_str(node["summaryMetrics"].as_str().unwrap()).unwrap();
    assert_eq!(summary["holdout_accuracy"], version["holdout_metrics"]["accuracy"]);
    assert_eq!(summary["cv_mean_macro_f1"], version["cv_metrics"]["mean_macro_f1"]);
    assert_eq!(summary["status"], "champion");
}
