//! The predict function on AWS Lambda: builds the state once (database, store, champion),
//! then serves the Router for each request.

use std::time::Duration;

use driftloop_api::{router, AppState, Limits};
use driftloop_lambda_predict::drift_kick;
use driftloop_pipeline::{open_database, open_store, Settings};

/// How often the champion alias is checked for a promotion.
const CHAMPION_REFRESH: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let mut settings = Settings::from_env()?;
    driftloop_pipeline::secrets::resolve_database_secret(&mut settings).await?;
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&settings.log_filter))
        .init();
    let db = open_database(&settings.database_url)?;
    let store = open_store(&settings.store).await?;
    let kick = drift_kick(settings.drift_function.clone()).await;
    let state = AppState::new(db, store, Limits::default(), CHAMPION_REFRESH, kick).await;
    lambda_http::run(router(state)).await
}
