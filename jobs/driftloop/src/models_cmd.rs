//! `driftloop train`, `driftloop models ...` and `driftloop worker`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use driftloop_model::{Candidate, Family, TrainConfig};
use driftloop_pipeline::config::TrainLabels;
use driftloop_pipeline::db::{AliasReason, ModelVersion};
use driftloop_pipeline::drift_job::{drain_drift_jobs, drift_config};
use driftloop_pipeline::frames::{frame_to_dataset, read_rows_file};
use driftloop_pipeline::mlflow::{sync, MlflowClient};
use driftloop_pipeline::notify::{notifier_from_settings, Event, Notifier};
use driftloop_pipeline::train_job::{
    drain_train_jobs, model_name, run_training, TrainOptions, TrainOutcome, TrainSource,
};
use driftloop_pipeline::{open_store, Settings};
use serde_json::json;

use crate::{open, print, Output};

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
enum FamilyArg {
    LogisticRegression,
    RandomForest,
    DecisionTree,
    NaiveBayes,
}

impl From<FamilyArg> for Family {
    fn from(arg: FamilyArg) -> Family {
        match arg {
            FamilyArg::LogisticRegression => Family::LogisticRegression,
            FamilyArg::RandomForest => Family::RandomForest,
            FamilyArg::DecisionTree => Family::DecisionTree,
            FamilyArg::NaiveBayes => Family::NaiveBayes,
        }
    }
}

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Lists the registered versions, oldest first.
    List {
        #[command(flatten)]
        out: Output,
    },
    /// Shows one version (a number, or `champion`) with its metrics.
    Show {
        which: String,
        #[command(flatten)]
        out: Output,
    },
    /// Makes a version the champion, whatever the scores say.
    Promote {
        version: i64,
        #[command(flatten)]
        out: Output,
    },
    /// Gives the champion back to the version the current one replaced.
    Rollback {
        #[command(flatten)]
        out: Output,
    },
    /// Mirrors the versions MLflow does not have yet, and the champion alias
    /// (needs MLFLOW_TRACKING_URI).
    Sync {
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Args)]
pub struct WorkerArgs {
    /// Run the pending jobs once and stop, instead of polling.
    #[arg(long)]
    once: bool,
    /// Seconds between polls of the outbox.
    #[arg(long, default_value_t = 5)]
    poll_seconds: u64,
    #[command(flatten)]
    out: Output,
}

fn train_config(families: &[FamilyArg], seed: u64) -> TrainConfig {
    let mut config = TrainConfig {
        seed,
        ..TrainConfig::default()
    };
    if !families.is_empty() {
        let wanted: Vec<Family> = families.iter().map(|&f| f.into()).collect();
        config.candidates.retain(|c: &Candidate| wanted.contains(&c.family()));
    }
    config
}

fn mlflow_client(settings: &Settings) -> Option<MlflowClient> {
    settings
        .mlflow_tracking_uri
        .as_deref()
        .map(|uri| MlflowClient::new(uri, &settings.mlflow_experiment))
}

fn outcome_text(o: &TrainOutcome) -> String {
    let mut lines = vec![
        format!(
            "model version {}{}: {} {}",
            o.version,
            if o.registered {
                ""
            } else {
                " (already registered: same artifact)"
            },
            o.family,
            o.params
        ),
        format!(
            "  cross-validated macro-F1 {:.3}; holdout accuracy {:.3}, macro-F1 {:.3}",
            o.cv_macro_f1, o.holdout.accuracy, o.holdout.macro_f1
        ),
        format!("  snapshot {} ({} rows)", o.snapshot.uri, o.snapshot.rows),
        format!("  artifact {}", o.artifact_uri),
        format!("  decision: {}", serde_json::to_string(&o.decision).unwrap_or_default()),
        format!(
            "  champion: {}",
            o.champion.map_or("none".to_string(), |c| format!("version {c}"))
        ),
    ];
    if let Some(m) = &o.mlflow {
        lines.push(format!(
            "  MLflow: {} mirrored, {} failed{}",
            m.mirrored.len(),
            m.failed.len(),
            m.failed
                .first()
                .map(|(v, e)| format!(" (version {v}: {e})"))
                .unwrap_or_default()
        ));
    }
    lines.join("\n")
}

pub async fn train(args: TrainArgs, settings: &Settings) -> Result<()> {
    let config = train_config(&args.families, args.seed);
    if config.candidates.is_empty() {
        bail!("no candidate left to train");
    }
    if let Some(input) = &args.input {
        return dry_run(input, config, args.out.json).await;
    }
    let db = open(settings)?;
    let store = open_store(&settings.store).await?;
    let notifier = notifier_from_settings(settings).await;
    let client = mlflow_client(settings);
    let options = TrainOptions {
        config,
        promotion_margin: settings.promotion_margin,
        mlflow: client.as_ref(),
    };
    let labels = match args.labels {
        Some(LabelsArg::Expert) => TrainLabels::Expert,
        Some(LabelsArg::All) => TrainLabels::All,
        None => settings.train_labels,
    };
    if args.drain {
        let summary = drain_train_jobs(db.as_ref(), store.as_ref(), &notifier, labels, &options, None).await?;
        print(args.out.json, json!(summary), || {
            let mut lines: Vec<String> = summary.trainings.iter().map(outcome_text).collect();
            lines.extend(
                summary
                    .failed
                    .iter()
                    .map(|f| format!("train job {}: failed: {}", f.job_id, f.error)),
            );
            if lines.is_empty() {
                lines.push("no pending train jobs".into());
            }
            lines.join("\n")
        });
        if !summary.failed.is_empty() {
            bail!("{} train job(s) failed", summary.failed.len());
        }
        return Ok(());
    }
    let source = match args.from_snapshot {
        Some(uri) => TrainSource::Snapshot(uri),
        None => TrainSource::Database(labels),
    };
    match run_training(db.as_ref(), store.as_ref(), &notifier, &source, &options, &[]).await {
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

async fn dry_run(input: &std::path::Path, config: TrainConfig, json_mode: bool) -> Result<()> {
    let started = Instant::now();
    let frame = read_rows_file(input).with_context(|| format!("reading {}", input.display()))?;
    let data = frame_to_dataset(&frame)?;
    let frame_bytes = frame.estimated_size();
    drop(frame);
    let read_seconds = started.elapsed().as_secs_f64();
    let encoder = driftloop_model::Encoder::from_spec(driftloop_core::spec());
    let n_classes = driftloop_core::spec().classes.len();
    let started = Instant::now();
    let trained = tokio::task::spawn_blocking(move || driftloop_model::train(&data, &encoder, n_classes, &config))
        .await
        .expect("training does not panic")?;
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
        // The file's data rows (0-based, in file order) scored as the holdout, so another
        // tool can be scored on the very same rows.
        "holdout_rows": trained.holdout_rows,
    });
    print(json_mode, answer, || {
        format!(
            "{}: chose {} in {train_seconds:.2} s; holdout accuracy {:.3}, macro-F1 {:.3}",
            input.display(),
            trained.chosen.label(),
            trained.holdout.accuracy,
            trained.holdout.macro_f1
        )
    });
    Ok(())
}

fn version_line(v: &ModelVersion) -> String {
    format!(
        "{:>4}  {:<11}  {:<19}  holdout macro-F1 {:.3}  accuracy {:.3}  {}",
        v.version,
        v.status.as_str(),
        v.model.family,
        v.model.holdout_metrics["macro_f1"].as_f64().unwrap_or(f64::NAN),
        v.model.holdout_metrics["accuracy"].as_f64().unwrap_or(f64::NAN),
        v.created_at
    )
}

async fn mirror_alias(settings: &Settings, db: &dyn driftloop_pipeline::Database) -> Result<Option<serde_json::Value>> {
    let Some(client) = mlflow_client(settings) else {
        return Ok(None);
    };
    let store = open_store(&settings.store).await?;
    let report = sync(db, store.as_ref(), &client, model_name()).await?;
    Ok(Some(json!(report)))
}

pub async fn models(command: ModelsCommand, settings: &Settings) -> Result<()> {
    let db = open(settings)?;
    let name = model_name();
    match command {
        ModelsCommand::List { out } => {
            let versions = db.model_versions(name)?;
            let champion = db.champion(name)?.map(|c| c.version);
            print(
                out.json,
                json!({"name": name, "champion": champion, "versions": versions}),
                || {
                    if versions.is_empty() {
                        return format!("no {name} model is registered yet: run `driftloop train`");
                    }
                    versions.iter().map(version_line).collect::<Vec<_>>().join("\n")
                },
            );
        }
        ModelsCommand::Show { which, out } => {
            let version = if which == "champion" {
                db.champion(name)?
                    .ok_or_else(|| driftloop_pipeline::Error::NoChampion(name.to_string()))?
            } else {
                let number: i64 = which
                    .parse()
                    .with_context(|| format!("{which:?} is neither a version number nor `champion`"))?;
                db.model_version(name, number)?
                    .ok_or_else(|| driftloop_pipeline::Error::NoSuchModelVersion {
                        name: name.to_string(),
                        version: which.clone(),
                    })?
            };
            print(out.json, json!(version), || {
                serde_json::to_string_pretty(&version).unwrap_or_default()
            });
        }
        ModelsCommand::Promote { version, out } => {
            let current = db.champion(name)?.map(|c| c.version);
            let change = db.set_champion(
                name,
                version,
                current,
                AliasReason::Manual,
                Some(&json!({"decision": {"outcome": "manual", "previous": current}})),
            )?;
            let mlflow = mirror_alias(settings, db.as_ref()).await?;
            print(out.json, json!({"change": change, "mlflow": mlflow}), || {
                format!(
                    "version {version} is the champion (was {})",
                    current.map_or("none".to_string(), |c| c.to_string())
                )
            });
        }
        ModelsCommand::Rollback { out } => {
            let change = db.rollback_champion(name)?;
            let mlflow = mirror_alias(settings, db.as_ref()).await?;
            print(out.json, json!({"change": change, "mlflow": mlflow}), || {
                format!(
                    "champion rolled back from version {} to version {}",
                    change.previous.unwrap_or_default(),
                    change.version
                )
            });
        }
        ModelsCommand::Sync { out } => {
            if settings.mlflow_tracking_uri.is_none() {
                bail!("MLFLOW_TRACKING_URI is not set: there is no MLflow server to mirror to");
            }
            let report = mirror_alias(settings, db.as_ref()).await?;
            print(out.json, json!(report), || {
                serde_json::to_string_pretty(&report).unwrap_or_default()
            });
        }
    }
    Ok(())
}

/// What runs the outbox: the drift jobs, then the train jobs they queued.
pub(crate) struct Outbox {
    db: std::sync::Arc<dyn driftloop_pipeline::Database>,
    store: std::sync::Arc<dyn driftloop_pipeline::ObjectStore>,
    /// The log line first, then the webhook and SNS topic the settings name.
    pub(crate) notifier: driftloop_pipeline::notify::Notifiers,
    mlflow: Option<MlflowClient>,
    drift: driftloop_stats::DriftConfig,
    labels: TrainLabels,
    promotion_margin: f64,
}

impl Outbox {
    pub(crate) async fn new(
        settings: &Settings,
        db: std::sync::Arc<dyn driftloop_pipeline::Database>,
        store: std::sync::Arc<dyn driftloop_pipeline::ObjectStore>,
    ) -> Result<Outbox> {
        let drift = drift_config(settings);
        drift.validate()?;
        Ok(Outbox {
            db,
            store,
            notifier: notifier_from_settings(settings).await,
            mlflow: mlflow_client(settings),
            drift,
            labels: settings.train_labels,
            promotion_margin: settings.promotion_margin,
        })
    }

    pub(crate) async fn run_once(
        &self,
    ) -> Result<(
        driftloop_pipeline::drift_job::DrainSummary,
        driftloop_pipeline::train_job::TrainDrain,
    )> {
        let (db, store) = (self.db.as_ref(), self.store.as_ref());
        let drifts = drain_drift_jobs(db, store, &self.notifier, &self.drift, None).await?;
        let options = TrainOptions {
            config: TrainConfig::default(),
            promotion_margin: self.promotion_margin,
            mlflow: self.mlflow.as_ref(),
        };
        let trainings = drain_train_jobs(db, store, &self.notifier, self.labels, &options, None).await?;
        Ok((drifts, trainings))
    }
}

/// Runs drift jobs, then train jobs, until stopped (or once).
pub async fn worker(args: WorkerArgs, settings: &Settings) -> Result<()> {
    let outbox = Outbox::new(settings, open(settings)?, open_store(&settings.store).await?).await?;
    loop {
        let (drifts, trainings) = outbox.run_once().await?;
        let busy = !drifts.jobs.is_empty()
            || !drifts.failed.is_empty()
            || !trainings.trainings.is_empty()
            || !trainings.failed.is_empty();
        if busy || args.once {
            print(args.out.json, json!({"drift": drifts, "train": trainings}), || {
                format!(
                    "drift jobs: {} done, {} failed; trainings: {} done, {} failed job(s)",
                    drifts.jobs.len(),
                    drifts.failed.len(),
                    trainings.trainings.len(),
                    trainings.failed.len()
                )
            });
        }
        if args.once {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(args.poll_seconds.max(1))).await;
    }
}

#[derive(Args)]
pub struct PredictArgs {
    /// A CSV of rows to score: the public column names or the published headers; other
    /// columns (an ID, a label) are carried through and not used.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the input's columns plus `prediction` and `p_<class>` per class.
    #[arg(long)]
    output: PathBuf,
    /// Also store the scored rows in the feature table (`label_source = model`), in one
    /// transaction; the database trigger counts them.
    #[arg(long)]
    insert: bool,
    #[command(flatten)]
    out: Output,
}

/// `driftloop predict`: scores a CSV offline with the champion.
pub async fn predict(args: PredictArgs, settings: &Settings) -> Result<()> {
    use driftloop_pipeline::predict::{score_csv, Champion};
    let db = open(settings)?;
    let store = open_store(&settings.store).await?;
    let champion = Champion::load(db.as_ref(), store.as_ref()).await?;
    let input = std::fs::File::open(&args.input).with_context(|| format!("opening {}", args.input.display()))?;
    // Written beside the output and renamed into place: a failure leaves no partial file.
    let folder = args
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut staged =
        tempfile::NamedTempFile::new_in(folder).with_context(|| format!("writing in {}", folder.display()))?;
    let scored = score_csv(
        &champion,
        std::io::BufReader::new(input),
        std::io::BufWriter::new(staged.as_file_mut()),
    )
    .map_err(|problems| driftloop_pipeline::Error::InvalidRowsToScore {
        path: args.input.clone(),
        problems,
    })??;
    staged
        .persist(&args.output)
        .with_context(|| format!("writing {}", args.output.display()))?;
    let stored = if args.insert {
        Some(db.insert_rows(&scored.feature_rows)?)
    } else {
        None
    };
    print(
        args.out.json,
        json!({"input": args.input, "output": args.output, "scored": scored, "stored": stored}),
        || {
            format!(
                "{}: {} rows scored by model version {} -> {}{}",
                args.input.display(),
                scored.rows,
                scored.model_version,
                args.output.display(),
                stored.map_or(String::new(), |s| format!(
                    "; stored, {} drift job(s) queued",
                    s.drift_jobs_queued
                ))
            )
        },
    );
    Ok(())
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: std::net::SocketAddr,
    /// Seconds between checks of the champion alias (a promoted model is served after at
    /// most this long).
    #[arg(long, default_value_t = 30)]
    refresh_seconds: u64,
    /// Do not run the drift and train jobs in this process (another worker does).
    #[arg(long)]
    no_worker: bool,
}

/// `driftloop serve`: the HTTP API, with an in-process worker woken when an insert makes
/// a drift job due.
pub async fn serve(args: ServeArgs, settings: &Settings) -> Result<()> {
    use std::sync::Arc;

    let db = open(settings)?;
    let store = open_store(&settings.store).await?;
    let wake = Arc::new(tokio::sync::Notify::new());
    if !args.no_worker {
        let outbox = Outbox::new(settings, db.clone(), store.clone()).await?;
        let wake = wake.clone();
        tokio::spawn(async move {
            loop {
                wake.notified().await;
                match outbox.run_once().await {
                    Ok((drifts, trainings)) => tracing::info!(
                        drift_jobs = drifts.jobs.len(),
                        trainings = trainings.trainings.len(),
                        failed = drifts.failed.len() + trainings.failed.len(),
                        "outbox run"
                    ),
                    Err(e) => tracing::error!("worker: {e:#}"),
                }
            }
        });
    }
    let kick: driftloop_api::Kick = {
        let wake = wake.clone();
        Arc::new(move || wake.notify_one())
    };
    let state = driftloop_api::AppState::new(
        db,
        store,
        driftloop_api::Limits::default(),
        Duration::from_secs(args.refresh_seconds.max(1)),
        kick,
    )
    .await;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("listening on {}", args.addr))?;
    tracing::info!("serving on http://{}", listener.local_addr()?);
    eprintln!("driftloop serving on http://{}", listener.local_addr()?);
    axum::serve(listener, driftloop_api::router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")?;
    Ok(())
}
