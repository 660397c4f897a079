//! The predict function: the HTTP API's Router (jobs/driftloop-api) behind a Function URL
//! or an API Gateway HTTP API, through lambda_http. The only Lambda-specific part is the
//! drift kick: an insert that makes a drift job due invokes the drift function
//! asynchronously (`{"action": "drain"}`); the drift function's schedule is the backstop
//! when that invoke does not happen.

use std::sync::Arc;

use driftloop_api::Kick;
use driftloop_lambda::invoke::FunctionStarter;

/// The kick for this deployment: an asynchronous invoke of `drift_function`, or a log
/// line when none is configured.
pub async fn drift_kick(drift_function: Option<String>) -> Kick {
    match drift_function {
        Some(function) => {
            let starter = FunctionStarter::new(function).await;
            Arc::new(move || {
                let starter = starter.clone();
                tokio::spawn(async move {
                    if let Err(e) = starter.drain().await {
                        tracing::warn!(
                            function = starter.function(),
                            "could not start the drift function (its schedule will run the job): {e}"
                        );
                    }
                });
            })
        }
        None => {
            Arc::new(|| tracing::info!("a drift job is due; no DRIFTLOOP_DRIFT_FUNCTION to kick, the schedule runs it"))
        }
    }
}
