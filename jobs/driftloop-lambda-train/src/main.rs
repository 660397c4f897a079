//! The train function on AWS Lambda: builds the clients once, then handles each event.

use std::sync::Arc;

use driftloop_lambda_train::{dispatch, Deps};
use driftloop_model::TrainConfig;
use driftloop_pipeline::mlflow::MlflowClient;
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
        mlflow: settings
            .mlflow_tracking_uri
            .as_deref()
            .map(|uri| MlflowClient::new(uri, &settings.mlflow_experiment)),
        labels: settings.train_labels,
        config: TrainConfig::default(),
        promotion_margin: settings.promotion_margin,
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| dispatch(&deps, event))).await
}
