use driftloop_core::fixtures::{generate, Scenario};
use driftloop_core::spec;
use smartcore::ensemble::random_forest_classifier::{RandomForestClassifier, RandomForestClassifierParameters};
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};

use crate::artifact::{artifact_key, code_version, sha256_hex, ArtifactMetrics, SnapshotRef};
use crate::*;

fn dataset(n: usize, seed: u64) -> Dataset {
    let rows = generate(Scenario::Baseline, n, seed);
    Dataset {
        n_features: spec().n_features(),
        codes: rows.iter().flat_map(|r| r.features.clone()).collect(),
        labels: rows.iter().map(|r| r.diagnosis).collect(),
    }
}

fn small_config(threads: usize) -> TrainConfig {
    TrainConfig {
        candidates: vec![
            Candidate::LogisticRegression { alpha: 0.1 },
            Candidate::RandomForest {
                n_trees: 30,
                max_depth: None,
                min_samples_leaf: 1,
            },
            Candidate::DecisionTree {
                max_depth: Some(6),
                min_samples_leaf: 1,
            },
        ],
        threads,
        ..TrainConfig::default()
    }
}

fn artifact_bytes(data: &Dataset, config: &TrainConfig) -> Vec<u8> {
    let encoder = Encoder::from_spec(spec());
    let trained = train(data, &encoder, 4, config).unwrap();
    let cv = trained
        .cv
        .iter()
        .find(|c| c.candidate == trained.chosen)
        .unwrap()
        .clone();
    let header = ArtifactHeader {
        format: String::new(),
        format_version: 0,
        name: spec().name.into(),
        family: trained.chosen.family(),
        params: trained.chosen.clone(),
        spec_hash: spec().spec_hash(),
        encoder,
        classes: spec().classes.iter().map(|c| c.to_string()).collect(),
        metrics: ArtifactMetrics {
            cv,
            candidates: trained.cv.clone(),
            holdout: trained.holdout.clone(),
            training_rows: trained.training_rows.len() as u64,
            holdout_rows: trained.holdout_rows.len() as u64,
            cv_rows: trained.cv_rows as u64,
        },
        snapshot: SnapshotRef {
            uri: "memory://test".into(),
            sha256: "0".repeat(64),
            rows: data.n_rows() as u64,
        },
        config: config.clone(),
        code_version: code_version(),
        created_at: "2026-11-26T00:00:00.000Z".into(),
        body_sha256: String::new(),
    };
    encode_artifact(header, &trained.model).unwrap().0
}

#[test]
fn training_chooses_a_model_that_beats_the_majority_class_on_the_holdout() {
    let data = dataset(600, 7);
    let encoder = Encoder::from_spec(spec());
    let trained = train(&data, &encoder, 4, &small_config(2)).unwrap();
    assert_eq!(trained.cv.len(), 3);
    for candidate in &trained.cv {
        assert_eq!(candidate.fold_macro_f1.len(), 5, "{candidate:?}");
        assert!(candidate.error.is_none(), "{candidate:?}");
    }
    let best = trained.cv.iter().map(|c| c.mean_macro_f1).fold(0.0, f64::max);
    let chosen = trained.cv.iter().find(|c| c.candidate == trained.chosen).unwrap();
    assert_eq!(
        chosen.mean_macro_f1, best,
        "the best cross-validated candidate is chosen"
    );
    // Holdout: a fifth of every class, disjoint from the training rows.
    assert_eq!(trained.holdout_rows.len() + trained.training_rows.len(), 600);
    assert!(trained
        .holdout_rows
        .iter()
        .all(|r| trained.training_rows.binary_search(r).is_err()));
    let support: u64 = trained.holdout.per_class.iter().map(|c| c.support).sum();
    assert_eq!(support as usize, trained.holdout_rows.len());
    let mut counts = [0usize; 4];
    for &l in &data.labels {
        counts[l as usize] += 1;
    }
    let majority = *counts.iter().max().unwrap() as f64 / 600.0;
    assert!(
        trained.holdout.accuracy > majority + 0.2,
        "holdout accuracy {} vs majority share {majority}",
        trained.holdout.accuracy
    );
}

#[test]
fn the_same_rows_and_config_give_a_byte_identical_artifact_whatever_the_threads() {
    let data = dataset(300, 11);
    let one = artifact_bytes(&data, &small_config(1));
    let two = artifact_bytes(&data, &small_config(2));
    let again = artifact_bytes(&data, &small_config(2));
    assert_eq!(sha256_hex(&one), sha256_hex(&two));
    assert_eq!(two, again);
    let other_seed = artifact_bytes(
        &data,
        &TrainConfig {
            seed: 43,
            ..small_config(2)
        },
    );
    assert_ne!(
        sha256_hex(&one),
        sha256_hex(&other_seed),
        "the seed is part of the result"
    );
}

#[test]
fn forest_votes_reproduce_smartcore_predictions_and_sum_to_one() {
    let data = dataset(400, 3);
    let encoder = Encoder::from_spec(spec());
    let rows: Vec<usize> = (0..400).collect();
    let x = data.matrix(&encoder, &rows).unwrap();
    let y: Vec<i32> = data.labels.iter().map(|&l| l as i32).collect();
    // 20 trees: one chunk, so its seed is the forest's seed, as in smartcore's own fit.
    let candidate = Candidate::RandomForest {
        n_trees: 20,
        max_depth: None,
        min_samples_leaf: 1,
    };
    let fitted = Fitted::fit(&candidate, &x, &y, 42, 2).unwrap();
    let forest = RandomForestClassifier::fit(
        &x,
        &y,
        RandomForestClassifierParameters {
            n_trees: 20,
            seed: 42,
            ..Default::default()
        },
    )
    .unwrap();
    let smartcore_says: Vec<u8> = forest.predict(&x).unwrap().into_iter().map(|c| c as u8).collect();
    assert_eq!(fitted.predict(&x, 4).unwrap(), smartcore_says);
    for p in fitted.predict_proba(&x, 4).unwrap() {
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{p:?}");
        assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}

#[test]
fn logistic_probabilities_are_the_softmax_of_smartcores_logits() {
    let data = dataset(400, 5);
    let encoder = Encoder::from_spec(spec());
    let rows: Vec<usize> = (0..400).collect();
    let x = data.matrix(&encoder, &rows).unwrap();
    let y: Vec<i32> = data.labels.iter().map(|&l| l as i32).collect();
    let fitted = Fitted::fit(&Candidate::LogisticRegression { alpha: 0.1 }, &x, &y, 42, 1).unwrap();
    let Fitted::LogisticRegression(ref model) = fitted else {
        panic!("a logistic regression")
    };
    // smartcore on the same standardized rows predicts the argmax of these probabilities.
    let mut z = Vec::new();
    for r in 0..400 {
        for c in 0..17 {
            let code = data.codes[r * 17 + c] as f64;
            z.push((code - model.means[c]) / model.scales[c]);
        }
    }
    let z = smartcore::linalg::basic::matrix::DenseMatrix::new(400, 17, z, false).unwrap();
    let smartcore_model =
        LogisticRegression::fit(&z, &y, LogisticRegressionParameters::default().with_alpha(0.1)).unwrap();
    let smartcore_says: Vec<u8> = smartcore_model
        .predict(&z)
        .unwrap()
        .into_iter()
        .map(|c| c as u8)
        .collect();
    assert_eq!(fitted.predict(&x, 4).unwrap(), smartcore_says);
    let probabilities = fitted.predict_proba(&x, 4).unwrap();
    for p in &probabilities {
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }
    // Not one-hot: a calibrated model is unsure about some rows.
    assert!(probabilities.iter().any(|p| p.iter().all(|v| *v < 0.99)));
}

#[test]
fn an_artifact_round_trips_and_a_changed_byte_is_refused() {
    let data = dataset(200, 9);
    let bytes = artifact_bytes(&data, &small_config(2));
    let first_line = bytes.split(|&b| b == b'\n').next().unwrap();
    let header: serde_json::Value = serde_json::from_slice(first_line).unwrap();
    assert_eq!(header["format"], "driftloop-model");
    assert_eq!(header["classes"][3], "Depression");
    assert_eq!(header["encoder"]["columns"][0]["encoding"], "ordinal");
    let artifact = decode_artifact(&bytes).unwrap();
    assert_eq!(artifact.header.spec_hash, spec().spec_hash());
    let encoder = Encoder::from_spec(spec());
    let x = data.matrix(&encoder, &[0, 1, 2]).unwrap();
    assert_eq!(artifact.model.predict_proba(&x, 4).unwrap().len(), 3);

    let mut tampered = bytes.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff;
    let err = decode_artifact(&tampered).unwrap_err().to_string();
    assert!(err.contains("the body hashes to"), "{err}");
    let err = decode_artifact(b"{\"format\":\"other\"}\nxx").unwrap_err().to_string();
    assert!(err.contains("driftloop-model"), "{err}");
    assert_eq!(artifact_key("mental_health", "ab"), "models/mental_health/ab.dlmodel");
}

#[test]
fn too_few_rows_or_a_single_class_is_a_clear_error() {
    let mut data = dataset(8, 1);
    let encoder = Encoder::from_spec(spec());
    let err = train(&data, &encoder, 4, &small_config(1)).unwrap_err().to_string();
    assert!(err.contains("at least 10 labelled rows"), "{err}");
    data = dataset(50, 1);
    data.labels = vec![2; 50];
    let err = train(&data, &encoder, 4, &small_config(1)).unwrap_err().to_string();
    assert!(err.contains("of 1 class(es)"), "{err}");
    data.codes[0] = 9;
    let bad = Dataset {
        labels: dataset(50, 1).labels,
        ..data
    };
    let err = train(&bad, &encoder, 4, &small_config(1)).unwrap_err().to_string();
    assert!(err.contains("code 9 is outside column sadness"), "{err}");
}
