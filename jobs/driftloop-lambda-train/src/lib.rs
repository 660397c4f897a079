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

use std::time::Duration;

use driftloop_lambda::invoke::stop_before;
use driftloop_lambda::{clients, HandlerError};
pub use driftloop_lambda::{Action, Request};
use driftloop_pipeline::db::{Job, JobKind, JobStatus};
use driftloop_pipeline::train_job::TrainDrain;
use driftloop_pipeline::worker::Worker;
use driftloop_pipeline::{Database, Settings};
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};

/// A new training is not started with less than this left before the deadline.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(120);

/// The clients, built once per Lambda instance.
pub struct Deps {
    pub worker: Worker,
}

impl Deps {
    pub async fn from_settings(settings: &Settings) -> driftloop_pipeline::Result<Deps> {
        let (db, store) = clients(settings).await?;
        Ok(Deps {
            worker: Worker::from_settings(settings, db, store).await?,
        })
    }
}

/// The function's answer.
#[derive(Debug, Serialize)]
pub struct Response {
    #[serde(flatten)]
    pub drain: TrainDrain,
    /// For `{"job_id": N}`: job N as it stands after this invocation.
    pub job: Option<Job>,
}

fn find_job(db: &dyn Database, job_id: i64) -> Result<Option<Job>, HandlerError> {
    Ok(db.jobs(None)?.into_iter().find(|j| j.id == job_id))
}

pub async fn handle(deps: &Deps, event: LambdaEvent<Request>) -> Result<Response, HandlerError> {
    event.payload.log("training");
    let db = deps.worker.db.as_ref();
    let job_id = match &event.payload {
        Request::Scheduled(_) | Request::Direct { action: Action::Drain } => None,
        Request::Job { job_id } => {
            let job =
                find_job(db, *job_id)?.ok_or_else(|| HandlerError::BadRequest(format!("there is no job {job_id}")))?;
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
    let drain = deps
        .worker
        .drain_train(stop_before(event.context.deadline, DEADLINE_MARGIN))
        .await?;
    let job = match job_id {
        Some(id) => find_job(db, id)?,
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
            let report = db.migrate()?;
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
        return to_json(&deploy(deps.worker.db.as_ref(), &custom)?);
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
