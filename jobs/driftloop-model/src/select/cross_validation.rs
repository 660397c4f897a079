//! Cross-validation of the grid: every candidate fitted on each fold's other rows and
//! scored on the fold's own, in parallel, with each row's out-of-fold probabilities kept
//! for calibrating the one chosen.

use driftloop_core::metrics::{probability_scores, score, ProbabilityScores, Scores};

use super::{CandidateScore, Dataset, TrainConfig};
use crate::encode::Encoder;
use crate::family::{argmax, Candidate, Fitted};
use crate::parallel::parallel_map;
use crate::ModelError;

/// One candidate's class probabilities of every cross-validation row, each from the fold
/// that held the row out: row-major, `n_classes` a row, in one buffer (a `Vec` a row took
/// 72 bytes a row of four classes, 32 here; every candidate's are held until one is chosen).
pub(super) struct OutOfFold {
    values: Vec<f64>,
    n_classes: usize,
}

impl OutOfFold {
    /// A row's probabilities a `Vec`, as calibration takes them.
    pub(super) fn rows(&self) -> Vec<Vec<f64>> {
        self.values.chunks_exact(self.n_classes).map(<[f64]>::to_vec).collect()
    }
}

pub(super) fn cross_validate(
    data: &Dataset,
    encoder: &Encoder,
    n_classes: usize,
    cv_rows: &[usize],
    folds: &[Vec<usize>],
    candidates: &[Candidate],
    config: &TrainConfig,
) -> Result<(Vec<CandidateScore>, Vec<OutOfFold>), ModelError> {
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
        // Kept as encoded (one byte an input when they fit) and made a matrix by the task
        // that needs it: five folds' matrices of numbers at once were 13.6 MB at 20,000
        // rows, the most of the cross-validation's memory.
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
    let results = parallel_map(&tasks, config.threads, |&(c, f)| {
        let (x_fit, y_fit, x_check, y_check) = &splits[f];
        let probabilities = Fitted::fit_and_score(
            &candidates[c],
            &x_fit.to_matrix()?,
            y_fit,
            config.seed,
            &continuous,
            &x_check.to_matrix()?,
            n_classes,
        )?;
        let predicted: Vec<u8> = probabilities.iter().map(|p| argmax(p) as u8).collect();
        Ok::<_, ModelError>((
            score(y_check, &predicted, n_classes),
            probability_scores(y_check, &probabilities),
            probabilities.concat(),
        ))
    });
    let mut per_candidate: Vec<Vec<Result<(Scores, ProbabilityScores), ModelError>>> =
        candidates.iter().map(|_| Vec::new()).collect();
    // Each candidate's probabilities of every cross-validation row, from the fold that
    // held it out.
    let mut out_of_fold: Vec<OutOfFold> = candidates
        .iter()
        .map(|_| OutOfFold {
            values: vec![0.0; cv_rows.len() * n_classes],
            n_classes,
        })
        .collect();
    for ((c, f), result) in tasks.iter().zip(results) {
        per_candidate[*c].push(result.map(|(scores, measured, probabilities)| {
            for (&i, p) in folds[*f].iter().zip(probabilities.chunks_exact(n_classes)) {
                out_of_fold[*c].values[i * n_classes..(i + 1) * n_classes].copy_from_slice(p);
            }
            (scores, measured)
        }));
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
    Ok((scores, out_of_fold))
}
