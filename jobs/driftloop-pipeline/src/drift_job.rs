//! The drift job: compare the reference snapshot's profile with the profile of the rows
//! stored since it, write a report, and queue retraining on drift. Load, compute,
//! persist, notify, in that order; every step is safe to repeat, so a job that runs twice
//! (a lost lease) records one report row and queues one train job.
//!
//! Neither side is read row by row: the reference's profile (its counts per column and
//! level) is kept in its snapshot's manifest, and the current rows are counted by the
//! database ([`crate::db::FeatureStore::profile_rows`]), so a check's memory does not grow
//! with the rows it compares. A burst of pending drift jobs is answered by one check.

use bytes::Bytes;
use driftloop_core::Profile;
use driftloop_stats::html::{report_html, ReportContext};
use driftloop_stats::{compare_profiles, DriftConfig, DriftReport};
use serde::Serialize;
use serde_json::json;

pub use crate::config::DriftWindow;
use crate::db::{ClaimedJob, ColumnFigure, Database, DriftReportRecord, Enqueued, JobKind};
pub use crate::drain::FailedJob;
use crate::drain::{claim_pending, drain, JobRunner};
pub use crate::drift_window::window_of;
use crate::drift_window::{current_profile, window_start};
use crate::error::Result;
use crate::frames::describe_query;
use crate::notify::{Event, Notifier};
use crate::objects::ObjectStore;
use crate::snapshot::{list_snapshots, snapshot_profile, write_snapshot, LabelSelection, SnapshotManifest};

/// The drift decision's settings: the environment's overrides over the defaults.
pub fn drift_config(settings: &crate::Settings) -> DriftConfig {
    settings.drift_config()
}

/// What one drift check did (for one job, or a burst of them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftJobOutcome {
    /// The job the report is named after: the newest of those it answered.
    pub job_id: i64,
    /// Every job the check answered, oldest first.
    pub job_ids: Vec<i64>,
    pub reference_uri: String,
    /// Which rows were compared.
    pub window: DriftWindow,
    /// Rows compared: those with `id` above `after_id`.
    pub after_id: i64,
    pub n_current: u64,
    /// Of `n_current`, the rows the database counted for this check; the others were
    /// counted by an earlier check of the same window (its report keeps their profile).
    pub counted_rows: u64,
    /// Seconds spent counting the current rows (the database's aggregate queries, or
    /// none when an earlier check's profile covered them): where a large check's time goes.
    pub count_seconds: f64,
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

/// The snapshot drift is measured against: its manifest and its rows' profile.
pub struct Reference {
    pub manifest: SnapshotManifest,
    pub profile: Profile,
}

/// The reference: the champion's training snapshot. Before any model is registered, the
/// newest snapshot; with none at all, a snapshot of every stored row becomes the reference.
/// Its profile comes from its manifest ([`snapshot_profile`]).
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
    let (manifest, profile) = snapshot_profile(store, &uri).await?;
    Ok(Reference { manifest, profile })
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
    let window = window_of(job, DriftWindow::default())?;
    run_drift_check(
        db,
        store,
        notifier,
        std::slice::from_ref(job),
        config,
        window,
        &reference,
    )
    .await
}

/// Runs one check for claimed drift jobs (a burst answered at once; the newest names the
/// report) against a reference loaded before.
pub async fn run_drift_check(
    db: &dyn Database,
    store: &dyn ObjectStore,
    notifier: &dyn Notifier,
    jobs: &[ClaimedJob],
    config: &DriftConfig,
    window: DriftWindow,
    reference: &Reference,
) -> Result<DriftJobOutcome> {
    let job_ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
    let job_id = *job_ids.iter().max().expect("a check answers at least one job");
    let reference_profile = &reference.profile;
    let reference = &reference.manifest;
    let after_id = window_start(db, window, reference)?;
    let counting = std::time::Instant::now();
    let counted = current_profile(db, store, window, reference, after_id).await?;
    let count_seconds = counting.elapsed().as_secs_f64();
    let (current_profile, current_max_id) = (counted.profile, counted.max_id);
    let n_current = current_profile.rows;
    let report: DriftReport = compare_profiles(reference_profile, &current_profile, config)?;
    let drifted_columns: Vec<String> = report.drifted_columns().into_iter().map(String::from).collect();
    let prediction_drift = prediction_drift(db, &report, after_id, config)?;

    let date = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let key = report_key(job_id, &date);
    let html_key = key.replace(".json", ".html");
    let page = report_html(
        &report,
        &ReportContext {
            title: &format!("driftloop drift job {job_id}"),
            reference: &reference.uri,
            current: &format!("feature rows {} to {current_max_id} ({window})", after_id + 1),
        },
    );
    store.put(&html_key, Bytes::from(page)).await?;
    let html_uri = store.uri(&html_key);
    let document = json!({
        "job_id": job_id,
        "job_ids": job_ids,
        "reference": {"uri": reference.uri, "sha256": reference.sha256, "max_id": reference.max_id, "rows": reference.rows},
        "current": {
            "window": window, "after_id": after_id, "max_id": current_max_id, "rows": n_current,
            "counted_rows": counted.counted_rows, "profile": current_profile,
        },
        "html_uri": html_uri,
        "report": report,
        "predictions": prediction_drift,
    });
    let json_bytes = serde_json::to_vec_pretty(&document).expect("a report serializes");
    store.put(&key, Bytes::from(json_bytes)).await?;
    let report_uri = store.uri(&key);
    db.record_drift_report(&DriftReportRecord {
        job_id: Some(job_id),
        reference_uri: reference.uri.clone(),
        reference_sha256: reference.sha256.clone(),
        reference_max_id: reference.max_id,
        current_max_id,
        n_current: n_current as i64,
        drift: report.drift,
        drift_share: report.drift_share,
        drifted_columns: drifted_columns.join(","),
        report_uri: report_uri.clone(),
        column_figures: report
            .columns
            .iter()
            .map(|c| ColumnFigure {
                name: c.name.clone(),
                psi: c.psi,
                p_value: c.p_value,
                drifted: c.drifted,
            })
            .collect(),
    })?;

    let mut train_job = None;
    if report.drift {
        let payload = json!({"drift_job_id": job_id, "report_uri": report_uri, "reference_uri": reference.uri});
        train_job = Some(db.enqueue(JobKind::Train, &payload, Some(&format!("train-after-drift-{job_id}")))?);
        notifier
            .notify(&Event::DriftDetected {
                job_id,
                drift_share: report.drift_share,
                drifted_columns: drifted_columns.clone(),
                report_uri: report_uri.clone(),
            })
            .await;
    }
    Ok(DriftJobOutcome {
        job_id,
        job_ids,
        reference_uri: reference.uri.clone(),
        window,
        after_id,
        n_current,
        counted_rows: counted.counted_rows,
        count_seconds,
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
    /// One per check: a burst of pending jobs is answered by one check.
    pub jobs: Vec<DriftJobOutcome>,
    pub failed: Vec<FailedJob>,
    /// True when the drain stopped at its deadline with jobs possibly left.
    pub stopped_at_deadline: bool,
}

/// How long a drift job may run before another worker may take it over.
pub const DRIFT_LEASE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Claims and runs drift jobs until none is pending or `deadline` has passed: every job
/// pending at once is answered by one check per window they ask for (a job without one
/// takes `window`). A check that fails fails its jobs with its error and the drain goes
/// on. Only claiming and finishing jobs (the database itself failing) ends the drain with
/// an error.
pub async fn drain_drift_jobs(
    db: &dyn Database,
    store: &dyn ObjectStore,
    notifier: &dyn Notifier,
    config: &DriftConfig,
    window: DriftWindow,
    deadline: Option<std::time::Instant>,
) -> Result<DrainSummary> {
    let mut runner = DriftRunner {
        db,
        store,
        notifier,
        config,
        window,
        reference: None,
    };
    let drained = drain(db, JobKind::Drift, DRIFT_LEASE, deadline, &mut runner).await?;
    Ok(DrainSummary {
        jobs: drained.outcomes,
        failed: drained.failed,
        stopped_at_deadline: drained.stopped_at_deadline,
    })
}

/// Drift checks against a reference loaded once per drain.
struct DriftRunner<'a> {
    db: &'a dyn Database,
    store: &'a dyn ObjectStore,
    notifier: &'a dyn Notifier,
    config: &'a DriftConfig,
    window: DriftWindow,
    reference: Option<Reference>,
}

impl JobRunner for DriftRunner<'_> {
    type Outcome = DriftJobOutcome;

    /// Every pending drift job, grouped by the window it asks for (a job whose window
    /// does not parse stands alone and fails). A group's check reads its first job's
    /// payload only, so the others' are dropped as they are claimed: a burst of a hundred
    /// thousand jobs holds their ids, not their payloads.
    fn group(&mut self, db: &dyn Database, first: ClaimedJob) -> Result<Vec<Vec<ClaimedJob>>> {
        let key = |job: &ClaimedJob| window_of(job, self.window).map_err(|_| job.id);
        let mut groups: Vec<(std::result::Result<DriftWindow, i64>, Vec<ClaimedJob>)> =
            vec![(key(&first), vec![first])];
        claim_pending(db, JobKind::Drift, DRIFT_LEASE, |next| {
            let window = key(&next);
            match groups.iter_mut().find(|(w, _)| *w == window) {
                Some((_, group)) => group.push(ClaimedJob { payload: None, ..next }),
                None => groups.push((window, vec![next])),
            }
        })?;
        Ok(groups.into_iter().map(|(_, group)| group).collect())
    }

    async fn run(&mut self, jobs: &[ClaimedJob]) -> Result<DriftJobOutcome> {
        let window = window_of(&jobs[0], self.window)?;
        let reference = match &mut self.reference {
            Some(reference) => reference,
            slot @ None => slot.insert(load_reference(self.db, self.store).await?),
        };
        run_drift_check(self.db, self.store, self.notifier, jobs, self.config, window, reference).await
    }
}
