//! What the demo gathers while it runs and the summary it ends with: the record of every
//! worker pass, the counts and champion history, and the closing table.

use std::time::Instant;

use anyhow::Result;
use driftloop_core::spec;
use driftloop_pipeline::drift_job::DriftJobOutcome;
use driftloop_pipeline::performance_job::PerformanceOutcome;
use driftloop_pipeline::train_job::{Decision, TrainOutcome};
use driftloop_pipeline::worker::WorkerPass;
use driftloop_pipeline::{Database, Settings};
use driftloop_stats::performance::Verdict;
use serde::Serialize;
use serde_json::Value;

/// What the demo reports (also its `--json` answer).
#[derive(Debug, Serialize)]
pub struct DemoSummary {
    pub rows_served: usize,
    pub labels_given: usize,
    /// Drift jobs the database queued (one every 100 rows) and the worker answered.
    pub drift_jobs: usize,
    /// Drift checks run: jobs pending at once are answered by one check.
    pub drift_checks: usize,
    pub drifts_found: usize,
    /// The feature-table row id whose insert queued the first drift check that found drift.
    pub first_drift_row: Option<i64>,
    /// Checks of the champion against the expert labels (performance jobs run).
    pub performance_checks: usize,
    /// Checks that found the champion degraded.
    pub degradations_found: usize,
    /// The highest feature-row id in the window of the first check that found decay.
    pub first_degradation_row: Option<i64>,
    pub models_trained: usize,
    pub champion_version: Option<i64>,
    pub champion_history: Vec<ChampionEntry>,
    pub candidates_rejected: Vec<i64>,
    pub drift_reports: Vec<String>,
    pub snapshots: Vec<String>,
    pub database: String,
    pub store: String,
    pub seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct ChampionEntry {
    pub version: i64,
    pub family: String,
    pub holdout_accuracy: f64,
    pub holdout_macro_f1: f64,
    pub how: &'static str,
}

/// Everything the worker did, gathered as it happens.
#[derive(Default)]
pub(super) struct Record {
    pub(super) drift_checks: Vec<DriftJobOutcome>,
    pub(super) performance_checks: Vec<PerformanceOutcome>,
    pub(super) trainings: Vec<TrainOutcome>,
    pub(super) failures: Vec<String>,
}

impl Record {
    pub(super) fn add(&mut self, pass: WorkerPass) {
        let (drifts, performance, trainings) = (pass.drift, pass.performance, pass.train);
        self.failures.extend(
            performance
                .failed
                .iter()
                .map(|f| format!("performance job {}: {}", f.job_id, f.error)),
        );
        self.performance_checks.extend(performance.jobs);
        self.failures.extend(
            drifts
                .failed
                .iter()
                .map(|f| format!("drift job {}: {}", f.job_id, f.error)),
        );
        self.failures.extend(
            trainings
                .failed
                .iter()
                .map(|f| format!("train job {}: {}", f.job_id, f.error)),
        );
        self.drift_checks.extend(drifts.jobs);
        self.trainings.extend(trainings.trainings);
    }
}

pub(super) fn summarize(
    db: &dyn Database,
    record: &Record,
    rows_served: usize,
    labels_given: usize,
    settings: &Settings,
    started: Instant,
) -> Result<DemoSummary> {
    let jobs = db.jobs(None)?;
    let last_row_of = |job_id: i64| {
        jobs.iter()
            .find(|j| j.id == job_id)
            .and_then(|j| j.payload.as_ref())
            .and_then(|p| p.get("last_row_id"))
            .and_then(Value::as_i64)
    };
    let drifted: Vec<&DriftJobOutcome> = record.drift_checks.iter().filter(|d| d.drift).collect();
    let degraded: Vec<&PerformanceOutcome> = record
        .performance_checks
        .iter()
        .filter(|p| p.verdict == Verdict::Degraded)
        .collect();
    let mut champion_history = Vec::new();
    let mut candidates_rejected = Vec::new();
    for t in &record.trainings {
        let how = match &t.decision {
            Decision::FirstChampion => "first champion",
            Decision::Promoted { .. } => "promoted",
            _ => {
                candidates_rejected.push(t.version);
                continue;
            }
        };
        champion_history.push(ChampionEntry {
            version: t.version,
            family: t.family.clone(),
            holdout_accuracy: t.holdout.accuracy,
            holdout_macro_f1: t.holdout.macro_f1,
            how,
        });
    }
    let mut snapshots: Vec<String> = record.trainings.iter().map(|t| t.snapshot.uri.clone()).collect();
    snapshots.dedup();
    Ok(DemoSummary {
        rows_served,
        labels_given,
        drift_jobs: record.drift_checks.iter().map(|d| d.job_ids.len()).sum(),
        drift_checks: record.drift_checks.len(),
        drifts_found: drifted.len(),
        first_drift_row: drifted.iter().filter_map(|d| last_row_of(d.job_id)).min(),
        performance_checks: record.performance_checks.len(),
        degradations_found: degraded.len(),
        first_degradation_row: degraded.iter().filter_map(|p| p.last_row_id).min(),
        models_trained: record.trainings.iter().filter(|t| t.registered).count(),
        champion_version: db.champion(&spec().name)?.map(|c| c.version),
        champion_history,
        candidates_rejected,
        drift_reports: drifted.iter().map(|d| d.html_uri.clone()).collect(),
        snapshots,
        database: settings.database_url.to_string(),
        store: settings.store.to_string(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

pub(super) fn table(s: &DemoSummary) -> String {
    let mut out = String::new();
    let line = |out: &mut String, k: &str, v: String| out.push_str(&format!("  {k:<22} {v}\n"));
    out.push_str("\ndriftloop demo: the loop, closed\n");
    line(
        &mut out,
        "rows served",
        format!("{} ({} labelled by an expert)", s.rows_served, s.labels_given),
    );
    line(
        &mut out,
        "drift checks run",
        format!("{} (answering {} drift jobs)", s.drift_checks, s.drift_jobs),
    );
    line(&mut out, "drift found in", format!("{} checks", s.drifts_found));
    line(
        &mut out,
        "first found at row",
        s.first_drift_row.map_or("never".to_string(), |r| r.to_string()),
    );
    line(&mut out, "performance checks", s.performance_checks.to_string());
    line(&mut out, "decay found in", format!("{} checks", s.degradations_found));
    line(
        &mut out,
        "first decay at row",
        s.first_degradation_row.map_or("never".to_string(), |r| r.to_string()),
    );
    line(&mut out, "models trained", s.models_trained.to_string());
    line(
        &mut out,
        "champion now",
        s.champion_version
            .map_or("none".to_string(), |v| format!("version {v}")),
    );
    out.push_str("\n  champion history       version  family               accuracy  macro-F1\n");
    for c in &s.champion_history {
        out.push_str(&format!(
            "    {:<20} {:>7}  {:<20} {:>8.3}  {:>8.3}\n",
            c.how, c.version, c.family, c.holdout_accuracy, c.holdout_macro_f1
        ));
    }
    if !s.candidates_rejected.is_empty() {
        let rejected: Vec<String> = s.candidates_rejected.iter().map(|v| v.to_string()).collect();
        line(&mut out, "candidates rejected", rejected.join(", "));
    }
    out.push_str("\n  drift reports (HTML)\n");
    for r in &s.drift_reports {
        out.push_str(&format!("    {r}\n"));
    }
    out.push_str("  training snapshots (Parquet)\n");
    for r in &s.snapshots {
        out.push_str(&format!("    {r}\n"));
    }
    line(&mut out, "database", s.database.clone());
    line(&mut out, "store", s.store.clone());
    line(&mut out, "seconds", format!("{:.1}", s.seconds));
    out
}
