//! The performance job: the champion's kept predictions against the labels experts gave
//! those rows since, per window (the last `window` labelled rows, and every labelled row
//! it scored), against the champion's own holdout accuracy; a report, a
//! `performance_reports` row, and on measured decay a notification and a train job. Load,
//! compute, persist, notify, in that order; a job that runs twice records one report row
//! and queues one train job (both keyed by the job).

use bytes::Bytes;
use driftloop_stats::performance::{window_report, Verdict, WindowReport, DEFAULT_ALPHA, DEFAULT_MIN_LABELS};
use serde::Serialize;
use serde_json::json;

use crate::db::{ClaimedJob, Database, Enqueued, JobKind, LabelledPrediction, PerformanceReportRecord};
use crate::drain::{claim_pending, drain, FailedJob, JobRunner};
use crate::error::{Error, Result};
use crate::notify::{Event, Notifier};
use crate::objects::ObjectStore;

/// The default window: the last 200 expert-labelled rows.
pub const DEFAULT_WINDOW: usize = 200;

/// The check's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PerformanceConfig {
    /// The window's rows: the latest labelled ones.
    pub window: usize,
    /// The decay test's significance level.
    pub alpha: f64,
    /// The fewest labelled rows a window needs for a verdict.
    pub min_labels: usize,
}

impl Default for PerformanceConfig {
    fn default() -> PerformanceConfig {
        PerformanceConfig {
            window: DEFAULT_WINDOW,
            alpha: DEFAULT_ALPHA,
            min_labels: DEFAULT_MIN_LABELS,
        }
    }
}

/// The environment's overrides over the defaults.
pub fn performance_config(settings: &crate::Settings) -> PerformanceConfig {
    let defaults = PerformanceConfig::default();
    PerformanceConfig {
        window: settings.performance_window.map_or(defaults.window, |w| w as usize),
        alpha: settings.performance_alpha.unwrap_or(defaults.alpha),
        min_labels: settings
            .performance_min_labels
            .map_or(defaults.min_labels, |m| m as usize),
    }
}

/// What one performance job found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerformanceOutcome {
    /// The job the report is filed under.
    pub job_id: i64,
    /// Every job this check answered (a drain runs a burst of pending jobs as one).
    pub job_ids: Vec<i64>,
    /// The champion checked.
    pub version: i64,
    pub verdict: Verdict,
    /// The window's accuracy (none when no row is labelled yet).
    pub accuracy: Option<f64>,
    pub holdout_accuracy: f64,
    pub window_rows: u64,
    pub cumulative_rows: u64,
    /// The highest feature-row id in the window.
    pub last_row_id: Option<i64>,
    pub report_uri: String,
    pub html_uri: String,
    /// The train job queued because of a degradation (the existing one on a re-run).
    pub train_job: Option<Enqueued>,
}

/// The key of a performance job's report.
pub fn report_key(job_id: i64, date: &str) -> String {
    format!("reports/performance/date={date}/job-{job_id}.json")
}

fn window_of(rows: &[LabelledPrediction], config: &PerformanceConfig, holdout: (f64, u64)) -> WindowReport {
    let n_classes = driftloop_core::spec().classes.len();
    let truth: Vec<u8> = rows.iter().map(|r| r.label).collect();
    let predicted: Vec<u8> = rows.iter().map(|r| r.predicted).collect();
    let probabilities: Option<Vec<Vec<f64>>> = rows
        .iter()
        .map(|r| r.probabilities.clone().filter(|p| p.len() == n_classes))
        .collect();
    window_report(
        &truth,
        &predicted,
        probabilities.as_deref(),
        n_classes,
        holdout,
        config.alpha,
        config.min_labels,
    )
}

/// Runs one claimed performance job (completing or failing it is the caller's part).
pub async fn run_performance_job(
    db: &dyn Database,
    store: &dyn ObjectStore,
    notifier: &dyn Notifier,
    job: &ClaimedJob,
    config: &PerformanceConfig,
) -> Result<PerformanceOutcome> {
    let name = crate::train_job::model_name();
    let champion = db
        .champion(name)?
        .ok_or_else(|| Error::Db(crate::db::Error::NoChampion(name.to_string())))?;
    let holdout: driftloop_core::metrics::Scores = serde_json::from_value(champion.model.holdout_metrics.clone())
        .map_err(|e| Error::Corrupt(format!("the champion's holdout metrics: {e}")))?;
    let holdout_rows: u64 = holdout.confusion.iter().flatten().sum();
    let holdout = (holdout.accuracy, holdout_rows);
    let labelled = db.labelled_predictions(&champion.version.to_string())?;
    let recent = &labelled[labelled.len().saturating_sub(config.window)..];
    let window = window_of(recent, config, holdout);
    let cumulative = window_of(&labelled, config, holdout);
    let verdict = window.test.verdict;
    let accuracy = (!recent.is_empty()).then_some(window.scores.accuracy);

    let date = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let key = report_key(job.id, &date);
    let html_key = key.replace(".json", ".html");
    let html_uri = store.uri(&html_key);
    let document = json!({
        "job_id": job.id,
        "model": {"name": name, "version": champion.version, "family": champion.model.family},
        "holdout": {"accuracy": holdout.0, "rows": holdout.1},
        "config": config,
        "test": "one-sided two-proportion z-test of the window's accuracy against the holdout's (pooled variance)",
        "window": {
            "rows": recent.len(),
            "first_label_id": recent.first().map(|r| r.last_label_id),
            "last_label_id": recent.last().map(|r| r.last_label_id),
            "report": window,
        },
        "cumulative": {"rows": labelled.len(), "report": cumulative},
        "verdict": verdict,
        "html_uri": html_uri,
    });
    store
        .put(&html_key, Bytes::from(report_html(job.id, champion.version, &document)))
        .await?;
    let json_bytes = serde_json::to_vec_pretty(&document).expect("a report serializes");
    store.put(&key, Bytes::from(json_bytes)).await?;
    let report_uri = store.uri(&key);
    db.record_performance_report(&PerformanceReportRecord {
        job_id: Some(job.id),
        model_version: champion.version,
        window_rows: recent.len() as i64,
        accuracy,
        holdout_accuracy: holdout.0,
        verdict: serde_json::to_value(verdict)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        cumulative_rows: labelled.len() as i64,
        report_uri: report_uri.clone(),
        created_at: String::new(),
    })?;

    let mut train_job = None;
    if verdict == Verdict::Degraded {
        // The labels say the concept moved: the retraining learns from the window's rows
        // on, not from the rows before it, which teach the old concept.
        let first_row = recent.iter().map(|r| r.row_id).min().unwrap_or(1);
        let payload = json!({
            "performance_job_id": job.id,
            "report_uri": report_uri,
            "version": champion.version,
            "train_after_id": first_row - 1,
        });
        train_job = Some(db.enqueue(
            JobKind::Train,
            &payload,
            Some(&format!("train-after-performance-{}", job.id)),
        )?);
        notifier
            .notify(&Event::PerformanceDegraded {
                job_id: job.id,
                version: champion.version,
                accuracy: window.scores.accuracy,
                holdout_accuracy: holdout.0,
                rows: recent.len() as u64,
                p_value: window.test.p_value.unwrap_or_default(),
                report_uri: report_uri.clone(),
            })
            .await;
    }
    Ok(PerformanceOutcome {
        job_id: job.id,
        job_ids: vec![job.id],
        version: champion.version,
        verdict,
        accuracy,
        holdout_accuracy: holdout.0,
        window_rows: recent.len() as u64,
        cumulative_rows: labelled.len() as u64,
        last_row_id: recent.iter().map(|r| r.row_id).max(),
        report_uri,
        html_uri,
        train_job,
    })
}

/// The report as a page for people: the verdict, both windows' scores against the
/// holdout, calibration. Every value is escaped.
fn report_html(job_id: i64, version: i64, document: &serde_json::Value) -> String {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let number = |v: &serde_json::Value| v.as_f64().map_or("—".to_string(), |x| format!("{x:.3}"));
    let mut rows = String::new();
    for name in ["window", "cumulative"] {
        let w = &document[name];
        let r = &w["report"];
        rows.push_str(&format!(
            "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            w["rows"],
            number(&r["scores"]["accuracy"]),
            number(&r["scores"]["macro_f1"]),
            number(&r["calibration"]["brier"]),
            number(&r["calibration"]["ece"]),
            number(&r["test"]["p_value"]),
            escape(r["test"]["verdict"].as_str().unwrap_or("")),
        ));
    }
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>driftloop performance job {job_id}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:4px 10px;border-bottom:1px solid #ddd}}</style>\
         </head><body>\n<h1>Champion {version}: {}</h1>\n<p>Holdout accuracy {} on {} rows; {}.</p>\n\
         <table><tr><th>rows</th><th>labelled</th><th>accuracy</th><th>macro-F1</th><th>Brier</th><th>ECE</th>\
         <th>p-value</th><th>verdict</th></tr>\n{rows}</table>\n</body></html>\n",
        escape(document["verdict"].as_str().unwrap_or("")),
        number(&document["holdout"]["accuracy"]),
        document["holdout"]["rows"],
        escape(document["test"].as_str().unwrap_or("")),
    )
}

/// What a drain of the performance jobs did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PerformanceDrain {
    pub jobs: Vec<PerformanceOutcome>,
    pub failed: Vec<FailedJob>,
    /// True when the drain stopped at its deadline with jobs possibly left.
    pub stopped_at_deadline: bool,
}

/// How long a performance job may run before another worker may take it over.
pub const PERFORMANCE_LEASE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Claims and runs performance jobs until none is pending or `deadline` has passed.
pub async fn drain_performance_jobs(
    db: &dyn Database,
    store: &dyn ObjectStore,
    notifier: &dyn Notifier,
    config: &PerformanceConfig,
    deadline: Option<std::time::Instant>,
) -> Result<PerformanceDrain> {
    let mut runner = PerformanceRunner {
        db,
        store,
        notifier,
        config,
    };
    let drained = drain(db, JobKind::Performance, PERFORMANCE_LEASE, deadline, &mut runner).await?;
    Ok(PerformanceDrain {
        jobs: drained.outcomes,
        failed: drained.failed,
        stopped_at_deadline: drained.stopped_at_deadline,
    })
}

struct PerformanceRunner<'a> {
    db: &'a dyn Database,
    store: &'a dyn ObjectStore,
    notifier: &'a dyn Notifier,
    config: &'a PerformanceConfig,
}

impl JobRunner for PerformanceRunner<'_> {
    type Outcome = PerformanceOutcome;

    /// A burst of pending checks (labels arriving faster than the worker) is one check:
    /// the others are taken along and finished with it (their payloads dropped: the
    /// check reads the first job's).
    fn group(&mut self, db: &dyn Database, first: ClaimedJob) -> Result<Vec<Vec<ClaimedJob>>> {
        let mut held = vec![first];
        claim_pending(db, JobKind::Performance, PERFORMANCE_LEASE, |job| {
            held.push(ClaimedJob { payload: None, ..job })
        })?;
        Ok(vec![held])
    }

    async fn run(&mut self, jobs: &[ClaimedJob]) -> Result<PerformanceOutcome> {
        let mut outcome = run_performance_job(self.db, self.store, self.notifier, &jobs[0], self.config).await?;
        outcome.job_ids = jobs.iter().map(|j| j.id).collect();
        Ok(outcome)
    }
}
