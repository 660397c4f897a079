//! Classification metrics and stratified splits, for choosing and comparing models:
//! confusion matrix, accuracy, per-class precision / recall / F1 and macro-F1 (an
//! undefined ratio scores 0, and the macro mean covers the classes present in the truth or
//! the predictions, as scikit-learn does by default), the log-loss and Brier score of class
//! probabilities, and deterministic stratified k-fold and holdout splits.

use serde::{Deserialize, Serialize};

use crate::rng::SplitMix64;

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Rows whose true class this is.
    pub support: u64,
}

/// Scores of predictions against the truth over `n_classes` classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub accuracy: f64,
    pub macro_f1: f64,
    pub per_class: Vec<ClassScores>,
    /// `confusion[truth][prediction]` counts.
    pub confusion: Vec<Vec<u64>>,
}

fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

/// Scores `predicted` against `truth` (class indices below `n_classes`, same length).
pub fn score(truth: &[u8], predicted: &[u8], n_classes: usize) -> Scores {
    assert_eq!(truth.len(), predicted.len(), "one prediction per row");
    let mut confusion = vec![vec![0u64; n_classes]; n_classes];
    for (&t, &p) in truth.iter().zip(predicted) {
        confusion[t as usize][p as usize] += 1;
    }
    let per_class: Vec<ClassScores> = (0..n_classes)
        .map(|c| {
            let true_positive = confusion[c][c];
            let support: u64 = confusion[c].iter().sum();
            let predicted_as: u64 = confusion.iter().map(|row| row[c]).sum();
            let precision = ratio(true_positive, predicted_as);
            let recall = ratio(true_positive, support);
            let f1 = if precision + recall == 0.0 {
                0.0
            } else {
                2.0 * precision * recall / (precision + recall)
            };
            ClassScores {
                precision,
                recall,
                f1,
                support,
            }
        })
        .collect();
    let correct: u64 = (0..n_classes).map(|c| confusion[c][c]).sum();
    // Like scikit-learn, the macro mean is over the classes that occur in the truth or the
    // predictions; a class absent from both says nothing about the model.
    let present: Vec<usize> = (0..n_classes)
        .filter(|&c| per_class[c].support > 0 || confusion.iter().any(|row| row[c] > 0))
        .collect();
    let macro_f1 = present.iter().map(|&c| per_class[c].f1).sum::<f64>() / present.len().max(1) as f64;
    Scores {
        accuracy: ratio(correct, truth.len() as u64),
        macro_f1,
        per_class,
        confusion,
    }
}

/// Row indices per class, each class's rows shuffled with `seed`.
fn shuffled_by_class(labels: &[u8], seed: u64) -> Vec<Vec<usize>> {
    let n_classes = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    let mut counts = vec![0usize; n_classes];
    for &label in labels {
        counts[label as usize] += 1;
    }
    let mut by_class: Vec<Vec<usize>> = counts.into_iter().map(Vec::with_capacity).collect();
    for (row_idx, &label) in labels.iter().enumerate() {
        by_class[label as usize].push(row_idx);
    }
    let mut rng = SplitMix64::new(seed);
    for rows in &mut by_class {
        for i in (1..rows.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            rows.swap(i, j);
        }
    }
    by_class
}

/// How good class probabilities are, beyond the class they pick (lower is better).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProbabilityScores {
    /// Mean of −ln p(true class), p clipped to [ε, 1 − ε] (ε = `f64::EPSILON`, as
    /// scikit-learn's `log_loss` clips float64 probabilities).
    pub log_loss: f64,
    /// Mean over rows of Σ over classes of (p(class) − 1 if the class is true else 0)²:
    /// the multiclass Brier score, from 0 (certain and right) to 2 (certain and wrong).
    pub brier: f64,
}

/// One row's log-loss: minus the log of the probability `p` gives the true class, kept
/// off 0 and 1 by machine epsilon ([`probability_scores`] averages it over rows).
pub fn row_log_loss(truth: u8, p: &[f64]) -> f64 {
    let p_true = p.get(truth as usize).copied().unwrap_or(0.0);
    -p_true.clamp(f64::EPSILON, 1.0 - f64::EPSILON).ln()
}

/// One row's Brier score: the squared distance of its class probabilities `p` from the
/// true class's indicator.
pub fn row_brier(truth: u8, p: &[f64]) -> f64 {
    p.iter()
        .enumerate()
        .map(|(c, &q)| {
            let target = if c == truth as usize { 1.0 } else { 0.0 };
            (q - target) * (q - target)
        })
        .sum::<f64>()
}

/// The log-loss and Brier score of `probabilities` (one row of class probabilities per
/// true class index in `truth`). No rows score 0.
pub fn probability_scores(truth: &[u8], probabilities: &[Vec<f64>]) -> ProbabilityScores {
    assert_eq!(truth.len(), probabilities.len(), "one row of probabilities per row");
    if truth.is_empty() {
        return ProbabilityScores {
            log_loss: 0.0,
            brier: 0.0,
        };
    }
    let (mut log_loss, mut brier) = (0.0, 0.0);
    for (&t, p) in truth.iter().zip(probabilities) {
        log_loss += row_log_loss(t, p);
        brier += row_brier(t, p);
    }
    let n = truth.len() as f64;
    ProbabilityScores {
        log_loss: log_loss / n,
        brier: brier / n,
    }
}

/// Stratified k-fold: `k` disjoint sets of row indices covering every row once, each
/// class spread over the folds as evenly as its count allows. The same labels and seed
/// give the same folds.
pub fn stratified_folds(labels: &[u8], k: usize, seed: u64) -> Vec<Vec<usize>> {
    assert!(k >= 2, "k-fold needs at least 2 folds");
    let mut folds = vec![Vec::new(); k];
    let mut next_fold = 0;
    for rows in shuffled_by_class(labels, seed) {
        for row_idx in rows {
            folds[next_fold].push(row_idx);
            next_fold = (next_fold + 1) % k;
        }
    }
    for fold in &mut folds {
        fold.sort_unstable();
    }
    folds
}

/// A stratified holdout: (training rows, holdout rows), about `holdout_share` of each
/// class held out (at least one row of any class with two or more).
pub fn stratified_holdout(labels: &[u8], holdout_share: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let n_holdout = |class_rows: usize| {
        let n = (class_rows as f64 * holdout_share).round() as usize;
        if class_rows >= 2 {
            n.clamp(1, class_rows - 1)
        } else {
            0
        }
    };
    let by_class = shuffled_by_class(labels, seed);
    // Each side allocated once at its size: grown by doubling, the training rows of a
    // million took 8.4 MB for 6.4.
    let held: usize = by_class.iter().map(|rows| n_holdout(rows.len())).sum();
    let (mut train, mut holdout) = (Vec::with_capacity(labels.len() - held), Vec::with_capacity(held));
    for rows in by_class {
        let n = n_holdout(rows.len());
        holdout.extend_from_slice(&rows[..n]);
        train.extend_from_slice(&rows[n..]);
    }
    train.sort_unstable();
    holdout.sort_unstable();
    (train, holdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_loss_and_brier_score_by_hand() {
        let truth = [0, 1, 2];
        let p = vec![vec![0.8, 0.1, 0.1], vec![0.5, 0.5, 0.0], vec![0.0, 0.0, 1.0]];
        let scores = probability_scores(&truth, &p);
        // −(ln 0.8 + ln 0.5 + ln(1 − ε)) / 3; (0.04 + 0.01 + 0.01) + (0.25 + 0.25) + 0.
        let expected = -(0.8f64.ln() + 0.5f64.ln() + (1.0 - f64::EPSILON).ln()) / 3.0;
        assert!((scores.log_loss - expected).abs() < 1e-15, "{scores:?}");
        assert!((scores.brier - 0.56 / 3.0).abs() < 1e-15, "{scores:?}");
        // Certain and wrong: −ln ε and the worst Brier score, 2.
        let wrong = probability_scores(&[1], &[vec![1.0, 0.0]]);
        assert!((wrong.log_loss + f64::EPSILON.ln()).abs() < 1e-12, "{wrong:?}");
        assert_eq!(wrong.brier, 2.0);
        assert_eq!(
            probability_scores(&[], &[]),
            ProbabilityScores {
                log_loss: 0.0,
                brier: 0.0
            }
        );
    }

    #[test]
    fn scores_a_known_confusion() {
        // truth:     0 0 0 1 1 2
        // predicted: 0 0 1 1 2 2
        let s = score(&[0, 0, 0, 1, 1, 2], &[0, 0, 1, 1, 2, 2], 4);
        assert_eq!(s.confusion[0], [2, 1, 0, 0]);
        assert!((s.accuracy - 4.0 / 6.0).abs() < 1e-12);
        let c0 = &s.per_class[0];
        assert_eq!((c0.precision, c0.support), (1.0, 3));
        assert!((c0.recall - 2.0 / 3.0).abs() < 1e-12 && (c0.f1 - 0.8).abs() < 1e-12);
        let c1 = &s.per_class[1];
        assert!((c1.precision - 0.5).abs() < 1e-12 && (c1.recall - 0.5).abs() < 1e-12);
        let c2 = &s.per_class[2];
        assert!((c2.precision - 0.5).abs() < 1e-12 && c2.recall == 1.0);
        // Class 3 never occurs and is never predicted: all zero, and left out of the macro
        // mean, as scikit-learn's f1_score(average="macro") does.
        assert_eq!((s.per_class[3].f1, s.per_class[3].support), (0.0, 0));
        let expected_macro = (0.8 + 0.5 + 2.0 / 3.0) / 3.0;
        assert!((s.macro_f1 - expected_macro).abs() < 1e-12, "{}", s.macro_f1);
    }

    #[test]
    fn folds_cover_every_row_once_and_keep_the_balance() {
        let labels: Vec<u8> = (0..120).map(|i| [0u8, 1, 2, 3][i % 4]).collect();
        let folds = stratified_folds(&labels, 5, 7);
        let mut all: Vec<usize> = folds.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..120).collect::<Vec<_>>());
        for fold in &folds {
            assert_eq!(fold.len(), 24);
            for class in 0..4u8 {
                assert_eq!(fold.iter().filter(|&&i| labels[i] == class).count(), 6);
            }
        }
        assert_eq!(folds, stratified_folds(&labels, 5, 7), "deterministic per seed");
        assert_ne!(folds, stratified_folds(&labels, 5, 8));
    }

    #[test]
    fn holdout_is_stratified_and_disjoint() {
        let labels: Vec<u8> = [vec![0u8; 30], vec![1; 28], vec![2; 31], vec![3; 31], vec![1; 1]].concat();
        let (train, holdout) = stratified_holdout(&labels, 0.2, 3);
        assert_eq!(train.len() + holdout.len(), labels.len());
        assert!(train.iter().all(|i| !holdout.contains(i)));
        let held = |class: u8| holdout.iter().filter(|&&i| labels[i] == class).count();
        assert_eq!([held(0), held(1), held(2), held(3)], [6, 6, 6, 6]);
        let (train_single, holdout_single) = stratified_holdout(&[0, 1, 1], 0.5, 1);
        assert_eq!(
            (train_single.len(), holdout_single.len()),
            (2, 1),
            "a single-row class stays in training"
        );
    }
}
