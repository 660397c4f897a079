//! Gradient-boosted trees for multiclass log-loss, grown on the binned columns of the CART
//! learner ([`crate::cart::Binned`]): the procedure of histogram gradient boosting.
//!
//! The raw score of class k starts at ln(prior of k). Each round, every row's class
//! probabilities are the softmax of its raw scores; for each class a regression tree is
//! grown on the gradients g = p − [class is k] and hessians h = p (1 − p) of the log-loss,
//! and its leaf values, −G / (H + λ) times the learning rate, are added to the raw scores.
//! A tree grows best-first: the leaf whose best split gains most is split next,
//! gain = G_L² / (H_L + λ) + G_R² / (H_R + λ) − G² / (H + λ), until it has `max_leaf_nodes`
//! leaves or no split with positive gain and `min_samples_leaf` rows a side remains. A
//! node's histogram (G, H and rows per bin of every column) is counted for the smaller
//! child only; the larger one's is the parent's minus it.
//!
//! Early stopping: with at least [`EARLY_STOPPING_MIN_ROWS`] rows, a seeded stratified
//! tenth of them is set aside and the boosting stops when the log-loss there has not
//! improved by more than 1e-7 for 10 rounds. The K trees of a round are grown in parallel;
//! nothing depends on the number of threads. The probabilities are the softmax of the
//! summed raw scores.
//!
//! Class weights (scikit-learn's `class_weight`) multiply each row's gradients and
//! hessians, weigh the priors the scores start from and the held-out log-loss;
//! `min_samples_leaf` still counts rows.

use std::collections::BinaryHeap;

use driftloop_core::metrics::stratified_holdout;
use serde::{Deserialize, Serialize};

use crate::cart::Binned;
use crate::family::softmax;
use crate::parallel::parallel_map;
use crate::values::Value;
use crate::ModelError;

/// From this many rows on, a tenth is held out for early stopping (as scikit-learn's
/// `early_stopping="auto"` does from 10,000).
pub const EARLY_STOPPING_MIN_ROWS: usize = 10_000;
const VALIDATION_SHARE: f64 = 0.1;
const PATIENCE: usize = 10;
const TOLERANCE: f64 = 1e-7;
/// A child needs at least this much hessian (as scikit-learn's `min_hessian_to_split`).
const MIN_CHILD_HESSIAN: f64 = 1e-3;

/// How to boost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoostParams {
    pub learning_rate: f64,
    pub max_iter: usize,
    pub max_leaf_nodes: usize,
    pub max_depth: Option<u16>,
    pub min_samples_leaf: usize,
    /// λ, the L2 penalty on leaf values.
    pub l2: f64,
}

/// A node of a regression tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RegNode {
    /// Rows with `value <= threshold` go to `left`.
    Split {
        feature: u32,
        threshold: f64,
        left: u32,
        right: u32,
    },
    /// What the tree adds to its class's raw score (the learning rate included).
    Leaf { value: f64 },
}

/// A regression tree; node 0 is the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegTree {
    pub nodes: Vec<RegNode>,
}

impl RegTree {
    fn value(&self, row: &[f64]) -> f64 {
        let mut at = 0usize;
        loop {
            match &self.nodes[at] {
                RegNode::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    at = if row[*feature as usize] <= *threshold {
                        *left
                    } else {
                        *right
                    } as usize
                }
                RegNode::Leaf { value } => return *value,
            }
        }
    }
}

/// A fitted booster: per class its starting raw score, and per round one tree per class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Boosted {
    pub n_features: usize,
    pub init: Vec<f64>,
    pub rounds: Vec<Vec<RegTree>>,
}

impl Boosted {
    /// The raw scores of one row of `n_features` values.
    fn raw(&self, row: &[f64]) -> Vec<f64> {
        let mut raw = self.init.clone();
        for round in &self.rounds {
            for (score, tree) in raw.iter_mut().zip(round) {
                *score += tree.value(row);
            }
        }
        raw
    }

    /// Class probabilities of `n × p` rows (row-major) into `out` (rows of `n_classes`).
    pub(crate) fn probabilities(&self, values: &[f64], p: usize, out: &mut [Vec<f64>]) -> Result<(), ModelError> {
        if p != self.n_features {
            return Err(ModelError::Predict(format!(
                "the model takes {} features, the rows have {p}",
                self.n_features
            )));
        }
        for (row, probabilities) in values.chunks_exact(p.max(1)).zip(out.iter_mut()) {
            if self.init.len() > probabilities.len() {
                return Err(ModelError::Predict(format!(
                    "the model knows {} classes, beyond the {} asked for",
                    self.init.len(),
                    probabilities.len()
                )));
            }
            for (slot, q) in probabilities.iter_mut().zip(softmax(&self.raw(row))) {
                *slot = q;
            }
        }
        Ok(())
    }
}

/// Fits a booster on `n × n_features` values (row-major, numbers or codes) with class
/// indices `y` below `n_classes`, class c weighing `class_weights[c]` (all 1: no class
/// weight).
#[allow(clippy::too_many_arguments)]
pub fn fit_boosted<V: Value>(
    values: &[V],
    n_features: usize,
    y: &[u8],
    n_classes: usize,
    params: BoostParams,
    class_weights: &[f64],
    seed: u64,
    threads: usize,
) -> Result<Boosted, ModelError> {
    if class_weights.len() != n_classes || !class_weights.iter().all(|w| *w > 0.0 && w.is_finite()) {
        return Err(ModelError::Config(format!(
            "gradient boosting: class weights {class_weights:?} for {n_classes} classes"
        )));
    }
    if params.learning_rate <= 0.0 || params.max_leaf_nodes < 2 || params.max_iter == 0 || params.l2 < 0.0 {
        return Err(ModelError::Config(format!(
            "gradient boosting: invalid parameters {params:?}"
        )));
    }
    let n = y.len();
    let (fit_rows, check_rows) = if n >= EARLY_STOPPING_MIN_ROWS {
        stratified_holdout(y, VALIDATION_SHARE, seed)
    } else {
        ((0..n).collect(), Vec::new())
    };
    let rows_of = |rows: &[usize]| -> Vec<V> {
        rows.iter()
            .flat_map(|&r| values[r * n_features..(r + 1) * n_features].iter().copied())
            .collect()
    };
    let fit_values = rows_of(&fit_rows);
    let fit_y: Vec<u8> = fit_rows.iter().map(|&r| y[r]).collect();
    // The validation rows as numbers: the trees' values are read from them every round.
    let check_values: Vec<f64> = rows_of(&check_rows).into_iter().map(Value::number).collect();
    let check_y: Vec<u8> = check_rows.iter().map(|&r| y[r]).collect();
    let data = Binned::new(&fit_values, fit_y.len(), n_features)?;

    // Each class's weight summed over the rows (a class without rows as if it had one).
    let mut counts = vec![0.0f64; n_classes];
    for &c in &fit_y {
        counts[c as usize] += class_weights[c as usize];
    }
    let total: f64 = counts.iter().sum();
    let init: Vec<f64> = counts
        .iter()
        .zip(class_weights)
        .map(|(&c, &w)| (if c == 0.0 { w } else { c } / total).ln())
        .collect();
    // Raw scores and probabilities, row after row, `n_classes` each.
    let m = fit_y.len();
    let mut raw: Vec<f64> = init.iter().copied().cycle().take(m * n_classes).collect();
    let mut probabilities = vec![0.0; m * n_classes];
    let mut check_raw: Vec<Vec<f64>> = vec![init.clone(); check_y.len()];
    let mut rounds = Vec::new();
    let mut losses: Vec<f64> = Vec::new();
    let classes: Vec<usize> = (0..n_classes).collect();
    for _ in 0..params.max_iter {
        for (scores, p) in raw
            .chunks_exact(n_classes)
            .zip(probabilities.chunks_exact_mut(n_classes))
        {
            softmax_into(scores, p);
        }
        let grown = parallel_map(&classes, threads, |&k| {
            let mut gradients = Vec::with_capacity(m);
            let mut hessians = Vec::with_capacity(m);
            for (p, &c) in probabilities.chunks_exact(n_classes).zip(&fit_y) {
                let weight = class_weights[c as usize];
                gradients.push(weight * (p[k] - if c as usize == k { 1.0 } else { 0.0 }));
                hessians.push((weight * (p[k] * (1.0 - p[k]))).max(1e-16));
            }
            grow(&data, &gradients, &hessians, params)
        });
        let mut round = Vec::with_capacity(n_classes);
        for (k, (tree, row_values)) in grown.into_iter().enumerate() {
            for (scores, v) in raw.chunks_exact_mut(n_classes).zip(row_values) {
                scores[k] += v;
            }
            for (r, row) in check_raw.iter_mut().zip(check_values.chunks_exact(n_features.max(1))) {
                r[k] += tree.value(row);
            }
            round.push(tree);
        }
        rounds.push(round);
        if !check_y.is_empty() {
            let loss = check_raw
                .iter()
                .zip(&check_y)
                .map(|(r, &c)| class_weights[c as usize] * -softmax(r)[c as usize].max(f64::EPSILON).ln())
                .sum::<f64>()
                / check_y.iter().map(|&c| class_weights[c as usize]).sum::<f64>();
            losses.push(loss);
            if losses.len() > PATIENCE {
                let reference = losses[losses.len() - PATIENCE - 1];
                if losses[losses.len() - PATIENCE..]
                    .iter()
                    .all(|&l| l > reference - TOLERANCE)
                {
                    break;
                }
            }
        }
    }
    Ok(Boosted {
        n_features,
        init,
        rounds,
    })
}

/// The softmax of `scores` into `out`, computed as [`softmax`] does.
fn softmax_into(scores: &[f64], out: &mut [f64]) {
    let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for (o, &s) in out.iter_mut().zip(scores) {
        *o = (s - max).exp();
        total += *o;
    }
    for o in out.iter_mut() {
        *o /= total;
    }
}

/// Per bin of one column: sum of gradients, of hessians, and rows.
#[derive(Clone, Copy, Default)]
struct Cell {
    g: f64,
    h: f64,
    n: u32,
}

/// A leaf waiting to be split: its rows (a range of the row order), sums, histogram and
/// its best split, if any.
struct Open {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
    g: f64,
    h: f64,
    histogram: Vec<Vec<Cell>>,
    best: Option<Split>,
}

#[derive(Clone, Copy)]
struct Split {
    gain: f64,
    feature: usize,
    last_left: usize,
}

/// The order of open leaves in the heap: by gain, then by node (the earlier first), so
/// that ties break the same way every time.
struct ByGain(f64, usize);

impl PartialEq for ByGain {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for ByGain {}
impl PartialOrd for ByGain {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ByGain {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0).then(other.1.cmp(&self.1))
    }
}

fn histogram(data: &Binned, gradients: &[f64], hessians: &[f64], rows: &[u32]) -> Vec<Vec<Cell>> {
    // The node's gradients and hessians side by side in its row order, read once for all
    // columns.
    let ordered: Vec<(f64, f64)> = rows
        .iter()
        .map(|&r| (gradients[r as usize], hessians[r as usize]))
        .collect();
    (0..data.n_features())
        .map(|f| {
            let bins = data.column_bins(f);
            let mut cells = vec![Cell::default(); data.n_bins(f)];
            for (&r, &(g, h)) in rows.iter().zip(&ordered) {
                let cell = &mut cells[bins[r as usize] as usize];
                cell.g += g;
                cell.h += h;
                cell.n += 1;
            }
            cells
        })
        .collect()
}

fn leaf_score(g: f64, h: f64, l2: f64) -> f64 {
    g * g / (h + l2)
}

/// The best split of a leaf with these sums and histogram, if one gains anything.
fn best_split(histogram: &[Vec<Cell>], g: f64, h: f64, n: u32, depth: usize, params: BoostParams) -> Option<Split> {
    if params.max_depth.is_some_and(|d| depth >= d as usize) || (n as usize) < 2 * params.min_samples_leaf.max(1) {
        return None;
    }
    let min_leaf = params.min_samples_leaf.max(1) as u32;
    let parent = leaf_score(g, h, params.l2);
    let mut best: Option<Split> = None;
    for (feature, cells) in histogram.iter().enumerate() {
        let (mut gl, mut hl, mut nl) = (0.0, 0.0, 0u32);
        for (b, cell) in cells.iter().enumerate().take(cells.len().saturating_sub(1)) {
            gl += cell.g;
            hl += cell.h;
            nl += cell.n;
            if cell.n == 0 || nl < min_leaf {
                continue;
            }
            let nr = n - nl;
            if nr < min_leaf {
                break;
            }
            let (gr, hr) = (g - gl, h - hl);
            if hl < MIN_CHILD_HESSIAN || hr < MIN_CHILD_HESSIAN {
                continue;
            }
            let gain = leaf_score(gl, hl, params.l2) + leaf_score(gr, hr, params.l2) - parent;
            if gain > 1e-12 && best.is_none_or(|s| gain > s.gain) {
                best = Some(Split {
                    gain,
                    feature,
                    last_left: b,
                });
            }
        }
    }
    best
}

/// Grows one regression tree on every row of `data`; returns it and the value it gives
/// each row.
fn grow(data: &Binned, gradients: &[f64], hessians: &[f64], params: BoostParams) -> (RegTree, Vec<f64>) {
    let n = gradients.len();
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut nodes = vec![RegNode::Leaf { value: 0.0 }];
    let g: f64 = gradients.iter().sum();
    let h: f64 = hessians.iter().sum();
    let root_histogram = histogram(data, gradients, hessians, &order);
    let root = Open {
        node: 0,
        start: 0,
        end: n,
        depth: 0,
        g,
        h,
        best: best_split(&root_histogram, g, h, n as u32, 0, params),
        histogram: root_histogram,
    };
    let mut open: Vec<Option<Open>> = vec![Some(root)];
    let mut heap = BinaryHeap::new();
    let mut leaves: Vec<Open> = Vec::new();
    if let Some(split) = open[0].as_ref().and_then(|o| o.best) {
        heap.push(ByGain(split.gain, 0));
    } else {
        leaves.push(open[0].take().expect("the root"));
    }
    let mut n_leaves = 1;
    while let Some(ByGain(_, slot)) = heap.pop() {
        let leaf = open[slot].take().expect("an open leaf");
        if n_leaves >= params.max_leaf_nodes {
            leaves.push(leaf);
            continue;
        }
        let split = leaf.best.expect("a leaf in the heap has a split");
        let bins = data.column_bins(split.feature);
        // Partition the leaf's rows: left (bin <= last_left) first, order kept.
        let (mut left_rows, mut right_rows) = (Vec::new(), Vec::new());
        for &r in &order[leaf.start..leaf.end] {
            if bins[r as usize] as usize <= split.last_left {
                left_rows.push(r);
            } else {
                right_rows.push(r);
            }
        }
        let middle = leaf.start + left_rows.len();
        order[leaf.start..middle].copy_from_slice(&left_rows);
        order[middle..leaf.end].copy_from_slice(&right_rows);
        let (small, small_is_left) = if left_rows.len() <= right_rows.len() {
            (&left_rows, true)
        } else {
            (&right_rows, false)
        };
        let small_histogram = histogram(data, gradients, hessians, small);
        let large_histogram: Vec<Vec<Cell>> = leaf
            .histogram
            .iter()
            .zip(&small_histogram)
            .map(|(parent, child)| {
                parent
                    .iter()
                    .zip(child)
                    .map(|(p, c)| Cell {
                        g: p.g - c.g,
                        h: p.h - c.h,
                        n: p.n - c.n,
                    })
                    .collect()
            })
            .collect();
        let (left_histogram, right_histogram) = if small_is_left {
            (small_histogram, large_histogram)
        } else {
            (large_histogram, small_histogram)
        };
        let sums = |rows: &[u32]| -> (f64, f64) {
            rows.iter().fold((0.0, 0.0), |(g, h), &r| {
                (g + gradients[r as usize], h + hessians[r as usize])
            })
        };
        let (gl, hl) = sums(&left_rows);
        let (gr, hr) = sums(&right_rows);
        let threshold = data.threshold_after(split.feature, split.last_left);
        let left_node = nodes.len();
        nodes.push(RegNode::Leaf { value: 0.0 });
        let right_node = nodes.len();
        nodes.push(RegNode::Leaf { value: 0.0 });
        nodes[leaf.node] = RegNode::Split {
            feature: split.feature as u32,
            threshold,
            left: left_node as u32,
            right: right_node as u32,
        };
        n_leaves += 1;
        for (node, start, end, g, h, hist) in [
            (left_node, leaf.start, middle, gl, hl, left_histogram),
            (right_node, middle, leaf.end, gr, hr, right_histogram),
        ] {
            let child = Open {
                node,
                start,
                end,
                depth: leaf.depth + 1,
                g,
                h,
                best: best_split(&hist, g, h, (end - start) as u32, leaf.depth + 1, params),
                histogram: hist,
            };
            match child.best {
                Some(s) => {
                    heap.push(ByGain(s.gain, open.len()));
                    open.push(Some(child));
                }
                None => leaves.push(child),
            }
        }
    }
    let mut row_values = vec![0.0; n];
    for leaf in leaves {
        let value = -leaf.g / (leaf.h + params.l2) * params.learning_rate;
        nodes[leaf.node] = RegNode::Leaf { value };
        for &r in &order[leaf.start..leaf.end] {
            row_values[r as usize] = value;
        }
    }
    (RegTree { nodes }, row_values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> BoostParams {
        BoostParams {
            learning_rate: 0.1,
            max_iter: 50,
            max_leaf_nodes: 8,
            max_depth: None,
            min_samples_leaf: 2,
            l2: 0.0,
        }
    }

    /// Two informative columns and a noise column; the class is their sum mod 3.
    fn rows(n: usize) -> (Vec<f64>, Vec<u8>) {
        let values: Vec<f64> = (0..n * 3).map(|i| ((i * 7919 + i / 3) % 11) as f64).collect();
        let y = (0..n)
            .map(|r| ((values[r * 3] as u8 / 4) + (values[r * 3 + 1] as u8 / 4)) % 3)
            .collect();
        (values, y)
    }

    fn accuracy(model: &Boosted, values: &[f64], y: &[u8]) -> f64 {
        let mut out = vec![vec![0.0; 3]; y.len()];
        model.probabilities(values, 3, &mut out).unwrap();
        for p in &out {
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        out.iter()
            .zip(y)
            .filter(|(p, &c)| crate::family::argmax(p) == c as usize)
            .count() as f64
            / y.len() as f64
    }

    #[test]
    fn boosting_learns_an_interaction_and_the_leaf_limit_holds() {
        let (values, y) = rows(600);
        let model = fit_boosted(&values, 3, &y, 3, params(), &[1.0; 3], 1, 2).unwrap();
        assert_eq!(model.rounds.len(), 50, "no early stopping below 10,000 rows");
        assert!(model.rounds.iter().all(|round| round.len() == 3));
        for tree in model.rounds.iter().flatten() {
            let leaves = tree.nodes.iter().filter(|n| matches!(n, RegNode::Leaf { .. })).count();
            assert!(leaves <= 8, "{leaves} leaves");
        }
        assert!(accuracy(&model, &values, &y) > 0.95);
    }

    #[test]
    fn the_same_rows_give_the_same_booster_whatever_the_threads() {
        let (values, y) = rows(400);
        let one = fit_boosted(&values, 3, &y, 3, params(), &[1.0; 3], 7, 1).unwrap();
        let four = fit_boosted(&values, 3, &y, 3, params(), &[1.0; 3], 7, 4).unwrap();
        assert_eq!(one, four);
    }

    #[test]
    fn early_stopping_ends_the_rounds_when_the_held_out_loss_stops_falling() {
        let (values, y) = rows(EARLY_STOPPING_MIN_ROWS);
        let model = fit_boosted(
            &values,
            3,
            &y,
            3,
            BoostParams {
                learning_rate: 0.5,
                max_iter: 300,
                ..params()
            },
            &[1.0; 3],
            3,
            2,
        )
        .unwrap();
        assert!(model.rounds.len() < 300, "{} rounds", model.rounds.len());
        assert!(accuracy(&model, &values, &y) > 0.95);
    }

    #[test]
    fn bad_parameters_are_refused() {
        let (values, y) = rows(50);
        let err = fit_boosted(
            &values,
            3,
            &y,
            3,
            BoostParams {
                learning_rate: 0.0,
                ..params()
            },
            &[1.0; 3],
            1,
            1,
        )
        .unwrap_err();
        assert!(err.to_string().contains("invalid parameters"), "{err}");
    }
}
