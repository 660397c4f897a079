//! Tests of the `driftloop` binary as users run it, on the embedded SQLite default.

mod dataset;
mod demo;
mod penguins;
mod wandb;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `driftloop` in `dir` with a clean driftloop environment.
fn driftloop(dir: &Path, args: &[&str]) -> Output {
    driftloop_with(dir, args, &[])
}

/// The same, with these variables set.
fn driftloop_with(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_driftloop"));
    command.args(args).current_dir(dir);
    for name in [
        "DRIFTLOOP_DATABASE_URL",
        "DRIFTLOOP_STORE",
        "MLFLOW_TRACKING_URI",
        "DRIFTLOOP_WEBHOOK_URL",
        "DRIFTLOOP_SNS_TOPIC_ARN",
        "WANDB_API_KEY",
        "WANDB_BASE_URL",
        "WANDB_ENTITY",
        "WANDB_PROJECT",
        "WANDB_MODE",
        "WANDB_DIR",
    ] {
        command.env_remove(name);
    }
    command.env("RUST_LOG", "warn").envs(vars.iter().copied());
    command.output().expect("run driftloop")
}

/// `driftloop drift --reference R --current C` with `extra` arguments.
fn drift_files(dir: &Path, reference: &Path, current: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "drift",
        "--reference",
        reference.to_str().unwrap(),
        "--current",
        current.to_str().unwrap(),
    ];
    args.extend(extra);
    driftloop(dir, &args)
}

/// The names of the columns a drift report marks drifted.
fn drifted(report: &Value) -> Vec<&str> {
    report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["drifted"] == true)
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

#[test]
fn committed_fixtures_regenerate_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    for (scenario, rows, seed) in [
        ("baseline", "120", "42"),
        ("covariate-shift", "1000", "43"),
        ("label-shift", "1000", "44"),
    ] {
        let name = format!("{scenario}-{rows}.csv");
        let out = dir.path().join(&name);
        let answer = json_of(&driftloop(
            dir.path(),
            &[
                "fixtures",
                "generate",
                "--rows",
                rows,
                "--seed",
                seed,
                "--scenario",
                scenario,
                "--out",
                out.to_str().unwrap(),
                "--json",
            ],
        ));
        assert_eq!(answer["rows"], rows.parse::<u64>().unwrap());
        let committed = std::fs::read(repo_root().join("data-fixtures").join(&name)).unwrap();
        assert_eq!(
            std::fs::read(&out).unwrap(),
            committed,
            "{name} differs from a fresh generation"
        );
    }
}

#[test]
fn embedded_default_migrates_imports_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let first = json_of(&driftloop(dir.path(), &["db", "migrate", "--json"]));
    assert_eq!(first["applied"].as_array().unwrap().len(), 11);
    assert!(
        dir.path().join(".driftloop/driftloop.db").exists(),
        "the default is an SQLite file under .driftloop/"
    );
    let second = json_of(&driftloop(dir.path(), &["db", "migrate", "--json"]));
    assert_eq!(second["applied"].as_array().unwrap().len(), 0);
    assert_eq!(second["already_applied"], 11);

    let original = repo_root().join("../shared/data/mental-disorders-120.csv");
    let imported = json_of(&driftloop(
        dir.path(),
        &["import", original.to_str().unwrap(), "--json"],
    ));
    assert_eq!(imported["rows"], 120);
    assert_eq!(imported["drift_jobs_queued"], 1);
    let fixture = repo_root().join("data-fixtures/covariate-shift-1000.csv");
    let imported = json_of(&driftloop(dir.path(), &["import", fixture.to_str().unwrap(), "--json"]));
    assert_eq!(imported["drift_jobs_queued"], 10);

    let status = json_of(&driftloop(dir.path(), &["db", "status", "--json"]));
    assert_eq!(status["rows"], 1120);
    assert_eq!(status["drift_counter"]["n"], 20);
    assert_eq!(status["jobs"]["pending"], 11);
    let read = json_of(&driftloop(dir.path(), &["db", "read", "--after-id", "1000", "--json"]));
    assert_eq!(read["rows"], 120);
    assert_eq!(read["columns"], 23);
    // The rows' size as the frame holds them: at least a byte per cell of each column.
    assert!(read["frame_bytes"].as_u64().unwrap() >= 120 * 23, "{read}");
    let jobs = json_of(&driftloop(
        dir.path(),
        &["jobs", "list", "--status", "pending", "--json"],
    ));
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 11);
    assert_eq!(jobs["jobs"][0]["kind"], "drift");
}

#[test]
fn a_malformed_import_names_line_and_column_and_imports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    json_of(&driftloop(dir.path(), &["db", "migrate", "--json"]));
    let text = std::fs::read_to_string(repo_root().join("data-fixtures/baseline-120.csv")).unwrap();
    let broken: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, line)| {
            if i == 6 {
                line.replacen("YES", "PERHAPS", 1)
            } else {
                line.to_string()
            }
        })
        .collect();
    let path = dir.path().join("broken.csv");
    std::fs::write(&path, broken.join("\n")).unwrap();
    let output = driftloop(dir.path(), &["import", path.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 7, column") && stderr.contains("\"PERHAPS\" is not one of NO, YES"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing imported"), "{stderr}");
    let status = json_of(&driftloop(dir.path(), &["db", "status", "--json"]));
    assert_eq!(status["rows"], 0);
}

#[test]
fn a_bad_database_url_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = driftloop(dir.path(), &["--database-url", "postgres://x/y", "db", "migrate"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--database-url") && stderr.contains("mysql://USER:PASSWORD@HOST:PORT/DATABASE"),
        "{stderr}"
    );

    let output = driftloop(
        dir.path(),
        &["--database-url", "mysql://root:secret@127.0.0.1:1/nope", "db", "status"],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot reach the database at mysql://root:***@127.0.0.1:1/nope"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret"), "{stderr}");
}

#[test]
fn snapshot_writes_once_lists_and_shows() {
    let dir = tempfile::tempdir().unwrap();
    json_of(&driftloop(dir.path(), &["db", "migrate", "--json"]));
    let fixture = repo_root().join("data-fixtures/baseline-120.csv");
    json_of(&driftloop(dir.path(), &["import", fixture.to_str().unwrap(), "--json"]));
    let first = json_of(&driftloop(dir.path(), &["snapshot", "--json"]));
    for field in ["uri", "sha256", "rows", "min_id", "max_id"] {
        assert!(first.get(field).is_some(), "{field} missing from {first}");
    }
    assert_eq!(
        (
            first["rows"].as_u64(),
            first["min_id"].as_i64(),
            first["max_id"].as_i64()
        ),
        (Some(120), Some(1), Some(120))
    );
    assert_eq!(first["uploaded"], true);
    let uri = first["uri"].as_str().unwrap();
    assert!(
        uri.starts_with("file://") && uri.contains("/.driftloop/store/snapshots/dataset=mental_health/date="),
        "{uri}"
    );
    let again = json_of(&driftloop(dir.path(), &["snapshot", "--json"]));
    assert_eq!(again["uploaded"], false);
    assert_eq!(again["uri"], first["uri"]);

    let listed = json_of(&driftloop(dir.path(), &["snapshot", "list", "--json"]));
    assert_eq!(listed["snapshots"].as_array().unwrap().len(), 1);
    assert_eq!(listed["snapshots"][0]["sha256"], first["sha256"]);
    let shown = json_of(&driftloop(dir.path(), &["snapshot", "show", uri, "--json"]));
    assert_eq!(shown["verified"], true);
    assert_eq!(shown["manifest"]["rows"], 120);

    let output = driftloop(dir.path(), &["snapshot", "--label-source", "model"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("there are no rows to snapshot"), "{stderr}");
}

#[test]
fn drift_file_mode_compares_csv_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = repo_root().join("data-fixtures");
    let reference = fixtures.join("baseline-120.csv");
    let shifted = fixtures.join("covariate-shift-1000.csv");
    let report = json_of(&drift_files(dir.path(), &reference, &shifted, &["--json"]));
    assert_eq!(report["drift"], true);
    assert_eq!(drifted(&report), ["sadness", "sleep_disorder", "optimism"]);
    let first = &report["columns"][0];
    for field in [
        "name",
        "n_reference",
        "n_current",
        "categories",
        "psi",
        "chi2",
        "dof",
        "p_value",
        "drifted",
    ] {
        assert!(first.get(field).is_some(), "{field} missing from {first}");
    }
    assert_eq!(
        first["categories"][0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["current_count", "reference_count", "value"]
    );
    assert_eq!(report["label"]["name"], "diagnosis");

    // A snapshot (Parquet) as the reference gives the same numbers as its CSV.
    json_of(&driftloop(dir.path(), &["db", "migrate", "--json"]));
    json_of(&driftloop(
        dir.path(),
        &["import", reference.to_str().unwrap(), "--json"],
    ));
    let snapshot = json_of(&driftloop(dir.path(), &["snapshot", "--json"]));
    let parquet = snapshot["uri"]
        .as_str()
        .unwrap()
        .trim_start_matches("file://")
        .to_string();
    let from_parquet = json_of(&drift_files(dir.path(), Path::new(&parquet), &shifted, &["--json"]));
    assert_eq!(from_parquet["columns"], report["columns"]);

    let same = json_of(&drift_files(
        dir.path(),
        &reference,
        &fixtures.join("baseline-1000.csv"),
        &["--json"],
    ));
    assert_eq!(same["drift"], false);
    let page = dir.path().join("report.html");
    json_of(&drift_files(
        dir.path(),
        &reference,
        &shifted,
        &["--html", page.to_str().unwrap(), "--json"],
    ));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("Drift detected: 3 of 17 columns drifted") && html.matches("<svg").count() == 18);

    let output = drift_files(dir.path(), &reference, Path::new("/nonexistent.csv"), &[]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent.csv"));
}

#[test]
fn drift_job_mode_drains_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = repo_root().join("data-fixtures");
    json_of(&driftloop(dir.path(), &["db", "migrate", "--json"]));
    json_of(&driftloop(
        dir.path(),
        &["import", fixtures.join("baseline-120.csv").to_str().unwrap(), "--json"],
    ));
    json_of(&driftloop(dir.path(), &["snapshot", "--json"]));
    json_of(&driftloop(
        dir.path(),
        &[
            "import",
            fixtures.join("label-shift-1000.csv").to_str().unwrap(),
            "--json",
        ],
    ));
    let answer = json_of(&driftloop(dir.path(), &["drift", "--json"]));
    let jobs = answer["jobs"].as_array().unwrap();
    // 1 drift job from the baseline import, 10 from the shifted rows: pending at once,
    // they are answered by one check, named after the newest.
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let job_ids = jobs[0]["job_ids"].as_array().unwrap();
    assert_eq!(job_ids.len(), 11, "{jobs:?}");
    assert_eq!(jobs[0]["job_id"], *job_ids.last().unwrap());
    assert!(answer["failed"].as_array().unwrap().is_empty());
    // The reference snapshot holds the 120 baseline rows; the check compares the 1,000 after it.
    assert!(
        jobs.iter()
            .all(|j| j["drift"] == true && j["n_current"] == 1000 && j["window"] == "since-snapshot"),
        "{jobs:?}"
    );
    let status = json_of(&driftloop(dir.path(), &["jobs", "list", "--status", "done", "--json"]));
    assert_eq!(
        status["jobs"].as_array().unwrap().len(),
        11,
        "every job answered: {status}"
    );
    let pending = json_of(&driftloop(
        dir.path(),
        &["jobs", "list", "--status", "pending", "--json"],
    ));
    let train: Vec<&serde_json::Value> = pending["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["kind"] == "train")
        .collect();
    assert_eq!(train.len(), 1, "one train job per drifting check");
    let again = json_of(&driftloop(dir.path(), &["drift", "--json"]));
    assert!(again["jobs"].as_array().unwrap().is_empty(), "nothing left to run");
}

fn original_dataset() -> PathBuf {
    let path = repo_root().join("../shared/data/mental-disorders-120.csv");
    assert!(path.exists(), "the original dataset is expected at {}", path.display());
    path
}

/// A working folder whose embedded database is migrated and holds the original 120 rows.
fn migrated_with_the_original_dataset() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    json_of(&driftloop(dir.path(), &["db", "migrate", "--json"]));
    json_of(&driftloop(
        dir.path(),
        &["import", original_dataset().to_str().unwrap(), "--json"],
    ));
    dir
}

#[test]
fn train_registers_a_champion_retrains_identically_and_models_promote_and_roll_back() {
    let dir = migrated_with_the_original_dataset();
    let d = dir.path();
    let first = json_of(&driftloop(d, &["train", "--json"]));
    assert_eq!(first["version"], 1);
    assert_eq!(first["decision"]["outcome"], "first_champion");
    let snapshot = first["snapshot"]["uri"].as_str().unwrap();
    assert!(snapshot.contains("snapshots/dataset=mental_health/"), "{snapshot}");
    let artifact = first["artifact_uri"].as_str().unwrap();
    assert!(
        artifact.contains("/models/mental_health/") && artifact.ends_with(".dlmodel"),
        "{artifact}"
    );

    let champion = json_of(&driftloop(d, &["models", "show", "champion", "--json"]));
    assert_eq!(champion["version"], 1);
    assert_eq!(champion["status"], "champion");
    assert!(champion["holdout_metrics"]["macro_f1"].as_f64().unwrap() > 0.6);
    assert_eq!(champion["holdout_metrics"]["per_class"].as_array().unwrap().len(), 4);
    assert!(champion["cv_metrics"]["fold_macro_f1"].as_array().unwrap().len() == 5);

    let again = json_of(&driftloop(d, &["train", "--from-snapshot", snapshot, "--json"]));
    assert_eq!(again["sha256"], first["sha256"]);
    assert_eq!(again["registered"], false);

    // Another seed: another artifact, promoted or rejected on the same holdout.
    let second = json_of(&driftloop(d, &["train", "--seed", "7", "--json"]));
    assert_eq!(second["version"], 2);
    let outcome = second["decision"]["outcome"].as_str().unwrap();
    assert!(outcome == "promoted" || outcome == "rejected", "{outcome}");
    json_of(&driftloop(d, &["models", "promote", "2", "--json"]));
    assert_eq!(
        json_of(&driftloop(d, &["models", "show", "champion", "--json"]))["version"],
        2
    );
    let rolled = json_of(&driftloop(d, &["models", "rollback", "--json"]));
    assert_eq!(rolled["change"]["version"], 1);
    let list = json_of(&driftloop(d, &["models", "list", "--json"]));
    assert_eq!(list["champion"], 1);
    let statuses: Vec<&str> = list["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["champion", "rolled_back"]);

    let missing = driftloop(d, &["models", "show", "99"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("has no version 99"));
    let no_more = driftloop(d, &["models", "rollback"]);
    assert!(String::from_utf8_lossy(&no_more.stderr).contains("nothing to roll back to"));
}

#[test]
fn the_worker_closes_the_loop_from_drift_to_a_decided_model() {
    let dir = migrated_with_the_original_dataset();
    let d = dir.path();
    json_of(&driftloop(d, &["train", "--json"]));
    let shifted = repo_root().join("data-fixtures/covariate-shift-1000.csv");
    let imported = json_of(&driftloop(d, &["import", shifted.to_str().unwrap(), "--json"]));
    // 120 + 1,000 rows: the counter passed 100 eleven times, once in the first import.
    assert_eq!(imported["drift_jobs_queued"], 10);
    let ran = json_of(&driftloop(d, &["worker", "--once", "--json"]));
    let drift_jobs = ran["drift"]["jobs"].as_array().unwrap();
    // The 11 pending drift jobs are answered by one check.
    assert_eq!(drift_jobs.len(), 1);
    assert_eq!(drift_jobs[0]["job_ids"].as_array().unwrap().len(), 11);
    assert!(drift_jobs.iter().any(|j| j["drift"] == true));
    // Every check that found drift queued a train job; one training serves them all.
    let trainings = ran["train"]["trainings"].as_array().unwrap();
    assert_eq!(trainings.len(), 1, "{trainings:?}");
    assert_eq!(trainings[0]["snapshot"]["rows"], 1120);
    assert_eq!(trainings[0]["version"], 2);
    let jobs = json_of(&driftloop(d, &["jobs", "list", "--json"]));
    assert!(
        jobs["jobs"].as_array().unwrap().iter().all(|j| j["status"] == "done"),
        "{jobs}"
    );
}

#[test]
fn a_dry_run_trains_on_a_file_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = repo_root().join("data-fixtures/baseline-1000.csv");
    let answer = json_of(&driftloop(
        d,
        &[
            "train",
            "--input",
            file.to_str().unwrap(),
            "--dry-run",
            "--family",
            "decision-tree",
            "--json",
        ],
    ));
    assert_eq!(answer["rows"], 1000);
    assert_eq!(answer["chosen"]["family"], "decision_tree");
    assert_eq!(answer["cv"].as_array().unwrap().len(), 3);
    assert!(answer["holdout"]["accuracy"].as_f64().unwrap() > 0.5);
    assert!(!d.join(".driftloop").exists(), "a dry run writes nothing");
}

#[test]
fn predict_scores_a_csv_with_the_champion_and_carries_other_columns_through() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let original = original_dataset();
    json_of(&driftloop(d, &["db", "migrate", "--json"]));
    let out = d.join("scored.csv");
    let no_champion = driftloop(
        d,
        &[
            "predict",
            "--input",
            original.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert!(!no_champion.status.success());
    assert!(String::from_utf8_lossy(&no_champion.stderr).contains("no champion yet"));
    json_of(&driftloop(d, &["import", original.to_str().unwrap(), "--json"]));
    json_of(&driftloop(d, &["train", "--json"]));

    let answer = json_of(&driftloop(
        d,
        &[
            "predict",
            "--input",
            original.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(answer["scored"]["rows"], 120);
    assert_eq!(answer["scored"]["model_version"], "1");
    assert_eq!(answer["stored"], Value::Null);
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("\u{feff}Patient Number,Sadness,") || header.starts_with("Patient Number,Sadness,"),
        "{header}"
    );
    assert!(
        header.ends_with("Expert Diagnose,prediction,p_normal,p_bipolar_type_1,p_bipolar_type_2,p_depression"),
        "{header}"
    );
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(first[0], "Patient-01");
    assert_eq!(first[6], "YES ", "cells are carried through untouched");
    assert_eq!(first[18], "Bipolar Type-2");
    let p: Vec<f64> = first[20..24].iter().map(|v| v.parse().unwrap()).collect();
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{p:?}");
    assert_eq!(text.lines().count(), 121);
    let rows_before = json_of(&driftloop(d, &["db", "status", "--json"]))["rows"].clone();
    assert_eq!(rows_before, 120, "nothing stored unless asked");

    // A bad cell: named by line and column, no output, nothing stored.
    let bad = d.join("bad.csv");
    let broken = std::fs::read_to_string(&original)
        .unwrap()
        .replacen("Usually,Seldom", "Usually,Never", 1);
    std::fs::write(&bad, broken).unwrap();
    let bad_out = d.join("bad-scored.csv");
    let refused = driftloop(
        d,
        &[
            "predict",
            "--input",
            bad.to_str().unwrap(),
            "--output",
            bad_out.to_str().unwrap(),
            "--insert",
        ],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("line 2, column \"Euphoric\"")
            && stderr.contains("\"Never\"")
            && stderr.contains("nothing scored or written"),
        "{stderr}"
    );
    assert!(!bad_out.exists());
    assert_eq!(json_of(&driftloop(d, &["db", "status", "--json"]))["rows"], 120);

    // Asked to store: model-labelled rows with the model version, counted by the trigger.
    let stored = json_of(&driftloop(
        d,
        &[
            "predict",
            "--input",
            original.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--insert",
            "--json",
        ],
    ));
    assert_eq!(stored["stored"]["n_rows"], 120);
    assert_eq!(stored["stored"]["drift_jobs_queued"], 1);
    assert_eq!(json_of(&driftloop(d, &["db", "status", "--json"]))["rows"], 240);
}

/// One HTTP request with reqwest: (status, body).
fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> Result<(u16, String), reqwest::Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let mut request = reqwest::Client::new()
            .request(method, format!("http://127.0.0.1:{port}{path}"))
            .timeout(std::time::Duration::from_secs(30));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    })
}

/// Starts `driftloop [extra] serve` in `dir` on a free port: the server, the port and its
/// first `/healthz` answer (`None` when it did not answer within 10 s).
fn start_server(dir: &Path, extra: &[&str]) -> (std::process::Child, u16, Option<(u16, String)>) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut args = extra.to_vec();
    args.extend(["serve", "--addr", &addr]);
    let server = Command::new(env!("CARGO_BIN_EXE_driftloop"))
        .args(args)
        .current_dir(dir)
        .env_remove("DRIFTLOOP_DATABASE_URL")
        .env_remove("DRIFTLOOP_STORE")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut health = None;
    for _ in 0..100 {
        if let Ok(answer) = http(port, "GET", "/healthz", None) {
            health = Some(answer);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    (server, port, health)
}

#[test]
fn serve_answers_health_and_predictions_over_http() {
    let dir = migrated_with_the_original_dataset();
    let d = dir.path();
    json_of(&driftloop(d, &["train", "--json"]));
    let (mut server, port, health) = start_server(d, &[]);
    let outcome = std::panic::catch_unwind(|| {
        let (status, body) = health.expect("the server answers /healthz within 10 s");
        assert_eq!(status, 200, "{body}");
        let request = r#"{"features": {"sadness": "Usually", "euphoric": "Seldom", "exhausted": "Sometimes",
            "sleep_disorder": "Sometimes", "mood_swing": "YES", "suicidal_thoughts": "YES", "anorexia": "NO",
            "authority_respect": "NO", "try_explanation": "YES", "aggressive_response": "NO",
            "ignore_and_move_on": "NO", "nervous_breakdown": "YES", "admit_mistakes": "YES",
            "overthinking": "YES", "sexual_activity": 3, "concentration": 3, "optimism": 4}}"#;
        let (status, body) = http(port, "POST", "/v1/predict", Some(request)).unwrap();
        assert_eq!(status, 200, "{body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["model_version"], "1");
        assert_eq!(answer["row_id"], 121);
        let (status, body) = http(port, "POST", "/v1/predict", Some(r#"{"features": {}}"#)).unwrap();
        assert_eq!(status, 400, "{body}");
    });
    server.kill().unwrap();
    server.wait().unwrap();
    outcome.unwrap();
    assert_eq!(json_of(&driftloop(d, &["db", "status", "--json"]))["rows"], 121);
}

/// Label-based monitoring from the command line and over HTTP: scored rows labelled by
/// experts (`POST /v1/labels`), `driftloop performance --now` checking the champion
/// against them, `GET /v1/models/champion/performance` answering the latest check, and a
/// shifted labelling rule found as decay, which queues a training.
#[test]
fn performance_checks_the_champion_against_expert_labels() {
    let dir = migrated_with_the_original_dataset();
    let d = dir.path();
    json_of(&driftloop(d, &["train", "--json"]));
    // No label yet: a check says so.
    let early = json_of(&driftloop(d, &["performance", "--now", "--json"]));
    assert_eq!(early["jobs"][0]["verdict"], "insufficient", "{early}");
    let text = std::fs::read_to_string(repo_root().join("data-fixtures/baseline-1000.csv")).unwrap();
    let lines: Vec<&str> = text.lines().take(41).collect();
    std::fs::write(d.join("incoming.csv"), lines.join("\n")).unwrap();
    json_of(&driftloop(
        d,
        &[
            "predict",
            "--input",
            "incoming.csv",
            "--output",
            "scored.csv",
            "--insert",
            "--json",
        ],
    ));
    let header: Vec<&str> = lines[0].split(',').collect();
    let label_at = header.iter().position(|h| *h == "diagnosis").unwrap();
    let classes = ["Normal", "Bipolar Type-1", "Bipolar Type-2", "Depression"];
    let truth: Vec<&str> = lines[1..].iter().map(|l| l.split(',').nth(label_at).unwrap()).collect();
    let (mut server, port, health) = start_server(d, &[]);
    let outcome = std::panic::catch_unwind(|| {
        health.expect("the server answers /healthz within 10 s");
        let label_all = |shift: usize| {
            for (i, label) in truth.iter().enumerate() {
                let class = classes[(classes.iter().position(|c| c == label).unwrap() + shift) % 4];
                let body = json!({"row_id": 121 + i, "diagnosis": class}).to_string();
                let (status, answer) = http(port, "POST", "/v1/labels", Some(&body)).unwrap();
                assert_eq!(status, 200, "{answer}");
            }
        };
        label_all(0);
        let checked = json_of(&driftloop(d, &["performance", "--now", "--json"]));
        let job = &checked["jobs"][0];
        assert_eq!(
            (&job["verdict"], &job["window_rows"]),
            (&json!("healthy"), &json!(40)),
            "{checked}"
        );
        let (status, body) = http(port, "GET", "/v1/models/champion/performance", None).unwrap();
        assert_eq!(status, 200, "{body}");
        let latest: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (&latest["verdict"], &latest["job_id"]),
            (&json!("healthy"), &job["job_id"])
        );

        // The same symptoms, another diagnosis: the labels say the champion is wrong.
        label_all(1);
        // The counter queued a job at the 50th label; with --now's that is a burst of two
        // pending jobs, answered by one check.
        let checked = json_of(&driftloop(d, &["performance", "--now", "--json"]));
        assert_eq!(checked["jobs"].as_array().unwrap().len(), 1, "{checked}");
        let job = &checked["jobs"][0];
        assert_eq!(job["job_ids"].as_array().unwrap().len(), 2, "{checked}");
        assert_eq!(job["verdict"], "degraded", "{checked}");
        assert!(job["accuracy"].as_f64().unwrap() < 0.3, "{checked}");
        assert!(job["train_job"]["created"].as_bool().unwrap(), "{checked}");
        let (_, body) = http(port, "GET", "/v1/models/champion/performance", None).unwrap();
        assert!(body.contains("degraded"), "{body}");
    });
    server.kill().unwrap();
    server.wait().unwrap();
    outcome.unwrap();
    // Offline, on two files: predictions as `predict` writes them, the labels row for row
    // (the incoming file carries the generator's diagnosis).
    let offline = json_of(&driftloop(
        d,
        &[
            "performance",
            "--predictions",
            "scored.csv",
            "--labels",
            "incoming.csv",
            "--json",
        ],
    ));
    assert_eq!(
        (&offline["verdict"], &offline["window"]["rows"]),
        (&json!("healthy"), &json!(40)),
        "{offline}"
    );
    assert!(
        offline["window"]["report"]["calibration"]["brier"].as_f64().is_some(),
        "{offline}"
    );
    let shifted: Vec<String> = std::iter::once(lines[0].to_string())
        .chain(lines[1..].iter().map(|l| {
            let mut cells: Vec<&str> = l.split(',').collect();
            let at = classes.iter().position(|c| *c == cells[label_at]).unwrap();
            cells[label_at] = classes[(at + 1) % 4];
            cells.join(",")
        }))
        .collect();
    std::fs::write(d.join("shifted.csv"), shifted.join("\n")).unwrap();
    let offline = json_of(&driftloop(
        d,
        &[
            "performance",
            "--predictions",
            "scored.csv",
            "--labels",
            "shifted.csv",
            "--holdout-accuracy",
            "0.85",
            "--holdout-rows",
            "120",
            "--json",
        ],
    ));
    assert_eq!(offline["verdict"], "degraded", "{offline}");
    assert_eq!(offline["holdout"], json!({"accuracy": 0.85, "rows": 120}));
    // Files that do not go together are refused, saying why.
    std::fs::write(d.join("short.csv"), lines[..11].join("\n")).unwrap();
    let refused = driftloop(
        d,
        &["performance", "--predictions", "scored.csv", "--labels", "short.csv"],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("row for row"));
    std::fs::write(
        d.join("bad.csv"),
        format!("{}\n{}", lines[0], lines[1].replace(truth[0], "Unwell")),
    )
    .unwrap();
    let refused = driftloop(
        d,
        &["performance", "--predictions", "scored.csv", "--labels", "bad.csv"],
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("line 2"), "{stderr}");

    let status = json_of(&driftloop(d, &["db", "status", "--json"]));
    // 80 expert labels on scored rows: one job queued by the counter at the 50th.
    assert_eq!(
        status["label_counter"],
        json!({"n": 30, "labels_every": 50}),
        "{status}"
    );
    let jobs = json_of(&driftloop(d, &["jobs", "list", "--json"]));
    let kinds: Vec<&str> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"train") && kinds.contains(&"performance"), "{kinds:?}");
}

/// A long import draws a progress bar (rows, rate, time left) when stderr is a terminal
/// (here `script`'s pseudo-terminal), and prints nothing extra when stderr is a pipe.
#[test]
fn import_shows_progress_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let csv = d.join("rows.csv");
    json_of(&driftloop(
        d,
        &[
            "fixtures",
            "generate",
            "--rows",
            "60000",
            "--scenario",
            "baseline",
            "--out",
            csv.to_str().unwrap(),
            "--json",
        ],
    ));
    json_of(&driftloop(d, &["db", "migrate", "--json"]));
    let piped = driftloop(d, &["import", csv.to_str().unwrap()]);
    assert!(piped.status.success(), "{}", String::from_utf8_lossy(&piped.stderr));
    assert!(
        piped.stderr.is_empty(),
        "nothing on a piped stderr: {}",
        String::from_utf8_lossy(&piped.stderr)
    );
    assert!(String::from_utf8_lossy(&piped.stdout).contains("imported 60000 rows"));

    // The same import again, in a terminal: the database is new, so the rows are too.
    let url = format!("sqlite://{}", d.join("tty.db").display());
    json_of(&driftloop(d, &["--database-url", &url, "db", "migrate", "--json"]));
    let line = format!(
        "{} --database-url {url} import {}",
        env!("CARGO_BIN_EXE_driftloop"),
        csv.display()
    );
    let tty = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(d)
        .env("TERM", "xterm")
        .env_remove("DRIFTLOOP_DATABASE_URL")
        .output()
        .expect("script (util-linux) runs the import in a pseudo-terminal");
    let screen = String::from_utf8_lossy(&tty.stdout);
    assert!(tty.status.success(), "{screen}");
    assert!(screen.contains("imported 60000 rows"), "{screen}");
    assert!(
        screen.contains("storing") && screen.contains("rows (") && screen.contains("left)"),
        "a bar with rows, rate and time left: {screen}"
    );
}
