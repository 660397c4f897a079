//! The train function's handler. An EventBridge schedule (the backstop), a direct
//! `{"action": "drain"}`, or a direct `{"job_id": N}` claims and runs the pending train
//! jobs of the outbox, like the drift function does for drift jobs. Pending trainings from
//! the database are coalesced (one training reads every labelled row, which each job asked
//! for), so `{"job_id": N}` runs the drain that includes job N; a job that is no longer
//! pending is reported as it stands.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use driftloop_model::TrainConfig;
use driftloop_pipeline::config::TrainLabels;
use driftloop_pipeline::db::{Job, JobKind, JobStatus};
use driftloop_pipeline::mlflow::MlflowClient;
use driftloop_pipeline::notify::Notifier;
use driftloop_pipeline::train_job::{drain_train_jobs, TrainDrain, TrainOptions};
use driftloop_pipeline::{Database, ObjectStore};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::{Deserialize, Serialize};

/// A new training is not started with less than this left before the deadline.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(120);

/// What the function accepts.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Request {
    /// The EventBridge schedule.
    Scheduled(Box<EventBridgeEvent<serde_json::Value>>),
    /// `{"action": "drain"}`.
    Direct { action: Action },
    /// `{"job_id": N}`.
    Job { job_id: i64 },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Drain,
}

/// The clients, built once per Lambda instance.
pub struct Deps {
    pub db: Arc<dyn Database>,
    pub store: Arc<dyn ObjectStore>,
    pub notifier: Arc<dyn Notifier>,
    pub mlflow: Option<MlflowClient>,
    pub labels: TrainLabels,
    pub config: TrainConfig,
    pub promotion_margin: f64,
}

/// The function's answer.
#[derive(Debug, Serialize)]
pub struct Response {
    #[serde(flatten)]
    pub drain: TrainDrain,
    /// For `{"job_id": N}`: job N as it stands after this invocation.
    pub job: Option<Job>,
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The database or the store failed: another invocation may well succeed.
    #[error("{0:#}")]
    Infrastructure(#[from] driftloop_pipeline::Error),
    /// The request names something that does not exist: retrying does not help.
    #[error("{0}")]
    BadRequest(String),
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Diagnostic {
        let error_type = match error {
            HandlerError::Infrastructure(_) => "Retryable.Infrastructure",
            HandlerError::BadRequest(_) => "Request.Invalid",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}

fn stop_at(deadline_ms: u64) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    Some(Instant::now() + left.saturating_sub(DEADLINE_MARGIN))
}

fn find_job(db: &dyn Database, job_id: i64) -> Result<Option<Job>, HandlerError> {
    Ok(db.jobs(None)?.into_iter().find(|j| j.id == job_id))
}

pub async fn handle(deps: &Deps, event: LambdaEvent<Request>) -> Result<Response, HandlerError> {
    let job_id = match &event.payload {
        Request::Scheduled(e) => {
            tracing::info!(source = %e.source, "scheduled training check");
            None
        }
        Request::Direct { action: Action::Drain } => {
            tracing::info!("training requested");
            None
        }
        Request::Job { job_id } => {
            let job = find_job(deps.db.as_ref(), *job_id)?
                .ok_or_else(|| HandlerError::BadRequest(format!("there is no job {job_id}")))?;
            if job.kind != JobKind::Train {
                return Err(HandlerError::BadRequest(format!(
                    "job {job_id} is a {} job, not a train job",
                    job.kind
                )));
            }
            if job.status != JobStatus::Pending {
                return Ok(Response {
                    drain: TrainDrain::default(),
                    job: Some(job),
                });
            }
            Some(*job_id)
        }
    };
    let options = TrainOptions {
        config: deps.config.clone(),
        promotion_margin: deps.promotion_margin,
        mlflow: deps.mlflow.as_ref(),
    };
    let drain = drain_train_jobs(
        deps.db.as_ref(),
        deps.store.as_ref(),
        deps.notifier.as_ref(),
        deps.labels,
        &options,
        stop_at(event.context.deadline),
    )
    .await?;
    let job = match job_id {
        Some(id) => find_job(deps.db.as_ref(), id)?,
        None => None,
    };
    Ok(Response { drain, job })
}
