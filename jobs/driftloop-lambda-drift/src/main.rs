//! The drift function on AWS Lambda: builds the clients once, then handles each event.

use driftloop_lambda_drift::{handle, Deps};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let deps = Deps::from_settings(&driftloop_lambda::start().await?).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| handle(&deps, event))).await
}
