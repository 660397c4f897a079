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
    /// The champion's realized performance, from expert labels.
    Performance,
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
text_enum!(JobKind { Drift => "drift", Train => "train", Performance => "performance" });
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
    /// Every feature column's figures, in the dataset's order (empty for checks recorded
    /// before migration 10; their report has them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub column_figures: Vec<ColumnFigure>,
}

/// One column's figures in a drift check, as the dashboard's heatmap shows them.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ColumnFigure {
    pub name: String,
    pub psi: f64,
    pub p_value: f64,
    pub drifted: bool,
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

/// What a model answered for a stored row, kept apart from the row's label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The predicted class, as text.
    pub predicted: String,
    /// The predicted class's probability (none for rows stored before predictions were
    /// kept).
    pub probability: Option<f64>,
    /// The probability of every class, in class order.
    pub probabilities: Option<Vec<f64>>,
    pub model_version: Option<String>,
    /// When it was stored (UTC).
    pub predicted_at: String,
}

/// One label given to a stored row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelEvent {
    pub id: i64,
    pub label: String,
    pub source: String,
    /// The request id of the labelling call, when it gave one.
    pub request_id: Option<String>,
    /// When it was given (UTC).
    pub labelled_at: String,
}

/// A stored row with what the model answered and every label it was given since, oldest
/// first (the row's label is the latest).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowHistory {
    pub id: i64,
    #[serde(skip)]
    pub row: FeatureRow,
    pub prediction: Option<Prediction>,
    pub labels: Vec<LabelEvent>,
}

/// The label counter: expert labels on scored rows since the last performance job was
/// queued, and how many queue one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LabelCounter {
    pub n: i64,
    pub labels_every: i64,
}

/// A row a model scored and an expert labelled since: what the model said and the row's
/// latest label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelledPrediction {
    pub row_id: i64,
    /// Class indices.
    pub predicted: u8,
    pub label: u8,
    pub probabilities: Option<Vec<f64>>,
    /// The id of the row's latest label (the order of the window).
    pub last_label_id: i64,
}

/// One performance check, as `performance_reports` keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerformanceReportRecord {
    pub job_id: Option<i64>,
    /// The registry version checked.
    pub model_version: i64,
    pub window_rows: i64,
    /// The window's accuracy (none when it holds no row).
    pub accuracy: Option<f64>,
    pub holdout_accuracy: f64,
    /// `healthy`, `degraded` or `insufficient`.
    pub verdict: String,
    pub cumulative_rows: i64,
    pub report_uri: String,
    /// When it was recorded (UTC); ignored when recording.
    pub created_at: String,
}
