//! W&B from the command line, against W&B's own software: `driftloop models
//! export-wandb` and `WANDB_MODE=offline` trainings write offline runs that `wandb leet
//! inspect` (wandb 0.31.0 from the test venv) reads and `wandb sync` uploads; a training
//! with `WANDB_API_KEY` appears on a W&B-compatible server (openwandb 0.5.25, test-only,
//! started by the README's test command) as a finished run; a server down, silent or
//! refusing the key never fails a training, and `models sync` mirrors what it missed,
//! once; the runs follow promotions and rollbacks; a run made by W&B's own SDK reads back
//! the same.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

use super::{driftloop, driftloop_with, json_of, repo_root};

/// `wandb ARGS` from the test venv (`DRIFTLOOP_TEST_WANDB`), run in `dir` so that its
/// debug logs stay there.
fn wandb(args: &[&str], dir: &Path, vars: &[(&str, &str)]) -> Output {
    let program = std::env::var("DRIFTLOOP_TEST_WANDB").unwrap_or_else(|_| "wandb".into());
    Command::new(&program)
        .args(args)
        .current_dir(dir)
        .env("WANDB_DIR", dir)
        .env_remove("WANDB_MODE")
        .envs(vars.iter().copied())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program} ({e}): run the README's test command, which installs wandb 0.31.0 and sets \
                 DRIFTLOOP_TEST_WANDB, or `pip install wandb==0.31.0` and put it on PATH"
            )
        })
}

/// `wandb leet inspect ARGS PATH`'s output, checked to succeed with nothing on stderr (a
/// corrupt block is reported there with exit code 0).
fn leet_inspect(args: &[&str], path: &Path) -> String {
    let mut all = vec!["leet", "inspect"];
    all.extend_from_slice(args);
    all.push(path.to_str().unwrap());
    let output = wandb(&all, path.parent().unwrap(), &[("WANDB_SILENT", "true")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.trim().is_empty(),
        "wandb leet inspect: {stderr}"
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The run as `wandb leet inspect --summary --json` sees it.
fn inspected(path: &Path) -> Value {
    serde_json::from_str(&leet_inspect(&["--summary", "--json"], path)).unwrap()
}

/// Every record, as `wandb leet inspect --json` reads them.
fn records_of(path: &Path) -> Vec<Value> {
    leet_inspect(&["--json"], path)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// The `.wandb` files under `dir`, found however deep.
fn wandb_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "wandb") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// `value` with every number as a float: W&B's tools print a float that is whole (1.0) as
/// an integer (1).
fn as_floats(value: &Value) -> Value {
    match value {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(items) => Value::Array(items.iter().map(as_floats).collect()),
        Value::Object(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), as_floats(v))).collect()),
        other => other.clone(),
    }
}

/// A folder with the published rows imported.
fn imported() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    json_of(&driftloop(d, &["db", "migrate", "--json"]));
    let published = repo_root().join("../shared/data/mental-disorders-120.csv");
    json_of(&driftloop(d, &["import", published.to_str().unwrap(), "--json"]));
    dir
}

#[test]
fn registered_versions_export_as_offline_wandb_runs() {
    let dir = imported();
    let d = dir.path();
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
    let grid = run["config"]["grid"].as_array().unwrap();
    assert!(grid.len() > 1, "{run}");
    assert_eq!(
        run["step"],
        grid.len() - 1,
        "one history step per candidate of the grid"
    );

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

/// One request to the test server (a POST when there is a body), its JSON answer.
fn ask(server: &str, path: &str, body: Option<Value>) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let url = format!("{server}/{path}");
        let request = match body {
            Some(body) => client.post(url).json(&body),
            None => client.get(url),
        };
        let response = request
            .basic_auth("api", Some(TEST_KEY))
            .timeout(std::time::Duration::from_secs(30))
            .send()
            .await
            .unwrap_or_else(|e| panic!("the W&B test server at {server} does not answer: {e}"));
        response.json::<Value>().await.unwrap()
    })
}

/// One GraphQL query to the test server.
fn graphql(server: &str, query: &str) -> Value {
    ask(server, "graphql", Some(json!({ "query": query })))
}

/// The runs of a project on the test server.
fn runs_on_server(server: &str, entity: &str, project: &str) -> Vec<Value> {
    let answer = graphql(
        server,
        &format!(
            "{{ project(name: \"{project}\", entityName: \"{entity}\") {{ runs {{ edges {{ node {{ name displayName \
             state tags config summaryMetrics }} }} }} }} }}"
        ),
    );
    answer["data"]["project"]["runs"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

/// The entity the test key writes to when none is named.
fn default_entity(server: &str) -> String {
    let answer = graphql(server, "{ viewer { entity } }");
    answer["data"]["viewer"]["entity"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_string()
}

/// `node` is the W&B run of the first version, a first champion (`version` as `driftloop
/// models show --json` prints it): its name, tags, state, config and summary.
fn assert_the_run_of(node: &Value, version: &Value) {
    let sha = version["sha256"].as_str().unwrap();
    let family = version["family"].as_str().unwrap();
    assert_eq!(node["name"], sha[..16], "the run id comes from the artifact's sha256");
    assert_eq!(node["displayName"], format!("v1-{family}"));
    assert_eq!(node["state"], "finished", "{node}");
    assert_eq!(node["tags"], json!([family, "champion", "first-champion"]));
    let config: Value = serde_json::from_str(node["config"].as_str().unwrap()).unwrap();
    assert_eq!(config["artifact_sha256"]["value"], sha);
    assert_eq!(config["dataset"]["value"], "mental_health");
    assert_eq!(config["seed"]["value"], 42);
    // Numbers come back through the server's JSON as floats or integers alike (1.0 as 1).
    for (key, value) in version["params"].as_object().unwrap() {
        assert_eq!(config["params"]["value"][key].as_f64(), value.as_f64(), "params.{key}");
    }
    let summary: Value = serde_json::from_str(node["summaryMetrics"].as_str().unwrap()).unwrap();
    assert_eq!(summary["holdout_accuracy"], version["holdout_metrics"]["accuracy"]);
    assert_eq!(summary["cv_mean_macro_f1"], version["cv_metrics"]["mean_macro_f1"]);
    assert_eq!(summary["status"], "champion");
}

/// `wandb sync FOLDER` to the test server, checked to have finished.
fn wandb_sync(folder: &Path, server: &str) {
    let output = wandb(
        &["sync", folder.to_str().unwrap()],
        folder.parent().unwrap(),
        &[("WANDB_BASE_URL", server), ("WANDB_API_KEY", TEST_KEY)],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.contains("Finished syncing"),
        "wandb sync: {stderr}"
    );
}

#[test]
fn wandb_sync_uploads_an_exported_run_to_a_wandb_server() {
    let server = wandb_server();
    let dir = imported();
    let d = dir.path();
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
    wandb_sync(file.parent().unwrap(), &server);
    let runs = runs_on_server(&server, "local", &project);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_the_run_of(&runs[0], &version);
}

#[test]
fn a_training_with_a_wandb_key_appears_on_the_server_as_a_finished_run() {
    let server = wandb_server();
    let dir = imported();
    let d = dir.path();
    let project = format!("driftloop-online-{}", std::process::id());
    let vars = [
        ("WANDB_API_KEY", TEST_KEY),
        ("WANDB_BASE_URL", server.as_str()),
        ("WANDB_PROJECT", project.as_str()),
    ];
    let trained = json_of(&driftloop_with(
        d,
        &["train", "--family", "logistic-regression", "--json"],
        &vars,
    ));
    let version = json_of(&driftloop(d, &["models", "show", "1", "--json"]));
    let run_id = &version["sha256"].as_str().unwrap()[..16];
    assert_eq!(trained["wandb"]["mirrored"], json!([[1, run_id]]), "{trained}");
    assert_eq!(trained["wandb"]["failed"], json!([]));
    assert_eq!(trained["wandb"]["destination"], server);
    assert_eq!(
        (&version["wandb_run_id"], &version["wandb_error"]),
        (&json!(run_id), &Value::Null)
    );

    // No WANDB_ENTITY: the run went to the key's own entity.
    let runs = runs_on_server(&server, &default_entity(&server), &project);
    assert_eq!(runs.len(), 1, "{runs:?}");
    let node = &runs[0];
    assert_the_run_of(node, &version);
    let config: Value = serde_json::from_str(node["config"].as_str().unwrap()).unwrap();
    let grid = config["grid"]["value"].as_array().unwrap();
    assert!(grid.len() > 1, "{config}");
    // The history as the server charts it: one step per candidate of the grid.
    let charted = ask(
        &server,
        &format!("api/v2/runs/{run_id}/metrics?key=cv_mean_macro_f1"),
        None,
    );
    let steps: Vec<i64> = charted["metrics"]
        .as_array()
        .unwrap_or_else(|| panic!("{charted}"))
        .iter()
        .map(|m| m["step"].as_i64().unwrap())
        .collect();
    assert_eq!(steps, (0..grid.len() as i64).collect::<Vec<_>>(), "{charted}");
    let keys = charted["keys"].as_array().unwrap();
    for key in [
        "cv_macro_f1_fold_1",
        "cv_macro_f1_fold_5",
        "cv_mean_accuracy",
        "candidate",
    ] {
        assert!(keys.contains(&json!(key)), "{key} in {keys:?}");
    }

    // The model as the run's output artifact (the server keeps type, collection and
    // metadata; it answers every creation as committed, so the manifest itself is checked
    // in the pipeline's tests against a recording server and W&B's SDK).
    let artifacts = ask(&server, &format!("api/v2/runs/{run_id}/artifacts"), None);
    let artifacts = artifacts["artifacts"]
        .as_array()
        .unwrap_or_else(|| panic!("{artifacts}"));
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    assert_eq!(artifacts[0]["artifact_type"], "model");
    assert_eq!(artifacts[0]["name"], "mental_health");
    assert_eq!(artifacts[0]["metadata"]["version"], 1);
    assert_eq!(artifacts[0]["metadata"]["status"], "champion");
    assert_eq!(artifacts[0]["metadata"]["snapshot_sha256"], version["snapshot_sha256"]);

    // Training the same rows again registers nothing new and sends nothing again.
    let again = json_of(&driftloop_with(
        d,
        &["train", "--family", "logistic-regression", "--json"],
        &vars,
    ));
    assert_eq!(again["registered"], false, "{again}");
    assert_eq!(again["wandb"]["mirrored"], json!([]), "{again}");
    assert_eq!(runs_on_server(&server, &default_entity(&server), &project).len(), 1);
}

/// The tags of each run of a project on the test server, by display name.
fn tags_on_server(server: &str, project: &str) -> std::collections::BTreeMap<String, Value> {
    runs_on_server(server, "local", project)
        .into_iter()
        .map(|node| {
            let summary: Value = serde_json::from_str(node["summaryMetrics"].as_str().unwrap()).unwrap();
            assert_eq!(
                node["tags"][1].as_str().unwrap().replace('-', "_"),
                summary["status"].as_str().unwrap(),
                "the summary's status is the tag's: {node}"
            );
            (node["displayName"].as_str().unwrap().to_string(), node["tags"].clone())
        })
        .collect()
}

/// The W&B runs follow the registry's champion: a rejected candidate, a manual promotion
/// and a rollback each leave the runs' tags (and statuses) as `models list` has them,
/// and what did not change is not sent again.
#[test]
fn wandb_runs_follow_promotions_and_rollbacks() {
    let server = wandb_server();
    let dir = imported();
    let d = dir.path();
    let project = format!("driftloop-standing-{}", std::process::id());
    let vars = [
        ("WANDB_API_KEY", TEST_KEY),
        ("WANDB_BASE_URL", server.as_str()),
        ("WANDB_PROJECT", project.as_str()),
        ("WANDB_ENTITY", "local"),
    ];
    json_of(&driftloop_with(
        d,
        &["train", "--family", "logistic-regression", "--json"],
        &vars,
    ));
    // A margin no candidate can beat: the second version is rejected.
    let mut rejecting = vars.to_vec();
    rejecting.push(("DRIFTLOOP_PROMOTION_MARGIN", "0.99"));
    let second = json_of(&driftloop_with(
        d,
        &["train", "--family", "naive-bayes", "--json"],
        &rejecting,
    ));
    assert_eq!(second["wandb"]["mirrored"][0][0], 2, "only the new version: {second}");
    assert_eq!(second["wandb"]["mirrored"].as_array().unwrap().len(), 1);
    let lr = "v1-logistic_regression";
    let nb = "v2-naive_bayes";
    let tags = tags_on_server(&server, &project);
    assert_eq!(tags[lr], json!(["logistic_regression", "champion", "first-champion"]));
    assert_eq!(tags[nb], json!(["naive_bayes", "rejected"]));

    let promoted = json_of(&driftloop_with(d, &["models", "promote", "2", "--json"], &vars));
    let mirrored: Vec<i64> = promoted["wandb"]["mirrored"]
        .as_array()
        .unwrap_or_else(|| panic!("{promoted}"))
        .iter()
        .map(|m| m[0].as_i64().unwrap())
        .collect();
    assert_eq!(mirrored, [1, 2], "both changed standing: {promoted}");
    let tags = tags_on_server(&server, &project);
    assert_eq!(tags[lr], json!(["logistic_regression", "retired", "first-champion"]));
    assert_eq!(tags[nb], json!(["naive_bayes", "champion"]));

    let rolled = json_of(&driftloop_with(d, &["models", "rollback", "--json"], &vars));
    assert_eq!(rolled["wandb"]["mirrored"].as_array().unwrap().len(), 2, "{rolled}");
    let tags = tags_on_server(&server, &project);
    assert_eq!(tags[lr], json!(["logistic_regression", "champion", "first-champion"]));
    assert_eq!(tags[nb], json!(["naive_bayes", "rolled-back"]));
    for (version, status) in [("1", "champion"), ("2", "rolled_back")] {
        let shown = json_of(&driftloop(d, &["models", "show", version, "--json"]));
        assert_eq!(
            (&shown["status"], &shown["wandb_status"]),
            (&json!(status), &json!(status))
        );
    }
    // Still two runs (the same ids, updated), and nothing left to send.
    assert_eq!(runs_on_server(&server, "local", &project).len(), 2);
    let again = json_of(&driftloop_with(d, &["models", "sync", "--json"], &vars));
    assert_eq!(again["wandb"]["mirrored"], json!([]), "{again}");
}

/// W&B's own SDK is the reference for the wire format: a run it makes with `wandb.init`
/// and the same config, tags and summary reads back from the server exactly like the run
/// driftloop sent (W&B's own bookkeeping keys, `_wandb` and `_`-prefixed, aside).
#[test]
fn a_run_driftloop_sends_reads_back_like_one_wandbs_sdk_makes() {
    let server = wandb_server();
    let dir = imported();
    let d = dir.path();
    let project = format!("driftloop-sdk-{}", std::process::id());
    let vars = [
        ("WANDB_API_KEY", TEST_KEY),
        ("WANDB_BASE_URL", server.as_str()),
        ("WANDB_PROJECT", project.as_str()),
        ("WANDB_ENTITY", "local"),
    ];
    json_of(&driftloop_with(
        d,
        &["train", "--family", "logistic-regression", "--json"],
        &vars,
    ));
    let ours = runs_on_server(&server, "local", &project).remove(0);
    let config: Value = serde_json::from_str(ours["config"].as_str().unwrap()).unwrap();
    let values: serde_json::Map<String, Value> = config
        .as_object()
        .unwrap()
        .iter()
        .map(|(key, item)| (key.clone(), item["value"].clone()))
        .collect();
    let summary: Value = serde_json::from_str(ours["summaryMetrics"].as_str().unwrap()).unwrap();
    let sdk_id = format!("sdkreference{}", std::process::id());
    let input = json!({
        "config": values,
        "summary": summary,
        "tags": ours["tags"],
        "name": ours["displayName"],
        "project": project,
        // W&B run ids are unique on a server: one per test process.
        "id": sdk_id,
    });
    std::fs::write(d.join("run.json"), input.to_string()).unwrap();
    let script = "import json, wandb\n\
        given = json.load(open('run.json'))\n\
        run = wandb.init(project=given['project'], entity='local', id=given['id'], name=given['name'], \
            job_type='train', tags=given['tags'], config=given['config'])\n\
        run.summary.update(given['summary'])\n\
        run.finish()\n";
    let program = std::env::var("DRIFTLOOP_TEST_WANDB").unwrap_or_else(|_| "wandb".into());
    let python = Path::new(&program)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("python3"), |p| p.join("python"));
    let output = Command::new(&python)
        .args(["-c", script])
        .current_dir(d)
        .env("WANDB_DIR", d)
        .env("WANDB_CACHE_DIR", d.join("cache"))
        .env("WANDB_DATA_DIR", d.join("data"))
        .env("WANDB_CONFIG_DIR", d.join("config"))
        .env("WANDB_BASE_URL", &server)
        .env("WANDB_API_KEY", TEST_KEY)
        .env("WANDB_SILENT", "true")
        .env_remove("WANDB_MODE")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} ({e}): run the README's test command", python.display()));
    assert!(
        output.status.success(),
        "wandb.init: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let runs = runs_on_server(&server, "local", &project);
    let theirs = runs
        .iter()
        .find(|node| node["name"] == sdk_id)
        .unwrap_or_else(|| panic!("the SDK's run is on the server: {runs:?}"));
    // W&B's own entries: `_wandb` in the config, `_`-prefixed keys in the summary.
    let without_bookkeeping = |text: &Value| -> Value {
        let mut value: Value = serde_json::from_str(text.as_str().unwrap()).unwrap();
        value.as_object_mut().unwrap().retain(|key, _| !key.starts_with('_'));
        as_floats(&value)
    };
    let their_config = without_bookkeeping(&theirs["config"]);
    assert_eq!(their_config, without_bookkeeping(&ours["config"]), "config");
    assert!(their_config["grid"]["value"].as_array().unwrap().len() > 1);
    // The summary: the server keeps only the scalars of a streamed summary (the SDK
    // streams it), so the nested entries (per class, confusion, decision) are compared
    // with the summary file the SDK wrote beside its run, which is what it streamed.
    let our_summary = without_bookkeeping(&ours["summaryMetrics"]);
    let scalars: serde_json::Map<String, Value> = our_summary
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| !v.is_object() && !v.is_array())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(
        without_bookkeeping(&theirs["summaryMetrics"]),
        Value::Object(scalars),
        "summary"
    );
    let streamed = wandb_files(d)
        .first()
        .map(|f| f.parent().unwrap().join("files/wandb-summary.json"))
        .unwrap_or_else(|| panic!("the SDK's run folder under {}", d.display()));
    let streamed = std::fs::read_to_string(&streamed).unwrap();
    assert_eq!(
        without_bookkeeping(&Value::String(streamed)),
        our_summary,
        "the summary the SDK streamed"
    );
    assert!(our_summary["holdout_confusion"].is_array() && our_summary["decision"].is_object());
    assert!(
        our_summary["holdout_log_loss"].as_f64().unwrap() > 0.0 && our_summary["holdout_brier"].as_f64().is_some(),
        "the holdout probabilities' scores: {our_summary}"
    );
    for field in ["state", "tags", "displayName"] {
        assert_eq!(theirs[field], ours[field], "{field}");
    }
}

#[test]
fn offline_trainings_are_written_for_wandb_sync_in_the_store_or_wandb_dir() {
    let server = wandb_server();
    let dir = imported();
    let d = dir.path();
    let project = format!("driftloop-offline-{}", std::process::id());
    let vars = [
        ("WANDB_MODE", "offline"),
        ("WANDB_PROJECT", project.as_str()),
        ("WANDB_ENTITY", "local"),
    ];
    // Without WANDB_DIR the run goes into the store, under tracking/wandb/.
    let trained = json_of(&driftloop_with(
        d,
        &["train", "--family", "naive-bayes", "--json"],
        &vars,
    ));
    assert_eq!(trained["wandb"]["destination"], "the store's tracking/wandb/");
    let version = json_of(&driftloop(d, &["models", "show", "1", "--json"]));
    let run_id = &version["sha256"].as_str().unwrap()[..16];
    assert_eq!(trained["wandb"]["mirrored"], json!([[1, run_id]]), "{trained}");
    let files = wandb_files(&d.join(".driftloop/store/tracking"));
    assert_eq!(files.len(), 1, "{files:?}");
    let file = &files[0];
    assert!(file.ends_with(format!("run-{run_id}.wandb")), "{file:?}");
    assert!(
        file.parent()
            .unwrap()
            .parent()
            .unwrap()
            .ends_with(".driftloop/store/tracking/wandb"),
        "{file:?}"
    );

    // W&B's reader: one history step per candidate, the chosen one marked; the config and
    // summary of the version.
    let records = records_of(file);
    let history: Vec<&Value> = records
        .iter()
        .filter(|r| r["type"] == "history")
        .map(|r| &r["history"]["item"])
        .collect();
    let run = inspected(file);
    assert_eq!(run["state"], "finished", "{run}");
    let grid = run["config"]["grid"].as_array().unwrap();
    assert_eq!(history.len(), grid.len());
    for (i, (step, candidate)) in history.iter().zip(grid).enumerate() {
        assert_eq!(step["_step"], i);
        assert_eq!(step["candidate"], i);
        assert_eq!(step["family"], candidate["family"]);
        assert_eq!(step["params"], candidate["params"]);
        assert!(step["cv_mean_macro_f1"].as_f64().is_some(), "{step}");
        assert!(step["cv_macro_f1_fold_5"].as_f64().is_some(), "five folds: {step}");
    }
    let chosen: Vec<Value> = history
        .iter()
        .filter(|s| s["chosen"] == true)
        .map(|s| as_floats(&s["params"]))
        .collect();
    assert_eq!(chosen, [as_floats(&version["params"])]);
    assert_eq!(
        run["summary"]["holdout_accuracy"],
        version["holdout_metrics"]["accuracy"]
    );
    assert_eq!(
        run["summary"]["holdout_confusion"],
        version["holdout_metrics"]["confusion"]
    );
    // The model as a W&B artifact: a reference to the stored file, nothing uploaded.
    let artifacts: Vec<&Value> = records
        .iter()
        .filter(|r| r["type"] == "artifact")
        .map(|r| &r["artifact"])
        .collect();
    assert_eq!(artifacts.len(), 1, "{records:?}");
    let artifact = artifacts[0];
    assert_eq!(artifact["type"], "model");
    assert_eq!(artifact["name"], "mental_health");
    assert_eq!(artifact["aliases"], json!(["driftloop-v1", "champion"]));
    let entry = &artifact["manifest"]["contents"][0];
    assert_eq!(entry["ref"], version["artifact_uri"], "{artifact}");
    let metadata: Value = serde_json::from_str(artifact["metadata"].as_str().unwrap()).unwrap();
    assert_eq!(metadata["snapshot_sha256"], version["snapshot_sha256"]);
    assert_eq!(metadata["holdout_macro_f1"], version["holdout_metrics"]["macro_f1"]);

    // Copied down (here it is already local), `wandb sync` uploads it.
    wandb_sync(file.parent().unwrap(), &server);
    let runs = runs_on_server(&server, "local", &project);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_the_run_of(&runs[0], &version);

    // With WANDB_DIR, the run goes there, in W&B's folder layout.
    let elsewhere = imported();
    let e = elsewhere.path();
    let mut with_dir = vars.to_vec();
    with_dir.push(("WANDB_DIR", "runs"));
    let trained = json_of(&driftloop_with(
        e,
        &["train", "--family", "naive-bayes", "--json"],
        &with_dir,
    ));
    assert_eq!(trained["wandb"]["destination"], "runs");
    let files = wandb_files(&e.join("runs/wandb"));
    assert_eq!(files.len(), 1, "{files:?}");
    let written = inspected(&files[0]);
    for key in ["grid", "seed", "folds", "dataset_hash", "family"] {
        assert_eq!(
            written["config"][key], run["config"][key],
            "the same run, wherever it is written: {key}"
        );
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A server that accepts connections and never answers.
fn silent_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    port
}

/// A server that answers every request with 401, as W&B does for a wrong key.
fn refusing_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buffer = [0u8; 65536];
            let _ = stream.read(&mut buffer);
            let body = r#"{"errors":[{"message":"user is not logged in"}]}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn a_wandb_server_down_silent_or_refusing_the_key_never_fails_a_training() {
    let server = wandb_server();
    let dir = imported();
    let d = dir.path();
    let project = format!("driftloop-faults-{}", std::process::id());
    let down = format!("http://127.0.0.1:{}", closed_port());
    let silent = format!("http://127.0.0.1:{}", silent_server());
    let refusing = format!("http://127.0.0.1:{}", refusing_server());
    let cases = [
        (down.as_str(), "is not answering"),
        (silent.as_str(), "did not finish within 2 s"),
        (refusing.as_str(), "HTTP 401"),
    ];
    for (i, (url, expected)) in cases.iter().enumerate() {
        let version = i + 1;
        let seed = version.to_string();
        let output = driftloop_with(
            d,
            &["train", "--family", "logistic-regression", "--seed", &seed, "--json"],
            &[
                ("WANDB_API_KEY", TEST_KEY),
                ("WANDB_BASE_URL", url),
                ("WANDB_PROJECT", &project),
                ("WANDB_ENTITY", "local"),
                ("DRIFTLOOP_WANDB_TIMEOUT_SECONDS", "2"),
            ],
        );
        let trained = json_of(&output);
        assert_eq!(trained["version"], version, "the training went through: {trained}");
        // Every version not mirrored yet was tried again, and failed the same way.
        let failed = trained["wandb"]["failed"].as_array().unwrap();
        assert_eq!(failed.len(), version, "{trained}");
        for entry in failed {
            assert!(entry[1].as_str().unwrap().contains(expected), "{expected}: {trained}");
        }
        let shown = json_of(&driftloop(d, &["models", "show", &seed, "--json"]));
        assert_eq!(shown["wandb_run_id"], Value::Null);
        assert!(shown["wandb_error"].as_str().unwrap().contains(expected), "{shown}");
        assert!(!shown.to_string().contains(TEST_KEY), "the key is never shown");
    }

    // `models sync` mirrors the three once the server answers, and nothing the next time.
    let vars = [
        ("WANDB_API_KEY", TEST_KEY),
        ("WANDB_BASE_URL", server.as_str()),
        ("WANDB_PROJECT", project.as_str()),
        ("WANDB_ENTITY", "local"),
    ];
    let synced = json_of(&driftloop_with(d, &["models", "sync", "--json"], &vars));
    let mirrored: Vec<i64> = synced["wandb"]["mirrored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m[0].as_i64().unwrap())
        .collect();
    assert_eq!(mirrored, [1, 2, 3], "{synced}");
    assert!(
        synced.get("mirrored").is_none(),
        "no MLflow report without MLflow: {synced}"
    );
    for version in ["1", "2", "3"] {
        let shown = json_of(&driftloop(d, &["models", "show", version, "--json"]));
        assert_eq!(shown["wandb_error"], Value::Null, "{shown}");
        assert_eq!(shown["wandb_run_id"], shown["sha256"].as_str().unwrap()[..16]);
    }
    let again = json_of(&driftloop_with(d, &["models", "sync", "--json"], &vars));
    assert_eq!(again["wandb"]["mirrored"], json!([]), "{again}");
    assert_eq!(runs_on_server(&server, "local", &project).len(), 3);
}

#[test]
fn models_sync_without_a_tracker_says_what_to_set() {
    let dir = imported();
    let output = driftloop(dir.path(), &["models", "sync"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("MLFLOW_TRACKING_URI") && stderr.contains("WANDB_API_KEY"),
        "{stderr}"
    );
}
