//! The predict function on AWS Lambda: builds the state once (database, store, champion),
//! then serves the Router for each request.

use std::time::Duration;

use driftloop_api::{router, AppState, Dashboard, Limits};
use driftloop_lambda_predict::drift_kick;

/// How often the champion alias is checked for a promotion.
const CHAMPION_REFRESH: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let settings = driftloop_lambda::start().await?;
    let (db, store) = driftloop_lambda::clients(&settings).await?;
    let kick = drift_kick(settings.drift_function.clone()).await;
    let dashboard = Dashboard::from_settings(&settings);
    let state = AppState::with_dashboard(db, store, Limits::default(), CHAMPION_REFRESH, kick, dashboard).await;
    lambda_http::run(router(state)).await
}
