//! The bodies the routes answer with, as the OpenAPI document describes them.

use std::collections::BTreeMap;

use driftloop_core::spec;
use driftloop_pipeline::predict::Scored;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A scored row.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PredictResponse {
    /// The most probable class.
    pub prediction: String,
    /// Every class's probability.
    pub probabilities: BTreeMap<String, f64>,
    /// The registry version of the model that scored the row.
    pub model_version: String,
    /// The stored feature row.
    pub row_id: i64,
}

#[derive(Serialize, ToSchema)]
pub struct BatchResponse {
    /// One answer per row, in order.
    pub results: Vec<PredictResponse>,
}

/// The answer to `POST /v1/labels`: the class goes under the label's name (`diagnosis` for
/// the shipped dataset); its schema is in schema.rs.
pub struct LabelResponse {
    pub row_id: i64,
    pub label: String,
    pub label_source: String,
    /// The model's answer for the row, kept apart from the label.
    pub predicted: Option<String>,
    pub model_version: Option<String>,
    /// Labels the row has been given, this one included.
    pub labels: usize,
}

impl Serialize for LabelResponse {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(6))?;
        map.serialize_entry("row_id", &self.row_id)?;
        map.serialize_entry(spec().label.as_str(), &self.label)?;
        map.serialize_entry("label_source", &self.label_source)?;
        map.serialize_entry("predicted", &self.predicted)?;
        map.serialize_entry("model_version", &self.model_version)?;
        map.serialize_entry("labels", &self.labels)?;
        map.end()
    }
}

impl ToSchema for LabelResponse {}

#[derive(Serialize, ToSchema)]
pub struct ChampionResponse {
    pub version: i64,
    pub family: String,
    #[schema(value_type = Object)]
    pub params: Value,
    pub artifact_uri: String,
    pub sha256: String,
    pub snapshot_uri: String,
    #[schema(value_type = Object)]
    pub holdout_metrics: Value,
    #[schema(value_type = Object)]
    pub cv_metrics: Value,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` with the reasons in `problems`.
    pub status: String,
    pub database: bool,
    pub champion: Option<i64>,
    pub problems: Vec<String>,
}

pub(crate) fn answer(scored: &Scored, model_version: String, row_id: i64) -> PredictResponse {
    let classes = &spec().classes;
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

/// The latest performance check of the champion: its verdict, the window's and the
/// holdout's accuracy, and where the full report is.
#[derive(Serialize, ToSchema)]
pub struct PerformanceResponse {
    /// The champion's registry version.
    pub version: i64,
    /// `healthy`, `degraded` or `insufficient` (too few expert labels to tell).
    pub verdict: String,
    /// Accuracy on the latest expert-labelled rows the champion scored (null when none).
    pub accuracy: Option<f64>,
    pub holdout_accuracy: f64,
    /// Expert-labelled rows in the window.
    pub window_rows: i64,
    /// Every expert-labelled row the champion scored.
    pub cumulative_rows: i64,
    /// The JSON report (windows, scores, calibration, the test).
    pub report_uri: String,
    pub job_id: Option<i64>,
    /// When the check ran (UTC).
    pub checked_at: String,
}
