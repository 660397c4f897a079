//! Keeping the default family unless another is significantly better.
//!
//! With [`TrainConfig::default_family`](super::TrainConfig::default_family) set, the best
//! cross-validated candidate of another family replaces the default family's best only
//! when its lead is significant. The test is a paired approximate randomization test
//! (Noreen, "Computer-Intensive Methods for Testing Hypotheses", 1989; Yeh, "More accurate
//! tests for the statistical significance of result differences", COLING 2000, for
//! F-scores) on the two candidates' out-of-fold predictions of the cross-validation rows:
//! if the two were equally good, which of the two made a row's prediction would not
//! matter, so each row where they differ has its two predictions swapped at random,
//! [`PERMUTATIONS`] times, and the p-value is the share of those shuffles whose macro-F1
//! lead is at least the one observed. The challenger is chosen below [`SWITCH_P_VALUE`].
//!
//! On a few hundred rows a family often leads the cross-validation by points because it
//! happened to fit its folds' noise: on the published 120-row data naive Bayes led the
//! forest in three folds of five by 1 to 4 points of macro-F1 and scored up to 17 points
//! lower on the rows it had not seen (README, "The published data, fold by fold"). As the
//! rows grow, a real lead is made of more rows and becomes significant.

use driftloop_core::rng::SplitMix64;
use serde::{Deserialize, Serialize};

use super::CandidateScore;
use crate::family::Candidate;

/// The p-value below which another family's best replaces the default's.
pub const SWITCH_P_VALUE: f64 = 0.05;

/// How many random swaps the p-value counts.
pub const PERMUTATIONS: usize = 4_999;

/// How the default family's best and the best of all were compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyTest {
    /// The default family's best candidate.
    pub default: Candidate,
    /// The best cross-validated candidate, of another family.
    pub challenger: Candidate,
    /// The challenger's mean cross-validated macro-F1 less the default's.
    pub mean_difference: f64,
    /// The challenger's macro-F1 less the default's, over every cross-validation row's
    /// out-of-fold prediction: the lead the test weighs.
    pub out_of_fold_lead: f64,
    /// The rows the two predict different classes for.
    pub rows_differing: usize,
    /// The share of random swaps (and the lead observed) with a lead at least as large.
    pub p_value: f64,
    /// Whether the challenger is chosen (`p_value` < [`SWITCH_P_VALUE`]).
    pub switched: bool,
}

/// The out-of-fold predictions of a cross-validation's rows.
pub struct OutOfFoldClasses<'a> {
    pub truth: &'a [u8],
    pub default: &'a [u8],
    pub challenger: &'a [u8],
    pub n_classes: usize,
}

/// Tests `challenger`'s lead over `default`, cross-validated on the same folds, by their
/// out-of-fold `predictions` (seeded: the same inputs give the same p-value).
pub fn family_test(
    default: &CandidateScore,
    challenger: &CandidateScore,
    predictions: &OutOfFoldClasses<'_>,
    seed: u64,
) -> FamilyTest {
    let (observed, rows_differing, p_value) = randomization_test(predictions, PERMUTATIONS, seed);
    FamilyTest {
        default: default.candidate.clone(),
        challenger: challenger.candidate.clone(),
        mean_difference: challenger.mean_macro_f1 - default.mean_macro_f1,
        out_of_fold_lead: observed,
        rows_differing,
        p_value,
        switched: p_value < SWITCH_P_VALUE,
    }
}

/// Per class: rows of it (fixed), rows predicted as it, and rows rightly so.
#[derive(Clone)]
struct Tally {
    support: Vec<u64>,
    predicted: Vec<u64>,
    right: Vec<u64>,
}

impl Tally {
    fn add(&mut self, truth: u8, predicted: u8) {
        self.predicted[predicted as usize] += 1;
        if truth == predicted {
            self.right[predicted as usize] += 1;
        }
    }

    /// Macro-F1 as `driftloop_core::metrics::score` has it: the mean over the classes in
    /// the truth or the predictions of 2 right / (support + predicted).
    fn macro_f1(&self) -> f64 {
        let (mut sum, mut present) = (0.0, 0usize);
        for c in 0..self.support.len() {
            let (support, predicted, right) = (self.support[c], self.predicted[c], self.right[c]);
            if support > 0 || predicted > 0 {
                present += 1;
                if right > 0 {
                    sum += 2.0 * right as f64 / (support + predicted) as f64;
                }
            }
        }
        sum / present.max(1) as f64
    }
}

/// The observed macro-F1 lead, the rows the two differ on, and the p-value of `shuffles`
/// random swaps: `(1 + shuffles at least as far ahead) / (1 + shuffles)`.
fn randomization_test(predictions: &OutOfFoldClasses<'_>, shuffles: usize, seed: u64) -> (f64, usize, f64) {
    let OutOfFoldClasses {
        truth,
        default,
        challenger,
        n_classes,
    } = *predictions;
    assert!(
        truth.len() == default.len() && truth.len() == challenger.len(),
        "one prediction per row from each"
    );
    let mut agreed = Tally {
        support: vec![0; n_classes],
        predicted: vec![0; n_classes],
        right: vec![0; n_classes],
    };
    let mut differing = Vec::new();
    for ((&t, &a), &b) in truth.iter().zip(default).zip(challenger) {
        agreed.support[t as usize] += 1;
        if a == b {
            agreed.add(t, a);
        } else {
            differing.push((t, a, b));
        }
    }
    let lead = |swap: &mut dyn FnMut() -> bool| {
        let (mut first, mut second) = (agreed.clone(), agreed.clone());
        for &(t, a, b) in &differing {
            let (a, b) = if swap() { (b, a) } else { (a, b) };
            first.add(t, a);
            second.add(t, b);
        }
        second.macro_f1() - first.macro_f1()
    };
    let observed = lead(&mut || false);
    let mut rng = SplitMix64::new(seed);
    let (mut bits, mut left) = (0u64, 0u32);
    let mut draw = move || {
        if left == 0 {
            bits = rng.next_u64();
            left = 64;
        }
        left -= 1;
        let bit = bits & 1 == 1;
        bits >>= 1;
        bit
    };
    // A shuffle as far ahead as the lead observed, up to the rounding of its sums.
    let at_least = (0..shuffles).filter(|_| lead(&mut draw) >= observed - 1e-12).count();
    let p_value = (1 + at_least) as f64 / (1 + shuffles) as f64;
    (observed, differing.len(), p_value)
}

#[cfg(test)]
mod tests {
    use driftloop_core::metrics::score;

    use super::*;

    fn scored(alpha: f64, mean: f64) -> CandidateScore {
        CandidateScore {
            candidate: Candidate::NaiveBayes { alpha },
            fold_macro_f1: vec![mean; 5],
            mean_macro_f1: mean,
            std_macro_f1: 0.0,
            mean_accuracy: mean,
            mean_log_loss: None,
            mean_brier: None,
            error: None,
        }
    }

    /// The exact p-value: every one of the 2^m ways to swap the m differing rows.
    fn exact_p_value(truth: &[u8], default: &[u8], challenger: &[u8], n_classes: usize) -> f64 {
        let differing: Vec<usize> = (0..truth.len()).filter(|&i| default[i] != challenger[i]).collect();
        let observed = score(truth, challenger, n_classes).macro_f1 - score(truth, default, n_classes).macro_f1;
        let m = differing.len();
        let mut at_least = 0;
        for mask in 0u32..(1 << m) {
            let (mut a, mut b) = (default.to_vec(), challenger.to_vec());
            for (bit, &i) in differing.iter().enumerate() {
                if mask >> bit & 1 == 1 {
                    std::mem::swap(&mut a[i], &mut b[i]);
                }
            }
            let lead = score(truth, &b, n_classes).macro_f1 - score(truth, &a, n_classes).macro_f1;
            if lead >= observed - 1e-12 {
                at_least += 1;
            }
        }
        at_least as f64 / (1u32 << m) as f64
    }

    /// 40 rows of 3 classes; on 12 of them the two differ, one right and one wrong, the
    /// challenger right on `right` of those (truth, default's, challenger's).
    fn differing_on_12(right: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let truth: Vec<u8> = (0..40).map(|i| (i % 3) as u8).collect();
        let (mut default, mut challenger) = (truth.clone(), truth.clone());
        for k in 0..12 {
            let i = 3 * k + 1;
            let wrong = (truth[i] + 1) % 3;
            if k < right {
                default[i] = wrong;
            } else {
                challenger[i] = wrong;
            }
        }
        (truth, default, challenger)
    }

    /// The lead is the metrics' macro-F1 difference, and the p-value of 4,999 random
    /// swaps is within 0.01 of the exact one over all 4,096: significant with the
    /// challenger right on 10 of the 12 rows, not with 7.
    #[test]
    fn the_p_value_is_the_share_of_swaps_as_far_ahead() {
        for (right, switched) in [(10, true), (7, false)] {
            let (truth, default, challenger) = differing_on_12(right);
            let predictions = OutOfFoldClasses {
                truth: &truth,
                default: &default,
                challenger: &challenger,
                n_classes: 3,
            };
            let test = family_test(&scored(1.0, 0.8), &scored(0.1, 0.85), &predictions, 7);
            let lead = score(&truth, &challenger, 3).macro_f1 - score(&truth, &default, 3).macro_f1;
            assert!((test.out_of_fold_lead - lead).abs() < 1e-12, "{test:?}");
            assert!((test.mean_difference - 0.05).abs() < 1e-12);
            assert_eq!(test.rows_differing, 12);
            let exact = exact_p_value(&truth, &default, &challenger, 3);
            assert!((test.p_value - exact).abs() < 0.01, "{} against {exact}", test.p_value);
            assert_eq!((exact < 0.05, test.switched), (switched, switched), "{right}: {exact}");
            assert_eq!(
                test,
                family_test(&scored(1.0, 0.8), &scored(0.1, 0.85), &predictions, 7)
            );
        }
    }

    #[test]
    fn the_same_predictions_never_switch() {
        let truth = [0u8, 1, 2, 0, 1, 2];
        let predicted = [0u8, 1, 1, 0, 2, 2];
        let predictions = OutOfFoldClasses {
            truth: &truth,
            default: &predicted,
            challenger: &predicted,
            n_classes: 3,
        };
        let test = family_test(&scored(1.0, 0.8), &scored(0.1, 0.9), &predictions, 1);
        assert_eq!(
            (test.rows_differing, test.out_of_fold_lead, test.p_value),
            (0, 0.0, 1.0)
        );
        assert!(!test.switched);
    }
}
