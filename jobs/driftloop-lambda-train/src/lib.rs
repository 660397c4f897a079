//! The train function's handler. An EventBridge schedule (the backstop), a direct
//! `{"action": "drain"}`, or a direct `{"job_id": N}` claims and runs the pending train
//! jobs of the outbox, like the drift function does for drift jobs. Pending trainings from
//! the database are coalesced (one training reads every labelled row, which each job asked
//! for), so `{"job_id": N}` runs the drain that includes job N; a job that is no longer
//! pending is reported as it stands.
//!
//! On deploy the same binary applies the migrations (`sql/`): the CDK app's custom
//! resource sends CloudFormation's `{"RequestType": "Create" | "Update" | "Delete", ...}`
//! through the provider framework, and [`dispatch`] routes it to [`deploy`].

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use driftloop_model::TrainConfig;
use driftloop_pipeline::config::TrainLabels;
use driftloop_pipeline::db::{Job, JobKind, JobStatus};
use driftloop_pipeline::invoke::stop_before;
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
    /// A defect of this function.
    #[error("{0}")]
    Internal(String),
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Diagnostic {
        let error_type = match error {
            HandlerError::Infrastructure(_) => "Retryable.Infrastructure",
            HandlerError::BadRequest(_) => "Request.Invalid",
            HandlerError::Internal(_) => "Internal",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}

fn find_job(db: &dyn Database, job_id: i64) -> Result<Option<Job>, HandlerError> {
    Ok(db
        .jobs(None)
        .map_err(driftloop_pipeline::Error::from)?
        .into_iter()
        .find(|j| j.id == job_id))
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
        stop_before(event.context.deadline, DEADLINE_MARGIN),
    )
    .await?;
    let job = match job_id {
        Some(id) => find_job(deps.db.as_ref(), id)?,
        None => None,
    };
    Ok(Response { drain, job })
}

/// CloudFormation's custom-resource event, as the provider framework passes it on.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceEvent {
    pub request_type: String,
    pub physical_resource_id: Option<String>,
}

/// The answer the provider framework expects from its `onEvent` handler.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceResponse {
    pub physical_resource_id: String,
    pub data: serde_json::Value,
}

/// The schema's custom resource has this physical id: one schema per database.
pub const SCHEMA_RESOURCE_ID: &str = "driftloop-schema";

/// Create and Update apply the pending migrations; Delete keeps the database as it is
/// (its tables hold the rows and the registry, which outlive a stack update).
pub fn deploy(db: &dyn Database, event: &CustomResourceEvent) -> Result<CustomResourceResponse, HandlerError> {
    let id = event
        .physical_resource_id
        .clone()
        .unwrap_or_else(|| SCHEMA_RESOURCE_ID.to_string());
    match event.request_type.as_str() {
        "Create" | "Update" => {
            let report = db.migrate().map_err(driftloop_pipeline::Error::from)?;
            tracing::info!(applied = ?report.applied, already_applied = report.already_applied, "migrations applied");
            Ok(CustomResourceResponse {
                physical_resource_id: id,
                data: serde_json::json!({
                    "Applied": report.applied.len(),
                    "AlreadyApplied": report.already_applied,
                }),
            })
        }
        "Delete" => Ok(CustomResourceResponse {
            physical_resource_id: id,
            data: serde_json::json!({}),
        }),
        other => Err(HandlerError::BadRequest(format!(
            "RequestType {other:?} is not Create, Update or Delete"
        ))),
    }
}

/// The function's entry: a custom-resource event goes to [`deploy`], anything else must
/// be a [`Request`] for [`handle`].
pub async fn dispatch(deps: &Deps, event: LambdaEvent<serde_json::Value>) -> Result<serde_json::Value, HandlerError> {
    let (payload, context) = event.into_parts();
    if payload.get("RequestType").is_some() {
        let custom: CustomResourceEvent = serde_json::from_value(payload)
            .map_err(|e| HandlerError::BadRequest(format!("not a custom-resource event: {e}")))?;
        return to_json(&deploy(deps.db.as_ref(), &custom)?);
    }
    let request: Request = serde_json::from_value(payload).map_err(|_| {
        HandlerError::BadRequest(
            "expected an EventBridge schedule, {\"action\": \"drain\"} or {\"job_id\": N}".to_string(),
        )
    })?;
    to_json(&handle(deps, LambdaEvent::new(request, context)).await?)
}

fn to_json<T: Serialize>(answer: &T) -> Result<serde_json::Value, HandlerError> {
    serde_json::to_value(answer).map_err(|e| HandlerError::Internal(format!("encoding the answer: {e}")))
}
