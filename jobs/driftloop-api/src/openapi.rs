//! The OpenAPI document of the routes: their paths and answers (routes.rs), the request
//! schemas generated from the dataset spec (schema.rs), and the request limits in force.

use utoipa::OpenApi;

use crate::error::{ErrorBody, Problem};
use crate::responses::{BatchResponse, ChampionResponse, Health, LabelResponse, PerformanceResponse, PredictResponse};
use crate::schema::{batch_request, BatchRequest, Features, Label, LabelRequest, PredictRequest};
use crate::state::Limits;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "driftloop",
        description = "Scores rows with the champion model and stores them as feature rows."
    ),
    paths(
        crate::routes::predict,
        crate::routes::predict_batch,
        crate::routes::labels,
        crate::routes::champion,
        crate::routes::champion_performance,
        crate::routes::healthz
    ),
    components(schemas(
        PredictRequest,
        PredictResponse,
        BatchRequest,
        BatchResponse,
        LabelRequest,
        LabelResponse,
        ChampionResponse,
        PerformanceResponse,
        Health,
        ErrorBody,
        Problem,
        Features,
        Label
    ))
)]
struct ApiDoc;

/// The OpenAPI document for the default limits.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The OpenAPI document of a Router serving with `limits`.
pub fn openapi_for(limits: &Limits) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    if let Some(components) = doc.components.as_mut() {
        components
            .schemas
            .insert("BatchRequest".to_string(), batch_request(limits.batch_rows));
    }
    doc
}
