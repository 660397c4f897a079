//! Models of format-1 artifacts: smartcore's decision trees, alone or as a voting forest.
//! They are read, never fitted, so that a champion trained before format 2 keeps serving;
//! a smartcore leaf keeps only its majority class, so a tree's probabilities are 1 for the
//! predicted class and a forest's are its trees' vote shares.

use serde::{Deserialize, Serialize};
use smartcore::tree::decision_tree_classifier::DecisionTreeClassifier;

use crate::family::{class_slot, Matrix};
use crate::ModelError;

/// A smartcore decision tree over [`Matrix`] rows and class indices.
pub type SmartcoreTree = DecisionTreeClassifier<f64, i32, Matrix, Vec<i32>>;

/// A forest of smartcore trees, which vote (format-1 artifacts).
#[derive(Debug, Serialize, Deserialize)]
pub struct SmartcoreForest {
    pub classes: Vec<i32>,
    pub trees: Vec<SmartcoreTree>,
}

impl SmartcoreForest {
    /// Each row's vote shares into `out`.
    pub(crate) fn probabilities(&self, x: &Matrix, n_classes: usize, out: &mut [Vec<f64>]) -> Result<(), ModelError> {
        let n = out.len();
        let mut votes = vec![vec![0u32; n_classes]; n];
        for tree in &self.trees {
            let predicted = tree.predict(x).map_err(|e| ModelError::Predict(e.to_string()))?;
            for (row_votes, class) in votes.iter_mut().zip(predicted) {
                row_votes[class_slot(class, n_classes)?] += 1;
            }
        }
        let n_trees = self.trees.len().max(1) as f64;
        for (probabilities, row_votes) in out.iter_mut().zip(votes) {
            for (p, v) in probabilities.iter_mut().zip(row_votes) {
                *p = v as f64 / n_trees;
            }
        }
        Ok(())
    }
}

/// Each row's predicted class, with probability 1, into `out`.
pub(crate) fn tree_probabilities(
    tree: &SmartcoreTree,
    x: &Matrix,
    n_classes: usize,
    out: &mut [Vec<f64>],
) -> Result<(), ModelError> {
    let predicted = tree.predict(x).map_err(|e| ModelError::Predict(e.to_string()))?;
    for (probabilities, class) in out.iter_mut().zip(predicted) {
        probabilities[class_slot(class, n_classes)?] = 1.0;
    }
    Ok(())
}
