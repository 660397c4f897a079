//! Probability calibration: a map from a model's probability of each class to a better
//! one, fitted on out-of-fold probabilities (the cross-validation's, so the model did not
//! learn the rows it is calibrated on), one class against the rest, the calibrated
//! probabilities of a row then divided by their sum (a row whose sum is 0 gets equal
//! shares), as scikit-learn's `CalibratedClassifierCV(ensemble=False)` does.
//!
//! - **sigmoid** (Platt scaling): p′ = 1 / (1 + exp(a·p + b)), a and b minimizing the
//!   log-loss against Platt's smoothed targets ((n₊ + 1) / (n₊ + 2) for the class's rows,
//!   1 / (n₋ + 2) for the others), by Newton's method with a backtracking line search.
//! - **isotonic**: the non-decreasing step function closest in squared error (pool
//!   adjacent violators, equal probabilities pooled first), read between its points by
//!   linear interpolation and clipped to its first and last value outside them.

use serde::{Deserialize, Serialize};

mod holdout;
pub(crate) use holdout::{offered, HoldoutChosen, HoldoutOptions};

use crate::ModelError;

/// How probabilities are calibrated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Sigmoid,
    Isotonic,
}

impl Method {
    pub const ALL: [Method; 2] = [Method::Sigmoid, Method::Isotonic];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Sigmoid => "sigmoid",
            Method::Isotonic => "isotonic",
        }
    }
}

/// One class's map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClassMap {
    Sigmoid {
        a: f64,
        b: f64,
    },
    /// Points of a non-decreasing function, `x` strictly increasing.
    Isotonic {
        x: Vec<f64>,
        y: Vec<f64>,
    },
}

impl ClassMap {
    fn apply(&self, p: f64) -> f64 {
        match self {
            ClassMap::Sigmoid { a, b } => 1.0 / (1.0 + (a * p + b).exp()),
            ClassMap::Isotonic { x, y } => {
                if x.is_empty() {
                    return p;
                }
                if p <= x[0] {
                    return y[0];
                }
                if p >= x[x.len() - 1] {
                    return y[y.len() - 1];
                }
                let i = x.partition_point(|&v| v <= p);
                let (x0, x1, y0, y1) = (x[i - 1], x[i], y[i - 1], y[i]);
                y0 + (y1 - y0) * (p - x0) / (x1 - x0)
            }
        }
    }
}

/// A fitted calibration: one map per class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub method: Method,
    pub classes: Vec<ClassMap>,
}

impl Calibration {
    /// Fits `method` on rows of class probabilities and their true classes.
    pub fn fit(
        method: Method,
        probabilities: &[Vec<f64>],
        truth: &[u8],
        n_classes: usize,
    ) -> Result<Calibration, ModelError> {
        if probabilities.len() != truth.len() || probabilities.is_empty() {
            return Err(ModelError::Input(format!(
                "calibration needs one row of probabilities per true class, and some: {} and {}",
                probabilities.len(),
                truth.len()
            )));
        }
        let classes = (0..n_classes)
            .map(|k| {
                let p: Vec<f64> = probabilities
                    .iter()
                    .map(|row| row.get(k).copied().unwrap_or(0.0))
                    .collect();
                let y: Vec<bool> = truth.iter().map(|&t| t as usize == k).collect();
                match method {
                    Method::Sigmoid => fit_sigmoid(&p, &y),
                    Method::Isotonic => fit_isotonic(&p, &y),
                }
            })
            .collect();
        Ok(Calibration { method, classes })
    }

    /// Calibrates rows of class probabilities in place.
    pub fn apply(&self, probabilities: &mut [Vec<f64>]) {
        for row in probabilities {
            self.apply_row(row);
        }
    }

    /// Calibrates one row of class probabilities in place.
    pub(crate) fn apply_row(&self, row: &mut [f64]) {
        for (p, map) in row.iter_mut().zip(&self.classes) {
            *p = map.apply(*p);
        }
        let total: f64 = row.iter().sum();
        let n = row.len() as f64;
        for p in row.iter_mut() {
            *p = if total > 0.0 { *p / total } else { 1.0 / n };
        }
    }
}

/// Platt scaling of one class's probabilities `p` against `y` (is the class).
fn fit_sigmoid(p: &[f64], y: &[bool]) -> ClassMap {
    let positives = y.iter().filter(|&&v| v).count() as f64;
    let negatives = y.len() as f64 - positives;
    let high = (positives + 1.0) / (positives + 2.0);
    let low = 1.0 / (negatives + 2.0);
    let targets: Vec<f64> = y.iter().map(|&v| if v { high } else { low }).collect();
    // The loss of p' = 1/(1 + exp(a p + b)), written stably.
    let loss = |a: f64, b: f64| -> f64 {
        p.iter()
            .zip(&targets)
            .map(|(&f, &t)| {
                let z = a * f + b;
                // −[t ln σ(−z) + (1 − t) ln(1 − σ(−z))] = t·softplus(z) + (1 − t)·softplus(−z)
                t * softplus(z) + (1.0 - t) * softplus(-z)
            })
            .sum()
    };
    let (mut a, mut b) = (0.0, ((negatives + 1.0) / (positives + 1.0)).ln());
    let mut current = loss(a, b);
    for _ in 0..100 {
        // Gradient and Hessian of the loss in (a, b).
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&f, &t) in p.iter().zip(&targets) {
            let q = 1.0 / (1.0 + (-(a * f + b)).exp()); // d softplus(z)/dz = σ(z)
            let d = q - (1.0 - t); // d loss / dz = t σ(z) − (1 − t) σ(−z) = σ(z) − (1 − t)
            let w = q * (1.0 - q);
            ga += d * f;
            gb += d;
            haa += w * f * f;
            hab += w * f;
            hbb += w;
        }
        if ga.abs() < 1e-10 && gb.abs() < 1e-10 {
            break;
        }
        // Newton's step, the Hessian nudged to stay invertible.
        let (haa, hbb) = (haa + 1e-12, hbb + 1e-12);
        let det = haa * hbb - hab * hab;
        let (step_a, step_b) = if det.abs() > 1e-300 {
            ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det)
        } else {
            (ga, gb)
        };
        let mut scale = 1.0;
        let mut improved = false;
        while scale > 1e-10 {
            let (na, nb) = (a - scale * step_a, b - scale * step_b);
            let next = loss(na, nb);
            if next < current - 1e-4 * scale * (ga * step_a + gb * step_b) {
                a = na;
                b = nb;
                improved = current - next > 1e-12 * current.abs().max(1.0);
                current = next;
                break;
            }
            scale /= 2.0;
        }
        if !improved {
            break;
        }
    }
    ClassMap::Sigmoid { a, b }
}

fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// Isotonic regression of `y` (1 for the class) on `p`.
fn fit_isotonic(p: &[f64], y: &[bool]) -> ClassMap {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    // Equal probabilities pooled first: (x, mean y, weight).
    let mut points: Vec<(f64, f64, f64)> = Vec::new();
    for i in order {
        let target = if y[i] { 1.0 } else { 0.0 };
        match points.last_mut() {
            Some((x, mean, weight)) if *x == p[i] => {
                *mean = (*mean * *weight + target) / (*weight + 1.0);
                *weight += 1.0;
            }
            _ => points.push((p[i], target, 1.0)),
        }
    }
    // Pool adjacent violators: blocks of (mean, weight, points covered).
    let mut blocks: Vec<(f64, f64, usize)> = Vec::new();
    for &(_, mean, weight) in &points {
        blocks.push((mean, weight, 1));
        while blocks.len() >= 2 && blocks[blocks.len() - 2].0 > blocks[blocks.len() - 1].0 {
            let (m2, w2, c2) = blocks.pop().expect("two blocks");
            let (m1, w1, c1) = blocks.pop().expect("two blocks");
            blocks.push(((m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, c1 + c2));
        }
    }
    let mut fitted = Vec::with_capacity(points.len());
    for (mean, _, covered) in blocks {
        fitted.extend(std::iter::repeat_n(mean, covered));
    }
    ClassMap::Isotonic {
        x: points.iter().map(|&(x, ..)| x).collect(),
        y: fitted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_pools_the_violators_and_interpolates_between_points() {
        // Probabilities 0.1 … 0.5 with outcomes 0, 1, 0, 1, 1: (0.1 → 0), (0.2, 0.3 → ½), 1, 1.
        let map = fit_isotonic(&[0.3, 0.1, 0.5, 0.2, 0.4], &[false, false, true, true, true]);
        assert_eq!(
            map,
            ClassMap::Isotonic {
                x: vec![0.1, 0.2, 0.3, 0.4, 0.5],
                y: vec![0.0, 0.5, 0.5, 1.0, 1.0]
            }
        );
        assert_eq!(map.apply(0.05), 0.0);
        assert!((map.apply(0.15) - 0.25).abs() < 1e-12);
        assert!((map.apply(0.35) - 0.75).abs() < 1e-12);
        assert_eq!(map.apply(0.9), 1.0);
        // Equal probabilities are pooled before.
        let tied = fit_isotonic(&[0.5, 0.5, 0.9], &[true, false, true]);
        assert_eq!(
            tied,
            ClassMap::Isotonic {
                x: vec![0.5, 0.9],
                y: vec![0.5, 1.0]
            }
        );
    }

    #[test]
    fn the_sigmoid_reaches_the_minimum_of_platts_loss() {
        // Over-confident probabilities: 0.9 right 7 times in 10, 0.1 right 3 times in 10.
        let mut p = vec![0.9; 10];
        p.extend(vec![0.1; 10]);
        let y: Vec<bool> = (0..20).map(|i| if i < 10 { i < 7 } else { i < 13 }).collect();
        let ClassMap::Sigmoid { a, b } = fit_sigmoid(&p, &y) else {
            panic!("a sigmoid")
        };
        let map = ClassMap::Sigmoid { a, b };
        // With 10 positives and 10 negatives, Platt's targets are 11/12 and 1/12: at the
        // minimum, two groups and two parameters, each group's calibrated probability is
        // its mean target.
        let (high, low) = (11.0 / 12.0, 1.0 / 12.0);
        let expect_09 = 0.7 * high + 0.3 * low;
        let expect_01 = 0.3 * high + 0.7 * low;
        assert!((map.apply(0.9) - expect_09).abs() < 1e-6, "{}", map.apply(0.9));
        assert!((map.apply(0.1) - expect_01).abs() < 1e-6, "{}", map.apply(0.1));
    }

    #[test]
    fn calibrated_rows_sum_to_one_and_an_empty_row_gets_equal_shares() {
        let probabilities = vec![
            vec![1.0, 0.0, 0.0],
            vec![0.0, 1.0, 0.0],
            vec![0.0, 0.0, 1.0],
            vec![1.0, 0.0, 0.0],
        ];
        let truth = [0, 1, 2, 1];
        for method in Method::ALL {
            let calibration = Calibration::fit(method, &probabilities, &truth, 3).unwrap();
            let mut rows = probabilities.clone();
            calibration.apply(&mut rows);
            for row in &rows {
                assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{method:?} {row:?}");
            }
            // The first class's 1.0 was right once in twice: no longer certain.
            assert!(rows[0][0] < 0.9, "{method:?} {rows:?}");
        }
        let zero = Calibration {
            method: Method::Isotonic,
            classes: vec![
                ClassMap::Isotonic {
                    x: vec![0.0, 1.0],
                    y: vec![0.0, 0.0]
                };
                2
            ],
        };
        let mut rows = vec![vec![0.3, 0.7]];
        zero.apply(&mut rows);
        assert_eq!(rows, vec![vec![0.5, 0.5]]);
        assert!(Calibration::fit(Method::Sigmoid, &[], &[], 2).is_err());
    }
}
