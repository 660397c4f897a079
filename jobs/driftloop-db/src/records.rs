//! The records the ports take and return: feature-row outcomes, jobs, drift reports, model
//! versions and champion moves, and the closed enums stored as text.

use serde::Serialize;

use driftloop_core::FeatureRow;

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
    /// The Weights & Biases run the version was mirrored to.
    pub wandb_run_id: Option<String>,
    /// Why the W&B mirror of this version failed, until it succeeds.
    pub wandb_error: Option<String>,
    /// The standing the W&B run shows (as of its last mirror); when it is not `status`
    /// any more, the next sync sends the run again.
    pub wandb_status: Option<String>,
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

/// A stored feature row with its id.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRow {
    pub id: i64,
    pub row: FeatureRow,
}
