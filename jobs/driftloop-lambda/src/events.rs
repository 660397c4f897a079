//! The events the drift and train functions accept: their EventBridge schedule (the
//! backstop), a direct `{"action": "drain"}` (predict's or drift's kick, or a person), and
//! for the train function `{"job_id": N}`.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Request {
    /// The EventBridge schedule.
    Scheduled(Box<EventBridgeEvent<serde_json::Value>>),
    /// `{"action": "drain"}`.
    Direct { action: Action },
    /// `{"job_id": N}`: the train function runs the drain that includes job N.
    Job { job_id: i64 },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Drain,
}

impl Request {
    /// Logs what started this invocation.
    pub fn log(&self, function: &str) {
        match self {
            Request::Scheduled(e) => tracing::info!(source = %e.source, "scheduled {function} run"),
            Request::Direct { action: Action::Drain } => tracing::info!("{function} drain requested"),
            Request::Job { job_id } => tracing::info!(job_id, "{function} of one job requested"),
        }
    }
}
