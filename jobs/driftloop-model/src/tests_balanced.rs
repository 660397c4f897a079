//! Class weights: balanced weights in every family that takes them, and the balanced
//! twins the grid tries on imbalanced classes.

use driftloop_core::fixtures::{generate, Scenario};
use driftloop_core::rng::SplitMix64;
use driftloop_core::spec;

use crate::family::balanced_weights;
use crate::*;

/// Baseline rows with all but `keep` of every 1,000 rows of class 3 left out, and a
/// `noise` share of the labels drawn at random (so that no family separates the classes).
fn imbalanced(n: usize, keep: u64, noise: u64, seed: u64) -> Dataset {
    let mut rng = SplitMix64::new(seed);
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for row in generate(Scenario::Baseline, n, seed) {
        if row.label == 3 && rng.next_u64() % 1000 >= keep {
            continue;
        }
        let label = if rng.next_u64() % 1000 < noise {
            (rng.next_u64() % 4) as u8
        } else {
            row.label
        };
        values.extend(&row.features);
        labels.push(label);
    }
    Dataset {
        n_features: spec().n_features(),
        values: values.into(),
        labels,
    }
}

fn small_grid() -> Vec<Candidate> {
    vec![
        Candidate::LogisticRegression {
            alpha: 0.1,
            class_weight: None,
        },
        Candidate::DecisionTree {
            max_depth: Some(4),
            min_samples_leaf: 1,
            class_weight: None,
        },
    ]
}

/// Every family that takes a class weight, at small settings, unweighted.
fn weighted_candidates() -> Vec<Candidate> {
    vec![
        Candidate::LogisticRegression {
            alpha: 0.1,
            class_weight: None,
        },
        Candidate::DecisionTree {
            max_depth: Some(6),
            min_samples_leaf: 1,
            class_weight: None,
        },
        Candidate::RandomForest {
            n_trees: 20,
            max_depth: Some(8),
            min_samples_leaf: 1,
            class_weight: None,
        },
        Candidate::GradientBoosting {
            learning_rate: 0.1,
            max_iter: 30,
            max_leaf_nodes: 15,
            min_samples_leaf: 5,
            l2: 0.0,
            class_weight: None,
        },
    ]
}

fn fit(candidate: &Candidate, data: &Dataset) -> Fitted {
    let rows: Vec<usize> = (0..data.n_rows()).collect();
    let x = data.matrix(&Encoder::from_spec(spec()), &rows).unwrap();
    let y: Vec<i32> = data.labels.iter().map(|&l| l as i32).collect();
    Fitted::fit(candidate, &x, &y, 7, 2).unwrap()
}

fn predicted(model: &Fitted, data: &Dataset) -> Vec<u8> {
    let rows: Vec<usize> = (0..data.n_rows()).collect();
    let x = data.matrix(&Encoder::from_spec(spec()), &rows).unwrap();
    model.predict(&x, 4).unwrap()
}

#[test]
fn balanced_weights_are_scikit_learns() {
    // n / (k · n_c) over the k = 2 classes present; an absent class weighs 1.
    assert_eq!(balanced_weights(&[0, 0, 0, 1], 3), vec![4.0 / 6.0, 2.0, 1.0]);
    assert_eq!(balanced_weights(&[2, 0, 1, 2, 0, 1], 3), vec![1.0, 1.0, 1.0]);
}

#[test]
fn balanced_weights_on_balanced_classes_change_no_bit_of_any_family() {
    // 150 rows of each class: every balanced weight is exactly 1.
    let mut data = imbalanced(900, 1000, 0, 3);
    let mut per_class = [0; 4];
    let keep: Vec<usize> = (0..data.n_rows())
        .filter(|&r| {
            let c = &mut per_class[data.labels[r] as usize];
            *c += 1;
            *c <= 150
        })
        .collect();
    assert_eq!(
        per_class.iter().map(|&c| c.min(150)).sum::<usize>(),
        600,
        "{per_class:?}"
    );
    let p = data.n_features;
    data.values = FeatureValues::Numbers(
        keep.iter()
            .flat_map(|&r| (r * p..(r + 1) * p).map(|i| data.values.number(i)))
            .collect(),
    );
    data.labels = keep.iter().map(|&r| data.labels[r]).collect();
    for candidate in weighted_candidates() {
        let twin = candidate.with_class_weight(ClassWeight::Balanced).unwrap();
        let bytes = |model: Fitted| bincode::serde::encode_to_vec(model, bincode::config::standard()).unwrap();
        let (plain, balanced) = (bytes(fit(&candidate, &data)), bytes(fit(&twin, &data)));
        assert!(plain == balanced, "{}", twin.label());
    }
}

#[test]
fn balanced_weights_make_every_weighted_family_find_more_of_the_rare_class() {
    let data = imbalanced(2000, 100, 300, 11);
    let rare = |model: &Fitted| {
        predicted(model, &data)
            .iter()
            .zip(&data.labels)
            .filter(|(p, l)| **p == 3 && **l == 3)
            .count()
    };
    for candidate in weighted_candidates() {
        let twin = candidate.with_class_weight(ClassWeight::Balanced).unwrap();
        let (plain, balanced) = (rare(&fit(&candidate, &data)), rare(&fit(&twin, &data)));
        assert!(
            balanced > plain,
            "{}: {balanced} rare rows found, {plain} without",
            twin.label()
        );
    }
    assert!(Candidate::NaiveBayes { alpha: 1.0 }
        .with_class_weight(ClassWeight::Balanced)
        .is_none());
}

#[test]
fn on_imbalanced_classes_the_grid_tries_balanced_twins_and_takes_one_only_when_it_scores_higher() {
    let data = imbalanced(2000, 50, 200, 5);
    assert!(select::imbalanced(&data.labels, 4));
    let encoder = Encoder::from_spec(spec());
    let config = TrainConfig {
        candidates: small_grid(),
        threads: 1,
        ..TrainConfig::default()
    };
    assert!(config.balance_classes, "on by default");
    let trained = train(&data, &encoder, 4, &config).unwrap();
    let labels: Vec<String> = trained.cv.iter().map(|c| c.candidate.label()).collect();
    assert_eq!(
        labels[2..],
        [
            "logistic_regression(alpha=0.1, class_weight=balanced)",
            "decision_tree(class_weight=balanced, max_depth=4, min_samples_leaf=1)",
        ],
        "one twin per weighted family, after the grid"
    );
    // The choice is the highest macro-F1 of all four, the grid's own first on a tie.
    let best = trained.cv.iter().fold(
        &trained.cv[0],
        |b, c| if c.mean_macro_f1 > b.mean_macro_f1 { c } else { b },
    );
    assert_eq!(trained.chosen, best.candidate);
    let f1: Vec<f64> = trained.cv.iter().map(|c| c.mean_macro_f1).collect();
    assert_eq!(
        trained.chosen.class_weight(),
        Some(ClassWeight::Balanced),
        "{labels:?} {f1:?}"
    );
    // The same with more threads.
    let threaded = train(
        &data,
        &encoder,
        4,
        &TrainConfig {
            threads: 3,
            ..config.clone()
        },
    )
    .unwrap();
    assert_eq!(
        (threaded.cv, threaded.chosen),
        (trained.cv.clone(), trained.chosen.clone())
    );
    assert_eq!(threaded.holdout, trained.holdout);

    // Turned off, or on classes within the ratio: the grid alone.
    let off = train(
        &data,
        &encoder,
        4,
        &TrainConfig {
            balance_classes: false,
            ..config.clone()
        },
    )
    .unwrap();
    assert_eq!(off.cv.len(), 2);
    let even = imbalanced(600, 1000, 300, 5);
    assert!(!select::imbalanced(&even.labels, 4));
    assert_eq!(train(&even, &encoder, 4, &config).unwrap().cv.len(), 2);
}

#[test]
fn candidates_and_configs_written_before_class_weights_read_as_they_were() {
    let grid = serde_json::to_string(&default_grid()).unwrap();
    assert!(!grid.contains("class_weight"), "{grid}");
    let old: Candidate =
        serde_json::from_str(r#"{"family":"decision_tree","max_depth":4,"min_samples_leaf":1}"#).unwrap();
    assert_eq!(old.class_weight(), None);
    let twin = old.with_class_weight(ClassWeight::Balanced).unwrap();
    let json = serde_json::to_string(&twin).unwrap();
    assert!(json.contains(r#""class_weight":"balanced""#), "{json}");
    assert_eq!(serde_json::from_str::<Candidate>(&json).unwrap(), twin);
    let mut config = serde_json::to_value(TrainConfig::default()).unwrap();
    config.as_object_mut().unwrap().remove("balance_classes");
    let read: TrainConfig = serde_json::from_value(config).unwrap();
    assert!(!read.balance_classes);
}
