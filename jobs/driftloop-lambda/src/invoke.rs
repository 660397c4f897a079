//! Starting another driftloop function on AWS: an asynchronous Lambda invocation with
//! `{"action": "drain"}`. predict starts the drift function when an insert made a drift
//! job due; drift starts the train function when it queued a training. Each function's
//! schedule is the backstop when such a start does not happen.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

/// The payload that makes a drift or train function drain its jobs.
pub const DRAIN: &str = r#"{"action": "drain"}"#;

/// A Lambda function to start asynchronously.
#[derive(Clone)]
pub struct FunctionStarter {
    client: aws_sdk_lambda::Client,
    function: String,
}

impl FunctionStarter {
    /// A starter for `function` (name or ARN), with the credentials of this process.
    pub async fn new(function: String) -> FunctionStarter {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        FunctionStarter {
            client: aws_sdk_lambda::Client::new(&config),
            function,
        }
    }

    pub fn function(&self) -> &str {
        &self.function
    }

    /// Queues one asynchronous invocation with [`DRAIN`]; Lambda answers once it has
    /// accepted the event, not when the function has run.
    pub async fn drain(&self) -> Result<(), String> {
        self.client
            .invoke()
            .function_name(&self.function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(DRAIN))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_sdk_lambda::error::DisplayErrorContext(e).to_string())
    }
}

/// Epoch milliseconds of 2001-09-09: a Lambda deadline below this is not a point in time.
const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;

/// When a drain should stop starting jobs: `margin` before the invocation's deadline
/// (`Context::deadline`, epoch milliseconds). Zero means no deadline. The local emulator
/// (`cargo lambda watch`) sends a fixed small value (600000) meaning a duration, not a
/// point in 1970: a value below 2001 is read as milliseconds from now.
pub fn stop_before(deadline_ms: u64, margin: std::time::Duration) -> Option<std::time::Instant> {
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
    if deadline_ms == 0 {
        return None;
    }
    let left = if deadline_ms < EPOCH_MS_FLOOR {
        Duration::from_millis(deadline_ms)
    } else {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Duration::from_millis(deadline_ms.saturating_sub(now_ms))
    };
    Some(Instant::now() + left.saturating_sub(margin))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    use super::stop_before;

    #[test]
    fn deadlines_as_lambda_and_its_emulator_send_them() {
        let margin = Duration::from_secs(60);
        assert_eq!(stop_before(0, margin), None);
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let real = stop_before(now_ms + 900_000, margin).unwrap();
        let expected = Instant::now() + Duration::from_secs(840);
        assert!(real <= expected && real + Duration::from_secs(5) > expected);
        // Ten minutes as the emulator says it: stop nine minutes from now.
        let emulated = stop_before(600_000, margin).unwrap();
        let expected = Instant::now() + Duration::from_secs(540);
        assert!(emulated <= expected && emulated + Duration::from_secs(5) > expected);
        // A deadline already past: stop at once.
        assert!(stop_before(now_ms - 1_000, margin).unwrap() <= Instant::now());
    }
}
