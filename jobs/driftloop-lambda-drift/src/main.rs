//! The drift function on AWS Lambda: builds the clients once, then handles each event.

use std::sync::Arc;

use driftloop_lambda_drift::{handle, Deps};
use driftloop_pipeline::drift_job::drift_config;
use driftloop_pipeline::invoke::FunctionStarter;
use driftloop_pipeline::notify::notifier_from_settings;
use driftloop_pipeline::{open_database, open_store, Settings};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut settings = Settings::from_env()?;
    driftloop_pipeline::secrets::resolve_database_secret(&mut settings).await?;
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&settings.log_filter))
        .init();
    let deps = Deps {
        db: open_database(&settings.database_url)?,
        store: open_store(&settings.store).await?,
        notifier: Arc::new(notifier_from_settings(&settings).await),
        config: drift_config(&settings),
        train_function: match settings.train_function.clone() {
            Some(function) => Some(FunctionStarter::new(function).await),
            None => None,
        },
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| handle(&deps, event))).await
}
