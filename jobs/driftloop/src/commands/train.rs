//! `driftloop train`: a training now, a retraining from a snapshot, the pending train
//! jobs, or a dry run on a file.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use driftloop_model::{Candidate, Family, TrainConfig};
use driftloop_pipeline::config::TrainLabels;
use driftloop_pipeline::frames::{frame_to_dataset, read_rows_file};
use driftloop_pipeline::mlflow::MlflowClient;
use driftloop_pipeline::notify::{notifier_from_settings, Event, Notifier};
use driftloop_pipeline::train_job::{drain_train_jobs, run_training, TrainOptions, TrainSource};
use driftloop_pipeline::wandb::WandbMirror;
use driftloop_pipeline::{open_store, Settings};
use serde_json::json;

use crate::args::Output;
use crate::output::{family_test_line, outcome_text, print, train_drain_text};
use crate::progress;

#[derive(Args)]
pub struct TrainArgs {
    /// Retrain from a snapshot written before (its URI or key), instead of the rows in
    /// the feature table now.
    #[arg(long, conflicts_with_all = ["labels", "input", "drain"])]
    from_snapshot: Option<String>,
    /// Which labelled rows to train on [env: DRIFTLOOP_TRAIN_LABELS] [default: expert]
    #[arg(long, value_enum)]
    labels: Option<LabelsArg>,
    /// Only these model families (repeat the flag); default: all of them.
    #[arg(long = "family", value_enum)]
    families: Vec<FamilyArg>,
    /// Seed of every split and fit.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Run the pending train jobs of the outbox instead (as the train function does).
    #[arg(long)]
    drain: bool,
    /// Train on a file of labelled rows (Parquet or CSV) and report the scores and
    /// timings, storing and registering nothing.
    #[arg(long, requires = "dry_run")]
    input: Option<PathBuf>,
    /// With --input: store nothing, register nothing.
    #[arg(long, requires = "input")]
    dry_run: bool,
    #[command(flatten)]
    out: Output,
}

#[derive(Clone, Copy, ValueEnum)]
enum LabelsArg {
    Expert,
    All,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum FamilyArg {
    LogisticRegression,
    RandomForest,
    DecisionTree,
    NaiveBayes,
    GradientBoosting,
}

impl From<FamilyArg> for Family {
    fn from(arg: FamilyArg) -> Family {
        match arg {
            FamilyArg::LogisticRegression => Family::LogisticRegression,
            FamilyArg::RandomForest => Family::RandomForest,
            FamilyArg::DecisionTree => Family::DecisionTree,
            FamilyArg::NaiveBayes => Family::NaiveBayes,
            FamilyArg::GradientBoosting => Family::GradientBoosting,
        }
    }
}

fn train_config(families: &[FamilyArg], seed: u64, settings: &Settings) -> TrainConfig {
    let mut config = TrainConfig {
        seed,
        ..settings.train_config()
    };
    if !families.is_empty() {
        let wanted: Vec<Family> = families.iter().map(|&f| f.into()).collect();
        config.candidates.retain(|c: &Candidate| wanted.contains(&c.family()));
    }
    config
}

pub async fn run(args: TrainArgs, settings: &Settings) -> Result<()> {
    let config = train_config(&args.families, args.seed, settings);
    if config.candidates.is_empty() {
        bail!("no candidate left to train");
    }
    if let Some(input) = &args.input {
        return dry_run(input, config, args.out.json).await;
    }
    let db = crate::open(settings)?;
    let store = open_store(&settings.store).await?;
    let notifier = notifier_from_settings(settings).await;
    let client = MlflowClient::from_settings(settings);
    let wandb = WandbMirror::from_settings(settings);
    let options = TrainOptions {
        config,
        promotion_margin: settings.promotion_margin,
        mlflow: client.as_ref(),
        wandb: wandb.as_ref(),
    };
    let labels = match args.labels {
        Some(LabelsArg::Expert) => TrainLabels::Expert,
        Some(LabelsArg::All) => TrainLabels::All,
        None => settings.train_labels,
    };
    if args.drain {
        let spinner = progress::spinner("running the pending train jobs", args.out.json);
        let summary = drain_train_jobs(db.as_ref(), store.as_ref(), &notifier, labels, &options, None).await;
        spinner.finish_and_clear();
        let summary = summary?;
        print(args.out.json, json!(summary), || train_drain_text(&summary));
        if !summary.failed.is_empty() {
            bail!("{} train job(s) failed", summary.failed.len());
        }
        return Ok(());
    }
    let source = match args.from_snapshot {
        Some(uri) => TrainSource::Snapshot(uri),
        None => TrainSource::Database(labels),
    };
    let spinner = progress::spinner(
        &format!(
            "training: reading the rows, snapshotting them, fitting {} candidate(s)",
            options.config.candidates.len()
        ),
        args.out.json,
    );
    let trained = run_training(db.as_ref(), store.as_ref(), &notifier, &source, &options, &[]).await;
    spinner.finish_and_clear();
    match trained {
        Ok(outcome) => {
            print(args.out.json, json!(outcome), || outcome_text(&outcome));
            Ok(())
        }
        Err(e) => {
            notifier
                .notify(&Event::TrainingFailed {
                    job_ids: vec![],
                    error: format!("{e:#}"),
                })
                .await;
            Err(e.into())
        }
    }
}

async fn dry_run(input: &std::path::Path, mut config: TrainConfig, json_mode: bool) -> Result<()> {
    // Nothing is stored: the served model (the chosen candidate refitted on every row)
    // would be thrown away, so it is not fitted.
    config.refit_max_rows = 0;
    let started = Instant::now();
    let spinner = progress::spinner(&format!("reading {}", input.display()), json_mode);
    let frame = read_rows_file(input).with_context(|| format!("reading {}", input.display()));
    spinner.finish_and_clear();
    let frame = frame?;
    let data = frame_to_dataset(&frame)?;
    let frame_bytes = frame.estimated_size();
    drop(frame);
    let read_seconds = started.elapsed().as_secs_f64();
    let encoder = driftloop_model::Encoder::from_spec(driftloop_core::spec()).impute_from(&data.values);
    let n_classes = driftloop_core::spec().classes.len();
    let started = Instant::now();
    let spinner = progress::spinner(
        &format!(
            "fitting {} candidate(s) on {} rows",
            config.candidates.len(),
            data.labels.len()
        ),
        json_mode,
    );
    let trained = tokio::task::spawn_blocking(move || driftloop_model::train(&data, &encoder, n_classes, &config))
        .await
        .expect("training does not panic");
    spinner.finish_and_clear();
    let trained = trained?;
    let train_seconds = started.elapsed().as_secs_f64();
    let answer = json!({
        "file": input,
        "rows": trained.training_rows.len() + trained.holdout_rows.len(),
        "frame_bytes": frame_bytes,
        "read_seconds": read_seconds,
        "train_seconds": train_seconds,
        "timings": trained.timings,
        "chosen": trained.chosen,
        "cv": trained.cv,
        "holdout": trained.holdout,
        "holdout_probabilities": trained.holdout_probabilities,
        "calibration": trained.calibration,
        "family_test": trained.family_test,
        // The file's data rows (0-based, in file order) scored as the holdout, so another
        // tool can be scored on the very same rows.
        "holdout_rows": trained.holdout_rows,
        // The rows each cross-validation fold held out (the same numbering).
        "cv_folds": trained.cv_folds,
    });
    print(json_mode, answer, || {
        let chose = format!(
            "{}: chose {} in {train_seconds:.2} s; holdout accuracy {:.3}, macro-F1 {:.3}",
            input.display(),
            trained.chosen.label(),
            trained.holdout.accuracy,
            trained.holdout.macro_f1
        );
        match &trained.family_test {
            Some(test) => format!("{chose}\n{}", family_test_line(test)),
            None => chose,
        }
    });
    Ok(())
}
