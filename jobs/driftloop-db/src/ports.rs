//! The feature database's ports, one trait per capability: [`FeatureStore`] (feature
//! rows, the drift counter, bulk reads), [`RowAccess`] (single rows and expert labels),
//! [`JobQueue`] (the outbox of drift and train jobs), [`DriftReportLog`],
//! [`ModelRegistry`] and the dashboard's reads ([`crate::OperatorView`]); [`Database`] is
//! all of them plus migrations. Traits only: the
//! logic behind them is written once over [`crate::sql::SqlTx`] in the modules beside.

use std::time::Duration;

use driftloop_core::FeatureRow;

use crate::error::Result;
use crate::migrate::MigrationReport;
use crate::records::{
    AliasReason, ChampionChange, ClaimedJob, DriftCounter, DriftReportRecord, Enqueued, InsertOutcome, Job, JobKind,
    JobStatus, LabelCounter, LabelledPrediction, ModelStatus, ModelVersion, NewModelVersion, PerformanceReportRecord,
    RowHistory, RowRef, StoredRow,
};

/// Storage of feature rows.
pub trait FeatureStore: Send + Sync {
    /// Inserts rows in one transaction: all of them or none. A `request_id` seen before
    /// is [`crate::Error::DuplicateRequestId`] and stores nothing.
    fn insert_rows(&self, rows: &[FeatureRow]) -> Result<InsertOutcome>;
    /// [`FeatureStore::insert_rows`], telling `progress` how many rows the transaction
    /// holds after each statement (a retried transaction starts again from 0), so that a
    /// long import can show how far it is.
    fn insert_rows_with_progress(&self, rows: &[FeatureRow], progress: &dyn Fn(u64)) -> Result<InsertOutcome>;
    /// Number of rows in the feature table.
    fn count_rows(&self) -> Result<u64>;
    /// The counter behind the every-N-rows drift check.
    fn drift_counter(&self) -> Result<DriftCounter>;
    /// Sets N of "a drift check every N rows" (at least 1).
    fn set_drift_every(&self, drift_every: i64) -> Result<()>;
    /// The profile of the rows with `id` above `after_id`, counted by the database
    /// (one aggregate query; continuous columns grouped by value), and the largest id among them.
    fn profile_rows(&self, after_id: i64) -> Result<(driftloop_core::Profile, Option<i64>)>;
    /// The id after which the newest `n` rows lie (0 when there are no more than `n`).
    fn id_before_newest(&self, n: u64) -> Result<i64>;
    /// Reads rows into a DataFrame with the schema of [`crate::frames::feature_schema`],
    /// sorted by `id`, in rounds of [`crate::frames::ReadRounds::default`].
    #[cfg(feature = "frames")]
    fn read_frame(&self, filter: &crate::records::RowFilter) -> Result<polars::prelude::DataFrame> {
        self.read_frame_in_rounds(filter, crate::frames::ReadRounds::default())
    }
    /// [`FeatureStore::read_frame`] in rounds of another size (the same frame whatever
    /// the size; a smaller round holds less raw text at once).
    #[cfg(feature = "frames")]
    fn read_frame_in_rounds(
        &self,
        filter: &crate::records::RowFilter,
        rounds: crate::frames::ReadRounds,
    ) -> Result<polars::prelude::DataFrame>;
}

/// Single rows: the idempotency lookup of the predict endpoint, and expert labels.
pub trait RowAccess: Send + Sync {
    /// The stored row, if there is one.
    fn find_row(&self, by: &RowRef) -> Result<Option<StoredRow>>;
    /// Gives a row an expert's label: appended to the row's label history (with the
    /// labelling call's `request_id`, if any) and made the row's label (`label_source =
    /// 'expert'`), in one transaction; the model's prediction is kept. Returns the row's
    /// id, or [`crate::Error::NoSuchRow`].
    fn set_label(&self, by: &RowRef, class: u8, request_id: Option<&str>) -> Result<i64>;
    /// The stored row with its kept prediction and label history, if there is one.
    fn row_history(&self, by: &RowRef) -> Result<Option<RowHistory>>;
    /// Inserts rows in one transaction, all or none, returning each row's id (in order)
    /// and the drift jobs the trigger queued.
    fn insert_rows_with_ids(&self, rows: &[FeatureRow]) -> Result<(Vec<i64>, u64)>;
    /// Inserts rows in one transaction where each row stands alone: a row whose
    /// `request_id` is stored already gets `None` and the others are stored. Any other
    /// failure stores none. Returns each row's id and the drift jobs the trigger queued.
    fn insert_rows_each(&self, rows: &[FeatureRow]) -> Result<(Vec<Option<i64>>, u64)>;
}

/// The outbox of jobs.
pub trait JobQueue: Send + Sync {
    /// Queues a pending job. With a `dedupe_key`, a second enqueue with the same key
    /// returns the first job and queues nothing.
    fn enqueue(&self, kind: JobKind, payload: &serde_json::Value, dedupe_key: Option<&str>) -> Result<Enqueued>;
    /// Claims the oldest pending job of the given kinds (or a running one whose lease
    /// expired), holding it for `lease`. Two workers never hold the same job.
    fn claim(&self, kinds: &[JobKind], lease: Duration) -> Result<Option<ClaimedJob>>;
    /// Claims up to `limit` jobs as [`JobQueue::claim`] does, oldest first, in one
    /// transaction.
    fn claim_many(&self, kinds: &[JobKind], lease: Duration, limit: usize) -> Result<Vec<ClaimedJob>>;
    /// Marks a held job done.
    fn complete(&self, job: &ClaimedJob) -> Result<()>;
    /// Marks held jobs done in one transaction: all of them, or none if the lease of one
    /// was lost.
    fn complete_many(&self, jobs: &[ClaimedJob]) -> Result<()>;
    /// Marks a held job failed with its error.
    fn fail(&self, job: &ClaimedJob, error: &str) -> Result<()>;
    /// Jobs, oldest first, optionally of one status.
    fn jobs(&self, status: Option<JobStatus>) -> Result<Vec<Job>>;
}

/// The log of drift checks.
pub trait DriftReportLog: Send + Sync {
    /// Records a drift check. A second record for the same job keeps the first and
    /// returns false.
    fn record_drift_report(&self, record: &DriftReportRecord) -> Result<bool>;
    /// Every recorded check, oldest first.
    fn drift_reports(&self) -> Result<Vec<DriftReportRecord>>;
    /// The newest recorded check, of any reference or against `reference_uri`.
    fn latest_drift_report(&self, reference_uri: Option<&str>) -> Result<Option<DriftReportRecord>>;
}

/// The model registry: versions, the `champion` alias and its history. The source of
/// truth; MLflow mirrors it.
pub trait ModelRegistry: Send + Sync {
    /// Registers a version. The same artifact (name and sha256) registered again returns
    /// the existing version and `false`.
    fn register_model(&self, new: &NewModelVersion) -> Result<(ModelVersion, bool)>;
    /// Every version of a model, oldest first.
    fn model_versions(&self, name: &str) -> Result<Vec<ModelVersion>>;
    fn model_version(&self, name: &str, version: i64) -> Result<Option<ModelVersion>>;
    /// The version `champion` points at.
    fn champion(&self, name: &str) -> Result<Option<ModelVersion>>;
    /// Points `champion` at `version` if it still points at `expected` (compare and set:
    /// two trainings deciding at once cannot both win); otherwise
    /// [`crate::Error::ChampionChanged`]. The replaced champion becomes `retired`.
    fn set_champion(
        &self,
        name: &str,
        version: i64,
        expected: Option<i64>,
        reason: AliasReason,
        decision: Option<&serde_json::Value>,
    ) -> Result<ChampionChange>;
    /// Marks a registered version rejected, with the decision that rejected it.
    fn reject_model(&self, name: &str, version: i64, decision: &serde_json::Value) -> Result<()>;
    /// Points `champion` back at the version the current one replaced; the current one
    /// becomes `rolled_back`.
    fn rollback_champion(&self, name: &str) -> Result<ChampionChange>;
    /// Records the MLflow mirror of a version: its run and version, or why it failed.
    fn record_mirror(
        &self,
        name: &str,
        version: i64,
        run_id: Option<&str>,
        mlflow_version: Option<&str>,
        error: Option<&str>,
    ) -> Result<()>;
    /// Records the W&B mirror of a version: its run and the standing the run now shows,
    /// or why it failed.
    fn record_wandb_mirror(
        &self,
        name: &str,
        version: i64,
        mirrored: Option<(&str, ModelStatus)>,
        error: Option<&str>,
    ) -> Result<()>;
}

/// Label-based monitoring: the label counter, labelled predictions, performance checks.
pub trait PerformanceLog: Send + Sync {
    fn label_counter(&self) -> Result<LabelCounter>;
    /// Sets how many expert labels on scored rows queue one performance job.
    fn set_labels_every(&self, labels_every: i64) -> Result<()>;
    /// The rows `model_version` scored that an expert labelled since, with their latest
    /// label, in the order of that label.
    fn labelled_predictions(&self, model_version: &str) -> Result<Vec<LabelledPrediction>>;
    /// How often `model_version` predicted each class (in class order) for the rows with
    /// `id` above `after_id`.
    fn prediction_counts(&self, model_version: &str, after_id: i64) -> Result<Vec<u64>>;
    /// Records a check; a second record for the same job is kept out (returns false).
    fn record_performance_report(&self, report: &PerformanceReportRecord) -> Result<bool>;
    /// Every check, oldest first.
    fn performance_reports(&self) -> Result<Vec<PerformanceReportRecord>>;
}

/// A feature database: the ports, and its migrations.
pub trait Database:
    FeatureStore + RowAccess + JobQueue + DriftReportLog + ModelRegistry + PerformanceLog + crate::dashboard::OperatorView
{
    /// Applies the migrations not yet applied, in order, and records them.
    fn migrate(&self) -> Result<MigrationReport>;
    /// The URL this database was opened with (password hidden).
    fn url(&self) -> String;
}
