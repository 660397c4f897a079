//! A second, real dataset through the whole loop: the Palmer penguins
//! (`../shared/data/penguins-344.csv`, declared in `data-fixtures/penguins/dataset.toml`),
//! with continuous columns and `NA` for missing values, on SQLite and on MariaDB/MySQL:
//! import, train, offline predict, serve, predict with `null`, label, and drift, whose
//! numbers equal SciPy's (`data-fixtures/penguins/expected.json`, written by
//! `scipy_reference.py`) to 1e-9.

use std::path::{Path, PathBuf};

use driftloop_db::testing::{Backend, TestDb};
use driftloop_db::DatabaseUrl;
use serde_json::Value;

use super::{drifted, driftloop, http, json_of, repo_root, start_server};

fn dataset() -> String {
    repo_root()
        .join("data-fixtures/penguins/dataset.toml")
        .display()
        .to_string()
}

fn published() -> PathBuf {
    repo_root().join("../shared/data/penguins-344.csv")
}

fn expected() -> Value {
    let path = repo_root().join("data-fixtures/penguins/expected.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The URL a `driftloop` process opens the test database with.
fn url_of(db: &TestDb) -> String {
    match &db.url {
        DatabaseUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
        DatabaseUrl::Mysql { url } => url.expose().to_string(),
    }
}

/// The current files of the pairs expected.json describes, written into `dir`: every body
/// mass `shift_grams` heavier, and the resampled penguins at their stored positions.
fn write_pairs(dir: &Path) {
    let text = std::fs::read_to_string(published()).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let want = expected();
    let mass = header.split(',').position(|h| h == "body_mass_g").unwrap();
    let shift = want["heavier"]["shift_grams"].as_i64().unwrap();
    let mut heavier = format!("{header}\n");
    for row in &rows {
        let mut cells: Vec<String> = row.split(',').map(String::from).collect();
        if cells[mass] != "NA" {
            cells[mass] = (cells[mass].parse::<i64>().unwrap() + shift).to_string();
        }
        heavier.push_str(&cells.join(","));
        heavier.push('\n');
    }
    std::fs::write(dir.join("heavier.csv"), heavier).unwrap();
    let mut resample = format!("{header}\n");
    for position in want["resample"]["positions"].as_array().unwrap() {
        resample.push_str(rows[position.as_u64().unwrap() as usize]);
        resample.push('\n');
    }
    std::fs::write(dir.join("resample.csv"), resample).unwrap();
}

fn close(ours: &Value, theirs: &Value) -> bool {
    let (ours, theirs) = (ours.as_f64().unwrap(), theirs.as_f64().unwrap());
    (ours - theirs).abs() <= 1e-9 * theirs.abs().max(1.0)
}

/// Every number of a drift report against SciPy's for the same pair.
fn assert_equals_scipy(pair: &str, report: &Value, want: &Value) -> usize {
    let ours: Vec<&Value> = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .chain(std::iter::once(&report["label"]))
        .collect();
    let theirs = want["columns"].as_array().unwrap();
    assert_eq!(ours.len(), theirs.len(), "{pair}");
    for (o, t) in ours.iter().zip(theirs) {
        let what = format!("{pair} {}", t["name"]);
        assert_eq!(o["name"], t["name"], "{what}");
        let categories = o["categories"].as_array().unwrap();
        let values: Vec<&Value> = categories.iter().map(|c| &c["value"]).collect();
        assert_eq!(
            Value::from(values.into_iter().cloned().collect::<Vec<_>>()),
            t["values"],
            "{what}"
        );
        let counts = |key: &str| Value::from(categories.iter().map(|c| c[key].clone()).collect::<Vec<_>>());
        assert_eq!(counts("reference_count"), t["reference_counts"], "{what}");
        assert_eq!(counts("current_count"), t["current_counts"], "{what}");
        assert_eq!(o["dof"], t["dof"], "{what}");
        for key in ["psi", "chi2", "p_value"] {
            assert!(
                close(&o[key], &t[key]),
                "{what} {key}: driftloop {}, scipy {}",
                o[key],
                t[key]
            );
        }
        match t.get("ks") {
            Some(ks) => {
                assert_eq!(o["ks"]["method"], ks["method"], "{what}");
                for key in ["statistic", "p_value"] {
                    assert!(
                        close(&o["ks"][key], &ks[key]),
                        "{what} ks {key}: driftloop {}, scipy {}",
                        o["ks"][key],
                        ks[key]
                    );
                }
                let edges = o["edges"].as_array().unwrap();
                let want_edges = t["edges"].as_array().unwrap();
                assert_eq!(edges.len(), want_edges.len(), "{what}");
                for (a, b) in edges.iter().zip(want_edges) {
                    assert!(close(a, b), "{what} edge: driftloop {a}, numpy {b}");
                }
            }
            None => assert!(o.get("ks").is_none(), "{what}: counted columns carry no KS test"),
        }
    }
    ours.len()
}

#[test]
fn penguin_drift_equals_scipy_and_finds_the_planted_shift_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_pairs(d);
    let want = expected();
    let reference = published().display().to_string();
    let report = |current: &str| {
        json_of(&driftloop(
            d,
            &[
                "--dataset",
                &dataset(),
                "drift",
                "--reference",
                &reference,
                "--current",
                current,
                "--json",
            ],
        ))
    };
    let heavier = report("heavier.csv");
    assert_eq!(drifted(&heavier), ["body_mass_g"], "{heavier}");
    let resample = report("resample.csv");
    assert_eq!(drifted(&resample), Vec::<&str>::new(), "{resample}");
    assert_eq!(resample["drift"], false);
    let checked = assert_equals_scipy("heavier", &heavier, &want["heavier"])
        + assert_equals_scipy("resample", &resample, &want["resample"]);
    assert_eq!(checked, 16);
    let mass = &heavier["columns"][4];
    // The text report and the HTML page show the KS test beside the binned statistics.
    let text = driftloop(
        d,
        &[
            "--dataset",
            &dataset(),
            "drift",
            "--reference",
            &reference,
            "--current",
            "heavier.csv",
            "--html",
            "h.html",
        ],
    );
    let text = String::from_utf8_lossy(&text.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("body_mass_g"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("0.2427") && line.ends_with("drifted"), "{line}");
    let html = std::fs::read_to_string(d.join("h.html")).unwrap();
    assert!(
        html.contains("KS D = 0.2427, p = 3.007e-9 (exact)"),
        "the KS test is on the page"
    );
    let missing = mass["categories"].as_array().unwrap().last().unwrap();
    assert_eq!(missing["value"], "missing");
    assert_eq!(missing["reference_count"], 2, "two penguins have no mass");
    assert_eq!(
        mass["n_reference"], 344,
        "every penguin is counted, the missing ones too"
    );
}

fn penguins_run_the_whole_loop(backend: Backend) {
    let db = TestDb::unmigrated(backend, "penguins_loop");
    let url = url_of(&db);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let dataset = dataset();
    let base = ["--dataset", dataset.as_str(), "--database-url", url.as_str()];
    let run = |args: &[&str]| {
        let mut all = base.to_vec();
        all.extend(args);
        driftloop(d, &all)
    };
    json_of(&run(&["db", "migrate", "--json"]));
    let published = published().display().to_string();
    let imported = json_of(&run(&["import", &published, "--json"]));
    assert_eq!(imported["rows"], 344, "{imported}");
    let trained = json_of(&run(&["train", "--json"]));
    assert_eq!(trained["decision"]["outcome"], "first_champion", "{trained}");
    assert!(
        trained["snapshot"]["uri"]
            .as_str()
            .unwrap()
            .contains("snapshots/dataset=penguins/"),
        "{trained}"
    );
    let f1 = trained["holdout"]["macro_f1"]
        .as_f64()
        .unwrap_or_else(|| panic!("{trained}"));
    assert!(f1 > 0.9, "the species follow from the measurements: {trained}");

    // Offline scoring of rows with missing values where the dataset allows them.
    std::fs::write(
        d.join("score.csv"),
        "species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year\n\
         Gentoo,Biscoe,47.5,15.0,217,5200,NA,2008\n\
         Adelie,Torgersen,NA,NA,NA,NA,NA,2007\n",
    )
    .unwrap();
    let scored = json_of(&run(&[
        "predict",
        "--input",
        "score.csv",
        "--output",
        "scored.csv",
        "--json",
    ]));
    assert_eq!(scored["scored"]["rows"], 2, "{scored}");
    let text = std::fs::read_to_string(d.join("scored.csv")).unwrap();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .ends_with("prediction,p_adelie,p_chinstrap,p_gentoo"),
        "{text}"
    );
    assert!(lines.next().unwrap().contains(",Gentoo,"), "{text}");
    std::fs::write(
        d.join("bad.csv"),
        "species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year\n\
         Adelie,NA,39.1,18.7,181,3750,male,2007\n",
    )
    .unwrap();
    let refused = run(&["import", "bad.csv"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("line 2, column \"island\"") && stderr.contains("cannot be missing"),
        "{stderr}"
    );

    let (mut server, port, health) = start_server(d, &base);
    let outcome = std::panic::catch_unwind(|| {
        let (status, body) = health.expect("the server answers /healthz within 10 s");
        assert_eq!(status, 200, "{body}");
        let (_, doc) = http(port, "GET", "/openapi.json", None).unwrap();
        let doc: Value = serde_json::from_str(&doc).unwrap();
        let properties = &doc["components"]["schemas"]["Features"]["properties"];
        assert_eq!(
            properties["bill_length_mm"]["type"],
            serde_json::json!(["number", "null"])
        );
        assert_eq!(properties["bill_length_mm"]["minimum"], 0.0);
        assert_eq!(properties["island"]["type"], "string");
        assert_eq!(properties["sex"]["enum"], serde_json::json!(["female", "male", null]));
        let request = r#"{"features": {"island": "Biscoe", "bill_length_mm": 47.5, "bill_depth_mm": 15.0,
            "flipper_length_mm": 217, "body_mass_g": 5200, "sex": null, "year": 2008}, "request_id": "p-1"}"#;
        let (status, body) = http(port, "POST", "/v1/predict", Some(request)).unwrap();
        assert_eq!(status, 200, "{body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["prediction"], "Gentoo", "{answer}");
        let (status, body) = http(
            port,
            "POST",
            "/v1/labels",
            Some(r#"{"request_id": "p-1", "species": "Gentoo"}"#),
        )
        .unwrap();
        assert_eq!(status, 200, "{body}");
        for (request, field, message) in [
            (
                request.replace("\"Biscoe\"", "null"),
                "features.island",
                "cannot be missing",
            ),
            (
                request.replace("47.5", "\"47.5\""),
                "features.bill_length_mm",
                "a number",
            ),
            (request.replace("47.5", "-1"), "features.bill_length_mm", "-1 is not"),
            // A CSV's missing cell is not a JSON value: `null` is.
            (
                request.replace("\"sex\": null", "\"sex\": \"\""),
                "features.sex",
                "a missing value is null",
            ),
            (
                request.replace("\"sex\": null", "\"sex\": \"NA\""),
                "features.sex",
                "a missing value is null",
            ),
        ] {
            let (status, body) = http(port, "POST", "/v1/predict", Some(&request)).unwrap();
            assert_eq!(status, 400, "{request}: {body}");
            assert!(body.contains(field) && body.contains(message), "{request}: {body}");
        }
    });
    server.kill().unwrap();
    server.wait().unwrap();
    outcome.unwrap();
    let status = json_of(&run(&["db", "status", "--json"]));
    assert_eq!(
        status["rows"], 345,
        "the 344 imported penguins and the one predicted: {status}"
    );

    // Heavier penguins arrive: the database queues drift checks, the worker runs them
    // against the champion's snapshot (Float64 columns, nulls) and finds the body mass.
    write_pairs(d);
    let imported = json_of(&run(&["import", "heavier.csv", "--json"]));
    assert!(imported["drift_jobs_queued"].as_u64().unwrap() >= 3, "{imported}");
    let pass = json_of(&run(&["worker", "--once", "--json"]));
    assert_eq!(pass["drift"]["failed"], serde_json::json!([]), "{pass}");
    assert_eq!(pass["train"]["failed"], serde_json::json!([]), "{pass}");
    let jobs = pass["drift"]["jobs"].as_array().unwrap();
    assert!(!jobs.is_empty(), "{pass}");
    for job in jobs {
        assert_eq!(
            job["n_current"], 345,
            "the predicted penguin and the heavier ones: {job}"
        );
        assert_eq!(job["drifted_columns"], serde_json::json!(["body_mass_g"]), "{job}");
    }
    let report = jobs[0]["report_uri"].as_str().unwrap();
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(report.strip_prefix("file://").unwrap()).unwrap()).unwrap();
    let mass = report["report"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "body_mass_g")
        .unwrap();
    assert!(mass["ks"]["p_value"].as_f64().unwrap() < 1e-6, "{mass}");
    assert_eq!(mass["edges"].as_array().unwrap().len(), 9, "{mass}");
}

#[test]
fn penguins_run_the_whole_loop_on_sqlite() {
    penguins_run_the_whole_loop(Backend::Sqlite);
}

#[test]
fn penguins_run_the_whole_loop_on_mysql() {
    penguins_run_the_whole_loop(Backend::Mysql);
}
