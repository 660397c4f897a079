//! The drift function's handler: an EventBridge schedule (the backstop) or a direct
//! invocation (predict's kick, or a person) drains the pending drift jobs, stopping early
//! enough before the invocation's deadline to finish the job in hand. When the drain
//! queued a training, the train function is started asynchronously (its schedule is the
//! backstop).

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use driftloop_pipeline::drift_job::{drain_drift_jobs, DrainSummary};
use driftloop_pipeline::invoke::stop_before;
use driftloop_pipeline::invoke::FunctionStarter;
use driftloop_pipeline::notify::Notifier;
use driftloop_pipeline::{Database, ObjectStore};
use driftloop_stats::DriftConfig;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Deserialize;

/// A new job is not started with less than this left before the deadline.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(60);

/// What the function accepts.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Request {
    /// The EventBridge schedule.
    Scheduled(Box<EventBridgeEvent<serde_json::Value>>),
    /// A direct invocation: `{"action": "drain"}`.
    Direct { action: Action },
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
    pub config: DriftConfig,
    /// The train function to start when a drift job queued a training.
    pub train_function: Option<FunctionStarter>,
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The database or the store failed: another invocation may well succeed.
    #[error("{0:#}")]
    Infrastructure(#[from] driftloop_pipeline::Error),
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Diagnostic {
        let error_type = match error {
            HandlerError::Infrastructure(_) => "Retryable.Infrastructure",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}

pub async fn handle(deps: &Deps, event: LambdaEvent<Request>) -> Result<DrainSummary, HandlerError> {
    match &event.payload {
        Request::Scheduled(e) => tracing::info!(source = %e.source, "scheduled drift check"),
        Request::Direct { action: Action::Drain } => tracing::info!("drift check requested"),
    }
    let stop = stop_before(event.context.deadline, DEADLINE_MARGIN);
    let summary = drain_drift_jobs(
        deps.db.as_ref(),
        deps.store.as_ref(),
        deps.notifier.as_ref(),
        &deps.config,
        stop,
    )
    .await?;
    let queued_training = summary
        .jobs
        .iter()
        .any(|job| job.train_job.as_ref().is_some_and(|t| t.created));
    if let (true, Some(train)) = (queued_training, &deps.train_function) {
        if let Err(e) = train.drain().await {
            tracing::warn!(
                function = train.function(),
                "could not start the train function (its schedule will run the job): {e}"
            );
        }
    }
    Ok(summary)
}
