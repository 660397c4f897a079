//! `driftloop demo`: the whole loop, end to end, on the embedded default.

use super::{driftloop, json_of};

#[test]
fn demo_finds_the_planted_drift_retrains_and_keeps_a_champion() {
    let dir = tempfile::tempdir().unwrap();
    let answer = json_of(&driftloop(dir.path(), &["demo", "--json", "--rows", "500"]));
    for key in [
        "rows_served",
        "drift_checks",
        "drifts_found",
        "models_trained",
        "champion_version",
        "seconds",
    ] {
        assert!(answer.get(key).is_some(), "{key} missing: {answer}");
    }
    assert_eq!(answer["rows_served"], 500);
    // 120 baseline rows and 500 served: a drift job every 100 rows; jobs pending at once
    // share a check.
    assert_eq!(answer["drift_jobs"], 6, "{answer}");
    let checks = answer["drift_checks"].as_u64().unwrap();
    assert!((1..=6).contains(&checks), "{answer}");
    assert!(answer["drifts_found"].as_u64().unwrap() >= 1, "{answer}");
    assert!(answer["models_trained"].as_u64().unwrap() >= 2, "{answer}");
    let champion = answer["champion_version"].as_i64().expect("a champion");
    let history = answer["champion_history"].as_array().unwrap();
    assert_eq!(history[0]["how"], "first champion");
    assert_eq!(history.last().unwrap()["version"], champion);
    // Drift can only be found once the shifted rows (from request 201, row 321) arrive.
    assert!(answer["first_drift_row"].as_i64().unwrap() > 320, "{answer}");
    // The files it names exist: the HTML reports and the training snapshots.
    for uri in answer["drift_reports"]
        .as_array()
        .unwrap()
        .iter()
        .chain(answer["snapshots"].as_array().unwrap())
    {
        let path = uri.as_str().unwrap().strip_prefix("file://").unwrap();
        assert!(std::path::Path::new(path).is_file(), "{path}");
    }
    assert!(dir.path().join(".driftloop/demo/driftloop.db").is_file());

    // A second run starts over in the same folder.
    let again = json_of(&driftloop(
        dir.path(),
        &["demo", "--json", "--rows", "50", "--label-share", "0"],
    ));
    assert_eq!(again["rows_served"], 50);
    assert_eq!(again["labels_given"], 0);
    assert_eq!(again["models_trained"], 1, "{again}");
}

#[test]
fn demo_never_deletes_a_folder_it_did_not_make() {
    let dir = tempfile::tempdir().unwrap();
    let precious = dir.path().join("mine");
    std::fs::create_dir(&precious).unwrap();
    std::fs::write(precious.join("notes.txt"), "keep me").unwrap();
    let output = driftloop(dir.path(), &["demo", "--dir", "mine", "--rows", "10"]);
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("is not a driftloop demo folder"), "{err}");
    assert_eq!(std::fs::read_to_string(precious.join("notes.txt")).unwrap(), "keep me");

    let output = driftloop(dir.path(), &["demo", "--rows", "0"]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("--rows must be at least 1"));
}

/// Concept drift: inputs from the baseline distribution, expert labels from a shifted
/// rule. Input drift finds nothing; the performance checks find the decay from the labels
/// once the shifted rows (from request 401, row 521) are labelled; the training it queues
/// learns from the recent rows and its candidate replaces the champion.
#[test]
fn demo_finds_concept_drift_from_the_labels_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let answer = json_of(&driftloop(
        dir.path(),
        &["demo", "--json", "--scenario", "concept-shift"],
    ));
    assert_eq!(answer["drift_jobs"], 11, "{answer}");
    assert_eq!(answer["drifts_found"], 0, "the inputs did not move: {answer}");
    assert!(answer["performance_checks"].as_u64().unwrap() >= 2, "{answer}");
    assert!(answer["degradations_found"].as_u64().unwrap() >= 1, "{answer}");
    assert!(answer["first_degradation_row"].as_i64().unwrap() > 520, "{answer}");
    let history = answer["champion_history"].as_array().unwrap();
    let last = history.last().unwrap();
    assert_eq!(last["how"], "promoted", "a retrained champion: {answer}");
    assert_eq!(last["version"], answer["champion_version"]);
}
