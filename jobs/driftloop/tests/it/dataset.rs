//! The binary on a dataset of the user's own (`--dataset FILE` / `DRIFTLOOP_DATASET`):
//! migrate, import, train, score, drift; and a dataset file with problems, which is
//! refused with every problem named before anything is created.

use std::path::Path;

use serde_json::Value;

use super::{drifted, driftloop, http, json_of, start_server};

/// A shop's returns: unordered, ordered and integer columns, and headers that are not
/// the column names.
const SHOP: &str = r#"
name = "shop"
[label]
name = "returned"
header = "Returned?"
classes = ["kept", "returned"]

[[features]]
name = "category"
kind = "categorical"
levels = ["books", "garden", "toys"]

[[features]]
name = "rating"
kind = "ordinal"
levels = ["bad", "ok", "good"]

[[features]]
name = "days_to_deliver"
header = "Days to deliver"
kind = "integer"
min = 0
max = 30
"#;

/// `n` rows from `offset`, in the CSV form a shop would export: returned when the rating
/// is bad or the parcel took more than 20 days.
fn shop_csv(n: usize, offset: usize, days_shift: usize) -> String {
    let mut text = String::from("Category,Rating,Days to deliver,Returned?\n");
    for i in offset..offset + n {
        let category = ["books", "garden", "toys"][i % 3];
        let rating = ["bad", "ok", "good"][(i / 3) % 3];
        let days = ((i * 7) % 25 + days_shift).min(30);
        let returned = if rating == "bad" || days > 20 {
            "returned"
        } else {
            "kept"
        };
        text.push_str(&format!("{category},{rating} ,{days},{returned}\n"));
    }
    text
}

/// A folder holding the shop's dataset file and `rows` rows in `rows.csv`, its database
/// migrated for the shop.
fn shop_folder(rows: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shop.toml"), SHOP).unwrap();
    std::fs::write(dir.path().join("rows.csv"), shop_csv(rows, 0, 0)).unwrap();
    json_of(&shop(dir.path(), &["db", "migrate", "--json"]));
    dir
}

/// `driftloop --dataset shop.toml ARGS` in `dir`.
fn shop(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--dataset", "shop.toml"];
    all.extend(args);
    driftloop(dir, &all)
}

#[test]
fn the_loop_runs_on_a_dataset_of_the_users_own() {
    let dir = shop_folder(300);
    let d = dir.path();
    let shop = |args: &[&str]| shop(d, args);
    let imported = json_of(&shop(&["import", "rows.csv", "--json"]));
    assert_eq!(imported["rows"], 300);
    assert_eq!(imported["drift_jobs_queued"], 3);

    let trained = json_of(&shop(&["train", "--json"]));
    assert_eq!(trained["decision"]["outcome"], "first_champion");
    assert!(
        trained["snapshot"]["uri"]
            .as_str()
            .unwrap()
            .contains("snapshots/dataset=shop/"),
        "{trained}"
    );
    assert!(
        trained["artifact_uri"].as_str().unwrap().contains("/models/shop/"),
        "{trained}"
    );
    let holdout_f1 = trained["holdout"]["macro_f1"]
        .as_f64()
        .unwrap_or_else(|| panic!("{trained}"));
    assert!(holdout_f1 > 0.9, "the rule is learnable: {trained}");

    std::fs::write(d.join("score.csv"), shop_csv(20, 1000, 0)).unwrap();
    let scored = json_of(&shop(&[
        "predict",
        "--input",
        "score.csv",
        "--output",
        "scored.csv",
        "--json",
    ]));
    assert_eq!(scored["scored"]["rows"], 20);
    let text = std::fs::read_to_string(d.join("scored.csv")).unwrap();
    let header = text.lines().next().unwrap();
    assert!(
        header.ends_with("prediction,p_kept,p_returned"),
        "the classes come from the dataset file: {header}"
    );

    std::fs::write(
        d.join("bad.csv"),
        "category,rating,days_to_deliver,returned\ntoys,good,31,kept\n",
    )
    .unwrap();
    let refused = shop(&["import", "bad.csv"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("line 2, column \"days_to_deliver\"") && stderr.contains("an integer from 0 to 30"),
        "{stderr}"
    );
    let status = json_of(&shop(&["db", "status", "--json"]));
    assert_eq!(status["rows"], 300, "a refused import stores nothing");

    std::fs::write(d.join("same.csv"), shop_csv(300, 300, 0)).unwrap();
    std::fs::write(d.join("late.csv"), shop_csv(300, 300, 8)).unwrap();
    let same = json_of(&shop_drift(d, "rows.csv", "same.csv"));
    assert_eq!(same["drift"], false, "{same}");
    let late = json_of(&shop_drift(d, "rows.csv", "late.csv"));
    assert_eq!(drifted(&late), ["days_to_deliver"], "{late}");

    // The same database under the shipped dataset is refused, naming both.
    let other = driftloop(d, &["db", "migrate"]);
    assert!(!other.status.success());
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert!(
        stderr.contains("holds dataset shop (") && stderr.contains("not dataset mental_health ("),
        "{stderr}"
    );
}

/// The churn dataset of `data-fixtures/synthetic/`: a column of every kind, two nullable.
fn churn() -> String {
    super::repo_root()
        .join("data-fixtures/synthetic/dataset.toml")
        .display()
        .to_string()
}

/// `driftloop --dataset churn fixtures generate` into `dir/NAME.csv`.
fn churn_rows(d: &Path, name: &str, scenario: &str, rows: &str, seed: &str) -> Value {
    let out = format!("{name}.csv");
    json_of(&driftloop(
        d,
        &[
            "--dataset",
            &churn(),
            "fixtures",
            "generate",
            "--scenario",
            scenario,
            "--rows",
            rows,
            "--seed",
            seed,
            "--out",
            &out,
            "--json",
        ],
    ))
}

#[test]
fn fixtures_of_any_dataset_carry_its_kinds_and_the_planted_shifts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    churn_rows(d, "baseline", "baseline", "800", "1");
    churn_rows(d, "again", "baseline", "800", "1");
    churn_rows(d, "other", "baseline", "800", "2");
    churn_rows(d, "covariate", "covariate-shift", "800", "3");
    let answer = churn_rows(d, "label", "label-shift", "800", "4");
    assert_eq!(answer["rows"], 800);
    let baseline = std::fs::read_to_string(d.join("baseline.csv")).unwrap();
    assert_eq!(
        baseline,
        std::fs::read_to_string(d.join("again.csv")).unwrap(),
        "the same rows per seed"
    );
    let mut lines = baseline.lines();
    assert_eq!(
        lines.next().unwrap(),
        "plan,satisfaction,tenure_months,support_calls,monthly_spend,churned"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let missing = |col: usize| rows.iter().filter(|r| r[col].is_empty()).count();
    assert_eq!(
        missing(0) + missing(1) + missing(2),
        0,
        "only nullable columns miss values"
    );
    assert!(
        (10..80).contains(&missing(3)) && (10..80).contains(&missing(4)),
        "about 5 % missing"
    );
    assert!(rows
        .iter()
        .all(|r| r[2].parse::<i64>().is_ok_and(|v| (0..=120).contains(&v))));
    assert!(rows.iter().any(|r| r[4].contains('.')), "numbers are not whole");
    let yes = rows.iter().filter(|r| r[5] == "yes").count();
    assert_eq!(yes, 400, "baseline classes in equal shares");

    let drift = |current: &str| {
        json_of(&driftloop(
            d,
            &[
                "--dataset",
                &churn(),
                "drift",
                "--reference",
                "baseline.csv",
                "--current",
                current,
                "--json",
            ],
        ))
    };
    let same = drift("other.csv");
    assert_eq!(same["drift"], false, "{same}");
    assert!(drifted(&same).is_empty(), "{same}");
    let covariate = drift("covariate.csv");
    assert_eq!(
        drifted(&covariate),
        ["plan", "satisfaction"],
        "the first quarter of the columns"
    );
    assert_eq!(covariate["label"]["drifted"], false);
    let label = drift("label.csv");
    assert_eq!(label["label"]["drifted"], true, "{label}");

    // The rows import and train under the dataset's own database.
    json_of(&driftloop(d, &["--dataset", &churn(), "db", "migrate", "--json"]));
    let imported = json_of(&driftloop(
        d,
        &["--dataset", &churn(), "import", "baseline.csv", "--json"],
    ));
    assert_eq!(imported["rows"], 800);
    let trained = json_of(&driftloop(d, &["--dataset", &churn(), "train", "--json"]));
    assert!(
        trained["holdout"]["macro_f1"].as_f64().unwrap() > 0.7,
        "the classes differ in every column: {trained}"
    );
}

#[test]
fn the_demo_runs_on_any_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let answer = json_of(&driftloop(
        dir.path(),
        &["--dataset", &churn(), "demo", "--json", "--rows", "400"],
    ));
    assert_eq!(answer["rows_served"], 400);
    assert_eq!(answer["drift_jobs"], 5, "{answer}");
    assert!(answer["drifts_found"].as_u64().unwrap() >= 1, "{answer}");
    assert!(answer["models_trained"].as_u64().unwrap() >= 2, "{answer}");
    assert!(answer["champion_version"].as_i64().is_some(), "{answer}");
    let snapshots = answer["snapshots"].as_array().unwrap();
    assert!(
        snapshots
            .iter()
            .all(|uri| uri.as_str().unwrap().contains("dataset=churn/")),
        "{answer}"
    );
}

fn shop_drift(d: &Path, reference: &str, current: &str) -> std::process::Output {
    shop(d, &["drift", "--reference", reference, "--current", current, "--json"])
}

#[test]
fn a_dataset_file_with_problems_is_refused_and_nothing_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let broken = SHOP
        .replace("kind = \"ordinal\"", "kind = \"ranked\"")
        .replace("max = 30", "max = -3")
        .replace("classes = [\"kept\", \"returned\"]", "classes = [\"kept\", \"kept\"]")
        .replace("name = \"category\"", "name = \"Category\"");
    std::fs::write(d.join("broken.toml"), broken).unwrap();
    let output = driftloop(d, &["--dataset", "broken.toml", "db", "migrate"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in [
        "dataset file broken.toml has 4 problems:",
        "label.classes[1]: \"kept\" repeats label.classes[0]",
        "features[0].name: \"Category\" is not a name",
        "features[1].kind: unknown kind \"ranked\"",
        "features[2].min: min 0 is greater than max -3",
    ] {
        assert!(stderr.contains(line), "{line:?} missing from {stderr}");
    }
    assert!(!d.join(".driftloop").exists(), "nothing is created");

    let output = driftloop(d, &["--dataset", "missing.toml", "db", "status"]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read dataset file missing.toml"));
    let env = std::process::Command::new(env!("CARGO_BIN_EXE_driftloop"))
        .args(["db", "migrate"])
        .current_dir(d)
        .env("DRIFTLOOP_DATASET", "broken.toml")
        .env_remove("DRIFTLOOP_DATABASE_URL")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&env.stderr).contains("has 4 problems"));
    assert!(!d.join(".driftloop").exists());
}

#[test]
fn serve_speaks_the_users_dataset() {
    let dir = shop_folder(120);
    let d = dir.path();
    let shop = |args: &[&str]| shop(d, args);
    json_of(&shop(&["import", "rows.csv", "--json"]));
    json_of(&shop(&["train", "--json"]));
    let (mut server, port, health) = start_server(d, &["--dataset", "shop.toml"]);
    let outcome = std::panic::catch_unwind(|| {
        let (status, body) = health.expect("the server answers /healthz within 10 s");
        assert_eq!(status, 200, "{body}");
        let (_, doc) = http(port, "GET", "/openapi.json", None).unwrap();
        let doc: Value = serde_json::from_str(&doc).unwrap();
        let schemas = &doc["components"]["schemas"];
        let features: Vec<&String> = schemas["Features"]["properties"].as_object().unwrap().keys().collect();
        assert_eq!(features, ["category", "days_to_deliver", "rating"]);
        assert_eq!(schemas["Features"]["properties"]["days_to_deliver"]["maximum"], 30);
        assert_eq!(schemas["Label"]["enum"], serde_json::json!(["kept", "returned"]));
        let request =
            r#"{"features": {"category": "toys", "rating": "bad", "days_to_deliver": 3}, "request_id": "r-1"}"#;
        let (status, body) = http(port, "POST", "/v1/predict", Some(request)).unwrap();
        assert_eq!(status, 200, "{body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["prediction"], "returned", "{answer}");
        let (status, body) = http(
            port,
            "POST",
            "/v1/labels",
            Some(r#"{"request_id": "r-1", "returned": "kept"}"#),
        )
        .unwrap();
        assert_eq!(status, 200, "{body}");
        let labelled: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(labelled["returned"], "kept", "{labelled}");
        let (status, body) = http(
            port,
            "POST",
            "/v1/labels",
            Some(r#"{"request_id": "r-1", "diagnosis": "Normal"}"#),
        )
        .unwrap();
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("\"returned\""), "{body}");
        let (status, body) = http(
            port,
            "POST",
            "/v1/predict",
            Some(r#"{"features": {"category": "toys", "rating": "bad", "days_to_deliver": 31}}"#),
        )
        .unwrap();
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("31 is not an integer from 0 to 30"), "{body}");
    });
    server.kill().unwrap();
    server.wait().unwrap();
    outcome.unwrap();
}
