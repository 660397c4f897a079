//! Categorical naive Bayes: the rows' category codes counted per column, class and value,
//! with Lidstone smoothing, the log probabilities smartcore's `CategoricalNB` computes from
//! the same counts (its formula, in its order of operations: the same numbers, tested), so
//! that the class probabilities are the softmax of the log posteriors its `predict` takes
//! the argmax of (see [`crate::family`]). The counting reads the rows where they lie,
//! numbers or one-byte codes, with no copy.

use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;

use crate::family::{check_shape, row_major, softmax, Fitted, Matrix};
use crate::values::Value;
use crate::ModelError;

/// Categorical naive Bayes, as log probabilities.
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
    /// Fits categorical naive Bayes on `n` rows of `p` row-major values, each a category
    /// code (a whole number from 0 to 65,535).
    fn fit_values<V: Value>(
        values: &[V],
        n: usize,
        p: usize,
        labels: &[u8],
        alpha: f64,
    ) -> Result<NaiveBayes, ModelError> {
        if !(alpha > 0.0 && alpha.is_finite()) {
            return Err(ModelError::Config(format!(
                "naive Bayes needs a smoothing alpha above 0, not {alpha}"
            )));
        }
        if n == 0 || labels.len() != n || values.len() != n * p {
            return Err(ModelError::Fit(format!(
                "naive Bayes: {n} rows of {p} values, {} values and {} classes given",
                values.len(),
                labels.len()
            )));
        }
        // Every value a code, and each column's number of values (its largest + 1).
        let mut n_categories = vec![0usize; p];
        for (i, v) in values.iter().enumerate() {
            let code = category_code(v.number(), i, p)?;
            n_categories[i % p] = n_categories[i % p].max(code + 1);
        }
        let n_classes = labels.iter().copied().max().map_or(0, |m| m as usize + 1);
        let mut class_count = vec![0usize; n_classes];
        for &l in labels {
            class_count[l as usize] += 1;
        }
        // counts[j][class][value]
        let mut counts: Vec<Vec<Vec<usize>>> = n_categories
            .iter()
            .map(|&categories| vec![vec![0usize; categories]; n_classes])
            .collect();
        for (row, &l) in values.chunks_exact(p.max(1)).zip(labels) {
            for (j, v) in row.iter().enumerate() {
                counts[j][l as usize][v.number() as usize] += 1;
            }
        }
        let log_likelihoods = counts
            .iter()
            .zip(&n_categories)
            .map(|(by_class, &categories)| {
                by_class
                    .iter()
                    .zip(&class_count)
                    .map(|(by_value, &label_count)| {
                        by_value
                            .iter()
                            .map(|&c| ((c as f64 + alpha) / (label_count as f64 + categories as f64 * alpha)).ln())
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let log_priors = class_count
            .iter()
            .map(|&c| {
                if c == 0 {
                    f64::NEG_INFINITY
                } else {
                    (c as f64 / n as f64).ln()
                }
            })
            .collect();
        let log_unseen = n_categories
            .iter()
            .map(|&categories| {
                class_count
                    .iter()
                    .map(|&c| (alpha / (c as f64 + categories as f64 * alpha)).ln())
                    .collect()
            })
            .collect();
        Ok(NaiveBayes {
            log_priors,
            log_likelihoods,
            log_unseen,
        })
    }

    /// Each row's class probabilities into `out`.
    pub(crate) fn probabilities(&self, x: &Matrix, n_classes: usize, out: &mut [Vec<f64>]) -> Result<(), ModelError> {
        let p = x.shape().1;
        check_shape(self.log_likelihoods.len(), self.log_priors.len(), p, n_classes)?;
        let codes = category_codes(&row_major(x), p)?;
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

/// Value `i` of row-major values `p` wide as a category code (a whole number from 0 to
/// 65,535), or the error naming its row and column.
fn category_code(v: f64, i: usize, p: usize) -> Result<usize, ModelError> {
    if v >= 0.0 && v.fract() == 0.0 && v <= u16::MAX as f64 {
        Ok(v as usize)
    } else {
        let p = p.max(1);
        Err(ModelError::Input(format!(
            "naive Bayes takes category codes (whole numbers from 0): row {} column {} is {v}",
            i / p,
            i % p
        )))
    }
}

/// The values of `x` as category codes (row-major).
fn category_codes(values: &[f64], p: usize) -> Result<Vec<u32>, ModelError> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| category_code(v, i, p).map(|code| code as u32))
        .collect()
}

/// Naive Bayes whose continuous columns are cut into bins before counting: the columns
/// the encoder declares continuous (numbers, integers beyond 0–255) and any other whose
/// training values are not all category codes. Cut points are the column's training
/// deciles (the values at ranks ⌊k·n/10⌋ of the sorted column, k = 1…9, repeats
/// dropped); a value's bin is the number of cuts at or below it, so values beyond the
/// training range fall in the end bins. The categorical form on bins is used rather than
/// a Gaussian one: it assumes no shape for the column (the penguins' measurements are
/// bimodal across species) and keeps one family of likelihoods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CutNaiveBayes {
    /// Cut points by column; empty for a column taken as category codes.
    pub cuts: Vec<Vec<f64>>,
    pub model: NaiveBayes,
}

/// [`fit_any_rows`] on a matrix (the tests' way in; training passes row-major values).
#[cfg(test)]
fn fit_any(x: &Matrix, labels: &[u8], alpha: f64, continuous: &[bool]) -> Result<Fitted, ModelError> {
    let (n, p) = x.shape();
    fit_any_rows(row_major(x).as_slice(), n, p, labels, alpha, continuous)
}

/// Fits naive Bayes on `n` rows of `p` row-major values, cutting the columns that need it
/// ([`CutNaiveBayes`]); rows of category codes only give the plain model, as before cut
/// columns existed.
pub(crate) fn fit_any_rows<V: Value>(
    values: &[V],
    n: usize,
    p: usize,
    labels: &[u8],
    alpha: f64,
    continuous: &[bool],
) -> Result<Fitted, ModelError> {
    let column = |j: usize| values.iter().skip(j).step_by(p.max(1)).map(|v| v.number());
    let cuts: Vec<Vec<f64>> = (0..p)
        .map(|j| {
            if continuous.get(j).copied().unwrap_or(false) || !column(j).all(is_code) {
                decile_cuts(column(j).collect())
            } else {
                Vec::new()
            }
        })
        .collect();
    if cuts.iter().all(Vec::is_empty) {
        return NaiveBayes::fit_values(values, n, p, labels, alpha).map(Fitted::NaiveBayes);
    }
    let binned = cut(values, p, &cuts);
    let model = NaiveBayes::fit_values(&binned, n, p, labels, alpha)?;
    Ok(Fitted::CutNaiveBayes(CutNaiveBayes { cuts, model }))
}

impl CutNaiveBayes {
    /// Each row's class probabilities into `out`.
    pub(crate) fn probabilities(&self, x: &Matrix, n_classes: usize, out: &mut [Vec<f64>]) -> Result<(), ModelError> {
        let (n, p) = x.shape();
        if self.cuts.len() != p {
            return Err(ModelError::Predict(format!(
                "the model takes {} features, the rows have {p}",
                self.cuts.len()
            )));
        }
        let binned = DenseMatrix::new(n, p, cut(row_major(x).as_slice(), p, &self.cuts), false)
            .map_err(|e| ModelError::Input(e.to_string()))?;
        self.model.probabilities(&binned, n_classes, out)
    }
}

/// A whole number from 0 to 255: a value naive Bayes takes as a category as it is.
fn is_code(v: f64) -> bool {
    (0.0..=255.0).contains(&v) && v.fract() == 0.0
}

/// The training deciles of a column, repeats dropped (see [`CutNaiveBayes`]).
fn decile_cuts(mut column: Vec<f64>) -> Vec<f64> {
    column.sort_by(f64::total_cmp);
    let n = column.len();
    if n == 0 {
        return Vec::new();
    }
    let mut cuts: Vec<f64> = (1..10).map(|k| column[(k * n / 10).min(n - 1)]).collect();
    cuts.dedup();
    cuts
}

/// Row-major values with each cut column replaced by its bins.
fn cut<V: Value>(values: &[V], p: usize, cuts: &[Vec<f64>]) -> Vec<f64> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| match &cuts[i % p] {
            c if c.is_empty() => v.number(),
            c => c.partition_point(|&cut| cut <= v.number()) as f64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuous_columns_are_cut_at_their_training_deciles() {
        // Column 0 is a category code; column 1 continuous (declared); column 2 holds
        // wide integers (not codes, so cut though not declared).
        let n = 40;
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for i in 0..n {
            let class = (i % 2) as u8;
            values.extend([
                f64::from(class),
                i as f64 * 0.5 + f64::from(class) * 30.0,
                1000.0 + i as f64,
            ]);
            labels.push(class);
        }
        let x = DenseMatrix::new(n, 3, values.clone(), false).unwrap();
        let Fitted::CutNaiveBayes(model) = fit_any(&x, &labels, 1.0, &[false, true, false]).unwrap() else {
            panic!("cut columns give the cut model")
        };
        assert!(model.cuts[0].is_empty());
        assert_eq!(model.cuts[1].len(), 9);
        assert_eq!(
            model.cuts[2],
            (1..10).map(|k| 1000.0 + (k * 4) as f64).collect::<Vec<f64>>()
        );
        // A value beyond the training range is in an end bin, not refused.
        let beyond = DenseMatrix::new(1, 3, vec![1.0, 1e9, -5.0], false).unwrap();
        let mut out = vec![vec![0.0; 2]];
        model.probabilities(&beyond, 2, &mut out).unwrap();
        assert!((out[0].iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(
            out[0][1] > out[0][0],
            "class 1 holds the large values of column 1: {out:?}"
        );
        // Codes only: the plain model, as artifacts held before.
        let codes = DenseMatrix::new(2, 1, vec![0.0, 1.0], false).unwrap();
        assert!(matches!(
            fit_any(&codes, &[0, 1], 1.0, &[false]).unwrap(),
            Fitted::NaiveBayes(_)
        ));
    }
}
