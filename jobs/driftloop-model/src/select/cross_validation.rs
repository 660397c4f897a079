//! Cross-validation of the grid: every candidate fitted on each fold's other rows and
//! scored on the fold's own, in parallel, with each row's out-of-fold probabilities kept
//! of the one leading, for calibrating the one chosen.

use driftloop_core::metrics::{probability_scores, score, ProbabilityScores, Scores};

use super::{CandidateScore, Dataset, TrainConfig};
use crate::encode::Encoder;
use crate::family::{argmax, Candidate, Family, Fitted};
use crate::parallel::parallel_map;
use crate::ModelError;

/// One candidate's class probabilities of every cross-validation row, each from the fold
/// that held the row out: row-major, `n_classes` a row, in one buffer (a `Vec` a row took
/// 72 bytes a row of four classes, 32 here).
#[derive(Clone)]
pub(super) struct OutOfFold {
    values: Vec<f64>,
    n_classes: usize,
}

impl OutOfFold {
    /// A row's probabilities a `Vec`, as calibration takes them.
    pub(super) fn rows(&self) -> Vec<Vec<f64>> {
        self.values.chunks_exact(self.n_classes).map(<[f64]>::to_vec).collect()
    }

    /// Each row's most probable class (the first of equals), as the scores count it.
    pub(super) fn classes(&self) -> Vec<u8> {
        self.values
            .chunks_exact(self.n_classes)
            .map(|p| argmax(p) as u8)
            .collect()
    }
}

/// Whether a candidate of mean macro-F1 `challenger` takes the lead from one of `leader`:
/// only by scoring higher, so that of equals the earlier keeps it.
pub(super) fn takes_the_lead(leader: f64, challenger: f64) -> bool {
    use std::cmp::Ordering;
    !matches!(
        leader.partial_cmp(&challenger),
        Some(Ordering::Greater | Ordering::Equal)
    )
}

/// A fold's macro-F1 and probabilities (`None` when the candidate failed the fold).
type FoldOutcome = (f64, Option<Vec<f64>>);

/// A candidate leading a cross-validation: its index and out-of-fold probabilities.
pub(super) type Leader = (usize, OutOfFold);

/// The candidates leading a cross-validation: of all, and of the default family
/// ([`TrainConfig::default_family`]), which training may keep instead.
#[derive(Default)]
pub(super) struct Leaders {
    pub(super) best: Option<Leader>,
    pub(super) of_default: Option<Leader>,
}

/// The out-of-fold probabilities kept while the grid runs: each candidate's folds until it
/// is judged, and of the candidates judged only the leaders' (the highest mean macro-F1,
/// the earliest of equals, none that failed a fold; of all, and of the default family).
/// Candidates are judged in order, each once its folds and every earlier candidate's are
/// in. Every candidate's were held until the choice before: 9 MB for the default grid at
/// 20,000 rows, twice over while they were gathered.
struct Leading<'a> {
    folds: &'a [Vec<usize>],
    candidates: &'a [Candidate],
    default_family: Option<Family>,
    n_rows: usize,
    n_classes: usize,
    /// Per candidate, per fold: its macro-F1 and probabilities once in (`None` for the
    /// probabilities when the fold failed).
    waiting: Vec<Vec<Option<FoldOutcome>>>,
    next: usize,
    /// Of all, and of the default family: index, mean macro-F1, probabilities.
    leaders: [Option<(usize, f64, OutOfFold)>; 2],
}

impl Leading<'_> {
    fn fold_in(&mut self, c: usize, f: usize, fold: FoldOutcome) {
        self.waiting[c][f] = Some(fold);
        while self.next < self.waiting.len() && self.waiting[self.next].iter().all(Option::is_some) {
            let folds = std::mem::take(&mut self.waiting[self.next]);
            self.judge(self.next, folds.into_iter().map(|fold| fold.expect("in")).collect());
            self.next += 1;
        }
    }

    fn judge(&mut self, c: usize, folds: Vec<FoldOutcome>) {
        if folds.iter().any(|(_, probabilities)| probabilities.is_none()) {
            return;
        }
        // The mean as the candidate's score takes it: the folds' sum, in order, over their
        // number.
        let mean = folds.iter().map(|(f1, _)| f1).sum::<f64>() / folds.len().max(1) as f64;
        let of_default = self.default_family == Some(self.candidates[c].family());
        let leads = |slot: &Option<(usize, f64, OutOfFold)>| {
            slot.as_ref().is_none_or(|(_, leader, _)| takes_the_lead(*leader, mean))
        };
        let wins = [leads(&self.leaders[0]), of_default && leads(&self.leaders[1])];
        if !wins.iter().any(|&w| w) {
            return;
        }
        let k = self.n_classes;
        let mut out_of_fold = OutOfFold {
            values: vec![0.0; self.n_rows * k],
            n_classes: k,
        };
        for (fold, (_, probabilities)) in self.folds.iter().zip(folds) {
            let probabilities = probabilities.expect("every fold fitted");
            for (&i, p) in fold.iter().zip(probabilities.chunks_exact(k)) {
                out_of_fold.values[i * k..(i + 1) * k].copy_from_slice(p);
            }
        }
        match wins {
            [true, true] => {
                self.leaders[0] = Some((c, mean, out_of_fold.clone()));
                self.leaders[1] = Some((c, mean, out_of_fold));
            }
            [true, false] => self.leaders[0] = Some((c, mean, out_of_fold)),
            _ => self.leaders[1] = Some((c, mean, out_of_fold)),
        }
    }
}

/// Every candidate's scores over the folds, and the out-of-fold probabilities of the ones
/// that lead them (see [`Leading`]) with their indices (none when none could be fitted).
pub(super) fn cross_validate(
    data: &Dataset,
    encoder: &Encoder,
    n_classes: usize,
    cv_rows: &[usize],
    folds: &[Vec<usize>],
    candidates: &[Candidate],
    config: &TrainConfig,
) -> Result<(Vec<CandidateScore>, Leaders), ModelError> {
    // Per fold, its training and validation matrices, built once for all candidates.
    let mut splits = Vec::with_capacity(folds.len());
    for fold in folds {
        let mut in_fold = vec![false; cv_rows.len()];
        for &i in fold {
            in_fold[i] = true;
        }
        let fit_rows: Vec<usize> = (0..cv_rows.len())
            .filter(|&i| !in_fold[i])
            .map(|i| cv_rows[i])
            .collect();
        let check_rows: Vec<usize> = fold.iter().map(|&i| cv_rows[i]).collect();
        // Kept as encoded (one byte an input when they fit), which the families but
        // logistic regression learn from as they lie: five folds' matrices of numbers at
        // once were 13.6 MB at 20,000 rows, the most of the cross-validation's memory.
        let x_fit = data.rows(encoder, &fit_rows)?;
        let y_fit: Vec<i32> = fit_rows.iter().map(|&r| data.labels[r] as i32).collect();
        let x_check = data.rows(encoder, &check_rows)?;
        let y_check = data.labels_of(&check_rows);
        splits.push((x_fit, y_fit, x_check, y_check));
    }
    let continuous = encoder.continuous();
    let tasks: Vec<(usize, usize)> = (0..candidates.len())
        .flat_map(|c| (0..splits.len()).map(move |f| (c, f)))
        .collect();
    let leading = std::sync::Mutex::new(Leading {
        folds,
        candidates,
        default_family: config.default_family,
        n_rows: cv_rows.len(),
        n_classes,
        waiting: vec![vec![None; folds.len()]; candidates.len()],
        next: 0,
        leaders: [None, None],
    });
    let results = parallel_map(&tasks, config.threads, |&(c, f)| {
        let (x_fit, y_fit, x_check, y_check) = &splits[f];
        let fit = || -> Result<_, ModelError> {
            let probabilities = Fitted::fit_and_score_rows(
                &candidates[c],
                x_fit,
                y_fit,
                config.seed,
                &continuous,
                x_check,
                n_classes,
            )?;
            let predicted: Vec<u8> = probabilities.iter().map(|p| argmax(p) as u8).collect();
            let scores = score(y_check, &predicted, n_classes);
            let measured = probability_scores(y_check, &probabilities);
            Ok((scores, measured, probabilities.concat()))
        };
        let fitted = fit();
        let mut leading = leading.lock().unwrap_or_else(|p| p.into_inner());
        match fitted {
            Ok((scores, measured, probabilities)) => {
                leading.fold_in(c, f, (scores.macro_f1, Some(probabilities)));
                Ok((scores, measured))
            }
            Err(e) => {
                leading.fold_in(c, f, (f64::NAN, None));
                Err(e)
            }
        }
    });
    let mut per_candidate: Vec<Vec<Result<(Scores, ProbabilityScores), ModelError>>> =
        candidates.iter().map(|_| Vec::new()).collect();
    for ((c, _), result) in tasks.iter().zip(results) {
        per_candidate[*c].push(result);
    }
    let scores = candidates
        .iter()
        .zip(per_candidate)
        .map(|(candidate, results)| {
            let error = results.iter().find_map(|r| r.as_ref().err().map(|e| e.to_string()));
            let (scores, probabilities): (Vec<Scores>, Vec<ProbabilityScores>) =
                results.into_iter().filter_map(|r| r.ok()).unzip();
            let fold_macro_f1: Vec<f64> = scores.iter().map(|s| s.macro_f1).collect();
            let n = fold_macro_f1.len().max(1) as f64;
            let measured = |value: fn(&ProbabilityScores) -> f64| {
                (!probabilities.is_empty()).then(|| probabilities.iter().map(value).sum::<f64>() / n)
            };
            let mean = fold_macro_f1.iter().sum::<f64>() / n;
            let var = fold_macro_f1.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            CandidateScore {
                candidate: candidate.clone(),
                mean_macro_f1: mean,
                std_macro_f1: var.sqrt(),
                mean_accuracy: scores.iter().map(|s| s.accuracy).sum::<f64>() / n,
                mean_log_loss: measured(|p| p.log_loss),
                mean_brier: measured(|p| p.brier),
                fold_macro_f1,
                error,
            }
        })
        .collect();
    let [best, of_default] = leading.into_inner().unwrap_or_else(|p| p.into_inner()).leaders;
    let leader = |slot: Option<(usize, f64, OutOfFold)>| slot.map(|(c, _, out_of_fold)| (c, out_of_fold));
    Ok((
        scores,
        Leaders {
            best: leader(best),
            of_default: leader(of_default),
        },
    ))
}

#[cfg(test)]
mod tests {
    use driftloop_core::metrics::stratified_folds;
    use driftloop_core::spec;

    use super::*;
    use crate::tests::dataset;

    /// Of the grid, the out-of-fold probabilities kept are the first best candidate's
    /// (a candidate failing its folds never leads) and the default family's first best's,
    /// each row's from the fold that held it out, on one thread or several.
    #[test]
    fn the_probabilities_kept_are_the_first_best_candidates_from_its_folds() {
        let data = dataset(500, 21);
        let encoder = Encoder::from_spec(spec()).impute_from(&data.values);
        let cv_rows: Vec<usize> = (0..data.n_rows()).step_by(2).collect();
        let labels: Vec<u8> = cv_rows.iter().map(|&r| data.labels[r]).collect();
        let folds = stratified_folds(&labels, 4, 3);
        let grid = vec![
            // Fails on every fold: a smoothing of 0.
            Candidate::NaiveBayes { alpha: 0.0 },
            Candidate::DecisionTree {
                max_depth: Some(2),
                min_samples_leaf: 1,
                class_weight: None,
            },
            Candidate::NaiveBayes { alpha: 1.0 },
            Candidate::NaiveBayes { alpha: 1.0 },
            Candidate::LogisticRegression {
                alpha: 0.1,
                class_weight: None,
            },
        ];
        let out_of_fold_of = |c: usize| {
            let mut expected = vec![0.0; cv_rows.len() * 4];
            for fold in &folds {
                let fit_rows: Vec<usize> = (0..cv_rows.len())
                    .filter(|i| !fold.contains(i))
                    .map(|i| cv_rows[i])
                    .collect();
                let check_rows: Vec<usize> = fold.iter().map(|&i| cv_rows[i]).collect();
                let y: Vec<i32> = fit_rows.iter().map(|&r| data.labels[r] as i32).collect();
                let probabilities = Fitted::fit_and_score(
                    &grid[c],
                    &data.matrix(&encoder, &fit_rows).unwrap(),
                    &y,
                    TrainConfig::default().seed,
                    &encoder.continuous(),
                    &data.matrix(&encoder, &check_rows).unwrap(),
                    4,
                )
                .unwrap();
                for (&i, p) in fold.iter().zip(&probabilities) {
                    expected[i * 4..(i + 1) * 4].copy_from_slice(p);
                }
            }
            expected
        };
        let first_best = |scores: &[CandidateScore], among: &[usize]| {
            among
                .iter()
                .copied()
                .fold(None::<usize>, |best, c| match best {
                    Some(b) if scores[b].mean_macro_f1 >= scores[c].mean_macro_f1 => Some(b),
                    _ => Some(c),
                })
                .unwrap()
        };
        for threads in [1, 2, 3] {
            for default_family in [None, Some(Family::NaiveBayes), Some(Family::DecisionTree)] {
                let config = TrainConfig {
                    threads,
                    default_family,
                    ..TrainConfig::default()
                };
                let (scores, leading) = cross_validate(&data, &encoder, 4, &cv_rows, &folds, &grid, &config).unwrap();
                assert!(scores[0].error.is_some());
                let best = first_best(&scores, &[1, 2, 3, 4]);
                let (leader, out_of_fold) = leading.best.expect("a leader");
                assert_eq!(leader, best, "{threads} threads");
                assert_eq!(out_of_fold.values, out_of_fold_of(best), "{threads} threads");
                let of_default = leading.of_default.map(|(c, out_of_fold)| (c, out_of_fold.values));
                let expected = default_family.map(|family| {
                    let members: Vec<usize> = (1..grid.len()).filter(|&c| grid[c].family() == family).collect();
                    let c = first_best(&scores, &members);
                    (c, out_of_fold_of(c))
                });
                assert_eq!(of_default, expected, "{threads} threads, {default_family:?}");
            }
        }
        // No candidate fitted: none leads.
        let failing = [Candidate::NaiveBayes { alpha: 0.0 }];
        let config = TrainConfig {
            default_family: Some(Family::NaiveBayes),
            ..TrainConfig::default()
        };
        let (_, leading) = cross_validate(&data, &encoder, 4, &cv_rows, &folds, &failing, &config).unwrap();
        assert!(leading.best.is_none() && leading.of_default.is_none());
    }
}
