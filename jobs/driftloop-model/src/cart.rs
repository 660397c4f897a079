//! driftloop's classification trees (CART: binary splits chosen by Gini impurity) and
//! forests of them, grown on binned columns.
//!
//! Why not smartcore's: its tree looks for every node's split by walking all rows of the
//! training set (rows outside the node are skipped one by one) and gives every split a new
//! vector as long as the training set, so a deep tree on n rows costs n × nodes × features.
//! Here a node costs only its own rows: each column is binned once per fit (a column's
//! distinct values, in order, are its bins), a node counts its rows per bin and class,
//! and the best threshold of a column is found by one sweep over its bins.
//!
//! The splits are the ones exact CART finds as long as a column has at most [`MAX_BINS`]
//! distinct values (the dataset spec's columns have 2 to 10); a column with more is cut at
//! quantiles into that many bins. A threshold is the midpoint between the largest value of
//! the bins on its left and the smallest on its right, so a row goes left when its value is
//! at most the threshold, whatever bins it was trained on.
//!
//! Probabilities: a leaf keeps the class shares of the training rows that reached it; a
//! tree's probabilities are its leaf's, a forest's the mean of its trees' (each tree grown
//! on a bootstrap sample, trying √p random columns at each split).

use driftloop_core::rng::SplitMix64;
use serde::{Deserialize, Serialize};

use crate::parallel::parallel_map;
use crate::values::Value;
use crate::ModelError;

/// The most bins a column is cut into.
pub const MAX_BINS: usize = 256;

/// How to grow a tree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Growth {
    /// Levels of splits at most (a tree of depth 0 is one leaf); `None`: no limit.
    pub max_depth: Option<u16>,
    /// Rows each side of a split must keep, at least 1.
    pub min_samples_leaf: usize,
    /// Columns tried at each split (the others are tried only when none of these can
    /// split the node); `None`: all of them.
    pub features_per_split: Option<usize>,
}

/// Whole-number weights of the rows by class, for growing trees on class weights: a row
/// of class c counts `per_class[c]` times (times its bootstrap draws in a forest), and a
/// leaf must weigh `min_samples_leaf` rows of the lightest class. The weights are the
/// class weights relative to the lightest present class's, times 16 and rounded (so
/// within 1/32 of it), or less where rows × heaviest weight would overflow the counts.
/// Empty (the default): every row counts once, as without class weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowWeights {
    per_class: Vec<u32>,
    /// The lightest present class's weight.
    unit: u32,
}

impl RowWeights {
    /// Steps of a class weight relative to the lightest.
    const STEPS: f64 = 16.0;

    /// The weights of rows of classes `y` given each class's weight (index: class).
    pub fn of_classes(weights: &[f64], y: &[u8]) -> RowWeights {
        let mut present = vec![false; weights.len()];
        for &c in y {
            if let Some(p) = present.get_mut(c as usize) {
                *p = true;
            }
        }
        let present_weights = weights.iter().zip(&present).filter(|(_, &p)| p).map(|(&w, _)| w);
        let lightest = present_weights.clone().fold(f64::INFINITY, f64::min);
        let heaviest = present_weights.fold(0.0, f64::max);
        if !(lightest > 0.0 && lightest.is_finite()) || heaviest == lightest {
            return RowWeights::default();
        }
        let ceiling = (u32::MAX as usize / y.len().max(1)) as f64;
        let scale = Self::STEPS.min(ceiling * lightest / heaviest);
        let per_class: Vec<u32> = weights
            .iter()
            .map(|&w| ((w / lightest * scale).round()).clamp(1.0, ceiling) as u32)
            .collect();
        let unit = (scale.round() as u32).max(1);
        RowWeights { per_class, unit }
    }

    fn of(&self, class: u8) -> u32 {
        self.per_class.get(class as usize).copied().unwrap_or(1)
    }

    /// `growth` with its leaf size in weight.
    fn growth(&self, growth: Growth) -> Growth {
        Growth {
            min_samples_leaf: growth.min_samples_leaf.max(1) * self.unit.max(1) as usize,
            ..growth
        }
    }
}

/// A node: a split on one column, or a leaf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Node {
    /// Rows with `value <= threshold` go to `left`, the others to `right` (node indices).
    Split {
        feature: u32,
        threshold: f64,
        left: u32,
        right: u32,
    },
    /// The class shares of the training rows that reached this leaf (they sum to 1).
    Leaf { shares: Vec<f64> },
}

/// A fitted classification tree; node 0 is the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub n_features: usize,
    pub nodes: Vec<Node>,
}

impl Tree {
    /// The leaf's class shares for one row of `n_features` values.
    pub fn leaf_shares(&self, row: &[f64]) -> &[f64] {
        let mut at = 0usize;
        loop {
            match &self.nodes[at] {
                Node::Split {
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
                Node::Leaf { shares } => return shares,
            }
        }
    }

    /// Levels of splits on the longest path from the root.
    pub fn depth(&self) -> usize {
        fn depth_of(nodes: &[Node], at: usize) -> usize {
            match &nodes[at] {
                Node::Split { left, right, .. } => {
                    1 + depth_of(nodes, *left as usize).max(depth_of(nodes, *right as usize))
                }
                Node::Leaf { .. } => 0,
            }
        }
        depth_of(&self.nodes, 0)
    }

    /// Classes the leaves know (0 for a tree without leaves).
    pub fn n_classes(&self) -> usize {
        self.nodes
            .iter()
            .find_map(|node| match node {
                Node::Leaf { shares } => Some(shares.len()),
                Node::Split { .. } => None,
            })
            .unwrap_or(0)
    }

    pub fn n_leaves(&self) -> usize {
        self.nodes.iter().filter(|n| matches!(n, Node::Leaf { .. })).count()
    }
}

/// Training rows with every column binned: `bins[c][r]` is row r's bin in column c, and
/// `lower[c][b]` / `upper[c][b]` the smallest / largest value seen in bin b.
pub struct Binned {
    bins: Vec<Vec<u8>>,
    lower: Vec<Vec<f64>>,
    upper: Vec<Vec<f64>>,
}

impl Binned {
    /// Bins the `n_rows × n_features` values (row-major, numbers or codes). A NaN or
    /// infinite value is refused.
    pub fn new<V: Value>(values: &[V], n_rows: usize, n_features: usize) -> Result<Binned, ModelError> {
        if n_features == 0 || n_rows == 0 {
            return Err(ModelError::Input("a tree needs at least one row and one column".into()));
        }
        if values.len() != n_rows * n_features {
            return Err(ModelError::Input("the values do not match the shape".into()));
        }
        if let Some(i) = values.iter().position(|v| !v.number().is_finite()) {
            return Err(ModelError::Input(format!(
                "row {} column {} is not a finite number",
                i / n_features.max(1),
                i % n_features.max(1)
            )));
        }
        let mut bins = Vec::with_capacity(n_features);
        let mut lower = Vec::with_capacity(n_features);
        let mut upper = Vec::with_capacity(n_features);
        for c in 0..n_features {
            let column: Vec<f64> = (0..n_rows).map(|r| values[r * n_features + c].number()).collect();
            let mut distinct = column.clone();
            distinct.sort_by(f64::total_cmp);
            distinct.dedup();
            // Each bin's largest value: every distinct value, or quantile cuts.
            let tops: Vec<f64> = if distinct.len() <= MAX_BINS {
                distinct
            } else {
                let mut sorted = column.clone();
                sorted.sort_by(f64::total_cmp);
                let mut tops: Vec<f64> = (1..=MAX_BINS)
                    .map(|q| sorted[(q * n_rows).div_ceil(MAX_BINS).saturating_sub(1)])
                    .collect();
                tops.dedup();
                tops
            };
            let mut column_bins = Vec::with_capacity(n_rows);
            let mut low = vec![f64::INFINITY; tops.len()];
            let mut high = vec![f64::NEG_INFINITY; tops.len()];
            for &v in &column {
                let b = tops.partition_point(|&top| top < v).min(tops.len() - 1);
                column_bins.push(b as u8);
                low[b] = low[b].min(v);
                high[b] = high[b].max(v);
            }
            bins.push(column_bins);
            lower.push(low);
            upper.push(high);
        }
        Ok(Binned { bins, lower, upper })
    }

    pub fn n_features(&self) -> usize {
        self.bins.len()
    }

    pub(crate) fn n_bins(&self, feature: usize) -> usize {
        self.lower[feature].len()
    }

    /// Every training row's bin in column `feature`.
    pub(crate) fn column_bins(&self, feature: usize) -> &[u8] {
        &self.bins[feature]
    }

    /// The threshold of a split of column `feature` after bin `last_left`: the midpoint
    /// between the largest value of that bin and the smallest of the next bin holding
    /// any. Panics when no later bin holds a value.
    pub(crate) fn threshold_after(&self, feature: usize, last_left: usize) -> f64 {
        let next_bin = (last_left + 1..self.n_bins(feature))
            .find(|&b| self.lower[feature][b].is_finite())
            .expect("a split has rows on its right");
        (self.upper[feature][last_left] + self.lower[feature][next_bin]) / 2.0
    }
}

/// The keys a tree counts: `bin × n_classes + class` of every row, per column.
pub struct Keyed<'a> {
    data: &'a Binned,
    n_classes: usize,
    y: &'a [u8],
    keys: Vec<Vec<u16>>,
}

impl<'a> Keyed<'a> {
    /// Pairs the binned rows with their class indices (below `n_classes`).
    pub fn new(data: &'a Binned, y: &'a [u8], n_classes: usize) -> Keyed<'a> {
        let keys = data
            .bins
            .iter()
            .map(|column| {
                column
                    .iter()
                    .zip(y)
                    .map(|(&b, &c)| b as u16 * n_classes as u16 + c as u16)
                    .collect()
            })
            .collect();
        Keyed {
            data,
            n_classes,
            y,
            keys,
        }
    }
}

/// Grows one tree on the rows with a non-zero weight (a row of weight w counts as w
/// rows, as a bootstrap sample draws it w times).
pub fn grow(keyed: &Keyed<'_>, weights: &[u32], growth: Growth, rng: &mut SplitMix64) -> Tree {
    let data = keyed.data;
    let n_classes = keyed.n_classes;
    let p = data.n_features();
    let min_leaf = growth.min_samples_leaf.max(1) as u64;
    let max_depth = growth.max_depth.map_or(usize::MAX, usize::from);
    let mtry = growth.features_per_split.unwrap_or(p).clamp(1, p.max(1));
    let max_bins = (0..p).map(|c| data.n_bins(c)).max().unwrap_or(1);
    let mut rows: Vec<u32> = (0..weights.len() as u32).filter(|&r| weights[r as usize] > 0).collect();
    let mut nodes: Vec<Node> = Vec::new();
    let mut histogram = vec![0u32; LANES * max_bins * n_classes];
    let mut order: Vec<usize> = (0..p).collect();
    let mut left = vec![0u64; n_classes];
    let mut found_left = vec![0u64; n_classes];
    let mut best_left = vec![0u64; n_classes];

    struct Pending {
        node: usize,
        start: usize,
        end: usize,
        depth: usize,
        counts: Vec<u64>,
    }
    let mut root_counts = vec![0u64; n_classes];
    for &r in &rows {
        root_counts[keyed.y[r as usize] as usize] += weights[r as usize] as u64;
    }
    nodes.push(Node::Leaf { shares: Vec::new() });
    let mut stack = vec![Pending {
        node: 0,
        start: 0,
        end: rows.len(),
        depth: 0,
        counts: root_counts,
    }];

    while let Some(Pending {
        node,
        start,
        end,
        depth,
        counts,
    }) = stack.pop()
    {
        let n: u64 = counts.iter().sum();
        let impure = counts.iter().filter(|&&c| c > 0).count() > 1;
        let mut best: Option<(f64, usize, usize)> = None; // (score, feature, last left bin)
        if impure && depth < max_depth && n >= 2 * min_leaf {
            if mtry < p {
                for i in (1..p).rev() {
                    let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                    order.swap(i, j);
                }
            }
            let mut tried = 0;
            for &feature in order.iter() {
                if tried >= mtry && best.is_some() {
                    break;
                }
                let n_bins = data.n_bins(feature);
                let cells = n_bins * n_classes;
                count_keys(
                    &mut histogram[..LANES * cells],
                    cells,
                    &keyed.keys[feature],
                    weights,
                    &rows[start..end],
                );
                let hist = &histogram[..cells];
                let mut occupied = 0;
                left.fill(0);
                let mut left_n = 0u64;
                let mut found: Option<(f64, usize)> = None;
                let mut previous = 0;
                for b in 0..n_bins {
                    let bin = &hist[b * n_classes..(b + 1) * n_classes];
                    let bin_n: u64 = bin.iter().map(|&c| c as u64).sum();
                    if bin_n == 0 {
                        continue;
                    }
                    occupied += 1;
                    // A threshold between the occupied bins before b and bin b.
                    if left_n >= min_leaf && n - left_n >= min_leaf {
                        let score = gini_proxy(&left, left_n, &counts, n);
                        if found.is_none_or(|(s, _)| score > s) {
                            found = Some((score, previous));
                            found_left.copy_from_slice(&left);
                        }
                    }
                    for (l, &c) in left.iter_mut().zip(bin) {
                        *l += c as u64;
                    }
                    left_n += bin_n;
                    previous = b;
                }
                if occupied < 2 {
                    continue; // constant in this node: does not count as tried
                }
                tried += 1;
                if let Some((score, last_left)) = found {
                    if best.is_none_or(|(s, ..)| score > s) {
                        best = Some((score, feature, last_left));
                        best_left.copy_from_slice(&found_left);
                    }
                }
            }
        }
        let Some((_, feature, last_left)) = best else {
            let total = n.max(1) as f64;
            nodes[node] = Node::Leaf {
                shares: counts.iter().map(|&c| c as f64 / total).collect(),
            };
            continue;
        };
        // Partition the node's rows: left (bin <= last_left) first.
        let column = &data.bins[feature];
        let mut i = start;
        let mut j = end;
        while i < j {
            if column[rows[i] as usize] as usize <= last_left {
                i += 1;
            } else {
                j -= 1;
                rows.swap(i, j);
            }
        }
        let threshold = data.threshold_after(feature, last_left);
        let left_counts = best_left.clone();
        let right_counts: Vec<u64> = counts.iter().zip(&left_counts).map(|(t, l)| t - l).collect();
        let left_node = nodes.len();
        nodes.push(Node::Leaf { shares: Vec::new() });
        let right_node = nodes.len();
        nodes.push(Node::Leaf { shares: Vec::new() });
        nodes[node] = Node::Split {
            feature: feature as u32,
            threshold,
            left: left_node as u32,
            right: right_node as u32,
        };
        // Right pushed first: the left subtree is grown first (depth first, fixed order).
        stack.push(Pending {
            node: right_node,
            start: i,
            end,
            depth: depth + 1,
            counts: right_counts,
        });
        stack.push(Pending {
            node: left_node,
            start,
            end: i,
            depth: depth + 1,
            counts: left_counts,
        });
    }
    Tree { n_features: p, nodes }
}

/// Histograms counted side by side over a node's rows (then added up), so that rows
/// falling into the same cell one after another do not wait on each other's addition.
const LANES: usize = 4;

/// Counts the weights of `rows` per key into `histogram[..cells]` (which holds [`LANES`]
/// histograms of `cells` cells, all overwritten).
fn count_keys(histogram: &mut [u32], cells: usize, keys: &[u16], weights: &[u32], rows: &[u32]) {
    histogram.fill(0);
    let chunks = rows.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &r) in chunk.iter().enumerate() {
            histogram[lane * cells + keys[r as usize] as usize] += weights[r as usize];
        }
    }
    for &r in rest {
        histogram[keys[r as usize] as usize] += weights[r as usize];
    }
    let (first, others) = histogram.split_at_mut(cells);
    for lane in others.chunks_exact(cells) {
        for (total, &c) in first.iter_mut().zip(lane) {
            *total += c;
        }
    }
}

/// Minus the children's weighted Gini impurity, times the node's rows, up to a constant:
/// Σ left_c² / n_left + Σ right_c² / n_right. The larger, the better the split.
fn gini_proxy(left: &[u64], left_n: u64, total: &[u64], n: u64) -> f64 {
    let right_n = (n - left_n) as f64;
    let mut l = 0.0;
    let mut r = 0.0;
    for (&lc, &tc) in left.iter().zip(total) {
        let rc = (tc - lc) as f64;
        l += (lc as f64) * (lc as f64);
        r += rc * rc;
    }
    l / left_n as f64 + r / right_n
}

/// The rows a tree or forest learns from: `values`, `n` rows of `n_features` numbers
/// (row-major), row r of class `y[r]` (below `n_classes`), weighing as `weights` says.
#[derive(Debug, Clone, Copy)]
pub struct Labelled<'a, V> {
    pub values: &'a [V],
    pub n_features: usize,
    pub y: &'a [u8],
    pub n_classes: usize,
    pub weights: &'a RowWeights,
}

impl<V: Value> Labelled<'_, V> {
    fn keyed<R>(&self, then: impl FnOnce(&Keyed<'_>) -> R) -> Result<R, ModelError> {
        let data = Binned::new(self.values, self.y.len(), self.n_features)?;
        Ok(then(&Keyed::new(&data, self.y, self.n_classes)))
    }
}

/// Grows a tree on all of `rows`.
pub fn fit_tree<V: Value>(rows: Labelled<'_, V>, growth: Growth, seed: u64) -> Result<Tree, ModelError> {
    let row_weights: Vec<u32> = rows.y.iter().map(|&c| rows.weights.of(c)).collect();
    rows.keyed(|keyed| {
        grow(
            keyed,
            &row_weights,
            rows.weights.growth(growth),
            &mut SplitMix64::new(seed),
        )
    })
}

/// Grows the shape's trees, each on its own bootstrap sample and trying √p columns at each
/// split. Tree t's randomness comes from the shape's seed and t alone, so `threads` (the
/// work is spread over them) changes nothing in the forest.
pub fn fit_forest<V: Value>(
    rows: Labelled<'_, V>,
    shape: ForestShape,
    threads: usize,
) -> Result<Vec<Tree>, ModelError> {
    with_forest(rows, shape, |tree| {
        let indices: Vec<usize> = (0..shape.n_trees).collect();
        parallel_map(&indices, threads, |&t| tree(t))
    })
}

/// The class probabilities of `check` (rows of `n_features` numbers, row-major) by the
/// forest [`fit_forest`] grows, each row's `n_classes_out` shares, without keeping the
/// forest: each tree is grown, adds its leaf's shares to every row and is dropped, in tree
/// order, so the sums are those of the whole forest's probabilities (the mean of its
/// trees' leaf shares), bit for bit. Cross-validation scores forests this way: a forest of
/// 100 deep trees is most of what it would otherwise hold. One thread.
pub fn forest_probabilities<V: Value>(
    rows: Labelled<'_, V>,
    shape: ForestShape,
    check: &[f64],
    n_classes_out: usize,
) -> Result<Vec<Vec<f64>>, ModelError> {
    if rows.n_classes > n_classes_out {
        return Err(ModelError::Predict(format!(
            "the model knows {} classes, beyond the {n_classes_out} asked for",
            rows.n_classes
        )));
    }
    let width = rows.n_features.max(1);
    let mut out = vec![vec![0.0; n_classes_out]; check.len() / width];
    let share = 1.0 / shape.n_trees.max(1) as f64;
    with_forest(rows, shape, |tree| {
        for t in 0..shape.n_trees {
            let tree = tree(t);
            for (row, probabilities) in check.chunks_exact(width).zip(out.iter_mut()) {
                for (slot, s) in probabilities.iter_mut().zip(tree.leaf_shares(row)) {
                    *slot += s * share;
                }
            }
        }
    })?;
    Ok(out)
}

/// A forest's settings besides its rows and their weights.
#[derive(Debug, Clone, Copy)]
pub struct ForestShape {
    pub n_trees: usize,
    pub max_depth: Option<u16>,
    pub min_samples_leaf: usize,
    pub seed: u64,
}

/// Bins the rows once and hands `then` the grower of tree t (its bootstrap sample drawn
/// from `seed` and t alone).
fn with_forest<V: Value, R>(
    rows: Labelled<'_, V>,
    shape: ForestShape,
    then: impl FnOnce(&(dyn Fn(usize) -> Tree + Sync)) -> R,
) -> Result<R, ModelError> {
    let n = rows.y.len();
    let growth = rows.weights.growth(Growth {
        max_depth: shape.max_depth,
        min_samples_leaf: shape.min_samples_leaf,
        features_per_split: Some(((rows.n_features as f64).sqrt().floor() as usize).max(1)),
    });
    // A bootstrap draw adds its row's class weight.
    let class_weights: Vec<u32> = rows.y.iter().map(|&c| rows.weights.of(c)).collect();
    rows.keyed(|keyed| {
        let tree = |t: usize| {
            let mut rng = SplitMix64::new(shape.seed ^ (t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut row_weights = vec![0u32; n];
            for _ in 0..n {
                let r = (rng.next_u64() % n as u64) as usize;
                row_weights[r] += class_weights[r];
            }
            grow(keyed, &row_weights, growth, &mut rng)
        };
        then(&tree)
    })
}

#[cfg(test)]
#[path = "tests_cart.rs"]
mod tests;
