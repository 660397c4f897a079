//! The drift job: compare the reference snapshot with the feature rows stored since it,
//! write a report, and queue retraining on drift. Load, compute, persist, notify, in that
//! order; every step is safe to repeat, so a job that runs twice (a lost lease) records
//! one report row and queues one train job.

use bytes::Bytes;
use driftloop_stats::html::{report_html, ReportContext};
use driftloop_stats::{compare, DriftConfig, DriftReport};
use polars::prelude::{ChunkAgg, DataFrame};
use serde::Serialize;
use serde_json::json;

use crate::db::{ClaimedJob, Database, DriftReportRecord, Enqueued, JobKind, RowFilter};
pub use crate::drain::FailedJob;
use crate::drain::{drain, JobRunner};
use crate::error::Result;
use crate::frames::describe_query;
use crate::notify::{Event, Notifier};
use crate::objects::ObjectStore;
use crate::snapshot::{list_snapshots, load_snapshot, write_snapshot, LabelSelection, SnapshotManifest};

/// The drift decision's settings: the environment's overrides over the defaults.
pub fn drift_config(settings: &crate::Settings) -> DriftConfig {
    let defaults = DriftConfig::default();
    DriftConfig {
        alpha: settings.drift_alpha.unwrap_or(defaults.alpha),
        psi_threshold: settings.drift_psi_threshold.unwrap_or(defaults.psi_threshold),
        drift_share: settings.drift_share.unwrap_or(defaults.drift_share),
        ..defaults
    }
}

/// What one drift job did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftJobOutcome {
    pub job_id: i64,
    pub reference_uri: String,
    /// Rows compared: those with `id` above the reference's watermark.
    pub n_current: u64,
    pub drift: bool,
    pub drift_share: f64,
    pub drifted_columns: Vec<String>,
    pub report_uri: String,
    /// The same report as a page for people.
    pub html_uri: String,
    /// The train job queued because of this drift (the existing one on a re-run).
    pub train_job: Option<Enqueued>,
    /// The champion's predicted classes since the reference against its label
    /// distribution, when it scored rows since.
    pub prediction_drift: Option<driftloop_stats::ColumnDrift>,
}

/// The snapshot drift is measured against, loaded and verified.
pub struct Reference {
    pub manifest: SnapshotManifest,
    pub frame: DataFrame,
}

/// The reference: the champion's training snapshot. Before any model is registered, the
/// newest snapshot; with none at all, a snapshot of every stored row becomes the reference.
pub async fn load_reference(db: &dyn Database, store: &dyn ObjectStore) -> Result<Reference> {
    let uri = match db.champion(crate::train_job::model_name())? {
        Some(champion) => champion.model.snapshot_uri,
        None => match list_snapshots(store).await?.pop() {
            Some(newest) => newest.uri,
            None => {
                let filter = LabelSelection::All.row_filter();
                let frame = db.read_frame(&filter)?;
                write_snapshot(store, &frame, LabelSelection::All, &describe_query(&filter))
                    .await?
                    .manifest
                    .uri
            }
        },
    };
    let (frame, manifest) = load_snapshot(store, &uri).await?;
    Ok(Reference { manifest, frame })
}

/// The key of a drift job's report.
pub fn report_key(job_id: i64, date: &str) -> String {
    format!("reports/drift/date={date}/job-{job_id}.json")
}

/// Runs one claimed drift job (completing or failing it is the caller's part).
pub async fn run_drift_job(
    db: &dyn Database,
    store: &dyn ObjectStore,
    notifier: &dyn Notifier,
    job: &ClaimedJob,
    config: &DriftConfig,
) -> Result<DriftJobOutcome> {
    let reference = load_reference(db, store).await?;
    run_drift_job_against(db, store, notifier, job, config, &reference).await
}

/// Runs one claimed drift job against a reference loaded before.
pub async fn run_drift_job_against(
    db: &dyn Database,
    store: &dyn ObjectStore,
    notifier: &dyn Notifier,
    job: &ClaimedJob,
    config: &DriftConfig,
    reference: &Reference,
) -> Result<DriftJobOutcome> {
    // Columns are shared, not copied: the clone moves into the blocking task below.
    let reference_frame = reference.frame.clone();
    let reference = &reference.manifest;
    let current_frame = db.read_frame(&RowFilter {
        after_id: Some(reference.max_id),
        label_source: None,
    })?;
    let current_max_id = current_frame.column("id")?.i64()?.max().unwrap_or(reference.max_id);
    let n_current = current_frame.height();
    // Polars' lazy engine blocks on its own executor: run it off the async workers.
    let config = *config;
    let report: DriftReport = tokio::task::spawn_blocking(move || compare(&reference_frame, &current_frame, &config))
        .await
        .expect("the drift statistics do not panic")?;
    let drifted_columns: Vec<String> = report.drifted_columns().into_iter().map(String::from).collect();
    let prediction_drift = prediction_drift(db, &report, reference.max_id, &config)?;

    let date = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let key = report_key(job.id, &date);
    let html_key = key.replace(".json", ".html");
    let page = report_html(
        &report,
        &ReportContext {
            title: &format!("driftloop drift job {}", job.id),
            reference: &reference.uri,
            current: &format!("feature rows {} to {current_max_id}", reference.max_id + 1),
        },
    );
    store.put(&html_key, Bytes::from(page)).await?;
    let html_uri = store.uri(&html_key);
    let document = json!({
        "job_id": job.id,
        "reference": {"uri": reference.uri, "sha256": reference.sha256, "max_id": reference.max_id, "rows": reference.rows},
        "current": {"after_id": reference.max_id, "max_id": current_max_id, "rows": n_current},
        "html_uri": html_uri,
        "report": report,
        "predictions": prediction_drift,
    });
    let json_bytes = serde_json::to_vec_pretty(&document).expect("a report serializes");
    store.put(&key, Bytes::from(json_bytes)).await?;
    let report_uri = store.uri(&key);
    db.record_drift_report(&DriftReportRecord {
        job_id: Some(job.id),
        reference_uri: reference.uri.clone(),
        reference_sha256: reference.sha256.clone(),
        reference_max_id: reference.max_id,
        current_max_id,
        n_current: n_current as i64,
        drift: report.drift,
        drift_share: report.drift_share,
        drifted_columns: drifted_columns.join(","),
        report_uri: report_uri.clone(),
    })?;

    let mut train_job = None;
    if report.drift {
        let payload = json!({"drift_job_id": job.id, "report_uri": report_uri, "reference_uri": reference.uri});
        train_job = Some(db.enqueue(JobKind::Train, &payload, Some(&format!("train-after-drift-{}", job.id)))?);
        notifier
            .notify(&Event::DriftDetected {
                job_id: job.id,
                drift_share: report.drift_share,
                drifted_columns: drifted_columns.clone(),
                report_uri: report_uri.clone(),
            })
            .await;
    }
    Ok(DriftJobOutcome {
        job_id: job.id,
        reference_uri: reference.uri.clone(),
        n_current: n_current as u64,
        drift: report.drift,
        drift_share: report.drift_share,
        drifted_columns,
        report_uri,
        html_uri,
        train_job,
        prediction_drift,
    })
}

/// Prediction drift: the classes the champion predicted for the rows since the reference
/// against the reference's label distribution (PSI and chi-square as for a column, at the
/// label's alpha), reported beside the label and not counted in the dataset's verdict.
/// None before a champion, or when it scored no row since.
fn prediction_drift(
    db: &dyn Database,
    report: &DriftReport,
    after_id: i64,
    config: &DriftConfig,
) -> Result<Option<driftloop_stats::ColumnDrift>> {
    let Some(champion) = db.champion(crate::train_job::model_name())? else {
        return Ok(None);
    };
    let current = db.prediction_counts(&champion.version.to_string(), after_id)?;
    if current.iter().sum::<u64>() == 0 {
        return Ok(None);
    }
    let classes: Vec<String> = driftloop_core::spec().classes.clone();
    let reference: Vec<u64> = classes
        .iter()
        .map(|class| {
            report
                .label
                .categories
                .iter()
                .find(|c| &c.value == class)
                .map_or(0, |c| c.reference_count)
        })
        .collect();
    Ok(Some(driftloop_stats::column_drift(
        "predicted",
        &classes,
        &reference,
        &current,
        config,
        config.alpha,
    )))
}

/// What a drain of the drift jobs did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DrainSummary {
    pub jobs: Vec<DriftJobOutcome>,
    pub failed: Vec<FailedJob>,
    /// True when the drain stopped at its deadline with jobs possibly left.
    pub stopped_at_deadline: bool,
}

/// How long a drift job may run before another worker may take it over.
pub const DRIFT_LEASE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Claims and runs drift jobs until none is pending or `deadline` has passed; a job that
/// fails is marked failed with its error and the next one runs. Only claiming and
/// finishing jobs (the database itself failing) ends the drain with an error.
pub async fn drain_drift_jobs(
    db: &dyn Database,
    store: &dyn ObjectStore,
    notifier: &dyn Notifier,
    config: &DriftConfig,
    deadline: Option<std::time::Instant>,
) -> Result<DrainSummary> {
    let mut runner = DriftRunner {
        db,
        store,
        notifier,
        config,
        reference: None,
    };
    let drained = drain(db, JobKind::Drift, DRIFT_LEASE, deadline, &mut runner).await?;
    Ok(DrainSummary {
        jobs: drained.outcomes,
        failed: drained.failed,
        stopped_at_deadline: drained.stopped_at_deadline,
    })
}

/// Drift jobs one at a time, against a reference loaded once per drain.
struct DriftRunner<'a> {
    db: &'a dyn Database,
    store: &'a dyn ObjectStore,
    notifier: &'a dyn Notifier,
    config: &'a DriftConfig,
    reference: Option<Reference>,
}

impl JobRunner for DriftRunner<'_> {
    type Outcome = DriftJobOutcome;

    async fn run(&mut self, jobs: &[ClaimedJob]) -> Result<DriftJobOutcome> {
        let reference = match &mut self.reference {
            Some(reference) => reference,
            slot @ None => slot.insert(load_reference(self.db, self.store).await?),
        };
        run_drift_job_against(self.db, self.store, self.notifier, &jobs[0], self.config, reference).await
    }
}
