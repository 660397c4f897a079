//! Offline W&B runs as W&B's own reader sees them: `wandb leet inspect` (wandb 0.31.0,
//! installed by the README's test command) reads every record of a run driftloop wrote,
//! with nothing on stderr, and reports a run with a flipped byte as corrupt.

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
            aliases: vec!["v2".into(), "champion".into()],
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
    assert_eq!(artifact["aliases"], json!(["v2", "champion"]));
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
    let script = "import sys, wandb\n\
        a = wandb.Artifact('mental_health', type='model')\n\
        a.add_file(sys.argv[1], name='9f2c.dlmodel')\n\
        print(a.manifest.entries['9f2c.dlmodel'].digest)\n\
        print(a.manifest.digest())\n";
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
    let ours = WandbArtifact {
        name: "mental_health".into(),
        kind: "model".into(),
        description: String::new(),
        metadata: Map::new(),
        aliases: vec![],
        path: "9f2c.dlmodel".into(),
        reference: "file:///models/9f2c.dlmodel".into(),
        md5_base64: WandbArtifact::md5_base64_of(bytes),
        size: bytes.len() as u64,
        sha256: String::new(),
    };
    assert_eq!(theirs, [ours.md5_base64.as_str(), ours.digest().as_str()]);
}
