//! The model artifact: one file, content-addressed by its sha256. Its first line is a
//! JSON header people and tools can read without this crate (`head -1`); the rest is the
//! fitted model, serialized with serde (bincode). The header names the format version,
//! family and parameters, the spec hash and encoder, the class labels, the metrics, the
//! training snapshot (URI and sha256), the training config, the code version, and the
//! sha256 of the body.
//!
//! `created_at` is the snapshot's as-of time (its newest row), not the clock: the same
//! snapshot and config give a byte-identical artifact.

use driftloop_core::metrics::{ProbabilityScores, Scores};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::encode::Encoder;
use crate::family::{Candidate, Family, Fitted};
use crate::select::{CalibrationChoice, CandidateScore, FamilyTest, TrainConfig};
use crate::ModelError;

pub const FORMAT: &str = "driftloop-model";
/// The version written. Version 2 brought driftloop's own trees; version 1 held
/// smartcore's, and still loads.
pub const FORMAT_VERSION: u32 = 2;
/// The versions read.
pub const FORMAT_VERSIONS_READ: [u32; 2] = [1, 2];
/// File name extension of artifacts in the object store.
pub const EXTENSION: &str = "dlmodel";

/// Where the training rows came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRef {
    pub uri: String,
    pub sha256: String,
    pub rows: u64,
}

/// The metrics stored with a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactMetrics {
    /// Cross-validation of the chosen candidate.
    pub cv: CandidateScore,
    /// Every candidate's cross-validation, in grid order.
    pub candidates: Vec<CandidateScore>,
    pub holdout: Scores,
    /// The log-loss and Brier score of the compared model's probabilities on the holdout
    /// (absent in artifacts written before they were measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout_probabilities: Option<ProbabilityScores>,
    /// How the probability calibration was chosen, when the family is offered one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<CalibrationChoice>,
    /// How the default family's best and the best of another family were compared, when
    /// the best cross-validated candidate was of another family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_test: Option<FamilyTest>,
    pub training_rows: u64,
    pub holdout_rows: u64,
    pub cv_rows: u64,
    /// How many training rows there were when the model was fitted on a sample of
    /// `training_rows` of them (`TrainConfig::max_train_rows`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampled_from: Option<u64>,
    /// How many rows the served model (the artifact's body) was fitted on when it was
    /// refitted on every row after the holdout was scored (`TrainConfig::refit_max_rows`);
    /// absent: the body is the model the holdout scores are of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_rows: Option<u64>,
}

/// The artifact's first line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactHeader {
    pub format: String,
    pub format_version: u32,
    /// The model's name (the dataset's), also its folder in the object store.
    pub name: String,
    pub family: Family,
    pub params: Candidate,
    pub spec_hash: String,
    pub encoder: Encoder,
    /// Class labels, by class index.
    pub classes: Vec<String>,
    pub metrics: ArtifactMetrics,
    pub snapshot: SnapshotRef,
    pub config: TrainConfig,
    pub code_version: String,
    pub created_at: String,
    pub body_sha256: String,
}

/// A model with its header.
#[derive(Debug)]
pub struct Artifact {
    pub header: ArtifactHeader,
    pub model: Fitted,
}

/// The version of this code, as recorded in artifacts.
pub fn code_version() -> String {
    format!("driftloop {}", env!("CARGO_PKG_VERSION"))
}

/// Hex sha256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The object-store key of an artifact with this name and sha256.
pub fn artifact_key(name: &str, sha256: &str) -> String {
    format!("models/{name}/{sha256}.{EXTENSION}")
}

/// Serializes a model: the header (with `body_sha256` filled in) as one JSON line, then
/// the body. Returns the bytes and the header as written.
pub fn encode_artifact(mut header: ArtifactHeader, model: &Fitted) -> Result<(Vec<u8>, ArtifactHeader), ModelError> {
    let body = bincode::serde::encode_to_vec(model, bincode::config::standard())
        .map_err(|e| ModelError::Artifact(format!("serializing the model: {e}")))?;
    header.format = FORMAT.to_string();
    header.format_version = FORMAT_VERSION;
    header.body_sha256 = sha256_hex(&body);
    let mut bytes = serde_json::to_vec(&header).map_err(|e| ModelError::Artifact(e.to_string()))?;
    bytes.push(b'\n');
    bytes.extend_from_slice(&body);
    Ok((bytes, header))
}

/// Reads only the header line of an artifact.
pub fn decode_header(bytes: &[u8]) -> Result<(ArtifactHeader, usize), ModelError> {
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| ModelError::Artifact("no header line: not a driftloop model".into()))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes[..end])
        .map_err(|e| ModelError::Artifact(format!("the header is not JSON ({e}): not a driftloop model")))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(ModelError::Artifact(
            "the header does not name the driftloop-model format".into(),
        ));
    }
    let version = value.get("format_version").and_then(|v| v.as_u64());
    if !version.is_some_and(|v| FORMAT_VERSIONS_READ.iter().any(|&r| r as u64 == v)) {
        return Err(ModelError::Artifact(format!(
            "format version {version:?}; this driftloop reads versions {FORMAT_VERSIONS_READ:?}"
        )));
    }
    let header: ArtifactHeader =
        serde_json::from_value(value).map_err(|e| ModelError::Artifact(format!("the header does not parse: {e}")))?;
    Ok((header, end + 1))
}

/// Reads an artifact, checking the body against the header's hash.
pub fn decode_artifact(bytes: &[u8]) -> Result<Artifact, ModelError> {
    let (header, body_start) = decode_header(bytes)?;
    let body = &bytes[body_start..];
    let body_sha256 = sha256_hex(body);
    if body_sha256 != header.body_sha256 {
        return Err(ModelError::Artifact(format!(
            "the body hashes to {body_sha256}, the header says {}",
            header.body_sha256
        )));
    }
    let (model, read): (Fitted, usize) = bincode::serde::decode_from_slice(body, bincode::config::standard())
        .map_err(|e| ModelError::Artifact(format!("the body does not decode: {e}")))?;
    if read != body.len() {
        return Err(ModelError::Artifact(format!(
            "{} bytes follow the model",
            body.len() - read
        )));
    }
    if model.family() != header.family {
        return Err(ModelError::Artifact(format!(
            "the header says {}, the body holds {}",
            header.family,
            model.family()
        )));
    }
    Ok(Artifact { header, model })
}
