//! Multinomial logistic regression with an L2 penalty, minimized by smartcore's L-BFGS.
//!
//! The model and the penalty are smartcore's `LogisticRegression`'s: the weights minimize
//! Σᵢ log-loss(softmax(W·xᵢ + b), yᵢ) + α/2 ‖W‖² (the intercepts are not penalized). Two
//! things differ, both for speed: the objective is written here over one contiguous
//! row-major buffer, computing the loss and its gradient in a single pass (and remembering
//! the last point, since the optimizer asks for both at the same weights), and it is
//! divided by the number of rows, so that the optimizer's gradient tolerance
//! ([`TOLERANCE`]) means the same on 100 rows as on 100,000 (smartcore's fixed 1e-8 on the
//! summed loss runs its L-BFGS to the 1,000-iteration limit on large data). The minimizer
//! is the same: dividing by n changes neither it nor the classes predicted.
//!
//! With class weights, a row's log-loss and gradient count its class's weight times
//! (scikit-learn's `class_weight`); balanced weights sum to n over the rows, so the
//! division by n keeps its meaning.

use std::cell::RefCell;

use smartcore::optimization::first_order::lbfgs::LBFGS;
use smartcore::optimization::first_order::FirstOrderOptimizer;
use smartcore::optimization::line_search::Backtracking;
use smartcore::optimization::FunctionOrder;

use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::arrays::Array;

use crate::family::{class_slot, softmax, Matrix};
use crate::ModelError;

/// The optimizer stops when no component of the (mean) gradient exceeds this: the default
/// tolerance of scikit-learn's L-BFGS solver for the same objective.
pub const TOLERANCE: f64 = 1e-4;
/// Iterations at most.
pub const MAX_ITERATIONS: usize = 1_000;

/// Fitted weights: `weights[k]` (length p) and `intercepts[k]` for each of the k classes.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    pub weights: Vec<Vec<f64>>,
    pub intercepts: Vec<f64>,
    pub iterations: usize,
}

/// The objective on `x` (`n × p`, row-major) and class indices `y` (below `k`), each
/// row weighing its class's `class_weights[y]`.
pub struct Objective<'a> {
    x: &'a [f64],
    y: &'a [usize],
    class_weights: &'a [f64],
    n: usize,
    p: usize,
    k: usize,
    alpha: f64,
    /// The last point evaluated, its value and gradient.
    memo: RefCell<(Vec<f64>, f64, Vec<f64>)>,
}

impl<'a> Objective<'a> {
    pub fn new(
        x: &'a [f64],
        y: &'a [usize],
        class_weights: &'a [f64],
        p: usize,
        k: usize,
        alpha: f64,
    ) -> Objective<'a> {
        Objective {
            x,
            y,
            class_weights,
            n: y.len(),
            p,
            k,
            alpha,
            memo: RefCell::new((Vec::new(), f64::NAN, Vec::new())),
        }
    }

    /// Value and gradient at `w` (`k × (p + 1)`: each class's weights, then its intercept).
    pub fn evaluate(&self, w: &[f64]) -> (f64, Vec<f64>) {
        {
            let memo = self.memo.borrow();
            if memo.0.as_slice() == w {
                return (memo.1, memo.2.clone());
            }
        }
        let (loss, mut gradient) = match self.k {
            2 => self.sums::<2>(w),
            3 => self.sums::<3>(w),
            4 => self.sums::<4>(w),
            5 => self.sums::<5>(w),
            6 => self.sums::<6>(w),
            7 => self.sums::<7>(w),
            8 => self.sums::<8>(w),
            _ => self.sums_any_k(w),
        };
        let (n, p, k) = (self.n, self.p, self.k);
        let stride = p + 1;
        let scale = 1.0 / n.max(1) as f64;
        let penalty = self.alpha * scale;
        let mut squares = 0.0;
        for c in 0..k {
            for j in 0..p {
                let wj = w[c * stride + j];
                squares += wj * wj;
                gradient[c * stride + j] = gradient[c * stride + j] * scale + penalty * wj;
            }
            gradient[c * stride + p] *= scale;
        }
        let value = loss * scale + 0.5 * penalty * squares;
        *self.memo.borrow_mut() = (w.to_vec(), value, gradient.clone());
        (value, gradient)
    }
}

impl Objective<'_> {
    /// The summed log-loss and its gradient (no penalty, not divided by n), for K classes
    /// known at compile time: the class loops become vector operations.
    fn sums<const K: usize>(&self, w: &[f64]) -> (f64, Vec<f64>) {
        let p = self.p;
        let stride = p + 1;
        // Weights by feature, the K classes side by side.
        let mut by_feature = vec![[0.0; K]; p];
        let mut bias = [0.0; K];
        for c in 0..K {
            for (j, slot) in by_feature.iter_mut().enumerate() {
                slot[c] = w[c * stride + j];
            }
            bias[c] = w[c * stride + p];
        }
        let mut grad_by_feature = vec![[0.0; K]; p];
        let mut grad_bias = [0.0; K];
        let mut loss = 0.0;
        for (row, &yi) in self.x.chunks_exact(p).zip(self.y) {
            let mut logits = bias;
            for (&v, wj) in row.iter().zip(&by_feature) {
                for c in 0..K {
                    logits[c] += v * wj[c];
                }
            }
            let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let mut total = 0.0;
            for logit in logits.iter_mut() {
                *logit = (*logit - max).exp();
                total += *logit;
            }
            // (A weight of 1 changes no bit of what follows.)
            let weight = self.class_weights[yi];
            loss -= weight * (logits[yi] / total).ln();
            let mut residual = [0.0; K];
            for c in 0..K {
                residual[c] = weight * (logits[c] / total);
            }
            residual[yi] -= weight;
            for (&v, gj) in row.iter().zip(grad_by_feature.iter_mut()) {
                for c in 0..K {
                    gj[c] += v * residual[c];
                }
            }
            for c in 0..K {
                grad_bias[c] += residual[c];
            }
        }
        let mut gradient = vec![0.0; K * stride];
        for c in 0..K {
            for (j, gj) in grad_by_feature.iter().enumerate() {
                gradient[c * stride + j] = gj[c];
            }
            gradient[c * stride + p] = grad_bias[c];
        }
        (loss, gradient)
    }

    /// The same sums for any number of classes.
    fn sums_any_k(&self, w: &[f64]) -> (f64, Vec<f64>) {
        let (p, k) = (self.p, self.k);
        let stride = p + 1;
        let mut loss = 0.0;
        let mut gradient = vec![0.0; k * stride];
        let mut logits = vec![0.0; k];
        for (row, &yi) in self.x.chunks_exact(p).zip(self.y) {
            for (c, logit) in logits.iter_mut().enumerate() {
                let wc = &w[c * stride..c * stride + p];
                *logit = w[c * stride + p] + row.iter().zip(wc).map(|(a, b)| a * b).sum::<f64>();
            }
            let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let mut total = 0.0;
            for logit in logits.iter_mut() {
                *logit = (*logit - max).exp();
                total += *logit;
            }
            let weight = self.class_weights[yi];
            loss -= weight * (logits[yi] / total).ln();
            for (c, e) in logits.iter().enumerate() {
                let residual = weight * (e / total) - if c == yi { weight } else { 0.0 };
                let gc = &mut gradient[c * stride..(c + 1) * stride];
                for (g, a) in gc[..p].iter_mut().zip(row) {
                    *g += residual * a;
                }
                gc[p] += residual;
            }
        }
        (loss, gradient)
    }
}

/// Fits the weights on standardized rows `x` (`n × p`) with class indices `y` below `k`,
/// class i weighing `class_weights[i]`.
pub fn fit(
    x: &[f64],
    y: &[usize],
    p: usize,
    k: usize,
    alpha: f64,
    class_weights: &[f64],
) -> Result<Weights, ModelError> {
    if x.len() != y.len() * p || y.iter().any(|&c| c >= k) || class_weights.len() != k {
        return Err(ModelError::Input("rows, classes and shape do not match".into()));
    }
    let objective = Objective::new(x, y, class_weights, p, k, alpha);
    let f = |w: &Vec<f64>| objective.evaluate(w).0;
    let df = |g: &mut Vec<f64>, w: &Vec<f64>| g.copy_from_slice(&objective.evaluate(w).1);
    let optimizer = LBFGS {
        max_iter: MAX_ITERATIONS,
        g_atol: TOLERANCE,
        ..Default::default()
    };
    let line_search: Backtracking<f64> = Backtracking {
        order: FunctionOrder::THIRD,
        ..Default::default()
    };
    let start = vec![0.0; k * (p + 1)];
    // smartcore's line search panics when it cannot find a step; that is a failed fit.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        optimizer.optimize(&f, &df, &start, &line_search)
    }))
    .map_err(|_| ModelError::Fit("logistic regression: the line search found no step".into()))?;
    if !result.x.iter().all(|w| w.is_finite()) {
        return Err(ModelError::Fit("logistic regression: the weights diverged".into()));
    }
    let stride = p + 1;
    Ok(Weights {
        weights: (0..k).map(|c| result.x[c * stride..c * stride + p].to_vec()).collect(),
        intercepts: (0..k).map(|c| result.x[c * stride + p]).collect(),
        iterations: result.iterations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gradient_is_the_derivative_of_the_value() {
        let x = [0.5, -1.0, 1.5, 2.0, -0.3, 0.1, 0.0, 1.0];
        let y = [0, 2, 1, 2];
        for class_weights in [[1.0, 1.0, 1.0], [0.5, 2.5, 1.25]] {
            let objective = Objective::new(&x, &y, &class_weights, 2, 3, 0.7);
            check_gradient(&objective, 9);
        }
    }

    fn check_gradient(objective: &Objective<'_>, size: usize) {
        let w: Vec<f64> = (0..size).map(|i| (i as f64 * 0.37).sin()).collect();
        let (_, gradient) = objective.evaluate(&w);
        for i in 0..w.len() {
            let h = 1e-6;
            let mut up = w.clone();
            up[i] += h;
            let mut down = w.clone();
            down[i] -= h;
            let numeric = (objective.evaluate(&up).0 - objective.evaluate(&down).0) / (2.0 * h);
            assert!(
                (numeric - gradient[i]).abs() < 1e-7,
                "{i}: {numeric} vs {}",
                gradient[i]
            );
        }
    }

    #[test]
    fn the_class_count_specialised_sums_match_the_general_ones() {
        let x: Vec<f64> = (0..60).map(|i| ((i * 13 % 17) as f64 - 8.0) / 4.0).collect();
        for k in 2..=9 {
            let y: Vec<usize> = (0..20).map(|r| r % k).collect();
            let w: Vec<f64> = (0..k * 4).map(|i| (i as f64 * 0.91).cos()).collect();
            let weights: Vec<f64> = (0..k).map(|c| 1.0 + c as f64 / 3.0).collect();
            let objective = Objective::new(&x, &y, &weights, 3, k, 0.5);
            let (general_loss, general_gradient) = objective.sums_any_k(&w);
            let (loss, gradient) = objective.evaluate(&w);
            assert!((loss - (general_loss / 20.0 + 0.5 * 0.5 / 20.0 * squares(&w, 3, k))).abs() < 1e-12);
            for (i, (g, general)) in gradient.iter().zip(&general_gradient).enumerate() {
                let penalty = if i % 4 == 3 { 0.0 } else { 0.5 / 20.0 * w[i] };
                assert!((g - (general / 20.0 + penalty)).abs() < 1e-12, "k {k}, {i}");
            }
        }
    }

    fn squares(w: &[f64], p: usize, k: usize) -> f64 {
        (0..k)
            .flat_map(|c| (0..p).map(move |j| c * (p + 1) + j))
            .map(|i| w[i] * w[i])
            .sum()
    }

    #[test]
    fn the_fit_stops_at_the_tolerance() {
        let x: Vec<f64> = (0..400).map(|i| ((i * 37 % 101) as f64 / 50.0) - 1.0).collect();
        let y: Vec<usize> = (0..200).map(|r| usize::from(x[2 * r] + x[2 * r + 1] > 0.1)).collect();
        let fitted = fit(&x, &y, 2, 2, 1.0, &[1.0, 1.0]).unwrap();
        let mut w = Vec::new();
        for c in 0..2 {
            w.extend(&fitted.weights[c]);
            w.push(fitted.intercepts[c]);
        }
        let (_, gradient) = Objective::new(&x, &y, &[1.0, 1.0], 2, 2, 1.0).evaluate(&w);
        assert!(gradient.iter().all(|g| g.abs() <= TOLERANCE), "{gradient:?}");
        assert!(fitted.iterations < MAX_ITERATIONS);
    }
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

impl Logistic {
    /// Each row's class probabilities into `out`: the softmax of the logits `x·Wᵀ + b` on
    /// the standardized rows (the sigmoid for a format-1 model's single row of weights).
    pub(crate) fn probabilities(&self, x: &Matrix, n_classes: usize, out: &mut [Vec<f64>]) -> Result<(), ModelError> {
        let p = x.shape().1;
        let z = standardize(x, &self.means, &self.scales);
        let slots: Vec<usize> = self
            .classes
            .iter()
            .map(|&c| class_slot(c, n_classes))
            .collect::<Result<_, _>>()?;
        for (row, probabilities) in z.chunks_exact(p.max(1)).zip(out.iter_mut()) {
            let logits: Vec<f64> = self
                .coefficients
                .iter()
                .zip(&self.intercepts)
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
        Ok(())
    }
}

/// Column means and standard deviations (1 for a constant column).
pub(crate) fn standardization(x: &Matrix) -> (Vec<f64>, Vec<f64>) {
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

pub(crate) fn standardize(x: &Matrix, means: &[f64], scales: &[f64]) -> Vec<f64> {
    let (n, p) = x.shape();
    let mut values = Vec::with_capacity(n * p);
    for r in 0..n {
        for c in 0..p {
            values.push((*x.get((r, c)) - means[c]) / scales[c]);
        }
    }
    values
}
