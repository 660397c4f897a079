//! The feature database ports: [`FeatureStore`] (feature rows, the drift counter, bulk
//! reads) and [`JobQueue`] (the outbox of drift and train jobs), implemented for SQLite
//! (the embedded default) and MySQL/MariaDB. [`open_database`] picks one by URL.

mod migrate;
mod mysql;
mod registry;
mod rows;
#[cfg(feature = "frames")]
pub(crate) use mysql::SESSION_INIT as MYSQL_SESSION_INIT;
pub use rows::StoredRow;
mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use driftloop_core::{spec, FeatureRow};
use serde::Serialize;

use crate::config::DatabaseUrl;
use crate::error::Result;

pub use migrate::{Migration, MigrationReport, MYSQL_MIGRATIONS, SQLITE_MIGRATIONS};

/// What an insert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct InsertOutcome {
    /// The new row's `id` (for a multi-row insert, the largest `id` written).
    pub last_id: i64,
    pub n_rows: u64,
    /// Drift jobs the database trigger queued because of these rows.
    pub drift_jobs_queued: u64,
}

/// The drift counter and its threshold, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DriftCounter {
    /// Rows inserted since the last drift job was queued.
    pub n: i64,
    /// A drift job is queued every this many rows.
    pub drift_every: i64,
}

/// Which feature rows a bulk read takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RowFilter {
    /// Only rows with `id` above this watermark.
    pub after_id: Option<i64>,
    /// Only rows labelled by this source; `None` takes every row.
    pub label_source: Option<driftloop_core::LabelSource>,
}

/// Storage of feature rows.
pub trait FeatureStore: Send + Sync {
    /// Inserts one row (bound parameters). A `request_id` seen before is
    /// [`crate::Error::DuplicateRequestId`] and stores nothing.
    fn insert_row(&self, row: &FeatureRow) -> Result<InsertOutcome>;
    /// Inserts rows in one transaction: all of them or none.
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
    fn read_frame(&self, filter: &RowFilter) -> Result<polars::prelude::DataFrame>;
}

/// What a job is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    Drift,
    Train,
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Pending,
    Running,
    Done,
    Failed,
}

macro_rules! text_enum {
    ($ty:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),*];
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),* }
            }
            pub fn parse(raw: &str) -> Option<$ty> {
                match raw { $($text => Some($ty::$variant),)* _ => None }
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
text_enum!(JobKind { Drift => "drift", Train => "train" });
text_enum!(ModelStatus {
    Registered => "registered",
    Champion => "champion",
    Rejected => "rejected",
    Retired => "retired",
    RolledBack => "rolled_back",
});
text_enum!(AliasReason { Promoted => "promoted", Manual => "manual", Rollback => "rollback" });
text_enum!(JobStatus { Pending => "pending", Running => "running", Done => "done", Failed => "failed" });

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub id: i64,
    pub kind: JobKind,
    pub status: JobStatus,
    pub attempts: u32,
    pub payload: Option<serde_json::Value>,
    pub error: Option<String>,
    pub dedupe_key: Option<String>,
}

/// A job this worker holds until its lease runs out. `attempt` fences it: once another
/// worker re-claims the job, finishing this claim fails with `LeaseLost`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: JobKind,
    pub attempt: u32,
    pub payload: Option<serde_json::Value>,
}

/// The answer to an enqueue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Enqueued {
    pub id: i64,
    /// False when a job with the same dedupe key already existed (and `id` is that job).
    pub created: bool,
}

/// After this many claims a job whose lease keeps expiring is marked failed.
pub const MAX_ATTEMPTS: u32 = 3;

/// Drift jobs queued while `n_rows` rows moved the counter from `before` to `after`
/// (read in the inserting transaction, so no other writer moved it in between).
pub(crate) fn queued(before: DriftCounter, after: DriftCounter, n_rows: u64) -> u64 {
    ((before.n + n_rows as i64 - after.n) / after.drift_every.max(1)) as u64
}

/// The error stored on a job whose lease expired on every attempt.
pub(crate) fn exhausted_message(attempts: u32) -> String {
    format!("lease expired on each of {attempts} attempts")
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

/// A drift check as recorded in `drift_reports`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReportRecord {
    pub job_id: Option<i64>,
    pub reference_uri: String,
    pub reference_sha256: String,
    pub reference_max_id: i64,
    pub current_max_id: i64,
    pub n_current: i64,
    pub drift: bool,
    pub drift_share: f64,
    /// Comma-separated names of the drifted feature columns.
    pub drifted_columns: String,
    pub report_uri: String,
}

/// The log of drift checks.
pub trait DriftReportLog: Send + Sync {
    /// Records a drift check. A second record for the same job keeps the first and
    /// returns false.
    fn record_drift_report(&self, record: &DriftReportRecord) -> Result<bool>;
    /// Every recorded check, oldest first.
    fn drift_reports(&self) -> Result<Vec<DriftReportRecord>>;
}

/// Where a model version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    /// Registered, not yet compared with the champion.
    Registered,
    /// The version `champion` points at.
    Champion,
    /// Lost to the champion on the holdout.
    Rejected,
    /// A former champion, replaced by a better one (or by a manual promotion).
    Retired,
    /// A former champion taken back by a rollback.
    RolledBack,
}

/// Why the champion alias moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AliasReason {
    /// The first model, or a candidate that beat the champion.
    Promoted,
    /// `driftloop models promote`.
    Manual,
    /// `driftloop models rollback`.
    Rollback,
}

/// A model version to register.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewModelVersion {
    pub name: String,
    pub artifact_uri: String,
    /// sha256 of the artifact file.
    pub sha256: String,
    pub snapshot_uri: String,
    pub snapshot_sha256: String,
    pub family: String,
    pub params: serde_json::Value,
    pub cv_metrics: serde_json::Value,
    pub holdout_metrics: serde_json::Value,
    pub train_job_id: Option<i64>,
}

/// A registered model version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelVersion {
    pub version: i64,
    #[serde(flatten)]
    pub model: NewModelVersion,
    pub status: ModelStatus,
    /// How the promotion decision went (scores of candidate and champion, margin).
    pub decision: Option<serde_json::Value>,
    pub mlflow_run_id: Option<String>,
    pub mlflow_version: Option<String>,
    /// Why the MLflow mirror of this version failed, until it succeeds.
    pub mlflow_error: Option<String>,
    /// When the version was registered (UTC).
    pub created_at: String,
}

/// A move of the champion alias.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChampionChange {
    pub name: String,
    pub version: i64,
    pub previous: Option<i64>,
    pub reason: AliasReason,
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
}

/// Runs registry statements in one transaction of the adapter's backend.
pub(crate) trait WithSqlTx {
    fn with_tx<T>(&self, what: &str, f: &mut dyn FnMut(&mut dyn registry::SqlTx) -> Result<T>) -> Result<T>;
}

impl<D: WithSqlTx + Send + Sync> ModelRegistry for D {
    fn register_model(&self, new: &NewModelVersion) -> Result<(ModelVersion, bool)> {
        self.with_tx("registering a model version", &mut |tx| registry::register(tx, new))
    }

    fn model_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        self.with_tx("listing model versions", &mut |tx| {
            registry::find_versions(tx, name, None)
        })
    }

    fn model_version(&self, name: &str, version: i64) -> Result<Option<ModelVersion>> {
        self.with_tx("reading a model version", &mut |tx| {
            Ok(registry::find_versions(tx, name, Some(version))?.pop())
        })
    }

    fn champion(&self, name: &str) -> Result<Option<ModelVersion>> {
        self.with_tx(
            "reading the champion",
            &mut |tx| match registry::alias(tx, name, "champion", false)? {
                Some(version) => Ok(registry::find_versions(tx, name, Some(version))?.pop()),
                None => Ok(None),
            },
        )
    }

    fn set_champion(
        &self,
        name: &str,
        version: i64,
        expected: Option<i64>,
        reason: AliasReason,
        decision: Option<&serde_json::Value>,
    ) -> Result<ChampionChange> {
        self.with_tx("moving the champion alias", &mut |tx| {
            registry::set_champion(tx, name, version, expected, reason, decision)
        })
    }

    fn reject_model(&self, name: &str, version: i64, decision: &serde_json::Value) -> Result<()> {
        self.with_tx("rejecting a model version", &mut |tx| {
            registry::reject(tx, name, version, decision)
        })
    }

    fn rollback_champion(&self, name: &str) -> Result<ChampionChange> {
        self.with_tx("rolling the champion back", &mut |tx| registry::rollback(tx, name))
    }

    fn record_mirror(
        &self,
        name: &str,
        version: i64,
        run_id: Option<&str>,
        mlflow_version: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        self.with_tx("recording the MLflow mirror", &mut |tx| {
            registry::record_mirror(tx, name, version, run_id, mlflow_version, error)
        })
    }
}

/// One feature row, by its id or by the `request_id` it was stored with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowRef {
    Id(i64),
    RequestId(String),
}

impl std::fmt::Display for RowRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowRef::Id(id) => write!(f, "row_id {id}"),
            RowRef::RequestId(r) => write!(f, "request_id {r:?}"),
        }
    }
}

/// Single rows: the idempotency lookup of the predict endpoint, and expert labels.
pub trait RowAccess: Send + Sync {
    /// The stored row, if there is one.
    fn find_row(&self, by: &RowRef) -> Result<Option<StoredRow>>;
    /// Sets a row's label as an expert's (`label_source = 'expert'`); returns its id, or
    /// [`crate::Error::NoSuchRow`].
    fn set_label(&self, by: &RowRef, diagnosis: u8) -> Result<i64>;
    /// Inserts rows in one transaction, all or none, returning each row's id (in order)
    /// and the drift jobs the trigger queued.
    fn insert_rows_with_ids(&self, rows: &[FeatureRow]) -> Result<(Vec<i64>, u64)>;
    /// Inserts rows in one transaction where each row stands alone: a row whose
    /// `request_id` is stored already gets `None` and the others are stored. Any other
    /// failure stores none. Returns each row's id and the drift jobs the trigger queued.
    fn insert_rows_each(&self, rows: &[FeatureRow]) -> Result<(Vec<Option<i64>>, u64)>;
}

impl<D: WithSqlTx + Send + Sync> RowAccess for D {
    fn find_row(&self, by: &RowRef) -> Result<Option<StoredRow>> {
        self.with_tx("reading a feature row", &mut |tx| rows::find_row(tx, by))
    }

    fn set_label(&self, by: &RowRef, diagnosis: u8) -> Result<i64> {
        self.with_tx("setting a label", &mut |tx| rows::set_label(tx, by, diagnosis))
    }

    fn insert_rows_with_ids(&self, rows: &[FeatureRow]) -> Result<(Vec<i64>, u64)> {
        self.with_tx("inserting feature rows", &mut |tx| rows::insert_returning_ids(tx, rows))
    }

    fn insert_rows_each(&self, rows: &[FeatureRow]) -> Result<(Vec<Option<i64>>, u64)> {
        self.with_tx("inserting feature rows", &mut |tx| rows::insert_each(tx, rows))
    }
}

/// A feature database: the ports, and its migrations.
pub trait Database: FeatureStore + JobQueue + DriftReportLog + ModelRegistry + RowAccess {
    /// Applies the migrations not yet applied, in order, and records them.
    fn migrate(&self) -> Result<MigrationReport>;
    /// The URL this database was opened with (password hidden).
    fn url(&self) -> String;
}

/// Opens the database a URL names. Nothing is created but an SQLite file (and its folder).
pub fn open_database(url: &DatabaseUrl) -> Result<Arc<dyn Database>> {
    match url {
        DatabaseUrl::Sqlite { path } => Ok(Arc::new(sqlite::SqliteDatabase::open(path)?)),
        DatabaseUrl::Mysql { .. } => Ok(Arc::new(mysql::MysqlDatabase::open(url)?)),
    }
}

pub(crate) const DRIFT_REPORT_COLUMNS: &str =
    "job_id, reference_uri, reference_sha256, reference_max_id, current_max_id, \
     n_current, drift, drift_share, drifted_columns, report_uri";

/// The feature table's columns in insert order: the spec's features, then the label
/// and its provenance. Names only; values always travel as bound parameters.
pub(crate) fn insert_columns() -> Vec<&'static str> {
    let s = spec();
    let mut columns: Vec<&'static str> = s.features.iter().map(|c| c.name).collect();
    columns.extend([s.label, "label_source", "model_version", "request_id"]);
    columns
}

/// Payloads are JSON objects; a missing one is stored as NULL.
pub(crate) fn payload_text(payload: &serde_json::Value) -> Option<String> {
    (!payload.is_null()).then(|| payload.to_string())
}
