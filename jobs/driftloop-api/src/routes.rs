//! The routes: each handler checks its body (parse.rs), does its storage work off the
//! async workers, and answers one of the bodies of responses.rs. The document describing
//! them is openapi.rs; router.rs puts them together.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use bytes::Bytes;
use driftloop_core::{same_values, spec, FeatureRow, LabelSource};
use driftloop_pipeline::db::{RowRef, StoredRow};
use driftloop_pipeline::predict::{Champion, Scored};
use serde_json::Value;

use crate::error::{ApiError, ErrorBody};
use crate::parse::{parse_batch_request, parse_label_request, parse_predict_request, PredictInput, REQUEST_ID_MAX};
use crate::responses::{
    answer, BatchResponse, ChampionResponse, Health, LabelResponse, PerformanceResponse, PredictResponse,
};
use crate::schema::{BatchRequest, LabelRequest, PredictRequest};
use crate::state::AppState;

type Shared = State<Arc<AppState>>;

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
    if !same_values(&stored.row.features, &input.codes) {
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
        let registered = blocking(move || db.model_version(&spec().name, number))
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    format!("model version {number} is not registered"),
                )
            })?;
        let artifact =
            driftloop_pipeline::artifacts::load_artifact(state.store.as_ref(), &registered.model.artifact_uri)
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
        FeatureRow::new(input.codes.clone(), scored.class, LabelSource::Model).expect("parsed values follow the spec");
    row.model_version = Some(champion.model_version());
    row.request_id = input.request_id.clone();
    row.probabilities = Some(scored.probabilities.clone());
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
            if !same_values(&row.row.features, &input.codes) {
                return Err(request_id_conflict(
                    id,
                    &format!("was stored with other features (row {})", row.id),
                ));
            }
        } else {
            let first = *first_with.entry(id).or_insert(i);
            if !same_values(&inputs[first].codes, &input.codes) {
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
    let codes: Vec<&[f64]> = fresh.iter().map(|&i| inputs[i].codes.as_slice()).collect();
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
    let (by, class) = parse_label_request(&value).map_err(ApiError::invalid)?;
    // The labelling call's own id, kept in the row's label history.
    let call_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().chars().take(REQUEST_ID_MAX).collect::<String>())
        .filter(|v| !v.is_empty());
    let classes = &spec().classes;
    let db = state.db.clone();
    let history = blocking(move || {
        let row_id = db.set_label(&by, class, call_id.as_deref())?;
        db.row_history(&RowRef::Id(row_id))
    })
    .await?
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "a labelled row vanished",
        )
    })?;
    let prediction = history.prediction.as_ref();
    Ok(Json(LabelResponse {
        row_id: history.id,
        label: classes[class as usize].to_string(),
        label_source: "expert".into(),
        predicted: prediction.map(|p| p.predicted.clone()),
        model_version: prediction.and_then(|p| p.model_version.clone()),
        labels: history.labels.len(),
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

#[utoipa::path(get, path = "/v1/models/champion/performance",
    responses((status = 200, body = PerformanceResponse), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn champion_performance(State(state): Shared) -> Result<Json<PerformanceResponse>, ApiError> {
    let champion = state.champion().await.map_err(|e| ApiError::unavailable(&e))?;
    let version = champion.version.version;
    let db = state.db.clone();
    let reports = blocking(move || db.performance_reports()).await?;
    let latest = reports
        .into_iter()
        .rfind(|r| r.model_version == version)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!(
                    "champion {version} has no performance check yet: one runs every labels_every expert labels \
                     (`driftloop performance --now` runs one)"
                ),
            )
        })?;
    Ok(Json(PerformanceResponse {
        version,
        verdict: latest.verdict,
        accuracy: latest.accuracy,
        holdout_accuracy: latest.holdout_accuracy,
        window_rows: latest.window_rows,
        cumulative_rows: latest.cumulative_rows,
        report_uri: latest.report_uri,
        job_id: latest.job_id,
        checked_at: latest.created_at,
    }))
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub(crate) async fn healthz(State(state): Shared) -> (StatusCode, Json<Health>) {
    let mut problems = Vec::new();
    let db = state.db.clone();
    let database = match tokio::task::spawn_blocking(move || db.champion(&spec().name)).await {
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
