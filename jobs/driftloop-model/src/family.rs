//! The candidate model families, fitted with smartcore, and how each gives class
//! probabilities:
//!
//! - **logistic regression** (multinomial, L2 penalty `alpha`, on standardized features):
//!   smartcore fits the weights but has no `predict_proba`. Its `predict` takes the
//!   argmax of `x·Wᵀ + b`, the logits of the softmax model it fitted; the probabilities
//!   are the softmax of those same logits (the sigmoid for two classes), computed here
//!   from `coefficients()` and `intercept()`.
//! - **random forest**: smartcore fits the forest (bootstrap samples, √p features tried at
//!   each split) but has no `predict_proba` and keeps its trees private. Its `predict` is a
//!   majority vote of the trees; the probabilities are each class's share of those votes.
//!   The trees are taken out of the fitted forest through its serde form (the crate's
//!   version is pinned, and a test checks the votes give smartcore's own predictions).
//! - **decision tree**: smartcore's `predict_proba`. A smartcore leaf keeps only its
//!   majority class, so a tree's probabilities are 1 for the predicted class, 0 elsewhere.
//!
//! Probabilities are over all classes of the spec; a class absent from the training rows
//! gets 0.

use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_classifier::{RandomForestClassifier, RandomForestClassifierParameters};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};
use smartcore::tree::decision_tree_classifier::{DecisionTreeClassifier, DecisionTreeClassifierParameters};

use crate::parallel::parallel_map;
use crate::ModelError;

/// Feature rows as smartcore takes them: `n × p`, row-major.
pub type Matrix = DenseMatrix<f64>;
/// A fitted smartcore decision tree over [`Matrix`] rows and class indices.
pub type Tree = DecisionTreeClassifier<f64, i32, Matrix, Vec<i32>>;

/// A model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    LogisticRegression,
    RandomForest,
    DecisionTree,
}

impl Family {
    pub const ALL: [Family; 3] = [Family::LogisticRegression, Family::RandomForest, Family::DecisionTree];

    pub fn as_str(self) -> &'static str {
        match self {
            Family::LogisticRegression => "logistic_regression",
            Family::RandomForest => "random_forest",
            Family::DecisionTree => "decision_tree",
        }
    }

    pub fn parse(raw: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.as_str() == raw)
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One family with its hyper-parameters: a point of the search grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum Candidate {
    LogisticRegression {
        /// L2 penalty.
        alpha: f64,
    },
    RandomForest {
        n_trees: u16,
        max_depth: Option<u16>,
        min_samples_leaf: usize,
    },
    DecisionTree {
        max_depth: Option<u16>,
        min_samples_leaf: usize,
    },
}

impl Candidate {
    pub fn family(&self) -> Family {
        match self {
            Candidate::LogisticRegression { .. } => Family::LogisticRegression,
            Candidate::RandomForest { .. } => Family::RandomForest,
            Candidate::DecisionTree { .. } => Family::DecisionTree,
        }
    }

    /// The hyper-parameters alone, as a JSON object (for registries and trackers).
    pub fn params(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut map)) => {
                map.remove("family");
                map
            }
            _ => serde_json::Map::new(),
        }
    }

    /// A short name such as `random_forest(n_trees=100, max_depth=none, min_samples_leaf=1)`.
    pub fn label(&self) -> String {
        let params: Vec<String> = self
            .params()
            .into_iter()
            .map(|(k, v)| format!("{k}={}", if v.is_null() { "none".to_string() } else { v.to_string() }))
            .collect();
        format!("{}({})", self.family(), params.join(", "))
    }
}

/// The search grid: every family with a few settings around its usual defaults.
pub fn default_grid() -> Vec<Candidate> {
    let mut grid = Vec::new();
    for alpha in [0.01, 0.1, 1.0] {
        grid.push(Candidate::LogisticRegression { alpha });
    }
    for (max_depth, min_samples_leaf) in [(None, 1), (None, 3), (Some(8), 1)] {
        grid.push(Candidate::RandomForest {
            n_trees: 100,
            max_depth,
            min_samples_leaf,
        });
    }
    for (max_depth, min_samples_leaf) in [(Some(4), 1), (Some(8), 1), (None, 3)] {
        grid.push(Candidate::DecisionTree {
            max_depth,
            min_samples_leaf,
        });
    }
    grid
}

/// Logistic regression: the standardization it was fitted on, and its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    pub means: Vec<f64>,
    pub scales: Vec<f64>,
    /// Class indices in the order of the weight rows.
    pub classes: Vec<i32>,
    /// One row of weights per class (a single row, for class `classes[1]`, with two
    /// classes).
    pub coefficients: Vec<Vec<f64>>,
    pub intercepts: Vec<f64>,
}

/// A forest: the trees smartcore grew, which vote.
#[derive(Debug, Serialize, Deserialize)]
pub struct Forest {
    pub classes: Vec<i32>,
    pub trees: Vec<Tree>,
}

/// A fitted model of any family. (Externally tagged: the binary body format cannot
/// carry an internally tagged enum.)
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fitted {
    LogisticRegression(Logistic),
    RandomForest(Forest),
    DecisionTree { tree: Tree },
}

/// Trees per unit of parallel work when growing a forest. Fixed, so the trees and their
/// seeds do not depend on how many threads grow them.
const TREES_PER_CHUNK: u16 = 25;

fn failed(what: &str) -> impl FnOnce(smartcore::error::Failed) -> ModelError + '_ {
    move |e| ModelError::Fit(format!("{what}: {e}"))
}

impl Fitted {
    /// Fits `candidate` on rows `x` with class indices `y`. `threads` bounds the
    /// parallelism (forests only); the result does not depend on it.
    pub fn fit(candidate: &Candidate, x: &Matrix, y: &[i32], seed: u64, threads: usize) -> Result<Fitted, ModelError> {
        let y_vec = y.to_vec();
        match *candidate {
            Candidate::LogisticRegression { alpha } => {
                let (means, scales) = standardization(x);
                let z = standardize(x, &means, &scales);
                let model =
                    LogisticRegression::fit(&z, &y_vec, LogisticRegressionParameters::default().with_alpha(alpha))
                        .map_err(failed("logistic regression"))?;
                let coefficients = model.coefficients();
                let (rows, cols) = coefficients.shape();
                let intercept = model.intercept();
                Ok(Fitted::LogisticRegression(Logistic {
                    means,
                    scales,
                    classes: model.classes().clone(),
                    coefficients: (0..rows)
                        .map(|r| (0..cols).map(|c| *coefficients.get((r, c))).collect())
                        .collect(),
                    intercepts: (0..rows).map(|r| *intercept.get((r, 0))).collect(),
                }))
            }
            Candidate::RandomForest {
                n_trees,
                max_depth,
                min_samples_leaf,
            } => {
                let chunks: Vec<(u64, u16)> = (0..n_trees.div_ceil(TREES_PER_CHUNK))
                    .map(|c| {
                        let size = TREES_PER_CHUNK.min(n_trees - c * TREES_PER_CHUNK);
                        // Each tree's seed is its chunk's seed plus its index in the chunk.
                        (seed.wrapping_add(c as u64 * 1_000_003), size)
                    })
                    .collect();
                let grown = parallel_map(&chunks, threads, |&(chunk_seed, size)| {
                    let params = RandomForestClassifierParameters {
                        max_depth,
                        min_samples_leaf,
                        n_trees: size,
                        seed: chunk_seed,
                        ..Default::default()
                    };
                    let forest = RandomForestClassifier::fit(x, &y_vec, params).map_err(failed("random forest"))?;
                    forest_trees(&forest)
                });
                let mut trees = Vec::with_capacity(n_trees as usize);
                for chunk in grown {
                    trees.extend(chunk?);
                }
                let mut classes = y_vec;
                classes.sort_unstable();
                classes.dedup();
                Ok(Fitted::RandomForest(Forest { classes, trees }))
            }
            Candidate::DecisionTree {
                max_depth,
                min_samples_leaf,
            } => {
                let params = DecisionTreeClassifierParameters {
                    max_depth,
                    min_samples_leaf,
                    seed: Some(seed),
                    ..Default::default()
                };
                let tree = DecisionTreeClassifier::fit(x, &y_vec, params).map_err(failed("decision tree"))?;
                Ok(Fitted::DecisionTree { tree })
            }
        }
    }

    pub fn family(&self) -> Family {
        match self {
            Fitted::LogisticRegression(_) => Family::LogisticRegression,
            Fitted::RandomForest(_) => Family::RandomForest,
            Fitted::DecisionTree { .. } => Family::DecisionTree,
        }
    }

    /// Class probabilities, one row of `n_classes` per row of `x` (see the module
    /// documentation for where each family's come from).
    pub fn predict_proba(&self, x: &Matrix, n_classes: usize) -> Result<Vec<Vec<f64>>, ModelError> {
        let n = x.shape().0;
        let mut out = vec![vec![0.0; n_classes]; n];
        let class_slot = |class: i32| -> Result<usize, ModelError> {
            usize::try_from(class).ok().filter(|&c| c < n_classes).ok_or_else(|| {
                ModelError::Predict(format!("the model knows class {class}, beyond the {n_classes} classes"))
            })
        };
        match self {
            Fitted::LogisticRegression(model) => {
                let z = standardize(x, &model.means, &model.scales);
                let slots: Vec<usize> = model.classes.iter().map(|&c| class_slot(c)).collect::<Result<_, _>>()?;
                for (r, probabilities) in out.iter_mut().enumerate() {
                    let logits: Vec<f64> = model
                        .coefficients
                        .iter()
                        .zip(&model.intercepts)
                        .map(|(w, b)| w.iter().enumerate().map(|(c, w)| w * z.get((r, c))).sum::<f64>() + b)
                        .collect();
                    if model.classes.len() == 2 {
                        let p1 = 1.0 / (1.0 + (-logits[0]).exp());
                        probabilities[slots[0]] = 1.0 - p1;
                        probabilities[slots[1]] = p1;
                    } else {
                        let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                        let exps: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
                        let total: f64 = exps.iter().sum();
                        for (slot, e) in slots.iter().zip(exps) {
                            probabilities[*slot] = e / total;
                        }
                    }
                }
            }
            Fitted::RandomForest(forest) => {
                let mut votes = vec![vec![0u32; n_classes]; n];
                for tree in &forest.trees {
                    let predicted = tree.predict(x).map_err(|e| ModelError::Predict(e.to_string()))?;
                    for (row_votes, class) in votes.iter_mut().zip(predicted) {
                        row_votes[class_slot(class)?] += 1;
                    }
                }
                let n_trees = forest.trees.len().max(1) as f64;
                for (probabilities, row_votes) in out.iter_mut().zip(votes) {
                    for (p, v) in probabilities.iter_mut().zip(row_votes) {
                        *p = v as f64 / n_trees;
                    }
                }
            }
            Fitted::DecisionTree { tree } => {
                let predicted = tree.predict(x).map_err(|e| ModelError::Predict(e.to_string()))?;
                for (probabilities, class) in out.iter_mut().zip(predicted) {
                    probabilities[class_slot(class)?] = 1.0;
                }
            }
        }
        Ok(out)
    }

    /// The most probable class of each row (the first, on a tie: smartcore's rule).
    pub fn predict(&self, x: &Matrix, n_classes: usize) -> Result<Vec<u8>, ModelError> {
        Ok(self
            .predict_proba(x, n_classes)?
            .iter()
            .map(|p| argmax(p) as u8)
            .collect())
    }
}

/// The index of the first largest value.
pub fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate().skip(1) {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

/// The trees of a fitted smartcore forest. The forest keeps them private; its serde form
/// is the struct's fields in order (`trees`, `classes`, `samples`), read back here.
fn forest_trees(forest: &RandomForestClassifier<f64, i32, Matrix, Vec<i32>>) -> Result<Vec<Tree>, ModelError> {
    #[derive(Deserialize)]
    struct ForestFields {
        trees: Option<Vec<Tree>>,
        #[allow(dead_code)]
        classes: Option<Vec<i32>>,
        #[allow(dead_code)]
        samples: Option<Vec<Vec<bool>>>,
    }
    let config = bincode::config::standard();
    let bytes =
        bincode::serde::encode_to_vec(forest, config).map_err(|e| ModelError::Fit(format!("reading a forest: {e}")))?;
    let (fields, _): (ForestFields, usize) = bincode::serde::decode_from_slice(&bytes, config)
        .map_err(|e| ModelError::Fit(format!("reading a forest's trees: {e}")))?;
    fields
        .trees
        .ok_or_else(|| ModelError::Fit("the fitted forest has no trees".into()))
}

/// Column means and standard deviations (1 for a constant column).
fn standardization(x: &Matrix) -> (Vec<f64>, Vec<f64>) {
    let (n, p) = x.shape();
    let mut means = vec![0.0; p];
    let mut scales = vec![0.0; p];
    for c in 0..p {
        let mean = (0..n).map(|r| *x.get((r, c))).sum::<f64>() / n.max(1) as f64;
        let var = (0..n).map(|r| (*x.get((r, c)) - mean).powi(2)).sum::<f64>() / n.max(1) as f64;
        means[c] = mean;
        scales[c] = if var > 0.0 { var.sqrt() } else { 1.0 };
    }
    (means, scales)
}

fn standardize(x: &Matrix, means: &[f64], scales: &[f64]) -> Matrix {
    let (n, p) = x.shape();
    let mut values = Vec::with_capacity(n * p);
    for r in 0..n {
        for c in 0..p {
            values.push((*x.get((r, c)) - means[c]) / scales[c]);
        }
    }
    DenseMatrix::new(n, p, values, false).expect("the shape matches")
}
