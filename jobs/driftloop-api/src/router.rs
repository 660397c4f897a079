//! The Router: the routes, the OpenAPI document for the limits in force, the dashboard's
//! pages, a JSON 404, and the body size limit.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::error::ApiError;
use crate::openapi::openapi_for;
use crate::routes::{champion, champion_performance, healthz, labels, predict, predict_batch};
use crate::state::AppState;

/// The API over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    let limits = state.limits;
    let limit = limits.body_bytes;
    Router::new()
        .route("/v1/predict", post(predict))
        .route("/v1/predict/batch", post(predict_batch))
        .route("/v1/labels", post(labels))
        .route("/v1/models/champion", get(champion))
        .route("/v1/models/champion/performance", get(champion_performance))
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(move || async move { Json(openapi_for(&limits)) }))
        .merge(crate::ui::routes())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route; see /openapi.json") })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}
