//! Unit tests of the trees and forests of `cart.rs` (a child module: they see its private
//! parts).

use super::*;

static EVEN: RowWeights = RowWeights {
    per_class: Vec::new(),
    unit: 0,
};

/// `values` (`n_features` wide) of classes `y` below `n_classes`, every row counting once.
fn rows<'a>(values: &'a [f64], n_features: usize, y: &'a [u8], n_classes: usize) -> Labelled<'a, f64> {
    Labelled {
        values,
        n_features,
        y,
        n_classes,
        weights: &EVEN,
    }
}

fn growth(max_depth: Option<u16>, min_samples_leaf: usize) -> Growth {
    Growth {
        max_depth,
        min_samples_leaf,
        features_per_split: None,
    }
}

#[test]
fn the_split_is_the_midpoint_of_the_best_gini_boundary() {
    // Column 0 separates the classes between 2 and 5; column 1 is noise.
    let values = [1.0, 7.0, 2.0, 3.0, 2.0, 7.0, 5.0, 3.0, 6.0, 7.0, 5.0, 3.0];
    let y = [0, 0, 0, 1, 1, 1];
    let tree = fit_tree(rows(&values, 2, &y, 2), growth(None, 1), 0).unwrap();
    assert_eq!(
        tree.nodes[0],
        Node::Split {
            feature: 0,
            threshold: 3.5,
            left: 1,
            right: 2
        }
    );
    assert_eq!(tree.nodes[1], Node::Leaf { shares: vec![1.0, 0.0] });
    assert_eq!(tree.nodes[2], Node::Leaf { shares: vec![0.0, 1.0] });
    assert_eq!(tree.leaf_shares(&[3.4, 0.0]), &[1.0, 0.0]);
    assert_eq!(tree.leaf_shares(&[3.6, 0.0]), &[0.0, 1.0]);
}

#[test]
fn depth_and_leaf_size_limits_hold_and_leaves_keep_class_shares() {
    // One column, values 0..40, classes alternating in runs: a full tree needs depth > 2.
    let values: Vec<f64> = (0..40).map(|v| v as f64).collect();
    let y: Vec<u8> = (0..40).map(|v| ((v / 5) % 3) as u8).collect();
    let full = fit_tree(rows(&values, 1, &y, 3), growth(None, 1), 0).unwrap();
    assert!(full.depth() > 2);
    for r in 0..40 {
        let shares = full.leaf_shares(&values[r..r + 1]);
        assert_eq!(shares[y[r] as usize], 1.0, "a full tree fits its rows");
    }
    let shallow = fit_tree(rows(&values, 1, &y, 3), growth(Some(2), 1), 0).unwrap();
    assert!(shallow.depth() <= 2 && shallow.n_leaves() <= 4);
    let leafy = fit_tree(rows(&values, 1, &y, 3), growth(None, 7), 0).unwrap();
    // Every leaf holds at least 7 rows: count the rows reaching each leaf.
    let mut reached = std::collections::HashMap::new();
    for r in 0..40 {
        *reached
            .entry(leafy.leaf_shares(&values[r..r + 1]).as_ptr() as usize)
            .or_insert(0) += 1;
    }
    assert!(reached.values().all(|&n| n >= 7), "{reached:?}");
    for node in &leafy.nodes {
        if let Node::Leaf { shares } = node {
            assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }
}

#[test]
fn a_constant_or_pure_node_is_a_leaf() {
    let tree = fit_tree(rows(&[1.0, 1.0, 1.0, 1.0], 1, &[0, 1, 0, 1], 2), growth(None, 1), 0).unwrap();
    assert_eq!(tree.nodes, vec![Node::Leaf { shares: vec![0.5, 0.5] }]);
    let tree = fit_tree(rows(&[1.0, 2.0, 3.0], 1, &[1, 1, 1], 3), growth(None, 1), 0).unwrap();
    assert_eq!(
        tree.nodes,
        vec![Node::Leaf {
            shares: vec![0.0, 1.0, 0.0]
        }]
    );
}

#[test]
fn many_distinct_values_are_cut_at_quantiles_and_still_split_well() {
    let n = 2_000;
    let values: Vec<f64> = (0..n).map(|v| ((v * 7_919) % n) as f64 * 1.5).collect();
    let y: Vec<u8> = values.iter().map(|&v| u8::from(v > 1_234.0)).collect();
    let data = Binned::new(&values, n, 1).unwrap();
    assert_eq!(data.n_bins(0), MAX_BINS);
    let tree = fit_tree(rows(&values, 1, &y, 2), growth(None, 1), 0).unwrap();
    let right = values
        .iter()
        .zip(&y)
        .filter(|(v, &c)| tree.leaf_shares(&[**v])[c as usize] > 0.5)
        .count();
    // Only the bin holding the boundary (8 rows) can mix the classes.
    assert!(right >= n - 8, "{right} of {n}");
}

#[test]
fn a_non_finite_value_is_refused() {
    let error = fit_tree(rows(&[1.0, f64::NAN], 1, &[0, 1], 2), growth(None, 1), 0).unwrap_err();
    assert!(error.to_string().contains("row 1 column 0"), "{error}");
}

#[test]
fn a_forest_is_the_same_whatever_the_threads() {
    let values: Vec<f64> = (0..600).map(|i| ((i * 7919) % 13) as f64).collect();
    let y: Vec<u8> = (0..200)
        .map(|r| (values[r * 3] as u8 + values[r * 3 + 1] as u8) % 3)
        .collect();
    let shape = |seed| ForestShape {
        n_trees: 12,
        max_depth: None,
        min_samples_leaf: 1,
        seed,
    };
    let one = fit_forest(rows(&values, 3, &y, 3), shape(9), 1).unwrap();
    let three = fit_forest(rows(&values, 3, &y, 3), shape(9), 3).unwrap();
    assert_eq!(one, three);
    assert_ne!(one[0], one[1], "each tree has its own sample");
    assert_ne!(one, fit_forest(rows(&values, 3, &y, 3), shape(10), 1).unwrap());
}

#[test]
fn class_weights_become_whole_numbers_that_cannot_overflow_the_counts() {
    let y = [0, 0, 0, 1, 2];
    // Relative to the lightest present class, times 16; an absent class's weight is
    // scaled too but never met.
    let weights = RowWeights::of_classes(&[0.5, 1.5, 0.81, 7.0], &y);
    assert_eq!(weights.per_class, vec![16, 48, 26, 224]);
    assert_eq!(weights.growth(growth(None, 3)).min_samples_leaf, 48);
    // Equal weights, or none: every row counts once.
    assert_eq!(RowWeights::of_classes(&[2.0, 2.0, 2.0], &y), RowWeights::default());
    assert_eq!(RowWeights::default().growth(growth(None, 3)).min_samples_leaf, 3);
    // Rows × heaviest weight stays within u32: the steps shrink, every weight stays ≥ 1.
    let many = vec![0u8; 100_000];
    let mut y = many.clone();
    y.push(1);
    let weights = RowWeights::of_classes(&[1.0, 100_000.0], &y);
    let heaviest = *weights.per_class.iter().max().unwrap() as u64;
    assert!(heaviest * y.len() as u64 <= u32::MAX as u64, "{weights:?}");
    assert_eq!(weights.per_class[0], 1);
    assert!(heaviest > 40_000, "{weights:?}");
}
