//! driftloop's models, pure (no I/O): the encoder declared by the dataset spec, the
//! candidate families and how each gives class probabilities, cross-validated
//! selection with a holdout score, and the artifact format.

pub mod artifact;
pub mod boost;
pub mod calibrate;
pub mod cart;
pub mod encode;
pub mod family;
mod format1;
pub mod logistic;
mod naive_bayes;
mod parallel;
pub mod promotion;
pub mod select;
pub mod values;

pub use artifact::{decode_artifact, encode_artifact, Artifact, ArtifactHeader};
pub use encode::Encoder;
pub use family::{default_grid, Candidate, ClassWeight, Family, Fitted};
pub use parallel::give_back_freed_memory;
pub use select::{encode_rows, holdout_split, train, Dataset, TrainConfig, Trained};
pub use values::{FeatureValues, Inputs, Rows, MISSING_CODE};

/// What can go wrong with a model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("invalid training config: {0}")]
    Config(String),
    #[error("not enough data: {0}")]
    NotEnoughData(String),
    #[error("invalid model input: {0}")]
    Input(String),
    #[error("fitting failed: {0}")]
    Fit(String),
    #[error("prediction failed: {0}")]
    Predict(String),
    #[error("model artifact: {0}")]
    Artifact(String),
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_balanced;
#[cfg(test)]
mod tests_family;
#[cfg(test)]
mod tests_values;
