//! Drift statistics on the committed fixtures: equal to SciPy's (data-fixtures/drift/
//! expected.json, written by scipy_reference.py) to 1e-9, and the default decision finds
//! the planted shifts and not the absence of one.

use std::path::PathBuf;

use driftloop_core::fixtures::{generate, Scenario};
use driftloop_core::LabelSource;
use driftloop_pipeline::csv_io::read_feature_csv;
use driftloop_pipeline::frames::rows_frame;
use driftloop_stats::{compare, ColumnDrift, DriftConfig, DriftReport};
use polars::prelude::{DataFrame, IntoColumn};
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data-fixtures")
}

fn fixture_frame(name: &str) -> DataFrame {
    rows_frame(&read_feature_csv(&fixtures().join(name), LabelSource::Expert).unwrap()).unwrap()
}

fn report(reference: &str, current: &str) -> DriftReport {
    compare(
        &fixture_frame(reference),
        &fixture_frame(current),
        &DriftConfig::default(),
    )
    .unwrap()
}

fn close(ours: f64, theirs: f64) -> bool {
    (ours - theirs).abs() <= 1e-9 * theirs.abs().max(1.0)
}

#[test]
fn statistics_equal_scipy_on_the_fixture_pairs() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("drift/expected.json")).unwrap()).unwrap();
    let mut checked = 0;
    for (pair, want) in expected.as_object().unwrap() {
        let got = report(want["reference"].as_str().unwrap(), want["current"].as_str().unwrap());
        let ours: Vec<&ColumnDrift> = got.columns.iter().chain(std::iter::once(&got.label)).collect();
        let theirs = want["columns"].as_array().unwrap();
        assert_eq!(ours.len(), theirs.len());
        for (o, t) in ours.iter().zip(theirs) {
            let what = format!("{pair} {}", o.name);
            assert_eq!(o.name, t["name"].as_str().unwrap(), "{what}");
            let values: Vec<&str> = o.categories.iter().map(|c| c.value.as_str()).collect();
            let want_values: Vec<&str> = t["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(values, want_values, "{what}");
            let ref_counts: Vec<u64> = o.categories.iter().map(|c| c.reference_count).collect();
            let cur_counts: Vec<u64> = o.categories.iter().map(|c| c.current_count).collect();
            assert_eq!(serde_json::json!(ref_counts), t["reference_counts"], "{what}");
            assert_eq!(serde_json::json!(cur_counts), t["current_counts"], "{what}");
            assert_eq!(o.dof as u64, t["dof"].as_u64().unwrap(), "{what}");
            for (field, ours, theirs) in [
                ("psi", o.psi, &t["psi"]),
                ("chi2", o.chi2, &t["chi2"]),
                ("p_value", o.p_value, &t["p_value"]),
            ] {
                let theirs = theirs.as_f64().unwrap();
                assert!(
                    close(ours, theirs),
                    "{what} {field}: driftloop {ours:e}, scipy {theirs:e}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 54);
}

#[test]
fn the_default_decision_names_the_shifted_columns() {
    let covariate = report("baseline-120.csv", "covariate-shift-1000.csv");
    assert!(covariate.drift);
    assert_eq!(covariate.drifted_columns(), ["sadness", "sleep_disorder", "optimism"]);
    assert!(!covariate.label.drifted, "the covariate shift leaves the labels alone");

    let label = report("baseline-120.csv", "label-shift-1000.csv");
    assert!(label.drift, "{:?}", label.drifted_columns());
    assert!(label.label.drifted);
    assert!(
        label.drifted_columns().contains(&"mood_swing"),
        "{:?}",
        label.drifted_columns()
    );

    let same = report("baseline-120.csv", "baseline-1000.csv");
    assert!(!same.drift, "{:?}", same.drifted_columns());
    assert!(!same.label.drifted);
}

/// Baseline samples of 100 and 1,000 rows (other seeds) against the 120-row baseline
/// reference: the share that the default decision calls drift.
#[test]
fn baseline_samples_are_rarely_called_drift() {
    let reference = fixture_frame("baseline-120.csv");
    for (n_rows, n_seeds) in [(100, 200), (1000, 100)] {
        let mut false_drifts = 0;
        let mut flagged_columns = 0;
        for seed in 0..n_seeds {
            let current = rows_frame(&generate(Scenario::Baseline, n_rows, 10_000 + seed)).unwrap();
            let report = compare(&reference, &current, &DriftConfig::default()).unwrap();
            false_drifts += report.drift as usize;
            flagged_columns += report.drifted_columns().len();
        }
        let rate = false_drifts as f64 / n_seeds as f64;
        println!(
            "baseline vs {n_rows}-row baseline samples: dataset drift in {false_drifts} of {n_seeds} ({:.1} %), {:.2} flagged columns per comparison",
            rate * 100.0,
            flagged_columns as f64 / n_seeds as f64
        );
        assert!(rate <= 0.05, "false drift rate {rate} at {n_rows} rows");
    }
}

#[test]
fn an_empty_current_frame_is_no_drift() {
    let reference = fixture_frame("baseline-120.csv");
    let empty = rows_frame(&[]).unwrap();
    let report = compare(&reference, &empty, &DriftConfig::default()).unwrap();
    assert!(!report.drift);
    assert!(report
        .columns
        .iter()
        .all(|c| c.n_current == 0 && c.p_value == 1.0 && c.psi == 0.0));
}

#[test]
fn an_all_null_column_is_defined_and_not_drift() {
    let reference = fixture_frame("baseline-120.csv");
    let mut current = fixture_frame("covariate-shift-1000.csv");
    let dtype = current.column("sadness").unwrap().dtype().clone();
    let nulls = polars::prelude::Series::full_null("sadness".into(), current.height(), &dtype);
    current.with_column(nulls.into_column()).unwrap();
    let report = compare(&reference, &current, &DriftConfig::default()).unwrap();
    let sadness = &report.columns[0];
    assert_eq!(
        (sadness.name.as_str(), sadness.n_current, sadness.drifted),
        ("sadness", 0, false)
    );
    assert_eq!((sadness.psi, sadness.chi2, sadness.p_value), (0.0, 0.0, 1.0));
    assert!(report
        .columns
        .iter()
        .all(|c| c.psi.is_finite() && c.p_value.is_finite()));
    assert_eq!(
        report.drifted_columns(),
        ["sleep_disorder", "optimism"],
        "the other shifted columns still count"
    );
}

#[test]
fn a_value_outside_its_levels_is_an_error_naming_it() {
    let reference = fixture_frame("baseline-120.csv");
    let mut current = fixture_frame("baseline-120.csv");
    let mut optimism: Vec<u8> = vec![5; current.height()];
    optimism[7] = 11;
    current
        .with_column(
            <polars::prelude::Series as polars::prelude::NamedFrom<_, [u8]>>::new("optimism".into(), &optimism)
                .into_column(),
        )
        .unwrap();
    let err = compare(&reference, &current, &DriftConfig::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("current frame") && err.contains("\"optimism\" holds 11"),
        "{err}"
    );
}
