//! `driftloop performance`: the champion's realized performance from expert labels, as
//! the pending performance jobs of the outbox (queued by the label counter), or one check
//! now with `--now`.

use anyhow::Result;
use clap::Args;
use driftloop_pipeline::db::JobKind;
use driftloop_pipeline::notify::notifier_from_settings;
use driftloop_pipeline::performance_job::{drain_performance_jobs, performance_config, PerformanceDrain};
use driftloop_pipeline::{open_store, Settings};
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
    #[command(flatten)]
    out: Output,
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
