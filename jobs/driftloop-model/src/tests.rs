use driftloop_core::fixtures::{generate, Scenario};
use driftloop_core::spec;
use smartcore::linalg::basic::arrays::Array;
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};
use smartcore::naive_bayes::categorical::{CategoricalNB, CategoricalNBParameters};

use crate::artifact::{artifact_key, code_version, sha256_hex, ArtifactMetrics, SnapshotRef};
use crate::family::Matrix;
use crate::*;

pub(crate) fn dataset(n: usize, seed: u64) -> Dataset {
    let rows = generate(Scenario::Baseline, n, seed);
    Dataset {
        n_features: spec().n_features(),
        values: rows
            .iter()
            .flat_map(|r| r.features.clone())
            .collect::<Vec<f64>>()
            .into(),
        labels: rows.iter().map(|r| r.label).collect(),
    }
}

/// `n` synthetic rows, encoded as the spec declares, and their class indices.
pub(crate) fn fitting_rows(n: usize, seed: u64) -> (Dataset, Matrix, Vec<i32>) {
    let data = dataset(n, seed);
    let rows: Vec<usize> = (0..n).collect();
    let x = data.matrix(&Encoder::from_spec(spec()), &rows).unwrap();
    let y = data.labels.iter().map(|&l| l as i32).collect();
    (data, x, y)
}

pub(crate) fn small_config(threads: usize) -> TrainConfig {
    TrainConfig {
        candidates: vec![
            Candidate::LogisticRegression {
                alpha: 0.1,
                class_weight: None,
            },
            Candidate::RandomForest {
                n_trees: 30,
                max_depth: None,
                min_samples_leaf: 1,
                class_weight: None,
            },
            Candidate::DecisionTree {
                max_depth: Some(6),
                min_samples_leaf: 1,
                class_weight: None,
            },
            Candidate::NaiveBayes { alpha: 1.0 },
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
        name: spec().name.clone(),
        family: trained.chosen.family(),
        params: trained.chosen.clone(),
        spec_hash: spec().spec_hash(),
        encoder,
        classes: spec().classes.iter().map(|c| c.to_string()).collect(),
        metrics: ArtifactMetrics {
            sampled_from: trained.sampled_from.map(|n| n as u64),
            served_rows: trained.served_rows.map(|n| n as u64),
            cv,
            candidates: trained.cv.clone(),
            holdout: trained.holdout.clone(),
            holdout_probabilities: Some(trained.holdout_probabilities),
            calibration: trained.calibration.clone(),
            family_test: trained.family_test.clone(),
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
    // No default family: the best cross-validated candidate (tests_family.rs: with one).
    let config = TrainConfig {
        default_family: None,
        ..small_config(2)
    };
    let trained = train(&data, &encoder, 4, &config).unwrap();
    assert_eq!(trained.family_test, None);
    assert_eq!(trained.cv.len(), 4);
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

/// Every family of the grid (and a balanced twin of each that takes a weight) fitted on
/// the rows as encoded is the model fitted on their matrix: the training's refit passes
/// rows so that the learners on row-major values need no second copy.
#[test]
fn a_fit_on_encoded_rows_is_the_fit_on_their_matrix() {
    let data = dataset(600, 8);
    let encoder = Encoder::from_spec(spec()).impute_from(&data.values);
    let rows: Vec<usize> = (0..600).filter(|r| r % 5 != 0).collect();
    let y: Vec<i32> = rows.iter().map(|&r| data.labels[r] as i32).collect();
    let mut candidates = default_grid();
    candidates.extend(
        default_grid()
            .iter()
            .filter_map(|c| c.with_class_weight(ClassWeight::Balanced)),
    );
    for candidate in candidates {
        let x = data.matrix(&encoder, &rows).unwrap();
        let encoded = data.rows(&encoder, &rows).unwrap();
        assert_eq!((encoded.n_rows, encoded.width), x.shape());
        let continuous = encoder.continuous();
        let from_matrix = Fitted::fit_columns(&candidate, &x, &y, 7, 2, &continuous).unwrap();
        let from_rows = Fitted::fit_rows(&candidate, encoded, &y, 7, 2, &continuous).unwrap();
        assert_eq!(format!("{from_rows:?}"), format!("{from_matrix:?}"), "{candidate:?}");
        assert_eq!(
            from_rows.predict_proba(&x, 4).unwrap(),
            from_matrix.predict_proba(&x, 4).unwrap(),
            "{candidate:?}"
        );
    }
    // Naive Bayes with a continuous column (cut at its deciles) and a column of codes.
    let values: Vec<f64> = (0..200)
        .flat_map(|r| [(r % 4) as f64, (r * 37 % 101) as f64 / 7.0, (r % 3) as f64])
        .collect();
    let y: Vec<i32> = (0..200).map(|r| ((r * 37 % 101) > 50) as i32).collect();
    let rows = Rows {
        values: Inputs::Numbers(values),
        n_rows: 200,
        width: 3,
    };
    let x = rows.clone().into_matrix().unwrap();
    let naive_bayes = Candidate::NaiveBayes { alpha: 0.5 };
    let continuous = [false, true, false];
    let from_matrix = Fitted::fit_columns(&naive_bayes, &x, &y, 7, 1, &continuous).unwrap();
    let from_rows = Fitted::fit_rows(&naive_bayes, rows, &y, 7, 1, &continuous).unwrap();
    assert!(matches!(from_rows, Fitted::CutNaiveBayes(_)), "{from_rows:?}");
    assert_eq!(format!("{from_rows:?}"), format!("{from_matrix:?}"));

    for values in [Inputs::Numbers(vec![0.0; 17 * 3]), Inputs::Codes(vec![0; 17 * 3])] {
        let short = Rows {
            values,
            n_rows: 3,
            width: 17,
        };
        let candidate = &default_grid()[3];
        assert!(matches!(
            Fitted::fit_rows(candidate, short, &[0, 1], 7, 1, &[]),
            Err(ModelError::Input(_))
        ));
    }
}

#[test]
fn forest_probabilities_are_the_mean_of_its_trees_leaf_shares() {
    let (data, x, y) = fitting_rows(400, 3);
    let candidate = Candidate::RandomForest {
        n_trees: 20,
        max_depth: None,
        min_samples_leaf: 1,
        class_weight: None,
    };
    let fitted = Fitted::fit(&candidate, &x, &y, 42, 2).unwrap();
    let Fitted::RandomForest(ref forest) = fitted else {
        panic!("a forest")
    };
    assert_eq!(forest.trees.len(), 20);
    let probabilities = fitted.predict_proba(&x, 4).unwrap();
    for (r, p) in probabilities.iter().enumerate() {
        let row: Vec<f64> = (0..17).map(|c| *x.get((r, c))).collect();
        for (class, share) in p.iter().enumerate() {
            let mean = forest.trees.iter().map(|t| t.leaf_shares(&row)[class]).sum::<f64>() / 20.0;
            assert!((share - mean).abs() < 1e-12);
        }
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{p:?}");
    }
    // Grown to purity on bootstrap samples, the forest knows its own rows well, and is
    // unsure of some (the trees disagree).
    let predicted = fitted.predict(&x, 4).unwrap();
    let right = predicted.iter().zip(&data.labels).filter(|(a, b)| a == b).count();
    assert!(right > 380, "{right} of 400");
    assert!(probabilities.iter().any(|p| p.iter().all(|v| *v < 0.9)));
}

#[test]
fn logistic_regression_reaches_the_minimum_smartcore_finds_for_the_same_objective() {
    let (data, x, y) = fitting_rows(400, 5);
    let fitted = Fitted::fit(
        &Candidate::LogisticRegression {
            alpha: 0.1,
            class_weight: None,
        },
        &x,
        &y,
        42,
        1,
    )
    .unwrap();
    let Fitted::LogisticRegression(ref model) = fitted else {
        panic!("a logistic regression")
    };
    // smartcore's own fit on the same standardized rows, to its tolerance of 1e-8.
    let mut z = Vec::new();
    for r in 0..400 {
        for c in 0..17 {
            let code = data.values.number(r * 17 + c);
            z.push((code - model.means[c]) / model.scales[c]);
        }
    }
    let z_matrix = smartcore::linalg::basic::matrix::DenseMatrix::new(400, 17, z.clone(), false).unwrap();
    let smartcore_model =
        LogisticRegression::fit(&z_matrix, &y, LogisticRegressionParameters::default().with_alpha(0.1)).unwrap();
    let weights_of = |coefficients: &dyn Fn(usize, usize) -> f64, intercept: &dyn Fn(usize) -> f64| {
        let mut w = Vec::new();
        for class in 0..4 {
            w.extend((0..17).map(|c| coefficients(class, c)));
            w.push(intercept(class));
        }
        w
    };
    let ours = weights_of(&|k, c| model.coefficients[k][c], &|k| model.intercepts[k]);
    let theirs = weights_of(&|k, c| *smartcore_model.coefficients().get((k, c)), &|k| {
        *smartcore_model.intercept().get((k, 0))
    });
    let positions: Vec<usize> = data.labels.iter().map(|&l| l as usize).collect();
    let objective = crate::logistic::Objective::new(&z, &positions, &[1.0; 4], 17, 4, 0.1);
    let (at_ours, _) = objective.evaluate(&ours);
    let (at_theirs, _) = objective.evaluate(&theirs);
    // Within a millionth of the minimum per row (the tolerance stops it that close).
    assert!(at_ours - at_theirs < 1e-5 * at_theirs, "{at_ours} vs {at_theirs}");
    let smartcore_says: Vec<u8> = smartcore_model
        .predict(&z_matrix)
        .unwrap()
        .into_iter()
        .map(|c| c as u8)
        .collect();
    let agree = fitted
        .predict(&x, 4)
        .unwrap()
        .iter()
        .zip(&smartcore_says)
        .filter(|(a, b)| a == b)
        .count();
    assert!(agree >= 396, "{agree} of 400 rows get smartcore's class");
    let probabilities = fitted.predict_proba(&x, 4).unwrap();
    for p in &probabilities {
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }
    // Not one-hot: a calibrated model is unsure about some rows.
    assert!(probabilities.iter().any(|p| p.iter().all(|v| *v < 0.99)));
}

#[test]
fn naive_bayes_probabilities_are_the_softmax_of_smartcores_log_posteriors() {
    let (data, x, y) = fitting_rows(400, 11);
    let fitted = Fitted::fit(&Candidate::NaiveBayes { alpha: 0.5 }, &x, &y, 42, 1).unwrap();
    // smartcore's own classifier on the same category codes.
    let codes: Vec<u32> = (0..400 * 17).map(|i| *x.get((i / 17, i % 17)) as u32).collect();
    let matrix = smartcore::linalg::basic::matrix::DenseMatrix::new(400, 17, codes, false).unwrap();
    let labels: Vec<u32> = data.labels.iter().map(|&l| l as u32).collect();
    let smartcore_model =
        CategoricalNB::fit(&matrix, &labels, CategoricalNBParameters::default().with_alpha(0.5)).unwrap();
    let smartcore_says: Vec<u8> = smartcore_model
        .predict(&matrix)
        .unwrap()
        .into_iter()
        .map(|c| c as u8)
        .collect();
    assert_eq!(fitted.predict(&x, 4).unwrap(), smartcore_says);
    let probabilities = fitted.predict_proba(&x, 4).unwrap();
    let priors = smartcore_model.class_count();
    for (r, p) in probabilities.iter().enumerate() {
        let log_posterior: Vec<f64> = (0..4)
            .map(|c| {
                (priors[c] as f64 / 400.0).ln()
                    + (0..17)
                        .map(|j| smartcore_model.feature_log_prob()[j][c][*x.get((r, j)) as usize])
                        .sum::<f64>()
            })
            .collect();
        let total: f64 = log_posterior.iter().map(|l| l.exp()).sum();
        for (share, log) in p.iter().zip(&log_posterior) {
            assert!((share - log.exp() / total).abs() < 1e-9);
        }
    }
    assert!(probabilities.iter().any(|p| p.iter().all(|v| *v < 0.9)));

    // A value above all seen in training counts as a value seen 0 times, for every class.
    let Fitted::NaiveBayes(ref model) = fitted else {
        panic!("naive Bayes")
    };
    // driftloop's counting gives smartcore's log probabilities, bit for bit.
    assert_eq!(&model.log_likelihoods, smartcore_model.feature_log_prob());
    let score_column = 16;
    let seen = model.log_likelihoods[score_column][0].len();
    let mut row: Vec<f64> = (0..17).map(|c| *x.get((0, c))).collect();
    row[score_column] = seen as f64 + 3.0;
    let unseen = smartcore::linalg::basic::matrix::DenseMatrix::new(1, 17, row, false).unwrap();
    let p = fitted.predict_proba(&unseen, 4).unwrap();
    assert!((p[0].iter().sum::<f64>() - 1.0).abs() < 1e-9 && p[0].iter().all(|v| v.is_finite()));

    // Not a category code: refused, naming the cell.
    let mut bad: Vec<f64> = (0..17).map(|c| *x.get((0, c))).collect();
    bad[3] = 1.5;
    let bad = smartcore::linalg::basic::matrix::DenseMatrix::new(1, 17, bad, false).unwrap();
    let error = fitted.predict_proba(&bad, 4).unwrap_err().to_string();
    assert!(error.contains("row 0 column 3 is 1.5"), "{error}");
    let error = Fitted::fit(&Candidate::NaiveBayes { alpha: 0.0 }, &x, &y, 42, 1)
        .unwrap_err()
        .to_string();
    assert!(error.contains("alpha above 0"), "{error}");
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
    let FeatureValues::Numbers(values) = &mut data.values else {
        panic!("the test rows are numbers")
    };
    values[0] = 9.0;
    let codes = FeatureValues::Codes(values.iter().map(|&v| v as u8).collect());
    let bad = Dataset {
        labels: dataset(50, 1).labels,
        ..data
    };
    let err = train(&bad, &encoder, 4, &small_config(1)).unwrap_err().to_string();
    assert!(err.contains("value 9 is outside column sadness"), "{err}");
    // Held as codes, the same value is refused the same way.
    let bad = Dataset { values: codes, ..bad };
    let err = train(&bad, &encoder, 4, &small_config(1)).unwrap_err().to_string();
    assert!(err.contains("value 9 is outside column sadness"), "{err}");
}

#[test]
fn above_max_train_rows_the_model_is_fitted_on_a_stratified_sample_and_scored_on_the_whole_holdout() {
    let data = dataset(1000, 3);
    let encoder = Encoder::from_spec(spec());
    let whole = train(&data, &encoder, 4, &small_config(2)).unwrap();
    let n_training = whole.training_rows.len();
    assert_eq!(whole.sampled_from, None);
    let capped = TrainConfig {
        max_train_rows: 200,
        ..small_config(2)
    };
    let sampled = train(&data, &encoder, 4, &capped).unwrap();
    assert_eq!(sampled.sampled_from, Some(n_training));
    assert!(
        (198..=202).contains(&sampled.training_rows.len()),
        "about 200 rows: {}",
        sampled.training_rows.len()
    );
    assert!(sampled.training_rows.iter().all(|r| whole.training_rows.contains(r)));
    assert_eq!(sampled.holdout_rows, whole.holdout_rows, "the holdout is not sampled");
    // Each class keeps its share of the training rows, to a row.
    let share = |rows: &[usize], class: u8| rows.iter().filter(|&&r| data.labels[r] == class).count() as f64;
    for class in 0..4 {
        let expected = share(&whole.training_rows, class) * 200.0 / n_training as f64;
        assert!(
            (share(&sampled.training_rows, class) - expected).abs() <= 1.0,
            "class {class}"
        );
    }
    // Seeded: the same sample and artifact whatever the threads.
    assert_eq!(
        artifact_bytes(&data, &capped),
        artifact_bytes(
            &data,
            &TrainConfig {
                threads: 1,
                ..capped.clone()
            }
        )
    );
    // Artifacts written before the setting read it as the default.
    let mut config = serde_json::to_value(&capped).unwrap();
    config.as_object_mut().unwrap().remove("max_train_rows");
    let read: TrainConfig = serde_json::from_value(config).unwrap();
    assert_eq!(read.max_train_rows, select::DEFAULT_MAX_TRAIN_ROWS);
}

#[test]
fn up_to_refit_max_rows_the_served_model_learns_every_row_and_the_holdout_scores_stay_the_compared_models() {
    let data = dataset(300, 11);
    let encoder = Encoder::from_spec(spec());
    let all: Vec<usize> = (0..data.n_rows()).collect();
    // Without calibration, so that the served model is the tree itself.
    let config = TrainConfig {
        candidates: vec![Candidate::DecisionTree {
            max_depth: None,
            min_samples_leaf: 1,
            class_weight: None,
        }],
        calibrate: false,
        ..small_config(2)
    };
    assert!(config.refit_max_rows >= 300, "the default refits 300 rows");
    let refitted = train(&data, &encoder, 4, &config).unwrap();
    let compared_only = train(
        &data,
        &encoder,
        4,
        &TrainConfig {
            refit_max_rows: 0,
            ..config.clone()
        },
    )
    .unwrap();
    assert_eq!(refitted.served_rows, Some(300));
    assert_eq!(compared_only.served_rows, None);
    // The holdout scores and predictions are the compared model's in both.
    assert_eq!(refitted.holdout, compared_only.holdout);
    assert_eq!(refitted.holdout_predicted, compared_only.holdout_predicted);
    assert_eq!(refitted.training_rows, compared_only.training_rows);
    // The served model is the chosen candidate fitted on every row with the same seed; the
    // compared model the same candidate fitted on the training rows only.
    let x_all = data.matrix(&encoder, &all).unwrap();
    let fit_on = |rows: &[usize]| {
        let y: Vec<i32> = rows.iter().map(|&r| data.labels[r] as i32).collect();
        Fitted::fit(
            &refitted.chosen,
            &data.matrix(&encoder, rows).unwrap(),
            &y,
            config.seed,
            1,
        )
        .unwrap()
        .predict_proba(&x_all, 4)
        .unwrap()
    };
    let served = refitted.model.predict_proba(&x_all, 4).unwrap();
    assert_eq!(served, fit_on(&all));
    assert_eq!(
        compared_only.model.predict_proba(&x_all, 4).unwrap(),
        fit_on(&refitted.training_rows)
    );
    assert_ne!(
        served,
        fit_on(&refitted.training_rows),
        "the holdout rows changed the tree"
    );
    // Deterministic: the same artifact whatever the threads.
    assert_eq!(
        artifact_bytes(&data, &config),
        artifact_bytes(
            &data,
            &TrainConfig {
                threads: 1,
                ..config.clone()
            }
        )
    );
    // Artifacts written before the setting read it as 0: their body is the compared model.
    let mut old = serde_json::to_value(&config).unwrap();
    old.as_object_mut().unwrap().remove("refit_max_rows");
    let read: TrainConfig = serde_json::from_value(old).unwrap();
    assert_eq!(read.refit_max_rows, 0);
}

#[test]
fn every_candidate_and_the_holdout_have_a_log_loss_and_a_brier_score() {
    let data = dataset(400, 5);
    let encoder = Encoder::from_spec(spec());
    let config = TrainConfig {
        refit_max_rows: 0,
        ..small_config(2)
    };
    let trained = train(&data, &encoder, 4, &config).unwrap();
    for candidate in &trained.cv {
        let (log_loss, brier) = (candidate.mean_log_loss.unwrap(), candidate.mean_brier.unwrap());
        assert!(log_loss > 0.0 && log_loss.is_finite(), "{candidate:?}");
        assert!((0.0..=2.0).contains(&brier), "{candidate:?}");
    }
    // The holdout's are those of the compared model's probabilities (served here).
    let x = data.matrix(&encoder, &trained.holdout_rows).unwrap();
    let truth: Vec<u8> = trained.holdout_rows.iter().map(|&r| data.labels[r]).collect();
    let expected = driftloop_core::metrics::probability_scores(&truth, &trained.model.predict_proba(&x, 4).unwrap());
    assert_eq!(trained.holdout_probabilities, expected);
    // Scores written before these were measured read as absent.
    let mut old = serde_json::to_value(&trained.cv[0]).unwrap();
    old.as_object_mut().unwrap().remove("mean_log_loss");
    old.as_object_mut().unwrap().remove("mean_brier");
    let read: select::CandidateScore = serde_json::from_value(old).unwrap();
    assert_eq!((read.mean_log_loss, read.mean_brier), (None, None));
}

#[test]
fn a_gradient_boosting_artifact_is_byte_identical_whatever_the_threads_and_scores_after_loading() {
    let data = dataset(600, 21);
    let config = TrainConfig {
        candidates: vec![Candidate::GradientBoosting {
            learning_rate: 0.1,
            max_iter: 30,
            max_leaf_nodes: 15,
            min_samples_leaf: 5,
            l2: 0.0,
            class_weight: None,
        }],
        ..small_config(3)
    };
    let bytes = artifact_bytes(&data, &config);
    assert_eq!(
        bytes,
        artifact_bytes(
            &data,
            &TrainConfig {
                threads: 1,
                ..config.clone()
            }
        )
    );
    let artifact = decode_artifact(&bytes).unwrap();
    assert_eq!(artifact.header.family, Family::GradientBoosting);
    let encoder = Encoder::from_spec(spec());
    let trained = train(&data, &encoder, 4, &config).unwrap();
    let all: Vec<usize> = (0..data.n_rows()).collect();
    let x = data.matrix(&encoder, &all).unwrap();
    let loaded = artifact.model.predict_proba(&x, 4).unwrap();
    assert_eq!(loaded, trained.model.predict_proba(&x, 4).unwrap());
    assert!(loaded.iter().all(|p| (p.iter().sum::<f64>() - 1.0).abs() < 1e-12));
    let mut counts = [0usize; 4];
    for &l in &data.labels {
        counts[l as usize] += 1;
    }
    let majority = *counts.iter().max().unwrap() as f64 / data.n_rows() as f64;
    assert!(trained.holdout.accuracy > majority + 0.2, "{:?}", trained.holdout);
}

#[test]
fn calibration_lowers_the_log_loss_of_an_over_confident_tree_and_is_served_with_it() {
    // data-fixtures/covariate-shift-1000.csv (it regenerates byte for byte from these).
    let rows = generate(Scenario::CovariateShift, 1000, 43);
    let data = Dataset {
        n_features: spec().n_features(),
        values: rows
            .iter()
            .flat_map(|r| r.features.clone())
            .collect::<Vec<f64>>()
            .into(),
        labels: rows.iter().map(|r| r.label).collect(),
    };
    let encoder = Encoder::from_spec(spec());
    // A full tree: its leaves hold a row or a few, so its probabilities are mostly 0 or 1.
    let config = TrainConfig {
        candidates: vec![Candidate::DecisionTree {
            max_depth: None,
            min_samples_leaf: 1,
            class_weight: None,
        }],
        ..small_config(2)
    };
    assert!(config.calibrate, "on by default");
    let calibrated = train(&data, &encoder, 4, &config).unwrap();
    let plain = train(
        &data,
        &encoder,
        4,
        &TrainConfig {
            calibrate: false,
            ..config.clone()
        },
    )
    .unwrap();
    let choice = calibrated.calibration.clone().unwrap();
    assert!(choice.method.is_some(), "{choice:?}");
    assert_eq!(choice.uncalibrated_log_loss, plain.holdout_probabilities.log_loss);
    // 800 cross-validation rows: fewer than isotonic needs, so the sigmoid was tried alone.
    assert!(calibrated.cv_rows < select::ISOTONIC_MIN_ROWS, "{}", calibrated.cv_rows);
    assert_eq!(choice.isotonic_log_loss, None);
    let best = choice.sigmoid_log_loss;
    assert_eq!(calibrated.holdout_probabilities.log_loss, best);
    assert!(
        best < choice.uncalibrated_log_loss / 2.0,
        "calibration at least halves the over-confident tree's log-loss: {choice:?}"
    );
    assert_eq!(plain.calibration, None);
    // The served model carries the map: its probabilities are the calibrated ones.
    let Fitted::Calibrated { model, calibration } = &calibrated.model else {
        panic!("a calibrated model")
    };
    assert_eq!(Some(calibration.method), choice.method);
    let all: Vec<usize> = (0..data.n_rows()).collect();
    let x = data.matrix(&encoder, &all).unwrap();
    let mut expected = model.predict_proba(&x, 4).unwrap();
    calibration.apply(&mut expected);
    let served = calibrated.model.predict_proba(&x, 4).unwrap();
    assert_eq!(served, expected);
    assert!(served.iter().all(|p| (p.iter().sum::<f64>() - 1.0).abs() < 1e-12));
    assert_eq!(calibrated.model.family(), Family::DecisionTree);
    // From 1,000 cross-validation rows on, the isotonic map is tried too.
    let more = dataset(1_500, 43);
    let tried = train(&more, &encoder, 4, &config).unwrap().calibration.unwrap();
    assert!(tried.isotonic_log_loss.is_some(), "{tried:?}");
    // A logistic regression's probabilities are its own: no calibration is offered.
    let logistic = TrainConfig {
        candidates: vec![Candidate::LogisticRegression {
            alpha: 0.1,
            class_weight: None,
        }],
        ..config
    };
    assert_eq!(train(&data, &encoder, 4, &logistic).unwrap().calibration, None);
}
