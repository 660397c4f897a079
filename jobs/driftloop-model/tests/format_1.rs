//! Artifacts written before format 2 (smartcore's trees and forest, smartcore-fitted
//! logistic regression) still load and score exactly as the driftloop that wrote them did.
//!
//! `data-fixtures/models/format-1/` holds one artifact per family of that time and the
//! `driftloop predict` output of the same driftloop (commit 4a13b11) with that artifact as
//! champion, on `data-fixtures/baseline-120.csv`: the input's columns, `prediction` and one
//! probability per class, printed to 6 decimals.

use std::path::PathBuf;

use driftloop_core::spec;
use driftloop_model::{decode_artifact, encode_rows, Family};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data-fixtures/models/format-1")
        .join(name)
}

/// The scored rows: feature values, the predicted class index, the probabilities.
fn scored(family: Family) -> Vec<(Vec<f64>, usize, Vec<f64>)> {
    let s = spec();
    let text = std::fs::read_to_string(fixture(&format!("{family}.scored.csv"))).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[s.n_features() + 1], "prediction");
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let codes = s
                .features
                .iter()
                .zip(&cells)
                .map(|(column, cell)| match column.kind.levels() {
                    Some(levels) => levels.iter().position(|l| l == cell).unwrap() as f64,
                    None => cell.parse().unwrap(),
                })
                .collect();
            let class = s.classes.iter().position(|c| *c == cells[s.n_features() + 1]).unwrap();
            let probabilities = cells[s.n_features() + 2..].iter().map(|p| p.parse().unwrap()).collect();
            (codes, class, probabilities)
        })
        .collect()
}

#[test]
fn format_1_artifacts_load_and_score_as_when_they_were_written() {
    for family in [Family::DecisionTree, Family::LogisticRegression, Family::RandomForest] {
        let bytes = std::fs::read(fixture(&format!("{family}.dlmodel"))).unwrap();
        let artifact = decode_artifact(&bytes).unwrap_or_else(|e| panic!("{family}: {e}"));
        assert_eq!(artifact.header.format_version, 1);
        assert_eq!(artifact.model.family(), family);
        let rows = scored(family);
        assert_eq!(rows.len(), 120);
        let x = encode_rows(
            &artifact.header.encoder,
            rows.iter().map(|(codes, _, _)| codes.as_slice()),
        )
        .unwrap();
        let probabilities = artifact.model.predict_proba(&x, 4).unwrap();
        let predicted = artifact.model.predict(&x, 4).unwrap();
        for (r, (_, class, expected)) in rows.iter().enumerate() {
            assert_eq!(predicted[r] as usize, *class, "{family}, row {r}");
            for (got, want) in probabilities[r].iter().zip(expected) {
                assert!(
                    (got - want).abs() <= 5e-7,
                    "{family}, row {r}: {:?} vs {expected:?}",
                    probabilities[r]
                );
            }
        }
    }
}

#[test]
fn an_unknown_format_version_is_refused_by_name() {
    let bytes = std::fs::read(fixture("decision_tree.dlmodel")).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let changed = text.replacen("\"format_version\":1", "\"format_version\":7", 1);
    assert_ne!(changed, text, "the header names its version");
    let error = decode_artifact(changed.as_bytes()).unwrap_err().to_string();
    assert!(
        error.contains("format version Some(7)") && error.contains("[1, 2]"),
        "{error}"
    );
}
