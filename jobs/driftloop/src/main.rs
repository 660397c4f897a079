//! The `driftloop` command line: migrations, imports, fixtures, bulk reads, snapshots,
//! drift checks, training, the model registry and the worker, over the database that
//! `--database-url` / `DRIFTLOOP_DATABASE_URL` names.

mod demo;
mod models_cmd;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use driftloop_core::fixtures::{generate, Scenario};
use driftloop_core::LabelSource;
use driftloop_pipeline::db::{JobStatus, RowFilter};
use driftloop_pipeline::drift_job::{drain_drift_jobs, drift_config};
use driftloop_pipeline::frames::{describe_query, read_rows_file};
use driftloop_pipeline::snapshot::{self, LabelSelection};
use driftloop_pipeline::{csv_io, open_database, open_store, Database, DatabaseUrl, Settings, StoreUrl};
use driftloop_stats::{DriftConfig, DriftReport};
use serde_json::json;

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

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The feature database: migrations, status, bulk reads.
    #[command(subcommand)]
    Db(DbCommand),
    /// Imports labelled rows from a CSV.
    ///
    /// Headers may be the public column names or the published ones; the import is one
    /// transaction, so a file with any bad cell imports nothing.
    Import {
        csv: PathBuf,
        /// Who labelled these rows, when the file has no label_source column.
        #[arg(long, value_enum, default_value_t = SourceArg::Expert)]
        label_source: SourceArg,
        #[command(flatten)]
        out: Output,
    },
    /// Synthetic data.
    #[command(subcommand)]
    Fixtures(FixturesCommand),
    /// The job outbox.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Checks for drift: between two files, or as the pending drift jobs.
    ///
    /// With --reference and --current: compares two files of feature rows (Parquet or CSV).
    /// Without: runs the pending drift jobs of the outbox, each comparing the champion's
    /// training snapshot (before any model, the newest snapshot) with the rows stored since.
    Drift(DriftArgs),
    /// Snapshots the feature table to Parquet in the object store; lists and shows them.
    ///
    /// Nothing is uploaded when the same rows are stored already.
    Snapshot(SnapshotArgs),
    /// Trains candidates on the labelled rows, registers the best, and promotes it if it
    /// beats the champion.
    ///
    /// Writes a snapshot of the rows first and trains from it; `--from-snapshot` repeats a
    /// training exactly (same snapshot and seed: the same artifact, byte for byte).
    Train(models_cmd::TrainArgs),
    /// The model registry: versions and the champion.
    #[command(subcommand)]
    Models(models_cmd::ModelsCommand),
    /// Runs the outbox's drift jobs, then its train jobs, polling for more.
    Worker(models_cmd::WorkerArgs),
    /// Scores a CSV with the champion, offline: the input's columns plus the prediction
    /// and each class's probability.
    ///
    /// Every cell is checked first; a bad one is reported by line and column and nothing
    /// is written. Nothing is stored unless --insert is given.
    Predict(models_cmd::PredictArgs),
    /// Serves the HTTP API (predict, batch, labels, champion, health, OpenAPI).
    ///
    /// An insert that makes a drift job due wakes an in-process worker that runs the
    /// drift jobs, then the train jobs (unless --no-worker).
    Serve(models_cmd::ServeArgs),
    /// Runs the whole loop on this machine and prints what happened.
    ///
    /// A fresh SQLite file and folder under --dir (or the --database-url / --store given):
    /// the baseline, the first champion, simulated clients calling the HTTP API with rows
    /// that drift partway, expert labels, drift checks every 100 rows, retraining and
    /// promotion.
    Demo(demo::DemoArgs),
}

#[derive(Args)]
struct DriftArgs {
    /// The reference rows (e.g. what the model was trained on).
    #[arg(long, requires = "current")]
    reference: Option<PathBuf>,
    /// The rows to check against the reference.
    #[arg(long, requires = "reference")]
    current: Option<PathBuf>,
    /// Family-wise significance level of the chi-square tests (Bonferroni over columns)
    /// [env: DRIFTLOOP_DRIFT_ALPHA] [default: 0.05]
    #[arg(long)]
    alpha: Option<f64>,
    /// A column with PSI at or above this has drifted
    /// [env: DRIFTLOOP_DRIFT_PSI_THRESHOLD] [default: 0.25]
    #[arg(long)]
    psi_threshold: Option<f64>,
    /// The dataset has drifted when at least this share of its columns has
    /// [env: DRIFTLOOP_DRIFT_SHARE] [default: 0.15]
    #[arg(long)]
    drift_share: Option<f64>,
    /// With --reference and --current: also write the report as an HTML page here.
    #[arg(long, requires = "reference")]
    html: Option<PathBuf>,
    #[command(flatten)]
    out: Output,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct SnapshotArgs {
    #[command(subcommand)]
    action: Option<SnapshotAction>,
    /// Which rows: expert-labelled, model-labelled, or all.
    #[arg(long, value_enum, default_value_t = SelectionArg::All)]
    label_source: SelectionArg,
    #[command(flatten)]
    out: Output,
}

#[derive(Subcommand)]
enum SnapshotAction {
    /// Lists the snapshots in the store, oldest data first.
    List {
        #[command(flatten)]
        out: Output,
    },
    /// Loads a snapshot, verifies its hashes and shows its manifest and first rows.
    Show {
        /// The snapshot's URI (as `snapshot` printed it) or its key in the store.
        uri: String,
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SelectionArg {
    Expert,
    Model,
    All,
}

impl From<SelectionArg> for LabelSelection {
    fn from(arg: SelectionArg) -> LabelSelection {
        match arg {
            SelectionArg::Expert => LabelSelection::Expert,
            SelectionArg::Model => LabelSelection::Model,
            SelectionArg::All => LabelSelection::All,
        }
    }
}

#[derive(Subcommand)]
enum DbCommand {
    /// Applies the migrations under sql/ that are not applied yet.
    Migrate {
        #[command(flatten)]
        out: Output,
    },
    /// Row count, drift counter and jobs by status.
    Status {
        #[command(flatten)]
        out: Output,
    },
    /// Reads feature rows into a DataFrame and reports its size and the read speed.
    Read {
        /// Only rows with id above this watermark.
        #[arg(long)]
        after_id: Option<i64>,
        #[arg(long, value_enum)]
        label_source: Option<SourceArg>,
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Subcommand)]
enum FixturesCommand {
    /// Writes synthetic labelled rows (deterministic per seed) to a CSV.
    Generate {
        #[arg(long, default_value_t = 120)]
        rows: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, value_enum, default_value_t = ScenarioArg::Baseline)]
        scenario: ScenarioArg,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        out_format: Output,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Lists jobs, oldest first.
    List {
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Args)]
pub(crate) struct Output {
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum SourceArg {
    Expert,
    Model,
}

impl From<SourceArg> for LabelSource {
    fn from(arg: SourceArg) -> LabelSource {
        match arg {
            SourceArg::Expert => LabelSource::Expert,
            SourceArg::Model => LabelSource::Model,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ScenarioArg {
    Baseline,
    CovariateShift,
    LabelShift,
}

impl From<ScenarioArg> for Scenario {
    fn from(arg: ScenarioArg) -> Scenario {
        match arg {
            ScenarioArg::Baseline => Scenario::Baseline,
            ScenarioArg::CovariateShift => Scenario::CovariateShift,
            ScenarioArg::LabelShift => Scenario::LabelShift,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum StatusArg {
    Pending,
    Running,
    Done,
    Failed,
}

impl From<StatusArg> for JobStatus {
    fn from(arg: StatusArg) -> JobStatus {
        match arg {
            StatusArg::Pending => JobStatus::Pending,
            StatusArg::Running => JobStatus::Running,
            StatusArg::Done => JobStatus::Done,
            StatusArg::Failed => JobStatus::Failed,
        }
    }
}

fn main() -> ExitCode {
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

pub(crate) fn print(json_mode: bool, value: serde_json::Value, text: impl FnOnce() -> String) {
    if json_mode {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

/// The drift settings: flags over the environment over the defaults.
fn flag_drift_config(settings: &Settings, alpha: Option<f64>, psi: Option<f64>, share: Option<f64>) -> DriftConfig {
    let base = drift_config(settings);
    DriftConfig {
        alpha: alpha.unwrap_or(base.alpha),
        psi_threshold: psi.unwrap_or(base.psi_threshold),
        drift_share: share.unwrap_or(base.drift_share),
        ..base
    }
}

fn drift_text(report: &DriftReport) -> String {
    let mut lines = vec![format!(
        "{}: {} of {} columns drifted (share {:.2}, threshold {:.2}); {} reference rows, {} current rows",
        if report.drift { "DRIFT" } else { "no drift" },
        report.drifted_columns().len(),
        report.columns.len(),
        report.drift_share,
        report.config.drift_share,
        report.n_reference,
        report.n_current
    )];
    lines.push(format!(
        "{:<22} {:>8} {:>10} {:>4} {:>10}  verdict",
        "column", "psi", "chi2", "dof", "p"
    ));
    for c in report.columns.iter().chain(std::iter::once(&report.label)) {
        lines.push(format!(
            "{:<22} {:>8.4} {:>10.3} {:>4} {:>10.3e}  {}",
            c.name,
            c.psi,
            c.chi2,
            c.dof,
            c.p_value,
            if c.drifted { "drifted" } else { "-" }
        ));
    }
    lines.join("\n")
}

async fn run(command: Command, settings: &Settings, explicit: (bool, bool)) -> Result<()> {
    match command {
        Command::Demo(args) => demo::demo(args, settings, explicit.0, explicit.1).await?,
        Command::Train(args) => models_cmd::train(args, settings).await?,
        Command::Models(command) => models_cmd::models(command, settings).await?,
        Command::Worker(args) => models_cmd::worker(args, settings).await?,
        Command::Predict(args) => models_cmd::predict(args, settings).await?,
        Command::Serve(args) => models_cmd::serve(args, settings).await?,
        Command::Db(DbCommand::Migrate { out }) => {
            let db = open(settings)?;
            let report = db.migrate()?;
            print(out.json, json!(report), || {
                if report.applied.is_empty() {
                    format!(
                        "{}: up to date ({} migrations applied before)",
                        db.url(),
                        report.already_applied
                    )
                } else {
                    format!("{}: applied {}", db.url(), report.applied.join(", "))
                }
            });
        }
        Command::Db(DbCommand::Status { out }) => {
            let db = open(settings)?;
            let rows = db.count_rows()?;
            let counter = db.drift_counter()?;
            let jobs = db.jobs(None)?;
            let by_status: serde_json::Map<String, serde_json::Value> = JobStatus::ALL
                .iter()
                .map(|s| {
                    (
                        s.as_str().to_string(),
                        json!(jobs.iter().filter(|j| j.status == *s).count()),
                    )
                })
                .collect();
            print(
                out.json,
                json!({"database": db.url(), "rows": rows, "drift_counter": counter, "jobs": by_status}),
                || {
                    format!(
                        "{}\n  rows: {rows}\n  drift counter: {} of {}\n  jobs: {}",
                        db.url(),
                        counter.n,
                        counter.drift_every,
                        serde_json::Value::Object(by_status.clone())
                    )
                },
            );
        }
        Command::Db(DbCommand::Read {
            after_id,
            label_source,
            out,
        }) => {
            let db = open(settings)?;
            let started = Instant::now();
            let frame = db.read_frame(&RowFilter {
                after_id,
                label_source: label_source.map(Into::into),
            })?;
            let seconds = started.elapsed().as_secs_f64();
            let rows = frame.height();
            print(
                out.json,
                json!({"rows": rows, "columns": frame.width(), "seconds": seconds, "rows_per_second": rows as f64 / seconds.max(1e-9)}),
                || {
                    format!(
                        "{}\n{rows} rows in {seconds:.3} s ({:.0} rows/s)",
                        frame.head(Some(5)),
                        rows as f64 / seconds.max(1e-9)
                    )
                },
            );
        }
        Command::Import { csv, label_source, out } => {
            let rows = csv_io::read_feature_csv(&csv, label_source.into())?;
            let db = open(settings)?;
            let outcome = db.insert_rows(&rows)?;
            print(
                out.json,
                json!({"file": csv, "rows": outcome.n_rows, "last_id": outcome.last_id, "drift_jobs_queued": outcome.drift_jobs_queued}),
                || {
                    format!(
                        "{}: imported {} rows; {} drift job(s) queued",
                        csv.display(),
                        outcome.n_rows,
                        outcome.drift_jobs_queued
                    )
                },
            );
        }
        Command::Fixtures(FixturesCommand::Generate {
            rows,
            seed,
            scenario,
            out,
            out_format,
        }) => {
            let scenario: Scenario = scenario.into();
            let generated = generate(scenario, rows, seed);
            let file = std::fs::File::create(&out).with_context(|| format!("creating {}", out.display()))?;
            csv_io::write_feature_rows(&generated, std::io::BufWriter::new(file))
                .with_context(|| format!("writing {}", out.display()))?;
            print(
                out_format.json,
                json!({"file": out, "rows": rows, "seed": seed, "scenario": scenario.name()}),
                || format!("{}: {rows} {} rows (seed {seed})", out.display(), scenario.name()),
            );
        }
        Command::Jobs(JobsCommand::List { status, out }) => {
            let db = open(settings)?;
            let jobs = db.jobs(status.map(Into::into))?;
            print(out.json, json!({"jobs": jobs}), || {
                jobs.iter()
                    .map(|j| {
                        format!(
                            "{:>6}  {:<5}  {:<7}  attempts {}  {}",
                            j.id,
                            j.kind,
                            j.status,
                            j.attempts,
                            j.error.as_deref().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Drift(DriftArgs {
            reference: Some(reference),
            current: Some(current),
            alpha,
            psi_threshold,
            drift_share,
            html,
            out,
        }) => {
            let config = flag_drift_config(settings, alpha, psi_threshold, drift_share);
            let started = Instant::now();
            let reference_frame =
                read_rows_file(&reference).with_context(|| format!("reading {}", reference.display()))?;
            let current_frame = read_rows_file(&current).with_context(|| format!("reading {}", current.display()))?;
            let read_seconds = started.elapsed().as_secs_f64();
            let started = Instant::now();
            let report = driftloop_stats::compare(&reference_frame, &current_frame, &config)?;
            let compare_seconds = started.elapsed().as_secs_f64();
            if let Some(html) = &html {
                let page = driftloop_stats::html::report_html(
                    &report,
                    &driftloop_stats::html::ReportContext {
                        title: "driftloop drift report",
                        reference: &reference.display().to_string(),
                        current: &current.display().to_string(),
                    },
                );
                std::fs::write(html, page).with_context(|| format!("writing {}", html.display()))?;
            }
            let mut answer = json!(report);
            answer["read_seconds"] = json!(read_seconds);
            answer["compare_seconds"] = json!(compare_seconds);
            print(out.json, answer, || drift_text(&report));
        }
        Command::Drift(DriftArgs {
            alpha,
            psi_threshold,
            drift_share,
            out,
            ..
        }) => {
            let config = flag_drift_config(settings, alpha, psi_threshold, drift_share);
            config.validate()?;
            let db = open(settings)?;
            let store = open_store(&settings.store).await?;
            let notifier = driftloop_pipeline::notify::notifier_from_settings(settings).await;
            let summary = drain_drift_jobs(db.as_ref(), store.as_ref(), &notifier, &config, None).await?;
            print(out.json, json!(summary), || {
                let mut lines: Vec<String> = summary
                    .jobs
                    .iter()
                    .map(|o| {
                        format!(
                            "drift job {}: {} ({} rows since the reference; {}) report {}",
                            o.job_id,
                            if o.drift { "DRIFT" } else { "no drift" },
                            o.n_current,
                            if o.drifted_columns.is_empty() {
                                "no column drifted".to_string()
                            } else {
                                o.drifted_columns.join(", ")
                            },
                            o.report_uri
                        )
                    })
                    .collect();
                lines.extend(
                    summary
                        .failed
                        .iter()
                        .map(|f| format!("drift job {}: failed: {}", f.job_id, f.error)),
                );
                if lines.is_empty() {
                    lines.push("no pending drift jobs".into());
                }
                lines.join("\n")
            });
        }
        Command::Snapshot(SnapshotArgs {
            action: None,
            label_source,
            out,
        }) => {
            let db = open(settings)?;
            let store = open_store(&settings.store).await?;
            let selection: LabelSelection = label_source.into();
            let filter = selection.row_filter();
            let started = Instant::now();
            let frame = db.read_frame(&filter)?;
            let read_seconds = started.elapsed().as_secs_f64();
            let started = Instant::now();
            let written = snapshot::write_snapshot(store.as_ref(), &frame, selection, &describe_query(&filter)).await?;
            let write_seconds = started.elapsed().as_secs_f64();
            let m = &written.manifest;
            let mut answer = json!(written);
            answer["read_seconds"] = json!(read_seconds);
            answer["write_seconds"] = json!(write_seconds);
            print(out.json, answer, || {
                let verb = if written.uploaded {
                    "wrote"
                } else {
                    "already stored, nothing uploaded:"
                };
                format!(
                    "{verb} {}
  {} rows, ids {}..={}, sha256 {}",
                    m.uri, m.rows, m.min_id, m.max_id, m.sha256
                )
            });
        }
        Command::Snapshot(SnapshotArgs {
            action: Some(SnapshotAction::List { out }),
            ..
        }) => {
            let store = open_store(&settings.store).await?;
            let manifests = snapshot::list_snapshots(store.as_ref()).await?;
            print(out.json, json!({"snapshots": manifests}), || {
                manifests
                    .iter()
                    .map(|m| {
                        format!(
                            "{}  {:>8} rows  ids {}..={}  {}",
                            m.created_at, m.rows, m.min_id, m.max_id, m.uri
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Snapshot(SnapshotArgs {
            action: Some(SnapshotAction::Show { uri, out }),
            ..
        }) => {
            let store = open_store(&settings.store).await?;
            let (frame, manifest) = snapshot::load_snapshot(store.as_ref(), &uri).await?;
            print(
                out.json,
                json!({"manifest": manifest, "verified": true, "columns": snapshot::snapshot_columns()}),
                || {
                    format!(
                        "{}\n{}\nverified: file sha256 {} and data sha256 {}",
                        serde_json::to_string_pretty(&manifest).unwrap_or_default(),
                        frame.head(Some(5)),
                        manifest.file_sha256,
                        manifest.sha256
                    )
                },
            );
        }
    }
    Ok(())
}
