//! Categorical naive Bayes: smartcore's `CategoricalNB` counts the rows, and driftloop
//! keeps its log probabilities, so that the class probabilities are the softmax of the
//! same log posteriors its `predict` takes the argmax of (see [`crate::family`]).

use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::naive_bayes::categorical::{CategoricalNB, CategoricalNBParameters};

use crate::family::{check_shape, row_major, softmax, Matrix};
use crate::ModelError;

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

impl NaiveBayes {
    /// Fits smartcore's categorical naive Bayes on the category codes of `x` and keeps its
    /// log probabilities.
    pub(crate) fn fit(x: &Matrix, labels: &[u8], alpha: f64) -> Result<NaiveBayes, ModelError> {
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

    /// Each row's class probabilities into `out`.
    pub(crate) fn probabilities(&self, x: &Matrix, n_classes: usize, out: &mut [Vec<f64>]) -> Result<(), ModelError> {
        let p = x.shape().1;
        check_shape(self.log_likelihoods.len(), self.log_priors.len(), p, n_classes)?;
        let codes = category_codes(x)?;
        for (row, probabilities) in codes.chunks_exact(p.max(1)).zip(out.iter_mut()) {
            let mut log_posterior = self.log_priors.clone();
            for (j, &value) in row.iter().enumerate() {
                for (class, lp) in log_posterior.iter_mut().enumerate() {
                    // (A slice's `get`: smartcore's `Array` has one too.)
                    *lp += self.log_likelihoods[j][class]
                        .as_slice()
                        .get(value as usize)
                        .copied()
                        .unwrap_or(self.log_unseen[j][class]);
                }
            }
            for (slot, share) in probabilities.iter_mut().zip(softmax(&log_posterior)) {
                *slot = share;
            }
        }
        Ok(())
    }
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
