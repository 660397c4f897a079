//! One feature-table row in its typed, validated form.

use crate::spec::{spec, CellError};

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

/// A row to store: one code per spec feature (level index, or the score), the class index
/// of its label, and where that label came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureRow {
    /// One code per column of [`crate::DatasetSpec::features`], in spec order.
    pub features: Vec<u8>,
    /// Index into [`crate::DatasetSpec::classes`].
    pub label: u8,
    pub label_source: LabelSource,
    pub model_version: Option<String>,
    pub request_id: Option<String>,
}

impl FeatureRow {
    /// Builds a row after checking every code against the spec.
    pub fn new(features: Vec<u8>, label: u8, label_source: LabelSource) -> Result<FeatureRow, CellError> {
        let s = spec();
        if features.len() != s.n_features() {
            return Err(CellError {
                given: format!("{} feature values", features.len()),
                expected: format!("{} feature values", s.n_features()),
            });
        }
        for (col_idx, &code) in features.iter().enumerate() {
            s.check_code(col_idx, code)?;
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
        })
    }

    /// The label's class as text.
    pub fn label_text(&self) -> &'static str {
        spec().classes[self.label as usize].as_str()
    }
}
