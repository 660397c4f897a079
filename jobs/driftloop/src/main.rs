//! The `driftloop` command line: migrations, imports, fixtures, bulk reads, snapshots,
//! drift checks, training, the model registry and the worker, over the database that
//! `--database-url` / `DRIFTLOOP_DATABASE_URL` names. This file holds the clap types and
//! the dispatch; each command lives in `commands/`, its output forms in `output.rs`.

mod args;
mod commands;
mod demo;
mod output;
mod progress;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use commands::{db, drift, fixtures, import, jobs, models, performance, predict, serve, snapshot, train, worker};
use driftloop_pipeline::{open_database, Database, DatabaseUrl, Settings, StoreUrl};

#[derive(Parser)]
#[command(
    name = "driftloop",
    version,
    about = "A closed MLOps loop for a tabular classifier: predict, count, detect drift, retrain"
)]
struct Cli {
    /// Feature database: sqlite://PATH or mysql://USER:PASSWORD@HOST:PORT/DATABASE
    /// [env: DRIFTLOOP_DATABASE_URL] [default: sqlite://.driftloop/driftloop.db]
    #[arg(long, global = true)]
    database_url: Option<String>,

    /// Object store for snapshots, models and reports: a folder, file:///PATH or
    /// s3://BUCKET/PREFIX [env: DRIFTLOOP_STORE] [default: .driftloop/store]
    #[arg(long, global = true)]
    store: Option<String>,

    /// The dataset file: its label and feature columns (README, "Your own dataset")
    /// [env: DRIFTLOOP_DATASET] [default: the shipped mental-health dataset]
    #[arg(long, global = true)]
    dataset: Option<std::path::PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The feature database: migrations, status, bulk reads.
    #[command(subcommand)]
    Db(db::DbCommand),
    /// Imports labelled rows from a CSV.
    ///
    /// Headers may be the public column names or the published ones; the import is one
    /// transaction, so a file with any bad cell imports nothing.
    Import(import::ImportArgs),
    /// Synthetic data.
    #[command(subcommand)]
    Fixtures(fixtures::FixturesCommand),
    /// The job outbox.
    #[command(subcommand)]
    Jobs(jobs::JobsCommand),
    /// Checks for drift: between two files, or as the pending drift jobs.
    ///
    /// With --reference and --current: compares two files of feature rows (Parquet or CSV).
    /// Without: runs the pending drift jobs of the outbox, each comparing the champion's
    /// training snapshot (before any model, the newest snapshot) with the rows stored since.
    Drift(drift::DriftArgs),
    /// Checks the champion against the expert labels: its kept predictions on the rows
    /// experts labelled since, over the last --window of them and in all, against its
    /// holdout accuracy (a one-sided two-proportion test at --alpha); degraded queues a
    /// training.
    ///
    /// Runs the pending performance jobs (the label counter queues one every
    /// labels_every expert labels on scored rows); --now queues one first.
    Performance(performance::PerformanceArgs),
    /// Snapshots the feature table to Parquet in the object store; lists and shows them.
    ///
    /// Nothing is uploaded when the same rows are stored already.
    Snapshot(snapshot::SnapshotArgs),
    /// Trains candidates on the labelled rows, registers the best, and promotes it if it
    /// beats the champion.
    ///
    /// Writes a snapshot of the rows first and trains from it; `--from-snapshot` repeats a
    /// training exactly (same snapshot and seed: the same artifact, byte for byte).
    Train(train::TrainArgs),
    /// The model registry: versions and the champion.
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Runs the outbox's drift jobs, then its train jobs, polling for more.
    Worker(worker::WorkerArgs),
    /// Scores a CSV with the champion, offline: the input's columns plus the prediction
    /// and each class's probability.
    ///
    /// Every cell is checked first; a bad one is reported by line and column and nothing
    /// is written. Nothing is stored unless --insert is given.
    Predict(predict::PredictArgs),
    /// Serves the HTTP API (predict, batch, labels, champion, health, OpenAPI).
    ///
    /// An insert that makes a drift job due wakes an in-process worker that runs the
    /// drift jobs, then the train jobs (unless --no-worker).
    Serve(serve::ServeArgs),
    /// Runs the whole loop on this machine and prints what happened.
    ///
    /// A fresh SQLite file and folder under --dir (or the --database-url / --store given):
    /// the baseline, the first champion, simulated clients calling the HTTP API with rows
    /// that drift partway, expert labels, drift checks every 100 rows, retraining and
    /// promotion.
    Demo(demo::DemoArgs),
}

fn main() -> ExitCode {
    driftloop_pipeline::memory::return_freed_memory();
    let cli = Cli::parse();
    let result = Settings::from_env()
        .map_err(anyhow::Error::from)
        .and_then(|mut settings| {
            if let Some(raw) = &cli.database_url {
                settings.database_url = DatabaseUrl::parse(raw).context("--database-url")?;
            }
            // The demo prints its own progress and notifications: left at the default,
            // its log shows warnings only.
            let filter = match &cli.command {
                Command::Demo(_) if settings.log_filter == "info" => "warn",
                _ => settings.log_filter.as_str(),
            };
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_writer(std::io::stderr)
                .init();
            if let Some(raw) = &cli.store {
                settings.store = StoreUrl::parse(raw).context("--store")?;
            }
            if let Some(path) = &cli.dataset {
                settings.dataset = Some(path.clone());
            }
            settings.activate_dataset()?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting tokio")?;
            let explicit = (cli.database_url.is_some(), cli.store.is_some());
            runtime.block_on(run(cli.command, &settings, explicit))
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn open(settings: &Settings) -> Result<std::sync::Arc<dyn Database>> {
    open_database(&settings.database_url).with_context(|| format!("opening {}", settings.database_url))
}

async fn run(command: Command, settings: &Settings, explicit: (bool, bool)) -> Result<()> {
    match command {
        Command::Demo(args) => demo::demo(args, settings, explicit.0, explicit.1).await,
        Command::Db(command) => db::run(command, settings),
        Command::Import(args) => import::run(args, settings),
        Command::Fixtures(command) => fixtures::run(command),
        Command::Jobs(command) => jobs::run(command, settings),
        Command::Drift(args) => drift::run(args, settings).await,
        Command::Performance(args) => performance::run(args, settings).await,
        Command::Snapshot(args) => snapshot::run(args, settings).await,
        Command::Train(args) => train::run(args, settings).await,
        Command::Models(command) => models::run(command, settings).await,
        Command::Worker(args) => worker::run(args, settings).await,
        Command::Predict(args) => predict::run(args, settings).await,
        Command::Serve(args) => serve::run(args, settings).await,
    }
}
