//! The routes: each handler checks its body (parse.rs), does its storage work off the
//! async workers, and answers one of the response types below. The document describing
//! them is openapi.rs.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use driftloop_core::{spec, FeatureRow, LabelSource};
use driftloop_pipeline::db::{RowRef, StoredRow};
use driftloop_pipeline::predict::{Champion, Scored};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::openapi::openapi_for;
use crate::parse::{parse_batch_request, parse_label_request, parse_predict_request, PredictInput};
use crate::schema::{BatchRequest, LabelRequest, PredictRequest};
use crate::state::AppState;

type Shared = State<Arc<AppState>>;

/// A scored row.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub(crate) struct PredictResponse {
    /// The most probable class.
    prediction: String,
    /// Every class's probability.
    probabilities: BTreeMap<String, f64>,
    /// The registry version of the model that scored the row.
    model_version: String,
    /// The stored feature row.
    row_id: i64,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct BatchResponse {
    /// One answer per row, in order.
    results: Vec<PredictResponse>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct LabelResponse {
    row_id: i64,
    diagnosis: String,
    label_source: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ChampionResponse {
    version: i64,
    family: String,
    #[schema(value_type = Object)]
    params: Value,
    artifact_uri: String,
    sha256: String,
    snapshot_uri: String,
    #[schema(value_type = Object)]
    holdout_metrics: Value,
    #[schema(value_type = Object)]
    cv_metrics: Value,
    created_at: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ok`, or `unavailable` with the reasons in `problems`.
    status: String,
    database: bool,
    champion: Option<i64>,
    problems: Vec<String>,
}

/// The API over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    let limits = state.limits;
    let limit = limits.body_bytes;
    Router::new()
        .route("/v1/predict", post(predict))
        .route("/v1/predict/batch", post(predict_batch))
        .route("/v1/labels", post(labels))
        .route("/v1/models/champion", get(champion))
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(move || async move { Json(openapi_for(&limits)) }))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route; see /openapi.json") })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// The JSON body of a request: content type, size and syntax checked.
fn json_body(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the request body is over the size limit",
            )
        } else {
            ApiError::new(rejection.status(), "invalid_request", rejection.body_text())
        }
    })?;
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("expected Content-Type: application/json, got {:?}", content_type),
        ));
    }
    serde_json::from_slice(&body).map_err(|e| ApiError::bad("body", format!("not JSON: {e}")))
}

/// Runs blocking storage work off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> driftloop_pipeline::db::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "a storage call panicked"))?
        .map_err(|e| ApiError::db_unavailable(&e))
}

fn answer(scored: &Scored, model_version: String, row_id: i64) -> PredictResponse {
    let classes = spec().classes;
    PredictResponse {
        prediction: classes[scored.class as usize].to_string(),
        probabilities: classes
            .iter()
            .zip(&scored.probabilities)
            .map(|(c, p)| (c.to_string(), *p))
            .collect(),
        model_version,
        row_id,
    }
}

fn model_failure(e: driftloop_pipeline::Error) -> ApiError {
    tracing::error!("scoring failed: {e:#}");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        format!("scoring failed: {e}"),
    )
}

fn request_id_conflict(request_id: &str, what: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "request_id_conflict",
        format!("request_id {request_id:?} {what}; use a new request_id"),
    )
}

/// The answer for a `request_id` already stored: the same model scores the same features.
async fn stored_answer(
    state: &AppState,
    champion: &Champion,
    stored: &StoredRow,
    input: &PredictInput,
) -> Result<PredictResponse, ApiError> {
    if stored.row.features != input.codes {
        return Err(request_id_conflict(
            input.request_id.as_deref().unwrap_or_default(),
            &format!("was stored with other features (row {})", stored.id),
        ));
    }
    let version = stored.row.model_version.clone().unwrap_or_default();
    let scored = if version == champion.model_version() {
        champion.score(&[&input.codes]).map_err(model_failure)?
    } else {
        // Scored by an earlier champion: load that one to answer the same.
        let number: i64 = version.parse().map_err(|_| {
            ApiError::new(
                StatusCode::CONFLICT,
                "request_id_conflict",
                format!("request_id {:?} names a row not stored by a model", input.request_id),
            )
        })?;
        let db = state.db.clone();
        let registered = blocking(move || db.model_version(spec().name, number))
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    format!("model version {number} is not registered"),
                )
            })?;
        let artifact = driftloop_pipeline::models::load_artifact(state.store.as_ref(), &registered.model.artifact_uri)
            .await
            .map_err(|e| ApiError::unavailable(&e))?;
        let earlier = Champion {
            version: registered,
            artifact,
        };
        earlier.score(&[&input.codes]).map_err(model_failure)?
    };
    Ok(answer(&scored[0], version, stored.id))
}

fn new_row(input: &PredictInput, scored: &Scored, champion: &Champion) -> FeatureRow {
    let mut row =
        FeatureRow::new(input.codes.clone(), scored.class, LabelSource::Model).expect("parsed codes follow the spec");
    row.model_version = Some(champion.model_version());
    row.request_id = input.request_id.clone();
    row
}

#[utoipa::path(post, path = "/v1/predict", request_body = PredictRequest,
    responses((status = 200, body = PredictResponse), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn predict(
    State(state): Shared,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<PredictResponse>, ApiError> {
    let value = json_body(&headers, body)?;
    let mut problems = Vec::new();
    let input = parse_predict_request(&value, "", &mut problems).ok_or_else(|| ApiError::invalid(problems))?;
    let champion = state.champion().await.map_err(|e| ApiError::unavailable(&e))?;
    if let Some(request_id) = &input.request_id {
        let (db, by) = (state.db.clone(), RowRef::RequestId(request_id.clone()));
        if let Some(stored) = blocking(move || db.find_row(&by)).await? {
            return stored_answer(&state, &champion, &stored, &input).await.map(Json);
        }
    }
    let scored = champion.score(&[&input.codes]).map_err(model_failure)?.remove(0);
    let row = new_row(&input, &scored, &champion);
    match state.writer.insert(row).await {
        Ok(outcome) => {
            if outcome.drift_jobs_queued > 0 {
                (state.kick)();
            }
            Ok(Json(answer(&scored, champion.model_version(), outcome.last_id)))
        }
        Err(e) => match e.as_ref() {
            // The same request_id arrived twice at once: the other one stored it.
            driftloop_pipeline::db::Error::DuplicateRequestId(request_id) => {
                let (db, by) = (state.db.clone(), RowRef::RequestId(request_id.clone()));
                let stored = blocking(move || db.find_row(&by)).await?.ok_or_else(|| {
                    ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "a duplicate request_id vanished",
                    )
                })?;
                stored_answer(&state, &champion, &stored, &input).await.map(Json)
            }
            other => Err(ApiError::db_unavailable(other)),
        },
    }
}

#[utoipa::path(post, path = "/v1/predict/batch", request_body = BatchRequest,
    responses((status = 200, body = BatchResponse), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn predict_batch(
    State(state): Shared,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<BatchResponse>, ApiError> {
    let value = json_body(&headers, body)?;
    let inputs = parse_batch_request(&value, state.limits.batch_rows).map_err(ApiError::invalid)?;
    let champion = state.champion().await.map_err(|e| ApiError::unavailable(&e))?;
    // Rows whose request_id is stored already are answered from storage, not stored again.
    let ids: Vec<String> = inputs.iter().filter_map(|i| i.request_id.clone()).collect();
    let db = state.db.clone();
    let stored: Vec<(String, StoredRow)> = blocking(move || {
        let mut found = Vec::new();
        for id in ids {
            if let Some(row) = db.find_row(&RowRef::RequestId(id.clone()))? {
                found.push((id, row));
            }
        }
        Ok(found)
    })
    .await?;
    let stored: HashMap<String, StoredRow> = stored.into_iter().collect();
    // A request_id repeated within the batch is a repeated request: the later rows get
    // the first one's answer. Conflicts (the same request_id, other features) are refused
    // before anything is stored.
    let mut first_with: HashMap<&str, usize> = HashMap::new();
    for (i, input) in inputs.iter().enumerate() {
        let Some(id) = input.request_id.as_deref() else {
            continue;
        };
        if let Some(row) = stored.get(id) {
            if row.row.features != input.codes {
                return Err(request_id_conflict(
                    id,
                    &format!("was stored with other features (row {})", row.id),
                ));
            }
        } else {
            let first = *first_with.entry(id).or_insert(i);
            if inputs[first].codes != input.codes {
                return Err(request_id_conflict(
                    id,
                    &format!("names other features in rows[{first}] and rows[{i}]"),
                ));
            }
        }
    }
    let fresh: Vec<usize> = (0..inputs.len())
        .filter(|&i| match inputs[i].request_id.as_deref() {
            None => true,
            Some(id) => first_with.get(id) == Some(&i),
        })
        .collect();
    let codes: Vec<&[u8]> = fresh.iter().map(|&i| inputs[i].codes.as_slice()).collect();
    let scored = champion.score(&codes).map_err(model_failure)?;
    let new_rows: Vec<FeatureRow> = fresh
        .iter()
        .zip(&scored)
        .map(|(&i, s)| new_row(&inputs[i], s, &champion))
        .collect();
    let db = state.db.clone();
    let (row_ids, queued) = blocking(move || db.insert_rows_with_ids(&new_rows)).await?;
    if queued > 0 {
        (state.kick)();
    }
    let mut results: Vec<Option<PredictResponse>> = vec![None; inputs.len()];
    for ((&i, s), id) in fresh.iter().zip(&scored).zip(row_ids) {
        results[i] = Some(answer(s, champion.model_version(), id));
    }
    for (i, input) in inputs.iter().enumerate() {
        if results[i].is_some() {
            continue;
        }
        let id = input
            .request_id
            .as_deref()
            .expect("only rows with a request_id are left");
        results[i] = match stored.get(id) {
            Some(row) => Some(stored_answer(&state, &champion, row, input).await?),
            None => results[first_with[id]].clone(),
        };
    }
    Ok(Json(BatchResponse {
        results: results.into_iter().flatten().collect(),
    }))
}

#[utoipa::path(post, path = "/v1/labels", request_body = LabelRequest,
    responses((status = 200, body = LabelResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn labels(
    State(state): Shared,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<LabelResponse>, ApiError> {
    let value = json_body(&headers, body)?;
    let (by, diagnosis) = parse_label_request(&value).map_err(ApiError::invalid)?;
    let classes = spec().classes;
    let db = state.db.clone();
    let row_id = blocking(move || db.set_label(&by, diagnosis)).await?;
    Ok(Json(LabelResponse {
        row_id,
        diagnosis: classes[diagnosis as usize].to_string(),
        label_source: "expert".into(),
    }))
}

#[utoipa::path(get, path = "/v1/models/champion",
    responses((status = 200, body = ChampionResponse), (status = 503, body = ErrorBody)))]
pub(crate) async fn champion(State(state): Shared) -> Result<Json<ChampionResponse>, ApiError> {
    let champion = state.champion().await.map_err(|e| ApiError::unavailable(&e))?;
    let v = &champion.version;
    Ok(Json(ChampionResponse {
        version: v.version,
        family: v.model.family.clone(),
        params: v.model.params.clone(),
        artifact_uri: v.model.artifact_uri.clone(),
        sha256: v.model.sha256.clone(),
        snapshot_uri: v.model.snapshot_uri.clone(),
        holdout_metrics: v.model.holdout_metrics.clone(),
        cv_metrics: v.model.cv_metrics.clone(),
        created_at: v.created_at.clone(),
    }))
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub(crate) async fn healthz(State(state): Shared) -> (StatusCode, Json<Health>) {
    let mut problems = Vec::new();
    let db = state.db.clone();
    let database = match tokio::task::spawn_blocking(move || db.champion(spec().name)).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            problems.push(format!("database: {e}"));
            false
        }
        Err(_) => {
            problems.push("database: the check panicked".into());
            false
        }
    };
    let champion = match state.champion().await {
        Ok(c) => Some(c.version.version),
        Err(e) => {
            problems.push(e.to_string());
            None
        }
    };
    let ok = database && champion.is_some();
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Health {
            status: if ok { "ok" } else { "unavailable" }.into(),
            database,
            champion,
            problems,
        }),
    )
}
