//! The one error shape every route answers with.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// One thing wrong with a request: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Problem {
    /// A path into the request body, such as `features.sadness` or `rows[2].features`.
    pub field: String,
    pub message: String,
}

/// An error answer: `{"error": {"code", "message", "problems"}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub problems: Vec<Problem>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable identifier: `invalid_request`, `unsupported_media_type`, `body_too_large`,
    /// `not_found`, `request_id_conflict`, `no_champion`, `unavailable`, `internal`.
    code: String,
    message: String,
    problems: Vec<Problem>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            problems: Vec::new(),
        }
    }

    pub fn invalid(problems: Vec<Problem>) -> ApiError {
        let message = match problems.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} problems in the request", many.len()),
        };
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            message,
            problems,
        }
    }

    pub fn bad(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::invalid(vec![Problem {
            field: field.to_string(),
            message: message.into(),
        }])
    }

    /// A storage or model failure: the service cannot answer now; nothing was stored.
    pub fn unavailable(error: &driftloop_pipeline::Error) -> ApiError {
        match error {
            driftloop_pipeline::Error::Db(db) => ApiError::db_unavailable(db),
            other => ApiError::storage_failed(other),
        }
    }

    /// A database failure, or a row or champion that is not there.
    pub fn db_unavailable(error: &driftloop_pipeline::db::Error) -> ApiError {
        use driftloop_pipeline::db::Error as E;
        match error {
            E::NoChampion(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_champion",
                "no model is trained yet: train one first (`driftloop train`)",
            ),
            E::NoSuchRow(what) => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("there is no feature row with {what}"),
            ),
            other => ApiError::storage_failed(other),
        }
    }

    fn storage_failed(error: &dyn std::error::Error) -> ApiError {
        tracing::error!("storage failed: {error:#}");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("storage is unavailable, nothing was stored: {error}"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                problems: self.problems,
            },
        };
        (self.status, axum::Json(body)).into_response()
    }
}
