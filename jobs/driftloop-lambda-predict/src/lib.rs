//! The predict function: the HTTP API's Router (jobs/driftloop-api) behind a Function URL
//! or an API Gateway HTTP API, through lambda_http. The only Lambda-specific part is the
//! drift kick: an insert that makes a drift job due invokes the drift function
//! asynchronously (`{"action": "drain"}`); the drift function's schedule is the backstop
//! when that invoke does not happen.

use std::sync::Arc;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use driftloop_api::Kick;

/// The kick for this deployment: an asynchronous invoke of `drift_function`, or a log
/// line when none is configured.
pub async fn drift_kick(drift_function: Option<String>) -> Kick {
    match drift_function {
        Some(function) => {
            let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let client = aws_sdk_lambda::Client::new(&config);
            Arc::new(move || {
                let (client, function) = (client.clone(), function.clone());
                tokio::spawn(async move {
                    let sent = client
                        .invoke()
                        .function_name(&function)
                        .invocation_type(InvocationType::Event)
                        .payload(Blob::new(r#"{"action": "drain"}"#))
                        .send()
                        .await;
                    if let Err(e) = sent {
                        tracing::warn!(
                            function,
                            "could not kick the drift function (its schedule will run the job): {}",
                            aws_sdk_lambda::error::DisplayErrorContext(e)
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
