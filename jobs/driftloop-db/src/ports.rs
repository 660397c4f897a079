//! The feature database's ports, one trait per capability: [`FeatureStore`] (feature
//! rows, the drift counter, bulk reads), [`RowAccess`] (single rows and expert labels),
//! [`JobQueue`] (the outbox of drift and train jobs), [`DriftReportLog`] and
//! [`ModelRegistry`]; [`Database`] is all of them plus migrations. Traits only: the
//! logic behind them is written once over [`crate::sql::SqlTx`] in the modules beside.

use std::time::Duration;

use driftloop_core::FeatureRow;

use crate::error::Result;
use crate::migrate::MigrationReport;
use crate::records::{
    AliasReason, ChampionChange, ClaimedJob, DriftCounter, DriftReportRecord, Enqueued, InsertOutcome, Job, JobKind,
    JobStatus, ModelStatus, ModelVersion, NewModelVersion, RowRef, StoredRow,
};

/// Storage of feature rows.
pub trait FeatureStore: Send + Sync {
    /// Inserts rows in one transaction: all of them or none. A `request_id` seen before
    /// is [`crate::Error::DuplicateRequestId`] and stores nothing.
    fn insert_rows(&self, rows: &[FeatureRow]) -> Result<InsertOutcome>;
    /// Number of rows in the feature table.
    fn count_rows(&self) -> Result<u64>;
    /// The counter behind the every-N-rows drift check.
    fn drift_counter(&self) -> Result<DriftCounter>;
    /// Sets N of "a drift check every N rows" (at least 1).
    fn set_drift_every(&self, drift_every: i64) -> Result<()>;
    /// Reads rows into a DataFrame with the schema of [`crate::frames::feature_schema`],
    /// sorted by `id`.
    #[cfg(feature = "frames")]
    fn read_frame(&self, filter: &crate::records::RowFilter) -> Result<polars::prelude::DataFrame>;
}

/// Single rows: the idempotency lookup of the predict endpoint, and expert labels.
pub trait RowAccess: Send + Sync {
    /// The stored row, if there is one.
    fn find_row(&self, by: &RowRef) -> Result<Option<StoredRow>>;
    /// Sets a row's label as an expert's (`label_source = 'expert'`); returns its id, or
    /// [`crate::Error::NoSuchRow`].
    fn set_label(&self, by: &RowRef, class: u8) -> Result<i64>;
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
    /// Marks a held job done.
    fn complete(&self, job: &ClaimedJob) -> Result<()>;
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

/// A feature database: the ports, and its migrations.
pub trait Database: FeatureStore + RowAccess + JobQueue + DriftReportLog + ModelRegistry {
    /// Applies the migrations not yet applied, in order, and records them.
    fn migrate(&self) -> Result<MigrationReport>;
    /// The URL this database was opened with (password hidden).
    fn url(&self) -> String;
}
