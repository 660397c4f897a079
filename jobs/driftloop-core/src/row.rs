//! One feature-table row in its typed, validated form.

use crate::spec::{same_values, spec, CellError};

/// Who set a row's label: an expert, or the model at prediction time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelSource {
    Expert,
    Model,
}

impl LabelSource {
    pub const ALL: [LabelSource; 2] = [LabelSource::Expert, LabelSource::Model];

    /// The value stored in the `label_source` column.
    pub fn as_str(self) -> &'static str {
        match self {
            LabelSource::Expert => "expert",
            LabelSource::Model => "model",
        }
    }

    pub fn parse(raw: &str) -> Result<LabelSource, CellError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "expert" => Ok(LabelSource::Expert),
            "model" => Ok(LabelSource::Model),
            _ => Err(CellError {
                given: raw.to_string(),
                expected: "one of expert, model".into(),
            }),
        }
    }
}

/// A row to store: one value per spec feature, the class index of its label, and where
/// that label came from.
///
/// A feature value is an `f64` whatever the column's kind: the level's index for a
/// categorical or ordinal column, the number itself for an integer or number column, and
/// [`crate::spec::MISSING`] (NaN) for a missing value of a nullable column. One type keeps
/// rows, training data and encoders one shape for every dataset; integers are exact in it
/// (the dataset file's ranges are held within ±2⁵³).
#[derive(Debug, Clone)]
pub struct FeatureRow {
    /// One value per column of [`crate::DatasetSpec::features`], in spec order.
    pub features: Vec<f64>,
    /// Index into [`crate::DatasetSpec::classes`].
    pub label: u8,
    pub label_source: LabelSource,
    pub model_version: Option<String>,
    pub request_id: Option<String>,
    /// For a row a model scored: its probability per class (in class order). Stored apart
    /// from the feature table, beside the kept prediction, so it is not part of the row's
    /// equality (which compares what the feature table holds).
    pub probabilities: Option<Vec<f64>>,
}

impl FeatureRow {
    /// Builds a row after checking every value against the spec.
    pub fn new(features: Vec<f64>, label: u8, label_source: LabelSource) -> Result<FeatureRow, CellError> {
        let s = spec();
        if features.len() != s.n_features() {
            return Err(CellError {
                given: format!("{} feature values", features.len()),
                expected: format!("{} feature values", s.n_features()),
            });
        }
        for (col_idx, &value) in features.iter().enumerate() {
            s.check_value(col_idx, value)?;
        }
        if (label as usize) >= s.classes.len() {
            return Err(CellError {
                given: label.to_string(),
                expected: format!("a class index below {}", s.classes.len()),
            });
        }
        Ok(FeatureRow {
            features,
            label,
            label_source,
            model_version: None,
            request_id: None,
            probabilities: None,
        })
    }

    /// The label's class as text.
    pub fn label_text(&self) -> &'static str {
        spec().classes[self.label as usize].as_str()
    }
}

/// Rows are equal when every field the feature table holds is, a missing value equal to a
/// missing value.
impl PartialEq for FeatureRow {
    fn eq(&self, other: &FeatureRow) -> bool {
        same_values(&self.features, &other.features)
            && self.label == other.label
            && self.label_source == other.label_source
            && self.model_version == other.model_version
            && self.request_id == other.request_id
    }
}

impl Eq for FeatureRow {}
