//! The drift function's handler: an EventBridge schedule (the backstop) or a direct
//! invocation (predict's kick, or a person) drains the pending drift jobs, then the
//! pending performance jobs (the label counter's), stopping early enough before the
//! invocation's deadline to finish the job in hand. When a drain queued a training, the
//! train function is started asynchronously (its schedule is the backstop).

use std::time::Duration;

use driftloop_lambda::invoke::{stop_before, FunctionStarter};
use driftloop_lambda::{clients, HandlerError};
pub use driftloop_lambda::{Action, Request};
use driftloop_pipeline::drift_job::DrainSummary;
use driftloop_pipeline::performance_job::PerformanceDrain;
use driftloop_pipeline::worker::Worker;
use driftloop_pipeline::Settings;
use lambda_runtime::LambdaEvent;

/// A new job is not started with less than this left before the deadline.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(60);

/// The clients, built once per Lambda instance.
pub struct Deps {
    pub worker: Worker,
    /// The train function to start when a drift job queued a training.
    pub train_function: Option<FunctionStarter>,
}

impl Deps {
    pub async fn from_settings(settings: &Settings) -> driftloop_pipeline::Result<Deps> {
        let (db, store) = clients(settings).await?;
        Ok(Deps {
            worker: Worker::from_settings(settings, db, store).await?,
            train_function: match settings.train_function.clone() {
                Some(function) => Some(FunctionStarter::new(function).await),
                None => None,
            },
        })
    }
}

/// What an invocation did: the drift drain's fields, and the performance drain's.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DriftAnswer {
    #[serde(flatten)]
    pub drift: DrainSummary,
    pub performance: PerformanceDrain,
}

pub async fn handle(deps: &Deps, event: LambdaEvent<Request>) -> Result<DriftAnswer, HandlerError> {
    event.payload.log("drift");
    if let Request::Job { job_id } = event.payload {
        return Err(HandlerError::BadRequest(format!(
            "the drift function drains every pending drift job; it takes no job_id ({job_id})"
        )));
    }
    let deadline = stop_before(event.context.deadline, DEADLINE_MARGIN);
    let summary = deps.worker.drain_drift(deadline).await?;
    let performance = deps.worker.drain_performance(deadline).await?;
    let queued_training = summary
        .jobs
        .iter()
        .map(|job| &job.train_job)
        .chain(performance.jobs.iter().map(|job| &job.train_job))
        .any(|train| train.as_ref().is_some_and(|t| t.created));
    if let (true, Some(train)) = (queued_training, &deps.train_function) {
        if let Err(e) = train.drain().await {
            tracing::warn!(
                function = train.function(),
                "could not start the train function (its schedule will run the job): {e}"
            );
        }
    }
    Ok(DriftAnswer {
        drift: summary,
        performance,
    })
}
