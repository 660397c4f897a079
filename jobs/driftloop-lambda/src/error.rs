//! A function's failure, typed for Lambda: infrastructure failures are retryable, a bad
//! request is not, and an internal failure is neither's fault.

use lambda_runtime::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The database or the store failed: another invocation may well succeed.
    #[error("{0:#}")]
    Infrastructure(#[from] driftloop_pipeline::Error),
    /// The event is not one this function takes; sending it again will not help.
    #[error("{0}")]
    BadRequest(String),
    /// A bug: an answer that does not serialize.
    #[error("{0}")]
    Internal(String),
}

impl From<driftloop_pipeline::db::Error> for HandlerError {
    fn from(error: driftloop_pipeline::db::Error) -> HandlerError {
        HandlerError::Infrastructure(error.into())
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Diagnostic {
        let error_type = match error {
            HandlerError::Infrastructure(_) => "Retryable.Infrastructure",
            HandlerError::BadRequest(_) => "Request.Invalid",
            HandlerError::Internal(_) => "Internal",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: error.to_string(),
        }
    }
}
