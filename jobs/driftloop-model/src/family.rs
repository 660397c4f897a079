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
//!   the rows counted per column, class and value into the log probabilities smartcore's
//!   `CategoricalNB` computes (tested equal); its `predict` takes the argmax of
//!   log prior + Σ log P(value | class), and the probabilities are the softmax of those same
//!   log posteriors. A value above every value seen in training for its column gets the
//!   probability of a value seen 0 times (smartcore's `predict` would drop the whole row's
//!   likelihood).
//!   Continuous columns are cut into decile bins first ([`CutNaiveBayes`]).
//! - **gradient boosting**: histogram gradient-boosted regression trees on the log-loss
//!   ([`crate::boost`]), one tree per class and round on the CART learner's bins; the
//!   probabilities are the softmax of the summed raw scores.
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

pub use crate::format1::{SmartcoreForest, SmartcoreTree};
pub use crate::logistic::Logistic;
pub use crate::naive_bayes::{CutNaiveBayes, NaiveBayes};
use crate::values::{Inputs, Rows, Value, SCORE_BLOCK_ROWS};
use crate::{cart, format1, logistic, ModelError};

/// Feature rows as smartcore takes them: `n × p`, row-major.
pub type Matrix = DenseMatrix<f64>;

/// A model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    LogisticRegression,
    RandomForest,
    DecisionTree,
    NaiveBayes,
    GradientBoosting,
}

impl Family {
    pub const ALL: [Family; 5] = [
        Family::LogisticRegression,
        Family::RandomForest,
        Family::DecisionTree,
        Family::NaiveBayes,
        Family::GradientBoosting,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Family::LogisticRegression => "logistic_regression",
            Family::RandomForest => "random_forest",
            Family::DecisionTree => "decision_tree",
            Family::NaiveBayes => "naive_bayes",
            Family::GradientBoosting => "gradient_boosting",
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

/// How the rows of each class weigh in a fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeight {
    /// Each class weighs as much as every other: a row of class c counts
    /// n / (k · n_c), k the classes present (scikit-learn's `class_weight="balanced"`).
    Balanced,
}

/// The families a class weight applies to: the ones whose fit sums over rows (naive
/// Bayes's counts are its model, as in scikit-learn, which gives it no class weight).
pub fn weighted_family(family: Family) -> bool {
    !matches!(family, Family::NaiveBayes)
}

/// One family with its hyper-parameters: a point of the search grid. `class_weight`
/// (absent: every row counts once) is left out of the JSON when absent, so that
/// candidates written before it existed read and write as they were.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum Candidate {
    LogisticRegression {
        /// L2 penalty.
        alpha: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class_weight: Option<ClassWeight>,
    },
    RandomForest {
        n_trees: u16,
        max_depth: Option<u16>,
        min_samples_leaf: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class_weight: Option<ClassWeight>,
    },
    DecisionTree {
        max_depth: Option<u16>,
        min_samples_leaf: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class_weight: Option<ClassWeight>,
    },
    NaiveBayes {
        /// Lidstone smoothing: a count of `alpha` added to every value of every column.
        alpha: f64,
    },
    GradientBoosting {
        learning_rate: f64,
        /// Rounds at most (fewer when early stopping ends them; see [`crate::boost`]).
        max_iter: u16,
        max_leaf_nodes: u16,
        min_samples_leaf: usize,
        /// L2 penalty on the leaf values.
        l2: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class_weight: Option<ClassWeight>,
    },
}

impl Candidate {
    pub fn family(&self) -> Family {
        match self {
            Candidate::LogisticRegression { .. } => Family::LogisticRegression,
            Candidate::RandomForest { .. } => Family::RandomForest,
            Candidate::DecisionTree { .. } => Family::DecisionTree,
            Candidate::NaiveBayes { .. } => Family::NaiveBayes,
            Candidate::GradientBoosting { .. } => Family::GradientBoosting,
        }
    }

    /// The class weight, if any (naive Bayes has none).
    pub fn class_weight(&self) -> Option<ClassWeight> {
        match self {
            Candidate::LogisticRegression { class_weight, .. }
            | Candidate::RandomForest { class_weight, .. }
            | Candidate::DecisionTree { class_weight, .. }
            | Candidate::GradientBoosting { class_weight, .. } => *class_weight,
            Candidate::NaiveBayes { .. } => None,
        }
    }

    /// The same candidate with `weight` (`None` for naive Bayes, which takes none).
    pub fn with_class_weight(&self, weight: ClassWeight) -> Option<Candidate> {
        let mut twin = self.clone();
        match &mut twin {
            Candidate::LogisticRegression { class_weight, .. }
            | Candidate::RandomForest { class_weight, .. }
            | Candidate::DecisionTree { class_weight, .. }
            | Candidate::GradientBoosting { class_weight, .. } => *class_weight = Some(weight),
            Candidate::NaiveBayes { .. } => return None,
        }
        Some(twin)
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
            .map(|(k, v)| match v {
                serde_json::Value::Null => format!("{k}=none"),
                serde_json::Value::String(text) => format!("{k}={text}"),
                other => format!("{k}={other}"),
            })
            .collect();
        format!("{}({})", self.family(), params.join(", "))
    }
}

/// The search grid: every family with a few settings around its usual defaults.
pub fn default_grid() -> Vec<Candidate> {
    let mut grid = Vec::new();
    for alpha in [0.01, 0.1, 1.0] {
        grid.push(Candidate::LogisticRegression {
            alpha,
            class_weight: None,
        });
    }
    for (max_depth, min_samples_leaf) in [(None, 1), (None, 3), (Some(8), 1)] {
        grid.push(Candidate::RandomForest {
            n_trees: 100,
            max_depth,
            min_samples_leaf,
            class_weight: None,
        });
    }
    for (max_depth, min_samples_leaf) in [(Some(4), 1), (Some(8), 1), (None, 3)] {
        grid.push(Candidate::DecisionTree {
            max_depth,
            min_samples_leaf,
            class_weight: None,
        });
    }
    for alpha in [0.1, 0.5, 1.0] {
        grid.push(Candidate::NaiveBayes { alpha });
    }
    // scikit-learn's HistGradientBoostingClassifier defaults, and smaller trees with smaller
    // leaves for small data.
    for (max_leaf_nodes, min_samples_leaf) in [(31, 20), (15, 5)] {
        grid.push(Candidate::GradientBoosting {
            learning_rate: 0.1,
            max_iter: 100,
            max_leaf_nodes,
            min_samples_leaf,
            l2: 0.0,
            class_weight: None,
        });
    }
    grid
}

/// A forest of CART trees whose leaf class shares are averaged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    pub trees: Vec<cart::Tree>,
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
    /// Naive Bayes with continuous columns cut into bins (added last: the serialized
    /// variants before it keep their tags).
    CutNaiveBayes(CutNaiveBayes),
    /// Gradient-boosted trees (after the others, for the same reason).
    GradientBoosting(crate::boost::Boosted),
    /// A model whose probabilities are calibrated ([`crate::calibrate`]).
    Calibrated {
        model: Box<Fitted>,
        calibration: crate::calibrate::Calibration,
    },
}

impl Fitted {
    /// Fits `candidate` on rows `x` with class indices `y`. `threads` bounds the
    /// parallelism (forests only); the result does not depend on it.
    pub fn fit(candidate: &Candidate, x: &Matrix, y: &[i32], seed: u64, threads: usize) -> Result<Fitted, ModelError> {
        Fitted::fit_columns(candidate, x, y, seed, threads, &[])
    }

    /// [`Fitted::fit`], told which columns of `x` are continuous
    /// ([`crate::Encoder::continuous`]): naive Bayes cuts them into bins.
    pub fn fit_columns(
        candidate: &Candidate,
        x: &Matrix,
        y: &[i32],
        seed: u64,
        threads: usize,
        continuous: &[bool],
    ) -> Result<Fitted, ModelError> {
        if candidate.family() == Family::LogisticRegression {
            Fitted::fit_logistic(candidate, x, y)
        } else {
            let (_, p) = x.shape();
            Fitted::fit_row_major(candidate, row_major(x).as_slice(), p, y, seed, threads, continuous)
        }
    }

    /// [`Fitted::fit_columns`] on encoded rows as they are laid out: trees, forests,
    /// boosting and naive Bayes learn from them where they lie (no copy of the rows),
    /// logistic regression from the matrix they become. The same model as from their
    /// matrix.
    pub fn fit_rows(
        candidate: &Candidate,
        rows: Rows,
        y: &[i32],
        seed: u64,
        threads: usize,
        continuous: &[bool],
    ) -> Result<Fitted, ModelError> {
        if candidate.family() == Family::LogisticRegression {
            return Fitted::fit_logistic(candidate, &rows.into_matrix()?, y);
        }
        match &rows.values {
            Inputs::Numbers(values) => {
                Fitted::fit_row_major(candidate, values, rows.width, y, seed, threads, continuous)
            }
            Inputs::Codes(codes) => Fitted::fit_row_major(candidate, codes, rows.width, y, seed, threads, continuous),
        }
    }

    /// The class probabilities of `x_check` by `candidate` fitted on `x` and `y` (one
    /// thread): what [`Fitted::fit_columns`] then [`Fitted::predict_proba`] give, bit for
    /// bit, except that a random forest is scored tree by tree as it grows and never held
    /// whole ([`cart::forest_probabilities`]). Cross-validation scores its folds this way.
    pub fn fit_and_score(
        candidate: &Candidate,
        x: &Matrix,
        y: &[i32],
        seed: u64,
        continuous: &[bool],
        x_check: &Matrix,
        n_classes: usize,
    ) -> Result<Vec<Vec<f64>>, ModelError> {
        if let Some(shape) = forest_shape(candidate, seed) {
            let (p, p_check) = (x.shape().1, x_check.shape().1);
            let check = row_major(x_check);
            return Fitted::forest_scores(candidate, shape, &row_major(x), p, y, &check, p_check, n_classes);
        }
        Fitted::fit_columns(candidate, x, y, seed, 1, continuous)?.predict_proba(x_check, n_classes)
    }

    /// The probabilities of `check` (numbers, row-major, `p_check` wide) by the forest
    /// `candidate` grown on `values` (`p` wide), scored tree by tree as it grows
    /// ([`cart::forest_probabilities`]).
    #[allow(clippy::too_many_arguments)]
    fn forest_scores<V: Value>(
        candidate: &Candidate,
        shape: cart::ForestShape,
        values: &[V],
        p: usize,
        y: &[i32],
        check: &[f64],
        p_check: usize,
        n_classes: usize,
    ) -> Result<Vec<Vec<f64>>, ModelError> {
        let n = values.len().checked_div(p).unwrap_or(y.len());
        let fit = FitClasses::of(candidate, n, y)?;
        if p_check != p {
            return Err(ModelError::Predict(format!(
                "the model takes {p} features, the rows have {p_check}"
            )));
        }
        let rows = cart::Labelled {
            values,
            n_features: p,
            y: &fit.labels,
            n_classes: fit.n_classes,
            weights: &cart::RowWeights::of_classes(&fit.weights, &fit.labels),
        };
        cart::forest_probabilities(rows, shape, check, n_classes)
    }

    /// [`Fitted::fit_and_score`] of encoded rows as they lie (one byte an input when they
    /// fit): trees, forests, boosting and naive Bayes learn from them and score `x_check`
    /// a block at a time, without the matrix of numbers of either and its row-major copy
    /// (5 MB a task at 20,000 cross-validation rows); logistic regression learns from the
    /// matrix. The same probabilities, bit for bit.
    pub fn fit_and_score_rows(
        candidate: &Candidate,
        x: &Rows,
        y: &[i32],
        seed: u64,
        continuous: &[bool],
        x_check: &Rows,
        n_classes: usize,
    ) -> Result<Vec<Vec<f64>>, ModelError> {
        if candidate.family() == Family::LogisticRegression {
            return Fitted::fit_logistic(candidate, &x.to_matrix()?, y)?
                .predict_proba(&x_check.to_matrix()?, n_classes);
        }
        match &x.values {
            Inputs::Numbers(values) => {
                Fitted::fit_and_score_values(candidate, values, x.width, y, seed, continuous, x_check, n_classes)
            }
            Inputs::Codes(codes) => {
                Fitted::fit_and_score_values(candidate, codes, x.width, y, seed, continuous, x_check, n_classes)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn fit_and_score_values<V: Value>(
        candidate: &Candidate,
        values: &[V],
        p: usize,
        y: &[i32],
        seed: u64,
        continuous: &[bool],
        x_check: &Rows,
        n_classes: usize,
    ) -> Result<Vec<Vec<f64>>, ModelError> {
        if let Some(shape) = forest_shape(candidate, seed) {
            let check = x_check.values.clone().into_numbers();
            return Fitted::forest_scores(candidate, shape, values, p, y, &check, x_check.width, n_classes);
        }
        Fitted::fit_row_major(candidate, values, p, y, seed, 1, continuous)?.predict_proba_rows(x_check, n_classes)
    }

    /// Logistic regression, from a matrix.
    fn fit_logistic(candidate: &Candidate, x: &Matrix, y: &[i32]) -> Result<Fitted, ModelError> {
        let (n, p) = x.shape();
        let fit = FitClasses::of(candidate, n, y)?;
        match *candidate {
            Candidate::LogisticRegression { alpha, .. } => {
                let (means, scales) = logistic::standardization(x);
                let z = logistic::standardize(x, &means, &scales);
                let positions: Vec<usize> = y
                    .iter()
                    .map(|c| fit.classes.binary_search(c).expect("a class of the rows"))
                    .collect();
                let class_weights: Vec<f64> = fit.classes.iter().map(|&c| fit.weights[c as usize]).collect();
                let fitted = logistic::fit(&z, &positions, p, fit.classes.len(), alpha, &class_weights)?;
                Ok(Fitted::LogisticRegression(Logistic {
                    means,
                    scales,
                    classes: fit.classes,
                    coefficients: fitted.weights,
                    intercepts: fitted.intercepts,
                }))
            }
            _ => unreachable!("{} is fitted from row-major values", candidate.family()),
        }
    }

    /// Trees, forests, boosting and naive Bayes, from row-major values `p` wide (numbers
    /// or codes: the same model).
    fn fit_row_major<V: Value>(
        candidate: &Candidate,
        values: &[V],
        p: usize,
        y: &[i32],
        seed: u64,
        threads: usize,
        continuous: &[bool],
    ) -> Result<Fitted, ModelError> {
        let n = values.len().checked_div(p).unwrap_or(y.len());
        let fit = FitClasses::of(candidate, n, y)?;
        let (labels, n_classes, weights) = (&fit.labels, fit.n_classes, &fit.weights);
        let row_weights = cart::RowWeights::of_classes(weights, labels);
        let rows = cart::Labelled {
            values,
            n_features: p,
            y: labels,
            n_classes,
            weights: &row_weights,
        };
        match *candidate {
            Candidate::RandomForest { .. } => {
                let shape = forest_shape(candidate, seed).expect("a forest has a shape");
                let trees = cart::fit_forest(rows, shape, threads)?;
                Ok(Fitted::RandomForest(Forest { trees }))
            }
            Candidate::DecisionTree {
                max_depth,
                min_samples_leaf,
                ..
            } => {
                let growth = cart::Growth {
                    max_depth,
                    min_samples_leaf,
                    features_per_split: None,
                };
                let tree = cart::fit_tree(rows, growth, seed)?;
                Ok(Fitted::DecisionTree(tree))
            }
            Candidate::GradientBoosting {
                learning_rate,
                max_iter,
                max_leaf_nodes,
                min_samples_leaf,
                l2,
                ..
            } => {
                let params = crate::boost::BoostParams {
                    learning_rate,
                    max_iter: max_iter as usize,
                    max_leaf_nodes: max_leaf_nodes as usize,
                    max_depth: None,
                    min_samples_leaf,
                    l2,
                };
                let boosted = crate::boost::fit_boosted(values, p, labels, n_classes, params, weights, seed, threads)?;
                Ok(Fitted::GradientBoosting(boosted))
            }
            Candidate::NaiveBayes { alpha } => {
                crate::naive_bayes::fit_any_rows(values, n, p, labels, alpha, continuous)
            }
            Candidate::LogisticRegression { .. } => unreachable!("logistic regression is fitted from a matrix"),
        }
    }

    pub fn family(&self) -> Family {
        match self {
            Fitted::LogisticRegression(_) => Family::LogisticRegression,
            Fitted::RandomForest(_) | Fitted::SmartcoreRandomForest(_) => Family::RandomForest,
            Fitted::DecisionTree(_) | Fitted::SmartcoreDecisionTree { .. } => Family::DecisionTree,
            Fitted::NaiveBayes(_) | Fitted::CutNaiveBayes(_) => Family::NaiveBayes,
            Fitted::GradientBoosting(_) => Family::GradientBoosting,
            Fitted::Calibrated { model, .. } => model.family(),
        }
    }

    /// Class probabilities, one row of `n_classes` per row of `x` (see the module
    /// documentation for where each family's come from).
    pub fn predict_proba(&self, x: &Matrix, n_classes: usize) -> Result<Vec<Vec<f64>>, ModelError> {
        let (n, p) = x.shape();
        let mut out = vec![vec![0.0; n_classes]; n];
        match self {
            Fitted::LogisticRegression(model) => model.probabilities(x, n_classes, &mut out)?,
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
            Fitted::NaiveBayes(model) => model.probabilities(x, n_classes, &mut out)?,
            Fitted::CutNaiveBayes(model) => model.probabilities(x, n_classes, &mut out)?,
            Fitted::GradientBoosting(model) => model.probabilities(&row_major(x), p, &mut out)?,
            Fitted::Calibrated { model, calibration } => {
                out = model.predict_proba(x, n_classes)?;
                calibration.apply(&mut out);
            }
            Fitted::SmartcoreRandomForest(forest) => forest.probabilities(x, n_classes, &mut out)?,
            Fitted::SmartcoreDecisionTree { tree } => format1::tree_probabilities(tree, x, n_classes, &mut out)?,
        }
        Ok(out)
    }

    /// [`Fitted::predict_proba`] of encoded rows, numbers or codes: a block of
    /// [`SCORE_BLOCK_ROWS`] rows at a time becomes a matrix, so that scoring many rows
    /// holds one block as numbers, not all of them. The same probabilities as from the
    /// rows' whole matrix (every family scores each row on its own).
    pub fn predict_proba_rows(&self, rows: &Rows, n_classes: usize) -> Result<Vec<Vec<f64>>, ModelError> {
        let mut out = Vec::with_capacity(rows.n_rows);
        self.score_blocks(rows, n_classes, |block| out.extend(block))?;
        Ok(out)
    }

    /// [`Fitted::predict`] of encoded rows, a block at a time (see
    /// [`Fitted::predict_proba_rows`]); only the classes are kept, not every row's
    /// probabilities (14 MB for 200,000 rows of four classes).
    pub fn predict_rows(&self, rows: &Rows, n_classes: usize) -> Result<Vec<u8>, ModelError> {
        let mut out = Vec::with_capacity(rows.n_rows);
        self.score_blocks(rows, n_classes, |block| {
            out.extend(block.iter().map(|p| argmax(p) as u8))
        })?;
        Ok(out)
    }

    /// The class probabilities of `rows`, [`SCORE_BLOCK_ROWS`] at a time, each block
    /// handed to `take` in order.
    fn score_blocks(
        &self,
        rows: &Rows,
        n_classes: usize,
        mut take: impl FnMut(Vec<Vec<f64>>),
    ) -> Result<(), ModelError> {
        let width = rows.width.max(1);
        let block = |values: Vec<f64>| -> Result<Vec<Vec<f64>>, ModelError> {
            let n = values.len() / width;
            let x = DenseMatrix::new(n, rows.width, values, false).map_err(|e| ModelError::Input(e.to_string()))?;
            self.predict_proba(&x, n_classes)
        };
        match &rows.values {
            Inputs::Numbers(values) => {
                for chunk in values.chunks(SCORE_BLOCK_ROWS * width) {
                    take(block(chunk.to_vec())?);
                }
            }
            Inputs::Codes(codes) => {
                for chunk in codes.chunks(SCORE_BLOCK_ROWS * width) {
                    take(block(chunk.iter().map(|&c| f64::from(c)).collect())?);
                }
            }
        }
        Ok(())
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

/// scikit-learn's balanced class weights: n / (k · n_c) for each class c present (k of
/// them), 1 for a class absent from `labels` (which no row carries).
pub fn balanced_weights(labels: &[u8], n_classes: usize) -> Vec<f64> {
    let counts = class_counts(labels, n_classes);
    let present = counts.iter().filter(|&&c| c > 0).count().max(1);
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                1.0
            } else {
                labels.len() as f64 / (present * c) as f64
            }
        })
        .collect()
}

/// How many of `labels` are of each of the `n_classes` classes.
pub(crate) fn class_counts(labels: &[u8], n_classes: usize) -> Vec<usize> {
    let mut counts = vec![0usize; n_classes];
    for &l in labels {
        counts[l as usize] += 1;
    }
    counts
}

/// Where `class` goes in a row of `n_classes` probabilities.
pub(crate) fn class_slot(class: i32, n_classes: usize) -> Result<usize, ModelError> {
    usize::try_from(class)
        .ok()
        .filter(|&c| c < n_classes)
        .ok_or_else(|| ModelError::Predict(format!("the model knows class {class}, beyond the {n_classes} classes")))
}

/// Refuses rows of another width than the model's, or a model knowing more classes than
/// asked for.
pub(crate) fn check_shape(
    model_features: usize,
    model_classes: usize,
    p: usize,
    n_classes: usize,
) -> Result<(), ModelError> {
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
pub(crate) fn softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / total).collect()
}

/// What every family's fit first reads off the class indices: them as bytes, the classes
/// present (sorted), how many classes there are (the largest index + 1) and each class's
/// weight (1 without a class weight).
struct FitClasses {
    labels: Vec<u8>,
    classes: Vec<i32>,
    n_classes: usize,
    weights: Vec<f64>,
}

impl FitClasses {
    fn of(candidate: &Candidate, n: usize, y: &[i32]) -> Result<FitClasses, ModelError> {
        if y.len() != n {
            return Err(ModelError::Input(format!("{n} rows but {} classes", y.len())));
        }
        let labels: Vec<u8> = y
            .iter()
            .map(|&c| u8::try_from(c).map_err(|_| ModelError::Input(format!("class index {c} is out of range"))))
            .collect::<Result<_, _>>()?;
        // The classes present, in order: marked per label rather than a sorted copy of
        // every row's class (which kept its 4 bytes a row through the fit).
        let mut present = [false; 256];
        for &label in &labels {
            present[label as usize] = true;
        }
        let classes: Vec<i32> = (0..=u8::MAX).filter(|&c| present[c as usize]).map(i32::from).collect();
        if classes.len() < 2 {
            return Err(ModelError::Fit(format!(
                "{}: the rows hold {} class(es); fitting needs at least 2",
                candidate.family(),
                classes.len()
            )));
        }
        let n_classes = *classes.last().expect("two classes") as usize + 1;
        // Each class's weight (index: class), all 1 without a class weight.
        let weights = match candidate.class_weight() {
            None => vec![1.0; n_classes],
            Some(ClassWeight::Balanced) => balanced_weights(&labels, n_classes),
        };
        Ok(FitClasses {
            labels,
            classes,
            n_classes,
            weights,
        })
    }
}

/// A random forest candidate's trees, depth, leaf size and seed; `None` for another family.
fn forest_shape(candidate: &Candidate, seed: u64) -> Option<cart::ForestShape> {
    match *candidate {
        Candidate::RandomForest {
            n_trees,
            max_depth,
            min_samples_leaf,
            ..
        } => Some(cart::ForestShape {
            n_trees: n_trees as usize,
            max_depth,
            min_samples_leaf,
            seed,
        }),
        _ => None,
    }
}

pub(crate) fn row_major(x: &Matrix) -> Vec<f64> {
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
