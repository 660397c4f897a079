//! `driftloop drift`: two files compared, or the pending drift jobs of the outbox run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use driftloop_pipeline::drift_job::{drain_drift_jobs, drift_config, DriftWindow};
use driftloop_pipeline::frames::profile_rows_file;
use driftloop_pipeline::notify::notifier_from_settings;
use driftloop_pipeline::{open_store, Settings};
use driftloop_stats::DriftConfig;
use serde_json::json;

use crate::args::Output;
use crate::output::{drift_drain_text, drift_text, print};
use crate::progress;

#[derive(Args)]
pub struct DriftArgs {
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
    /// PSI counts only with at least this many rows on each side; below, a column drifts
    /// on its test alone (0: at any size) [env: DRIFTLOOP_DRIFT_PSI_MIN_ROWS] [default: 100]
    #[arg(long)]
    psi_min_rows: Option<u64>,
    /// Without --reference: the rows each pending job compares with the champion's
    /// snapshot, unless the job names its own: since-snapshot, last:N or since-last-check
    /// [env: DRIFTLOOP_DRIFT_WINDOW] [default: since-snapshot]
    #[arg(long, conflicts_with = "reference", value_parser = parse_window)]
    window: Option<DriftWindow>,
    /// With --reference and --current: also write the report as an HTML page here.
    #[arg(long, requires = "reference")]
    html: Option<PathBuf>,
    #[command(flatten)]
    out: Output,
}

fn parse_window(raw: &str) -> std::result::Result<DriftWindow, String> {
    DriftWindow::parse(raw)
}

/// The drift settings: flags over the environment over the defaults.
fn flag_drift_config(settings: &Settings, args: &DriftArgs) -> DriftConfig {
    let base = drift_config(settings);
    DriftConfig {
        alpha: args.alpha.unwrap_or(base.alpha),
        psi_threshold: args.psi_threshold.unwrap_or(base.psi_threshold),
        drift_share: args.drift_share.unwrap_or(base.drift_share),
        psi_min_rows: args.psi_min_rows.unwrap_or(base.psi_min_rows),
        ..base
    }
}

pub async fn run(args: DriftArgs, settings: &Settings) -> Result<()> {
    let config = flag_drift_config(settings, &args);
    match (&args.reference, &args.current) {
        (Some(reference), Some(current)) => compare_files(reference, current, &config, args.html.as_deref(), &args.out),
        _ => {
            run_jobs(
                config,
                args.window.unwrap_or(settings.drift_window),
                settings,
                &args.out,
            )
            .await
        }
    }
}

/// `--reference A --current B`: the report of two files of feature rows.
fn compare_files(
    reference: &Path,
    current: &Path,
    config: &DriftConfig,
    html: Option<&Path>,
    out: &Output,
) -> Result<()> {
    // Each file is counted as it is read (its profile), so memory holds a few of a file's
    // spec columns at most, never a cast copy of them; the statistics compare the two
    // profiles. The two files are counted at once (a CSV is read on one core).
    let started = Instant::now();
    let count = |path: &Path, which: &'static str| {
        profile_rows_file(path, which).with_context(|| format!("reading {}", path.display()))
    };
    let spinner = progress::spinner(
        &format!("counting the rows of {} and {}", reference.display(), current.display()),
        out.json,
    );
    let (reference_profile, current_profile) = std::thread::scope(|scope| {
        let current = scope.spawn(|| count(current, "current"));
        let reference = count(reference, "reference");
        (reference, current.join().expect("counting a file does not panic"))
    });
    spinner.finish_and_clear();
    let (reference_profile, current_profile) = (reference_profile?, current_profile?);
    let read_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let report = driftloop_stats::compare_profiles(&reference_profile, &current_profile, config)?;
    let compare_seconds = started.elapsed().as_secs_f64();
    if let Some(html) = html {
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

    Ok(())
}

/// The pending drift jobs, as the drift function runs them.
async fn run_jobs(config: DriftConfig, window: DriftWindow, settings: &Settings, out: &Output) -> Result<()> {
    config.validate()?;
    let db = crate::open(settings)?;
    let store = open_store(&settings.store).await?;
    let notifier = notifier_from_settings(settings).await;
    let summary = drain_drift_jobs(db.as_ref(), store.as_ref(), &notifier, &config, window, None).await?;
    print(out.json, json!(summary), || drift_drain_text(&summary));
    Ok(())
}
