//! `driftloop performance`: the champion's realized performance from expert labels, as
//! the pending performance jobs of the outbox (queued by the label counter), one check now
//! with `--now`, or offline on two files (`--predictions` as `driftloop predict` writes
//! them, `--labels` with the experts' labels, row for row).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use driftloop_core::header::{header_target, HeaderTarget};
use driftloop_core::spec;
use driftloop_pipeline::db::JobKind;
use driftloop_pipeline::notify::notifier_from_settings;
use driftloop_pipeline::performance_job::{drain_performance_jobs, performance_config, PerformanceDrain};
use driftloop_pipeline::predict::probability_column;
use driftloop_pipeline::{open_store, Settings};
use driftloop_stats::performance::window_report;
use serde_json::json;

use crate::args::Output;
use crate::output::print;

#[derive(Args)]
pub struct PerformanceArgs {
    /// Queue a check first (as the label counter would), then run the pending ones.
    #[arg(long)]
    now: bool,
    /// Expert-labelled rows in the window, the latest ones [env: DRIFTLOOP_PERFORMANCE_WINDOW]
    /// [default: 200]
    #[arg(long)]
    window: Option<usize>,
    /// Significance level of the decay test [env: DRIFTLOOP_PERFORMANCE_ALPHA] [default: 0.01]
    #[arg(long)]
    alpha: Option<f64>,
    /// The fewest labelled rows a window needs for a verdict
    /// [env: DRIFTLOOP_PERFORMANCE_MIN_LABELS] [default: 30]
    #[arg(long)]
    min_labels: Option<usize>,
    /// Offline: a CSV of predictions as `driftloop predict` writes it (`prediction`, and
    /// `p_<class>` columns for calibration).
    #[arg(long, requires = "labels", conflicts_with = "now")]
    predictions: Option<PathBuf>,
    /// Offline: a CSV with the experts' labels (the dataset's label column), one row per
    /// row of --predictions, in the same order.
    #[arg(long, requires = "predictions")]
    labels: Option<PathBuf>,
    /// Offline: the accuracy to test against, with --holdout-rows; without them, the
    /// champion's holdout.
    #[arg(long, requires = "holdout_rows")]
    holdout_accuracy: Option<f64>,
    #[arg(long, requires = "holdout_accuracy")]
    holdout_rows: Option<u64>,
    #[command(flatten)]
    out: Output,
}

/// The cells of one column of a CSV file, by a header test; `what` names the column in
/// errors.
fn column_of(path: &Path, what: &str, matches: &dyn Fn(&str) -> bool) -> Result<Vec<(u64, String)>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let Some(at) = headers.iter().position(matches) else {
        bail!(
            "{}: no {what} column (the header has {:?})",
            path.display(),
            headers.iter().collect::<Vec<_>>()
        );
    };
    let mut cells = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{}: line {}", path.display(), i + 2))?;
        cells.push((i as u64 + 2, record.get(at).unwrap_or_default().to_string()));
    }
    Ok(cells)
}

/// Class indices of a column, every bad cell named by line.
fn classes_of(path: &Path, column: &str, cells: &[(u64, String)]) -> Result<Vec<u8>> {
    let mut problems = Vec::new();
    let classes: Vec<u8> = cells
        .iter()
        .map(|(line, cell)| {
            spec().parse_class(cell).unwrap_or_else(|e| {
                problems.push(format!("line {line}, column {column:?}: {e}"));
                0
            })
        })
        .collect();
    if !problems.is_empty() {
        bail!("{}: {}", path.display(), problems.join("; "));
    }
    Ok(classes)
}

/// The check on two files: predictions against labels, row for row.
fn check_files(
    args: &PerformanceArgs,
    predictions: &Path,
    labels: &Path,
    config: &driftloop_pipeline::performance_job::PerformanceConfig,
    settings: &Settings,
) -> Result<serde_json::Value> {
    let s = spec();
    let predicted_cells = column_of(predictions, "prediction", &|h| h.trim() == "prediction")?;
    let predicted = classes_of(predictions, "prediction", &predicted_cells)?;
    let label_cells = column_of(labels, &format!("{} (the label)", s.label), &|h| {
        header_target(h) == HeaderTarget::Label
    })?;
    let truth = classes_of(labels, &s.label, &label_cells)?;
    if predicted.len() != truth.len() {
        bail!(
            "{} has {} rows and {} has {}: the labels go row for row with the predictions",
            predictions.display(),
            predicted.len(),
            labels.display(),
            truth.len()
        );
    }
    // Probabilities when the file has every class's column.
    let mut by_class = Vec::new();
    for class in &s.classes {
        let name = probability_column(class);
        match column_of(predictions, &name, &|h| h.trim() == name) {
            Ok(cells) => by_class.push(cells),
            Err(_) => {
                by_class.clear();
                break;
            }
        }
    }
    let probabilities: Option<Vec<Vec<f64>>> = if by_class.is_empty() {
        None
    } else {
        let mut rows = vec![Vec::with_capacity(s.classes.len()); predicted.len()];
        for (k, cells) in by_class.iter().enumerate() {
            for (i, (line, cell)) in cells.iter().enumerate() {
                let p: f64 = cell
                    .trim()
                    .parse()
                    .ok()
                    .filter(|p: &f64| (0.0..=1.0).contains(p))
                    .with_context(|| {
                        format!(
                            "{}: line {line}, column {:?}: {cell:?} is not a probability",
                            predictions.display(),
                            probability_column(&s.classes[k])
                        )
                    })?;
                rows[i].push(p);
            }
        }
        Some(rows)
    };
    let holdout = match (args.holdout_accuracy, args.holdout_rows) {
        (Some(accuracy), Some(rows)) => {
            anyhow::ensure!((0.0..=1.0).contains(&accuracy), "--holdout-accuracy must lie in [0, 1]");
            (accuracy, rows)
        }
        _ => {
            let db = crate::open(settings)?;
            let name = driftloop_pipeline::train_job::model_name();
            let champion = db
                .champion(name)?
                .context("no champion to compare with: give --holdout-accuracy and --holdout-rows, or train one")?;
            let scores: driftloop_core::metrics::Scores = serde_json::from_value(champion.model.holdout_metrics)?;
            (scores.accuracy, scores.confusion.iter().flatten().sum())
        }
    };
    let start = truth.len().saturating_sub(config.window);
    let window = window_report(
        &truth[start..],
        &predicted[start..],
        probabilities.as_ref().map(|p| &p[start..]),
        s.classes.len(),
        holdout,
        config.alpha,
        config.min_labels,
    );
    let cumulative = window_report(
        &truth,
        &predicted,
        probabilities.as_deref(),
        s.classes.len(),
        holdout,
        config.alpha,
        config.min_labels,
    );
    Ok(json!({
        "predictions": predictions.display().to_string(),
        "labels": labels.display().to_string(),
        "holdout": {"accuracy": holdout.0, "rows": holdout.1},
        "config": config,
        "window": {"rows": truth.len() - start, "report": window},
        "cumulative": {"rows": truth.len(), "report": cumulative},
        "verdict": window.test.verdict,
    }))
}

fn drain_text(drained: &PerformanceDrain) -> String {
    if drained.jobs.is_empty() && drained.failed.is_empty() {
        return "no performance job is pending (the label counter queues one every labels_every expert labels; \
                `driftloop performance --now` checks at once)"
            .to_string();
    }
    let mut lines: Vec<String> = drained
        .jobs
        .iter()
        .map(|o| {
            let accuracy = o.accuracy.map_or("—".to_string(), |a| format!("{a:.3}"));
            let queued = o
                .train_job
                .as_ref()
                .map_or(String::new(), |t| format!("; train job {} queued", t.id));
            format!(
                "performance job {}: champion {} {} — accuracy {accuracy} on the last {} labelled rows ({} in all) against {:.3} on its holdout{queued}; report {}",
                o.job_id,
                o.version,
                serde_json::to_value(o.verdict).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
                o.window_rows,
                o.cumulative_rows,
                o.holdout_accuracy,
                o.report_uri
            )
        })
        .collect();
    lines.extend(
        drained
            .failed
            .iter()
            .map(|f| format!("performance job {} failed: {}", f.job_id, f.error)),
    );
    lines.join("\n")
}

pub async fn run(args: PerformanceArgs, settings: &Settings) -> Result<()> {
    let mut config = performance_config(settings);
    if let Some(window) = args.window {
        anyhow::ensure!(window > 0, "--window must be at least 1");
        config.window = window;
    }
    if let Some(alpha) = args.alpha {
        anyhow::ensure!(
            alpha > 0.0 && alpha < 1.0,
            "--alpha must lie between 0 and 1, not {alpha}"
        );
        config.alpha = alpha;
    }
    if let Some(min_labels) = args.min_labels {
        config.min_labels = min_labels;
    }
    if let (Some(predictions), Some(labels)) = (&args.predictions, &args.labels) {
        let report = check_files(&args, predictions, labels, &config, settings)?;
        print(args.out.json, report.clone(), || {
            let w = &report["window"];
            format!(
                "{}: accuracy {:.3} on the last {} of {} labelled rows against {:.3} on {} holdout rows (p = {})",
                report["verdict"].as_str().unwrap_or_default(),
                w["report"]["scores"]["accuracy"].as_f64().unwrap_or_default(),
                w["rows"],
                report["cumulative"]["rows"],
                report["holdout"]["accuracy"].as_f64().unwrap_or_default(),
                report["holdout"]["rows"],
                w["report"]["test"]["p_value"]
                    .as_f64()
                    .map_or("—".to_string(), |p| format!("{p:.2e}"))
            )
        });
        return Ok(());
    }
    let db = crate::open(settings)?;
    if args.now {
        db.enqueue(JobKind::Performance, &json!({"reason": "requested"}), None)?;
    }
    let store = open_store(&settings.store).await?;
    let notifier = notifier_from_settings(settings).await;
    let drained = drain_performance_jobs(db.as_ref(), store.as_ref(), &notifier, &config, None).await?;
    print(args.out.json, json!(drained), || drain_text(&drained));
    Ok(())
}
