//! Tests of the `driftloop` binary as users run it, on the embedded SQLite default.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `driftloop` in `dir` with a clean driftloop environment.
fn driftloop(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_driftloop"))
        .args(args)
        .current_dir(dir)
        .env_remove("DRIFTLOOP_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run driftloop")
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
    assert_eq!(first["applied"].as_array().unwrap().len(), 4);
    assert!(
        dir.path().join(".driftloop/driftloop.db").exists(),
        "the default is an SQLite file under .driftloop/"
    );
    let second = json_of(&driftloop(dir.path(), &["db", "migrate", "--json"]));
    assert_eq!(second["applied"].as_array().unwrap().len(), 0);
    assert_eq!(second["already_applied"], 4);

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
    let drifted: Vec<&str> = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["drifted"] == true)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(drifted, ["sadness", "sleep_disorder", "optimism"]);
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
    assert_eq!(
        jobs.len(),
        11,
        "1 drift job from the baseline import, 10 from the shifted rows"
    );
    assert!(answer["failed"].as_array().unwrap().is_empty());
    // The reference snapshot holds the 120 baseline rows; every job compares the 1,000 after it.
    assert!(
        jobs.iter().all(|j| j["drift"] == true && j["n_current"] == 1000),
        "{jobs:?}"
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
    assert_eq!(train.len(), 11, "one train job per drifting drift job");
    let again = json_of(&driftloop(dir.path(), &["drift", "--json"]));
    assert!(again["jobs"].as_array().unwrap().is_empty(), "nothing left to run");
}
