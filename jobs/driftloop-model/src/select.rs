//! Choosing a model: hold out a stratified share of the rows, cross-validate every
//! candidate of the grid (stratified k-fold, macro-F1) on the rest, refit the best on all
//! of the rest, and score it on the holdout: that is the *compared* model, whose holdout
//! scores the promotion rule uses, as it never saw those rows. When there are at most
//! [`TrainConfig::refit_max_rows`] rows, the chosen candidate is then fitted once more on
//! every row, holdout included, and that *served* model is the one the artifact keeps: on
//! small data the holdout is a fifth of what there is to learn from.
//!
//! The default family (with [`TrainConfig::default_family`], the forests unless set
//! otherwise): the best candidate of another family is chosen over the default family's
//! best only when its cross-validated lead is significant ([`family_test`]); on a few
//! hundred rows a lead of some points is often the folds' noise.
//!
//! Class weights (with [`TrainConfig::balance_classes`]): when the cross-validation rows'
//! classes are imbalanced (the largest at least [`IMBALANCE_RATIO`] times the smallest),
//! the best candidate of each family that takes a class weight is cross-validated once
//! more, on the same folds, with balanced class weights; the twin is chosen only if its
//! macro-F1 is higher (ties go to the grid's own candidates).
//!
//! Calibration (with [`TrainConfig::calibrate`], for forests, trees and naive Bayes, whose
//! probabilities are shares of rows or counts): a sigmoid and an isotonic map are fitted on
//! the chosen candidate's out-of-fold probabilities from the cross-validation, and the
//! compared model's holdout log-loss decides among none, sigmoid and isotonic (a map is
//! taken only when it lowers it). The holdout scores are then those of the calibrated
//! probabilities, and the served model carries the map. Every split and fit is seeded, and
//! the work is spread over threads without changing any result.

use std::time::Instant;

use driftloop_core::metrics::{score, stratified_folds, stratified_holdout, ProbabilityScores, Scores};
use serde::{Deserialize, Serialize};

use crate::calibrate::{self, Method};
use crate::encode::Encoder;
use crate::family::{class_counts, default_grid, Candidate, Family, Fitted};
use crate::values::{FeatureValues, SCORE_BLOCK_ROWS};
use crate::ModelError;

mod balance;
mod cross_validation;
mod encoded;
mod family_test;
use balance::{balanced_twins, merged};
pub use balance::{imbalanced, IMBALANCE_RATIO};
use cross_validation::{cross_validate, takes_the_lead, Leaders};
pub use encoded::encode_rows;
pub use family_test::{family_test, FamilyTest, OutOfFoldClasses, PERMUTATIONS, SWITCH_P_VALUE};

/// How to train. Everything here but `threads` goes into the artifact: the same rows and
/// the same config give the same model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub seed: u64,
    /// k of the stratified k-fold cross-validation.
    pub folds: usize,
    /// Share of each class held out for the final score.
    pub holdout_share: f64,
    /// Cross-validation runs on a stratified sample of at most this many training rows
    /// (the chosen candidate is then refitted on all of them).
    pub cv_max_rows: usize,
    /// The most rows a model is fitted on: above it, the chosen candidate is refitted on a
    /// seeded stratified sample of the training rows (the holdout stays whole), so that a
    /// train job keeps within a function's memory and time (README, "Drift at scale").
    /// Artifacts written before the setting existed read as the default.
    #[serde(default = "default_max_train_rows")]
    pub max_train_rows: usize,
    /// When the data has at most this many rows, the served model is the chosen candidate
    /// fitted on every row (holdout included; at most `max_train_rows` of them), after the
    /// compared model was scored on the holdout; above it (where a fifth of the rows adds
    /// little and a second fit would lengthen the train job) the compared model is served.
    /// 0: never. Artifacts written before the setting existed read as 0, as they were
    /// made.
    #[serde(default)]
    pub refit_max_rows: usize,
    /// Whether forests, trees and naive Bayes may get a probability calibration (see the
    /// module documentation). Artifacts written before the setting existed read as false,
    /// as they were made.
    #[serde(default)]
    pub calibrate: bool,
    /// Whether imbalanced classes get each weighted family's best candidate tried with
    /// balanced class weights too (see the module documentation). Artifacts written
    /// before the setting existed read as false, as they were made.
    #[serde(default)]
    pub balance_classes: bool,
    /// The family kept unless another family's best candidate cross-validates
    /// significantly better ([`family_test`]); `None`: the best cross-validated candidate
    /// is chosen. Artifacts written before the setting existed read as `None`, as they
    /// were made.
    #[serde(default)]
    pub default_family: Option<Family>,
    pub candidates: Vec<Candidate>,
    /// Threads to use; the result does not depend on it.
    #[serde(skip, default = "default_threads")]
    pub threads: usize,
}

/// The default of [`TrainConfig::max_train_rows`].
pub const DEFAULT_MAX_TRAIN_ROWS: usize = 1_000_000;

/// The default of [`TrainConfig::default_family`]: random forests, the family that ranked
/// first over 121 data sets in Fernández-Delgado et al., "Do we need hundreds of
/// classifiers to solve real world classification problems?" (JMLR 15, 2014), and on the
/// published data as accurate as scikit-learn's best.
pub const DEFAULT_FAMILY: Family = Family::RandomForest;

/// The default of [`TrainConfig::refit_max_rows`].
pub const DEFAULT_REFIT_MAX_ROWS: usize = 100_000;

fn default_max_train_rows() -> usize {
    DEFAULT_MAX_TRAIN_ROWS
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Default for TrainConfig {
    fn default() -> TrainConfig {
        TrainConfig {
            seed: 42,
            folds: 5,
            holdout_share: 0.2,
            cv_max_rows: 20_000,
            max_train_rows: DEFAULT_MAX_TRAIN_ROWS,
            refit_max_rows: DEFAULT_REFIT_MAX_ROWS,
            calibrate: true,
            balance_classes: true,
            default_family: Some(DEFAULT_FAMILY),
            candidates: default_grid(),
            threads: default_threads(),
        }
    }
}

/// Labelled rows: feature values row-major (`n × p`, see [`FeatureValues`]) and class
/// indices.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub n_features: usize,
    pub values: FeatureValues,
    pub labels: Vec<u8>,
}

impl Dataset {
    pub fn n_rows(&self) -> usize {
        self.labels.len()
    }
}

/// One candidate's cross-validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateScore {
    pub candidate: Candidate,
    pub fold_macro_f1: Vec<f64>,
    pub mean_macro_f1: f64,
    pub std_macro_f1: f64,
    pub mean_accuracy: f64,
    /// Mean over the folds of the log-loss and Brier score of the candidate's class
    /// probabilities (absent in artifacts written before they were measured).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mean_log_loss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mean_brier: Option<f64>,
    /// Why the candidate could not be fitted on some fold, if it could not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

/// How the calibration was chosen: the holdout log-loss of the compared model's
/// probabilities as they are and through each map tried (isotonic only from
/// [`ISOTONIC_MIN_ROWS`] cross-validation rows on), and the map taken (`None`: none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationChoice {
    pub method: Option<Method>,
    pub uncalibrated_log_loss: f64,
    pub sigmoid_log_loss: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isotonic_log_loss: Option<f64>,
}

/// The families whose probabilities calibration is offered for.
pub fn calibrated_family(family: Family) -> bool {
    matches!(family, Family::RandomForest | Family::DecisionTree | Family::NaiveBayes)
}

/// Wall-clock time of the phases (not part of any artifact: it differs run to run).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Timings {
    pub cross_validation_s: f64,
    pub refit_s: f64,
    pub holdout_s: f64,
    /// The served model's fit on every row (0 when the compared model is served).
    pub serve_refit_s: f64,
}

/// The outcome of training.
#[derive(Debug)]
pub struct Trained {
    /// The model to serve: fitted on every row when `served_rows` says so, else the
    /// compared model.
    pub model: Fitted,
    pub chosen: Candidate,
    pub cv: Vec<CandidateScore>,
    /// The compared model's scores on the holdout rows.
    pub holdout: Scores,
    /// The log-loss and Brier score of the compared model's probabilities on them.
    pub holdout_probabilities: ProbabilityScores,
    /// The calibration considered for the chosen candidate, if its family has one.
    pub calibration: Option<CalibrationChoice>,
    /// How the default family's best and the best of another family were compared, when
    /// the best cross-validated candidate is of another family.
    pub family_test: Option<FamilyTest>,
    /// The compared model's class for each holdout row, in `holdout_rows` order.
    pub holdout_predicted: Vec<u8>,
    /// The rows the compared model was fitted on (a sample when there were more than
    /// `max_train_rows`).
    pub training_rows: Vec<usize>,
    /// How many rows the served model was fitted on, when it was refitted on every row
    /// (`TrainConfig::refit_max_rows`); `None`: the compared model is served.
    pub served_rows: Option<usize>,
    /// How many training rows there were before that sample, if one was taken.
    pub sampled_from: Option<usize>,
    pub holdout_rows: Vec<usize>,
    /// Rows the cross-validation used (a sample of the training rows when there are
    /// more than `cv_max_rows`).
    pub cv_rows: usize,
    /// The rows (indices into the data) each cross-validation fold held out, so another
    /// library can be scored on the very same folds.
    pub cv_folds: Vec<Vec<usize>>,
    pub timings: Timings,
}

/// `rows` itself when there are at most `max_rows` of them; else a seeded stratified sample
/// of `max_rows` of them (each class keeps its share), with how many there were.
fn sample_rows(data: &Dataset, rows: Vec<usize>, max_rows: usize, seed: u64) -> (Vec<usize>, Option<usize>) {
    if rows.len() <= max_rows.max(1) {
        return (rows, None);
    }
    let share = max_rows.max(1) as f64 / rows.len() as f64;
    let (_, mut sample) = stratified_holdout(&data.labels_of(&rows), share, seed);
    sample.sort_unstable();
    let n = rows.len();
    (sample.into_iter().map(|i| rows[i]).collect(), Some(n))
}

/// The (training rows, holdout rows) [`train`] splits `labels` into: a seeded stratified
/// share, a function of the labels and the config alone, so that a caller can know the
/// holdout's rows before the training (the train job keeps only their ids).
pub fn holdout_split(labels: &[u8], config: &TrainConfig) -> (Vec<usize>, Vec<usize>) {
    stratified_holdout(labels, config.holdout_share, config.seed)
}

/// Trains on `data` with `config` (see the module documentation).
pub fn train(data: &Dataset, encoder: &Encoder, n_classes: usize, config: &TrainConfig) -> Result<Trained, ModelError> {
    validate(data, n_classes, config)?;
    let (training_rows, holdout_rows) = holdout_split(&data.labels, config);
    let (training_rows, sampled_from) = sample_rows(data, training_rows, config.max_train_rows, config.seed ^ 0x7a11);
    let training_labels = data.labels_of(&training_rows);
    let cv_rows: Vec<usize> = if training_rows.len() > config.cv_max_rows {
        let share = config.cv_max_rows as f64 / training_rows.len() as f64;
        let (_, sample) = stratified_holdout(&training_labels, share, config.seed ^ 0x5eed);
        sample.into_iter().map(|i| training_rows[i]).collect()
    } else {
        training_rows.clone()
    };

    let cv_labels = data.labels_of(&cv_rows);
    let folds = stratified_folds(&cv_labels, config.folds, config.seed ^ 0xf01d);
    let started = Instant::now();
    let (mut cv, mut leaders) = cross_validate(data, encoder, n_classes, &cv_rows, &folds, &config.candidates, config)?;
    if config.balance_classes && imbalanced(&cv_labels, n_classes) {
        let twins = balanced_twins(&cv);
        if !twins.is_empty() {
            let (twin_cv, twin_leaders) = cross_validate(data, encoder, n_classes, &cv_rows, &folds, &twins, config)?;
            let offset = cv.len();
            cv.extend(twin_cv);
            leaders = Leaders {
                best: merged(&cv, leaders.best, twin_leaders.best, offset),
                of_default: merged(&cv, leaders.of_default, twin_leaders.of_default, offset),
            };
        }
    }
    let cross_validation_s = started.elapsed().as_secs_f64();
    // What the folds' threads freed stays with the process unless given back, and the
    // copy of the training rows made next would come on top of it: the train job over
    // 1,000,000 rows peaked 10 MB lower for it.
    crate::parallel::give_back_freed_memory();
    let best = cv
        .iter()
        .filter(|c| c.error.is_none())
        .fold(None::<&CandidateScore>, |best, c| match best {
            Some(b) if !takes_the_lead(b.mean_macro_f1, c.mean_macro_f1) => Some(b),
            _ => Some(c),
        })
        .ok_or_else(|| {
            let errors: Vec<String> = cv.iter().filter_map(|c| c.error.clone()).collect();
            ModelError::Fit(format!("no candidate could be fitted: {}", errors.join("; ")))
        })?;
    // Calibration needs the chosen candidate's out-of-fold probabilities only: the
    // cross-validation kept those of the candidate leading, and of the default family's.
    let best_index = cv
        .iter()
        .position(|c| c.candidate == best.candidate)
        .expect("the best candidate");
    let (leader, best_out_of_fold) = leaders.best.expect("a candidate was fitted, so one leads");
    assert_eq!(
        leader, best_index,
        "the candidate leading the cross-validation is the best"
    );
    let (chosen, chosen_out_of_fold, family_test) = match (config.default_family, leaders.of_default) {
        (Some(family), Some((kept, kept_out_of_fold))) if best.candidate.family() != family => {
            let predictions = OutOfFoldClasses {
                truth: &cv_labels,
                default: &kept_out_of_fold.classes(),
                challenger: &best_out_of_fold.classes(),
                n_classes,
            };
            let test = family_test(&cv[kept], best, &predictions, family_test_seed(config.seed));
            if test.switched {
                (best.candidate.clone(), best_out_of_fold, Some(test))
            } else {
                (cv[kept].candidate.clone(), kept_out_of_fold, Some(test))
            }
        }
        _ => (best.candidate.clone(), best_out_of_fold, None),
    };

    let started = Instant::now();
    // The rows go to the fit as encoded (a forest, tree or boosting learns from them where
    // they lie) and are dropped with it, their classes too.
    let model = {
        let x_train = data.rows(encoder, &training_rows)?;
        let y_train: Vec<i32> = training_labels.iter().map(|&l| l as i32).collect();
        drop(training_labels);
        Fitted::fit_rows(
            &chosen,
            x_train,
            &y_train,
            config.seed,
            config.threads,
            &encoder.continuous(),
        )?
    };
    let refit_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let maps = if config.calibrate && calibrated_family(chosen.family()) {
        Some(calibrate::offered(&chosen_out_of_fold.rows(), &cv_labels, n_classes)?)
    } else {
        None
    };
    drop(chosen_out_of_fold);
    // The holdout a block of rows at a time: encoded, scored as the model gives its
    // probabilities and through each calibration, and tallied, so that neither the
    // holdout's encoded rows nor their probabilities are held whole.
    let holdout_truth = data.labels_of(&holdout_rows);
    let mut options = calibrate::HoldoutOptions::new(maps, holdout_rows.len());
    for (block, truth) in holdout_rows
        .chunks(SCORE_BLOCK_ROWS)
        .zip(holdout_truth.chunks(SCORE_BLOCK_ROWS))
    {
        let x_block = data.rows(encoder, block)?;
        options.add(&model.predict_proba_rows(&x_block, n_classes)?, truth);
    }
    let calibrate::HoldoutChosen {
        calibration,
        choice: calibration_choice,
        predicted,
        scores: holdout_probabilities,
    } = options.choose();
    let holdout = score(&holdout_truth, &predicted, n_classes);
    let holdout_s = started.elapsed().as_secs_f64();

    // The served model: the same candidate, the same seed, every row.
    let started = Instant::now();
    let (model, served_rows) = if data.n_rows() <= config.refit_max_rows {
        let (every_row, _) = sample_rows(
            data,
            (0..data.n_rows()).collect(),
            config.max_train_rows,
            config.seed ^ 0x7a11,
        );
        let x_all = data.rows(encoder, &every_row)?;
        let y_all: Vec<i32> = every_row.iter().map(|&r| data.labels[r] as i32).collect();
        let served = Fitted::fit_rows(
            &chosen,
            x_all,
            &y_all,
            config.seed,
            config.threads,
            &encoder.continuous(),
        )?;
        (served, Some(every_row.len()))
    } else {
        (model, None)
    };
    let model = match calibration {
        Some(calibration) => Fitted::Calibrated {
            model: Box::new(model),
            calibration,
        },
        None => model,
    };
    let serve_refit_s = started.elapsed().as_secs_f64();

    Ok(Trained {
        model,
        chosen,
        cv,
        holdout,
        holdout_probabilities,
        calibration: calibration_choice,
        family_test,
        holdout_predicted: predicted,
        served_rows,
        cv_rows: cv_rows.len(),
        cv_folds: folds
            .iter()
            .map(|fold| fold.iter().map(|&i| cv_rows[i]).collect())
            .collect(),
        training_rows,
        sampled_from,
        holdout_rows,
        timings: Timings {
            cross_validation_s,
            refit_s,
            holdout_s,
            serve_refit_s,
        },
    })
}

/// The seed of the family test's random swaps, from the config's.
pub(crate) fn family_test_seed(seed: u64) -> u64 {
    seed ^ 0xfa11
}

fn validate(data: &Dataset, n_classes: usize, config: &TrainConfig) -> Result<(), ModelError> {
    if config.candidates.is_empty() {
        return Err(ModelError::Config("no candidate to train".into()));
    }
    if config.folds < 2 {
        return Err(ModelError::Config(format!(
            "cross-validation needs at least 2 folds, not {}",
            config.folds
        )));
    }
    if !(0.0 < config.holdout_share && config.holdout_share < 1.0) {
        return Err(ModelError::Config(format!(
            "the holdout share must be between 0 and 1, not {}",
            config.holdout_share
        )));
    }
    if data.values.len() != data.n_rows() * data.n_features {
        return Err(ModelError::Input(
            "the feature values do not match the number of rows".into(),
        ));
    }
    if let Some(bad) = data.labels.iter().find(|&&l| l as usize >= n_classes) {
        return Err(ModelError::Input(format!(
            "label {bad} is beyond the {n_classes} classes"
        )));
    }
    let present = class_counts(&data.labels, n_classes).iter().filter(|&&c| c > 0).count();
    let minimum = 2 * config.folds;
    if present < 2 || data.n_rows() < minimum {
        return Err(ModelError::NotEnoughData(format!(
            "training needs at least {minimum} labelled rows of at least 2 classes; there are {} rows of {present} class(es)",
            data.n_rows()
        )));
    }
    Ok(())
}

/// Isotonic maps are fitted from this many out-of-fold rows on: on fewer, a step function
/// learns the rows' noise and gives probabilities of exactly 0 that a later row proves
/// wrong (scikit-learn's user guide gives the same warning, below about a thousand).
pub const ISOTONIC_MIN_ROWS: usize = 1_000;
