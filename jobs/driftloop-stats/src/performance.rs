//! Realized performance from expert labels, pure: what a model predicted for rows (class
//! and probabilities) beside the labels experts gave them since, scored like the holdout
//! (accuracy, macro-F1, per-class precision/recall/F1, confusion), plus calibration
//! (Brier score per class one-vs-rest and overall, expected calibration error over
//! equal-width confidence bins), and the decay decision against the model's own holdout
//! accuracy.
//!
//! The decision is a one-sided two-proportion z-test with a pooled variance: H0 "the
//! realized accuracy is the holdout's", H1 "it is lower". With `n_h` holdout rows at
//! accuracy `a_h` and `n_w` labelled rows at `a_w`, `p = (a_h n_h + a_w n_w) / (n_h + n_w)`,
//! `z = (a_h - a_w) / sqrt(p (1 - p) (1/n_h + 1/n_w))`, and the window is **degraded** when
//! the one-sided p-value `1 - Φ(z)` is below `alpha` (default 0.01). A window with fewer
//! than `min_labels` rows is **insufficient**: neither healthy nor degraded.

use driftloop_core::metrics::{score, Scores};
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

/// The default significance level of the decay test.
pub const DEFAULT_ALPHA: f64 = 0.01;
/// The default fewest labelled rows a window needs for a verdict.
pub const DEFAULT_MIN_LABELS: usize = 30;
/// Bins of the expected calibration error.
pub const CALIBRATION_BINS: usize = 10;

/// One equal-width bin of the predicted class's probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    pub lower: f64,
    pub upper: f64,
    pub rows: u64,
    /// Mean probability of the predicted class in the bin (0 when empty).
    pub confidence: f64,
    /// Share of the bin's rows predicted right (0 when empty).
    pub accuracy: f64,
}

/// How far the probabilities are from what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Mean over rows of the summed squared error of the probability vector against the
    /// one-hot truth (the multi-class Brier score; 0 is perfect, 2 the worst).
    pub brier: f64,
    /// Per class, one-vs-rest: mean of (p_k - [truth = k])², scikit-learn's
    /// `brier_score_loss(truth == k, p_k)`.
    pub brier_per_class: Vec<f64>,
    /// Expected calibration error: Σ_bins rows/n · |accuracy - confidence|.
    pub ece: f64,
    pub bins: Vec<CalibrationBin>,
}

/// Calibration of `probabilities` (one vector per row, `n_classes` long, in class order)
/// against `truth`; the predicted class is the most probable (the first on a tie).
pub fn calibration(truth: &[u8], probabilities: &[Vec<f64>], n_classes: usize) -> Calibration {
    assert_eq!(truth.len(), probabilities.len(), "one probability vector per row");
    let n = truth.len();
    let mut brier = 0.0;
    let mut per_class = vec![0.0; n_classes];
    let mut bins = vec![(0u64, 0.0f64, 0u64); CALIBRATION_BINS];
    for (&t, p) in truth.iter().zip(probabilities) {
        assert_eq!(p.len(), n_classes, "a probability per class");
        for (k, &pk) in p.iter().enumerate() {
            let y = if k == t as usize { 1.0 } else { 0.0 };
            let e = (pk - y) * (pk - y);
            brier += e;
            per_class[k] += e;
        }
        let (predicted, confidence) =
            p.iter().copied().enumerate().fold(
                (0, f64::NEG_INFINITY),
                |best, (k, pk)| if pk > best.1 { (k, pk) } else { best },
            );
        // Bins [0, 0.1), …, [0.9, 1.0]: the last one holds 1.0 too.
        let bin = ((confidence * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
        bins[bin].0 += 1;
        bins[bin].1 += confidence;
        bins[bin].2 += u64::from(predicted == t as usize);
    }
    let n_f = n.max(1) as f64;
    let bins: Vec<CalibrationBin> = bins
        .into_iter()
        .enumerate()
        .map(|(i, (rows, confidence, correct))| CalibrationBin {
            lower: i as f64 / CALIBRATION_BINS as f64,
            upper: (i + 1) as f64 / CALIBRATION_BINS as f64,
            rows,
            confidence: if rows == 0 { 0.0 } else { confidence / rows as f64 },
            accuracy: if rows == 0 { 0.0 } else { correct as f64 / rows as f64 },
        })
        .collect();
    let ece = bins
        .iter()
        .map(|b| b.rows as f64 / n_f * (b.accuracy - b.confidence).abs())
        .sum();
    Calibration {
        brier: brier / n_f,
        brier_per_class: per_class.into_iter().map(|e| e / n_f).collect(),
        ece,
        bins,
    }
}

/// What the labels say about a window of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Not measurably below the holdout.
    Healthy,
    /// Below the holdout by more than chance at `alpha`.
    Degraded,
    /// Too few labelled rows to tell.
    Insufficient,
}

/// The decay test of one window against the holdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecayTest {
    pub verdict: Verdict,
    pub holdout_accuracy: f64,
    pub holdout_rows: u64,
    pub accuracy: f64,
    pub rows: u64,
    /// The z statistic (positive when the window is below the holdout); none when
    /// insufficient or when both accuracies are 0 or 1 (no variance).
    pub z: Option<f64>,
    /// One-sided p-value of "lower than the holdout".
    pub p_value: Option<f64>,
    pub alpha: f64,
    pub min_labels: usize,
}

/// The one-sided two-proportion test of `correct` of `rows` against the holdout's
/// accuracy on `holdout_rows` rows.
pub fn decay_test(
    holdout_accuracy: f64,
    holdout_rows: u64,
    correct: u64,
    rows: u64,
    alpha: f64,
    min_labels: usize,
) -> DecayTest {
    let accuracy = if rows == 0 { 0.0 } else { correct as f64 / rows as f64 };
    let mut test = DecayTest {
        verdict: Verdict::Insufficient,
        holdout_accuracy,
        holdout_rows,
        accuracy,
        rows,
        z: None,
        p_value: None,
        alpha,
        min_labels,
    };
    if (rows as usize) < min_labels || holdout_rows == 0 {
        return test;
    }
    let (n_h, n_w) = (holdout_rows as f64, rows as f64);
    let pooled = (holdout_accuracy * n_h + accuracy * n_w) / (n_h + n_w);
    let variance = pooled * (1.0 - pooled) * (1.0 / n_h + 1.0 / n_w);
    if variance <= 0.0 {
        // Both perfect or both wrong everywhere: the same, so nothing decayed.
        test.verdict = Verdict::Healthy;
        return test;
    }
    let z = (holdout_accuracy - accuracy) / variance.sqrt();
    let p_value = Normal::standard().sf(z);
    test.z = Some(z);
    test.p_value = Some(p_value);
    test.verdict = if p_value < alpha {
        Verdict::Degraded
    } else {
        Verdict::Healthy
    };
    test
}

/// A window's scores, calibration and decay test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowReport {
    pub scores: Scores,
    pub calibration: Option<Calibration>,
    pub test: DecayTest,
}

/// Scores a window: `predicted` and `truth` class indices, the probability vectors when
/// every row has one.
pub fn window_report(
    truth: &[u8],
    predicted: &[u8],
    probabilities: Option<&[Vec<f64>]>,
    n_classes: usize,
    holdout: (f64, u64),
    alpha: f64,
    min_labels: usize,
) -> WindowReport {
    let scores = score(truth, predicted, n_classes);
    let correct = truth.iter().zip(predicted).filter(|(t, p)| t == p).count() as u64;
    WindowReport {
        calibration: probabilities.map(|p| calibration(truth, p, n_classes)),
        test: decay_test(holdout.0, holdout.1, correct, truth.len() as u64, alpha, min_labels),
        scores,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed windows of data-fixtures/performance/, scored as scikit-learn,
    /// NumPy and SciPy score them there (sklearn_reference.py), to 1e-12.
    #[test]
    fn the_metrics_equal_scikit_learns() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data-fixtures/performance");
        let read = |name: &str| -> serde_json::Value {
            let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
            serde_json::from_str(&text).unwrap()
        };
        let expected = read("expected.json");
        let close = |ours: f64, theirs: &serde_json::Value, what: &str| {
            let theirs = theirs.as_f64().unwrap_or_else(|| panic!("{what}: {theirs}"));
            assert!(
                (ours - theirs).abs() < 1e-12,
                "{what}: {ours} against scikit-learn's {theirs}"
            );
        };
        for (name, want) in expected.as_object().unwrap() {
            let window = read(&format!("window-{name}.json"));
            let truth: Vec<u8> = serde_json::from_value(window["truth"].clone()).unwrap();
            let probabilities: Vec<Vec<f64>> = serde_json::from_value(window["probabilities"].clone()).unwrap();
            let predicted: Vec<u8> = probabilities
                .iter()
                .map(|p| {
                    p.iter()
                        .enumerate()
                        .fold(
                            (0, f64::NEG_INFINITY),
                            |best, (k, &pk)| if pk > best.1 { (k, pk) } else { best },
                        )
                        .0 as u8
                })
                .collect();
            let holdout = (
                want["holdout_accuracy"].as_f64().unwrap(),
                want["holdout_rows"].as_u64().unwrap(),
            );
            let report = window_report(
                &truth,
                &predicted,
                Some(&probabilities),
                4,
                holdout,
                DEFAULT_ALPHA,
                DEFAULT_MIN_LABELS.min(truth.len()),
            );
            close(report.scores.accuracy, &want["accuracy"], &format!("{name} accuracy"));
            close(report.scores.macro_f1, &want["macro_f1"], &format!("{name} macro-F1"));
            for (k, class) in report.scores.per_class.iter().enumerate() {
                close(class.precision, &want["precision"][k], &format!("{name} precision {k}"));
                close(class.recall, &want["recall"][k], &format!("{name} recall {k}"));
                close(class.f1, &want["f1"][k], &format!("{name} F1 {k}"));
                assert_eq!(class.support, want["support"][k].as_u64().unwrap());
            }
            let confusion: Vec<Vec<u64>> = serde_json::from_value(want["confusion"].clone()).unwrap();
            assert_eq!(report.scores.confusion, confusion, "{name}");
            let calibration = report.calibration.unwrap();
            close(calibration.brier, &want["brier"], &format!("{name} Brier"));
            for (k, b) in calibration.brier_per_class.iter().enumerate() {
                close(*b, &want["brier_per_class"][k], &format!("{name} Brier of class {k}"));
            }
            close(calibration.ece, &want["ece"], &format!("{name} ECE"));
            close(report.test.z.unwrap(), &want["z"], &format!("{name} z"));
            // statrs's normal survival function agrees with SciPy's to about 1e-11:
            // relative 1e-9 for the p-value.
            let (ours, theirs) = (report.test.p_value.unwrap(), want["p_value"].as_f64().unwrap());
            assert!(
                (ours - theirs).abs() <= 1e-9 * theirs,
                "{name} p-value: {ours} against SciPy's {theirs}"
            );
        }
        // The over-confident model: badly calibrated, and degraded against its holdout.
        assert!(expected["over-confident"]["ece"].as_f64().unwrap() > 0.3);
    }

    /// The false-alarm rate: labels drawn with the champion's own accuracy (the holdout's
    /// and the window's rows both Bernoulli at 0.85; 120 holdout rows, the default window
    /// of 200) are called degraded in 0.8 % of 2,000 seeds at alpha = 0.01; a 10-point
    /// drop is found in 41 % of them (120 holdout rows bound the power) and a 20-point
    /// drop in 96 %.
    #[test]
    fn false_alarms_stay_near_alpha_and_real_drops_are_found() {
        let draw = |rng: &mut driftloop_core::rng::SplitMix64, n: u64, p: f64| -> u64 {
            (0..n).filter(|_| rng.next_f64() < p).count() as u64
        };
        let (mut false_alarms, mut found_10, mut found_20) = (0, 0, 0);
        let seeds = 2000;
        for seed in 0..seeds {
            let mut rng = driftloop_core::rng::SplitMix64::new(seed);
            let holdout = draw(&mut rng, 120, 0.85) as f64 / 120.0;
            let same = draw(&mut rng, 200, 0.85);
            let dropped_10 = draw(&mut rng, 200, 0.75);
            let dropped_20 = draw(&mut rng, 200, 0.65);
            let test = |correct| decay_test(holdout, 120, correct, 200, DEFAULT_ALPHA, DEFAULT_MIN_LABELS).verdict;
            false_alarms += usize::from(test(same) == Verdict::Degraded);
            found_10 += usize::from(test(dropped_10) == Verdict::Degraded);
            found_20 += usize::from(test(dropped_20) == Verdict::Degraded);
        }
        let share = |n: usize| n as f64 / seeds as f64;
        eprintln!(
            "false alarms {:.4}, 10-point drops found {:.4}, 20-point drops found {:.4}",
            share(false_alarms),
            share(found_10),
            share(found_20)
        );
        assert!(share(false_alarms) <= 0.015, "false-alarm rate {}", share(false_alarms));
        assert!(share(found_10) > 0.3, "10-point drops found in {found_10} of {seeds}");
        assert!(share(found_20) > 0.95, "20-point drops found in {found_20} of {seeds}");
    }

    #[test]
    fn calibration_of_a_small_case_by_hand() {
        // Row 1: right with 0.9; row 2: wrong with 0.6 (truth class 1 at 0.4).
        let truth = [0u8, 1];
        let p = vec![vec![0.9, 0.1], vec![0.6, 0.4]];
        let c = calibration(&truth, &p, 2);
        // Row 1: 0.01 + 0.01; row 2: 0.36 + 0.36.
        assert!((c.brier - (0.02 + 0.72) / 2.0).abs() < 1e-15);
        assert!((c.brier_per_class[0] - (0.01 + 0.36) / 2.0).abs() < 1e-15);
        assert_eq!(c.bins[9].rows, 1);
        assert_eq!(c.bins[6].rows, 1);
        // Bin 9: accuracy 1, confidence 0.9; bin 6: accuracy 0, confidence 0.6.
        assert!((c.ece - (0.5 * 0.1 + 0.5 * 0.6)).abs() < 1e-12);
    }

    #[test]
    fn the_decay_test_needs_enough_labels_and_a_real_drop() {
        let few = decay_test(0.9, 100, 10, 20, DEFAULT_ALPHA, DEFAULT_MIN_LABELS);
        assert_eq!((few.verdict, few.z), (Verdict::Insufficient, None));
        let same = decay_test(0.9, 100, 180, 200, DEFAULT_ALPHA, DEFAULT_MIN_LABELS);
        assert_eq!(same.verdict, Verdict::Healthy);
        assert!(same.z.unwrap().abs() < 1e-12);
        let better = decay_test(0.8, 100, 190, 200, DEFAULT_ALPHA, DEFAULT_MIN_LABELS);
        assert_eq!(better.verdict, Verdict::Healthy);
        let dropped = decay_test(0.9, 100, 120, 200, DEFAULT_ALPHA, DEFAULT_MIN_LABELS);
        assert_eq!(dropped.verdict, Verdict::Degraded);
        // p = (90 + 120) / 300 = 0.7; z = 0.3 / sqrt(0.21 * 0.015).
        let z = 0.3 / (0.7f64 * 0.3 * (0.01 + 0.005)).sqrt();
        assert!((dropped.z.unwrap() - z).abs() < 1e-12);
        // A small drop on few rows is chance.
        let slight = decay_test(0.9, 24, 26, 30, DEFAULT_ALPHA, DEFAULT_MIN_LABELS);
        assert_eq!(slight.verdict, Verdict::Healthy, "{slight:?}");
    }
}
