//! The train function on AWS Lambda: builds the clients once, then handles each event
//! (the schedule, a drain, one job, or the stack's migration custom resource).

use driftloop_lambda_train::{dispatch, Deps};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let deps = Deps::from_settings(&driftloop_lambda::start().await?).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| dispatch(&deps, event))).await
}
