//! Choosing a calibration on the holdout: the maps offered for a model, fitted on its
//! out-of-fold probabilities, and the holdout scored through each a block of rows at a
//! time.

use driftloop_core::metrics::{row_brier, row_log_loss, ProbabilityScores};

use super::{Calibration, Method};
use crate::family::argmax;
use crate::select::{CalibrationChoice, ISOTONIC_MIN_ROWS};
use crate::ModelError;

/// The calibrations offered for a model, fitted on its out-of-fold probabilities and their
/// true classes, in [`Method::ALL`] order; isotonic only from [`ISOTONIC_MIN_ROWS`] rows
/// on.
pub(crate) fn offered(
    out_of_fold: &[Vec<f64>],
    truth: &[u8],
    n_classes: usize,
) -> Result<Vec<Calibration>, ModelError> {
    Method::ALL
        .into_iter()
        .filter(|&method| method != Method::Isotonic || out_of_fold.len() >= ISOTONIC_MIN_ROWS)
        .map(|method| Calibration::fit(method, out_of_fold, truth, n_classes))
        .collect()
}

/// A holdout scored a block of rows at a time, as the model gives its probabilities and
/// through each calibration offered: for each, the sums of the rows' log-loss and Brier
/// score and each row's class, the sums taken row after row as
/// [`driftloop_core::metrics::probability_scores`] takes them. No row's probabilities outlive their block (the holdout's were 14 MB for
/// 200,000 rows of four classes, and a calibrated copy as much again).
pub(crate) struct HoldoutOptions {
    /// `None`: no calibration is offered for the model's family.
    maps: Option<Vec<Calibration>>,
    /// The model's probabilities as they are first, then through each map.
    tallies: Vec<Tally>,
    rows: usize,
    row: Vec<f64>,
}

struct Tally {
    log_loss: f64,
    brier: f64,
    predicted: Vec<u8>,
}

impl Tally {
    fn add(&mut self, truth: u8, p: &[f64]) {
        self.log_loss += row_log_loss(truth, p);
        self.brier += row_brier(truth, p);
        self.predicted.push(argmax(p) as u8);
    }
}

/// The holdout's option with the lowest log-loss: its classes and scores, the calibration
/// taken and how it was chosen (both `None` when none was offered).
pub(crate) struct HoldoutChosen {
    pub calibration: Option<Calibration>,
    pub choice: Option<CalibrationChoice>,
    pub predicted: Vec<u8>,
    pub scores: ProbabilityScores,
}

impl HoldoutOptions {
    /// Room for `n_rows` rows, scored through `maps` besides as they are.
    pub(crate) fn new(maps: Option<Vec<Calibration>>, n_rows: usize) -> HoldoutOptions {
        let n_options = 1 + maps.as_ref().map_or(0, Vec::len);
        let tallies = (0..n_options)
            .map(|_| Tally {
                log_loss: 0.0,
                brier: 0.0,
                predicted: Vec::with_capacity(n_rows),
            })
            .collect();
        HoldoutOptions {
            maps,
            tallies,
            rows: 0,
            row: Vec::new(),
        }
    }

    /// The next rows' probabilities (one row per true class in `truth`).
    pub(crate) fn add(&mut self, probabilities: &[Vec<f64>], truth: &[u8]) {
        assert_eq!(truth.len(), probabilities.len(), "one row of probabilities per row");
        let maps = self.maps.as_deref().unwrap_or_default();
        let (plain, calibrated) = self.tallies.split_first_mut().expect("the model's own probabilities");
        for (&t, p) in truth.iter().zip(probabilities) {
            plain.add(t, p);
            for (map, tally) in maps.iter().zip(calibrated.iter_mut()) {
                self.row.clone_from(p);
                map.apply_row(&mut self.row);
                tally.add(t, &self.row);
            }
        }
        self.rows += truth.len();
    }

    /// The option whose holdout log-loss is lowest: a calibration only when it lowers the
    /// log-loss of the probabilities as they are.
    pub(crate) fn choose(self) -> HoldoutChosen {
        let n = self.rows;
        // No rows score 0, as in `probability_scores`.
        let mean = |sum: f64| if n == 0 { 0.0 } else { sum / n as f64 };
        let mut tallies = self.tallies;
        let uncalibrated = mean(tallies[0].log_loss);
        let mut best = (0, uncalibrated);
        let mut losses = [f64::NAN; 2];
        let maps = self.maps.as_deref().unwrap_or_default();
        for (i, map) in maps.iter().enumerate() {
            let loss = mean(tallies[1 + i].log_loss);
            losses[Method::ALL.iter().position(|&m| m == map.method).expect("a method")] = loss;
            if loss < best.1 {
                best = (1 + i, loss);
            }
        }
        let chosen = tallies.swap_remove(best.0);
        let scores = ProbabilityScores {
            log_loss: mean(chosen.log_loss),
            brier: mean(chosen.brier),
        };
        let choice = self.maps.as_ref().map(|_| CalibrationChoice {
            method: (best.0 > 0).then(|| maps[best.0 - 1].method),
            uncalibrated_log_loss: uncalibrated,
            sigmoid_log_loss: losses[0],
            isotonic_log_loss: (!losses[1].is_nan()).then_some(losses[1]),
        });
        let calibration = match self.maps {
            Some(mut maps) if best.0 > 0 => Some(maps.swap_remove(best.0 - 1)),
            _ => None,
        };
        HoldoutChosen {
            calibration,
            choice,
            predicted: chosen.predicted,
            scores,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Over-confident probabilities of three classes: the row's class gets 0.9 most of the
    /// time, a wrong class the rest.
    fn over_confident(n: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<u8>) {
        let mut rng = driftloop_core::rng::SplitMix64::new(seed);
        (0..n)
            .map(|_| {
                let truth = (rng.next_u64() % 3) as u8;
                let said = if rng.next_f64() < 0.6 {
                    truth
                } else {
                    (rng.next_u64() % 3) as u8
                };
                let p = (0..3).map(|k| if k == said as usize { 0.9 } else { 0.05 }).collect();
                (p, truth)
            })
            .unzip()
    }

    #[test]
    fn a_holdout_tallied_in_blocks_scores_as_its_probabilities_held_whole() {
        use driftloop_core::metrics::probability_scores;
        let (out_of_fold, cv_truth) = over_confident(ISOTONIC_MIN_ROWS + 200, 1);
        let (holdout, truth) = over_confident(2_503, 2);
        let maps = offered(&out_of_fold, &cv_truth, 3).unwrap();
        let methods: Vec<Method> = maps.iter().map(|m| m.method).collect();
        assert_eq!(methods, Method::ALL);
        // Every option held whole: its calibrated copy, its scores and classes.
        let whole: Vec<(ProbabilityScores, Vec<u8>)> = std::iter::once(None)
            .chain(maps.iter().map(Some))
            .map(|map| {
                let mut p = holdout.clone();
                if let Some(map) = map {
                    map.apply(&mut p);
                }
                let classes = p.iter().map(|row| argmax(row) as u8).collect();
                (probability_scores(&truth, &p), classes)
            })
            .collect();
        let mut options = HoldoutOptions::new(Some(maps.clone()), holdout.len());
        let mut at = 0;
        for size in [1, 7, 1_000, 1_495] {
            options.add(&holdout[at..at + size], &truth[at..at + size]);
            at += size;
        }
        assert_eq!(at, holdout.len());
        let chosen = options.choose();
        let choice = chosen.choice.clone().unwrap();
        assert_eq!(choice.uncalibrated_log_loss, whole[0].0.log_loss);
        assert_eq!(choice.sigmoid_log_loss, whole[1].0.log_loss);
        assert_eq!(choice.isotonic_log_loss, Some(whole[2].0.log_loss));
        let best = (0..3)
            .min_by(|&a, &b| whole[a].0.log_loss.total_cmp(&whole[b].0.log_loss))
            .unwrap();
        assert!(best > 0, "calibration helps over-confident rows: {choice:?}");
        assert_eq!(choice.method, Some(Method::ALL[best - 1]));
        assert_eq!(chosen.calibration.as_ref(), Some(&maps[best - 1]));
        assert_eq!(chosen.scores, whole[best].0);
        assert_eq!(chosen.predicted, whole[best].1);
        // No calibration offered: the probabilities as they are, no choice.
        let mut plain = HoldoutOptions::new(None, holdout.len());
        plain.add(&holdout, &truth);
        let plain = plain.choose();
        assert!(plain.choice.is_none() && plain.calibration.is_none());
        assert_eq!((plain.scores, plain.predicted), whole[0].clone());
    }
}
