//! The pipeline's error type: one enum, with the context a user needs in each variant.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One cell of a CSV file that does not fit the spec.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CsvProblem {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    /// The column as the file names it.
    pub column: String,
    pub message: String,
}

impl std::fmt::Display for CsvProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {:?}: {}", self.line, self.column, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid configuration: {0}")]
    Config(String),

    #[error(transparent)]
    Dataset(#[from] driftloop_core::ActivateError),

    /// The feature database: rows, jobs, drift reports, the model registry.
    #[error(transparent)]
    Db(#[from] driftloop_db::Error),

    #[error("stored data does not fit the spec: {0}")]
    Corrupt(String),

    #[cfg(feature = "frames")]
    #[error("drift statistics: {0}")]
    Stats(#[from] driftloop_stats::Error),

    #[cfg(feature = "frames")]
    #[error("polars: {0}")]
    Polars(#[from] polars::error::PolarsError),

    #[error("there are no rows to snapshot")]
    EmptySnapshot,

    #[error("snapshot {uri} cannot be trusted: {reason}")]
    CorruptSnapshot { uri: String, reason: String },

    #[error("no object at {0}")]
    NotFound(String),

    #[error("{0:?} is not a valid object key (a relative path of non-empty parts without . or ..)")]
    InvalidKey(String),

    #[error("object store {uri}: {reason}")]
    Store { uri: String, reason: String },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("MLflow: {0}")]
    Tracker(String),

    #[error("model: {0}")]
    Model(#[from] driftloop_model::ModelError),

    #[error("model artifact {uri} cannot be trusted: {reason}")]
    CorruptModel { uri: String, reason: String },

    #[error("{}: {} problem(s), nothing imported:\n{}", path.display(), problems.len(), list_problems(problems))]
    InvalidCsv { path: PathBuf, problems: Vec<CsvProblem> },

    #[error("{}: {} problem(s), nothing scored or written:\n{}", path.display(), problems.len(), list_problems(problems))]
    InvalidRowsToScore { path: PathBuf, problems: Vec<CsvProblem> },
}

fn list_problems(problems: &[CsvProblem]) -> String {
    const SHOWN: usize = 50;
    let mut lines: Vec<String> = problems.iter().take(SHOWN).map(|p| format!("  {p}")).collect();
    if problems.len() > SHOWN {
        lines.push(format!("  ... and {} more", problems.len() - SHOWN));
    }
    lines.join("\n")
}
