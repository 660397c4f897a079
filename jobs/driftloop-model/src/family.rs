//! The candidate model families and how each gives class probabilities:
//!
//! - **logistic regression** (multinomial, L2 penalty `alpha`, on standardized features):
//!   the objective of smartcore's `LogisticRegression`, minimized by smartcore's L-BFGS with
//!   a gradient tolerance (see [`crate::logistic`]). The probabilities are the softmax of
//!   the fitted logits `x·Wᵀ + b`: the model's own.
//! - **random forest**: driftloop's CART trees ([`crate::cart`]), each on a bootstrap sample
//!   trying √p columns at each split; the probabilities are the mean of the trees' leaf
//!   class shares.
//! - **decision tree**: one CART tree on all columns; the probabilities are the class
//!   shares of the training rows in the row's leaf.
//! - **naive Bayes** (categorical, Lidstone smoothing `alpha`, on the category codes):
//!   smartcore's `CategoricalNB` counts the rows; its `predict` takes the argmax of
//!   log prior + Σ log P(value | class), and the probabilities are the softmax of those same
//!   log posteriors, computed here from its `class_count()` and `feature_log_prob()`. A
//!   value above every value seen in training for its column gets the probability of a
//!   value seen 0 times (smartcore's `predict` would drop the whole row's likelihood).
//!
//! Artifacts of format 1 hold smartcore's trees (smartcore has no `predict_proba` for its
//! forest and keeps the trees private; a smartcore leaf keeps only its majority class):
//! they still load and predict, a forest's probabilities being its trees' vote shares and
//! a tree's 1 for the predicted class.
//!
//! Probabilities are over all classes of the spec; a class absent from the training rows
//! gets 0.

use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::naive_bayes::categorical::{CategoricalNB, CategoricalNBParameters};
use smartcore::tree::decision_tree_classifier::DecisionTreeClassifier;

use crate::{cart, logistic, ModelError};

/// Feature rows as smartcore takes them: `n × p`, row-major.
pub type Matrix = DenseMatrix<f64>;
/// A smartcore decision tree over [`Matrix`] rows and class indices (format-1 artifacts).
pub type SmartcoreTree = DecisionTreeClassifier<f64, i32, Matrix, Vec<i32>>;

/// A model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    LogisticRegression,
    RandomForest,
    DecisionTree,
    NaiveBayes,
}

impl Family {
    pub const ALL: [Family; 4] = [
        Family::LogisticRegression,
        Family::RandomForest,
        Family::DecisionTree,
        Family::NaiveBayes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Family::LogisticRegression => "logistic_regression",
            Family::RandomForest => "random_forest",
            Family::DecisionTree => "decision_tree",
            Family::NaiveBayes => "naive_bayes",
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
    NaiveBayes {
        /// Lidstone smoothing: a count of `alpha` added to every value of every column.
        alpha: f64,
    },
}

impl Candidate {
    pub fn family(&self) -> Family {
        match self {
            Candidate::LogisticRegression { .. } => Family::LogisticRegression,
            Candidate::RandomForest { .. } => Family::RandomForest,
            Candidate::DecisionTree { .. } => Family::DecisionTree,
            Candidate::NaiveBayes { .. } => Family::NaiveBayes,
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
    for alpha in [0.1, 0.5, 1.0] {
        grid.push(Candidate::NaiveBayes { alpha });
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
    /// One row of weights per class. (Format-1 artifacts fitted by smartcore on two
    /// classes hold a single row, for class `classes[1]`.)
    pub coefficients: Vec<Vec<f64>>,
    pub intercepts: Vec<f64>,
}

/// A forest of CART trees whose leaf class shares are averaged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    pub trees: Vec<cart::Tree>,
}

/// Categorical naive Bayes: what smartcore's `CategoricalNB` counted, as log probabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NaiveBayes {
    /// ln P(class) by class index (−∞ for a class absent from the training rows).
    pub log_priors: Vec<f64>,
    /// ln P(value | class), by column, class index and value.
    pub log_likelihoods: Vec<Vec<Vec<f64>>>,
    /// ln P(value | class) of a value seen 0 times, by column and class index: used for a
    /// value above every value seen in training.
    pub log_unseen: Vec<Vec<f64>>,
}

/// A forest of smartcore trees, which vote (format-1 artifacts).
#[derive(Debug, Serialize, Deserialize)]
pub struct SmartcoreForest {
    pub classes: Vec<i32>,
    pub trees: Vec<SmartcoreTree>,
}

/// A fitted model of any family. (Externally tagged: the binary body format cannot
/// carry an internally tagged enum. The binary form numbers the variants in order, so
/// new ones go last.)
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fitted {
    LogisticRegression(Logistic),
    /// Read from format-1 artifacts only.
    SmartcoreRandomForest(SmartcoreForest),
    /// Read from format-1 artifacts only.
    SmartcoreDecisionTree {
        tree: SmartcoreTree,
    },
    RandomForest(Forest),
    DecisionTree(cart::Tree),
    NaiveBayes(NaiveBayes),
}

impl Fitted {
    /// Fits `candidate` on rows `x` with class indices `y`. `threads` bounds the
    /// parallelism (forests only); the result does not depend on it.
    pub fn fit(candidate: &Candidate, x: &Matrix, y: &[i32], seed: u64, threads: usize) -> Result<Fitted, ModelError> {
        let (n, p) = x.shape();
        if y.len() != n {
            return Err(ModelError::Input(format!("{n} rows but {} classes", y.len())));
        }
        let labels: Vec<u8> = y
            .iter()
            .map(|&c| u8::try_from(c).map_err(|_| ModelError::Input(format!("class index {c} is out of range"))))
            .collect::<Result<_, _>>()?;
        let mut classes: Vec<i32> = y.to_vec();
        classes.sort_unstable();
        classes.dedup();
        if classes.len() < 2 {
            return Err(ModelError::Fit(format!(
                "{}: the rows hold {} class(es); fitting needs at least 2",
                candidate.family(),
                classes.len()
            )));
        }
        let n_classes = *classes.last().expect("two classes") as usize + 1;
        match *candidate {
            Candidate::LogisticRegression { alpha } => {
                let (means, scales) = standardization(x);
                let z = standardize(x, &means, &scales);
                let positions: Vec<usize> = y
                    .iter()
                    .map(|c| classes.binary_search(c).expect("a class of the rows"))
                    .collect();
                let fitted = logistic::fit(&z, &positions, p, classes.len(), alpha)?;
                Ok(Fitted::LogisticRegression(Logistic {
                    means,
                    scales,
                    classes,
                    coefficients: fitted.weights,
                    intercepts: fitted.intercepts,
                }))
            }
            Candidate::RandomForest {
                n_trees,
                max_depth,
                min_samples_leaf,
            } => {
                let values = row_major(x);
                let trees = cart::fit_forest(
                    &values,
                    p,
                    &labels,
                    n_classes,
                    n_trees as usize,
                    max_depth,
                    min_samples_leaf,
                    seed,
                    threads,
                )?;
                Ok(Fitted::RandomForest(Forest { trees }))
            }
            Candidate::DecisionTree {
                max_depth,
                min_samples_leaf,
            } => {
                let growth = cart::Growth {
                    max_depth,
                    min_samples_leaf,
                    features_per_split: None,
                };
                let tree = cart::fit_tree(&row_major(x), p, &labels, n_classes, growth, seed)?;
                Ok(Fitted::DecisionTree(tree))
            }
            Candidate::NaiveBayes { alpha } => fit_naive_bayes(x, &labels, alpha).map(Fitted::NaiveBayes),
        }
    }

    pub fn family(&self) -> Family {
        match self {
            Fitted::LogisticRegression(_) => Family::LogisticRegression,
            Fitted::RandomForest(_) | Fitted::SmartcoreRandomForest(_) => Family::RandomForest,
            Fitted::DecisionTree(_) | Fitted::SmartcoreDecisionTree { .. } => Family::DecisionTree,
            Fitted::NaiveBayes(_) => Family::NaiveBayes,
        }
    }

    /// Class probabilities, one row of `n_classes` per row of `x` (see the module
    /// documentation for where each family's come from).
    pub fn predict_proba(&self, x: &Matrix, n_classes: usize) -> Result<Vec<Vec<f64>>, ModelError> {
        let (n, p) = x.shape();
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
                for (row, probabilities) in z.chunks_exact(p.max(1)).zip(out.iter_mut()) {
                    let logits: Vec<f64> = model
                        .coefficients
                        .iter()
                        .zip(&model.intercepts)
                        .map(|(w, b)| w.iter().zip(row).map(|(w, v)| w * v).sum::<f64>() + b)
                        .collect();
                    if logits.len() == 1 {
                        let p1 = 1.0 / (1.0 + (-logits[0]).exp());
                        probabilities[slots[0]] = 1.0 - p1;
                        probabilities[slots[1]] = p1;
                    } else {
                        for (slot, share) in slots.iter().zip(softmax(&logits)) {
                            probabilities[*slot] = share;
                        }
                    }
                }
            }
            Fitted::RandomForest(forest) => {
                let values = row_major(x);
                let share = 1.0 / forest.trees.len().max(1) as f64;
                for tree in &forest.trees {
                    check_shape(tree.n_features, tree.n_classes(), p, n_classes)?;
                    for (row, probabilities) in values.chunks_exact(p.max(1)).zip(out.iter_mut()) {
                        for (slot, s) in probabilities.iter_mut().zip(tree.leaf_shares(row)) {
                            *slot += s * share;
                        }
                    }
                }
            }
            Fitted::DecisionTree(tree) => {
                check_shape(tree.n_features, tree.n_classes(), p, n_classes)?;
                let values = row_major(x);
                for (row, probabilities) in values.chunks_exact(p.max(1)).zip(out.iter_mut()) {
                    for (slot, s) in probabilities.iter_mut().zip(tree.leaf_shares(row)) {
                        *slot = *s;
                    }
                }
            }
            Fitted::NaiveBayes(model) => {
                check_shape(model.log_likelihoods.len(), model.log_priors.len(), p, n_classes)?;
                let codes = category_codes(x)?;
                for (row, probabilities) in codes.chunks_exact(p.max(1)).zip(out.iter_mut()) {
                    let mut log_posterior = model.log_priors.clone();
                    for (j, &value) in row.iter().enumerate() {
                        for (class, lp) in log_posterior.iter_mut().enumerate() {
                            // (A slice's `get`: smartcore's `Array` has one too.)
                            *lp += model.log_likelihoods[j][class]
                                .as_slice()
                                .get(value as usize)
                                .copied()
                                .unwrap_or(model.log_unseen[j][class]);
                        }
                    }
                    for (slot, share) in probabilities.iter_mut().zip(softmax(&log_posterior)) {
                        *slot = share;
                    }
                }
            }
            Fitted::SmartcoreRandomForest(forest) => {
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
            Fitted::SmartcoreDecisionTree { tree } => {
                let predicted = tree.predict(x).map_err(|e| ModelError::Predict(e.to_string()))?;
                for (probabilities, class) in out.iter_mut().zip(predicted) {
                    probabilities[class_slot(class)?] = 1.0;
                }
            }
        }
        Ok(out)
    }

    /// The most probable class of each row (the first, on a tie).
    pub fn predict(&self, x: &Matrix, n_classes: usize) -> Result<Vec<u8>, ModelError> {
        Ok(self
            .predict_proba(x, n_classes)?
            .iter()
            .map(|p| argmax(p) as u8)
            .collect())
    }
}

/// Fits smartcore's categorical naive Bayes on the category codes of `x` and keeps its
/// log probabilities.
fn fit_naive_bayes(x: &Matrix, labels: &[u8], alpha: f64) -> Result<NaiveBayes, ModelError> {
    if !(alpha > 0.0 && alpha.is_finite()) {
        return Err(ModelError::Config(format!(
            "naive Bayes needs a smoothing alpha above 0, not {alpha}"
        )));
    }
    let (n, p) = x.shape();
    let codes = category_codes(x)?;
    let matrix = DenseMatrix::new(n, p, codes, false).map_err(|e| ModelError::Input(e.to_string()))?;
    let y: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
    let model = CategoricalNB::fit(&matrix, &y, CategoricalNBParameters::default().with_alpha(alpha))
        .map_err(|e| ModelError::Fit(format!("naive Bayes: {e}")))?;
    let counts = model.class_count();
    let log_priors = counts
        .iter()
        .map(|&c| {
            if c == 0 {
                f64::NEG_INFINITY
            } else {
                (c as f64 / n as f64).ln()
            }
        })
        .collect();
    let log_unseen = model
        .n_categories()
        .iter()
        .map(|&categories| {
            counts
                .iter()
                .map(|&c| (alpha / (c as f64 + categories as f64 * alpha)).ln())
                .collect()
        })
        .collect();
    Ok(NaiveBayes {
        log_priors,
        log_likelihoods: model.feature_log_prob().clone(),
        log_unseen,
    })
}

/// The values of `x` as category codes (row-major): naive Bayes takes whole numbers from 0.
fn category_codes(x: &Matrix) -> Result<Vec<u32>, ModelError> {
    row_major(x)
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            if v >= 0.0 && v.fract() == 0.0 && v <= u16::MAX as f64 {
                Ok(v as u32)
            } else {
                let p = x.shape().1.max(1);
                Err(ModelError::Input(format!(
                    "naive Bayes takes category codes (whole numbers from 0): row {} column {} is {v}",
                    i / p,
                    i % p
                )))
            }
        })
        .collect()
}

/// Refuses rows of another width than the model's, or a model knowing more classes than
/// asked for.
fn check_shape(model_features: usize, model_classes: usize, p: usize, n_classes: usize) -> Result<(), ModelError> {
    if model_features != p {
        return Err(ModelError::Predict(format!(
            "the model takes {model_features} features, the rows have {p}"
        )));
    }
    if model_classes > n_classes {
        return Err(ModelError::Predict(format!(
            "the model knows {model_classes} classes, beyond the {n_classes} asked for"
        )));
    }
    Ok(())
}

/// Probabilities from logits or log posteriors (−∞ gives 0).
fn softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / total).collect()
}

/// The values of `x`, row after row.
fn row_major(x: &Matrix) -> Vec<f64> {
    let (n, p) = x.shape();
    let mut values = Vec::with_capacity(n * p);
    for r in 0..n {
        for c in 0..p {
            values.push(*x.get((r, c)));
        }
    }
    values
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

fn standardize(x: &Matrix, means: &[f64], scales: &[f64]) -> Vec<f64> {
    let (n, p) = x.shape();
    let mut values = Vec::with_capacity(n * p);
    for r in 0..n {
        for c in 0..p {
            values.push((*x.get((r, c)) - means[c]) / scales[c]);
        }
    }
    values
}
