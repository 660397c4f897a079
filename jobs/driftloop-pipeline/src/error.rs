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

    #[error("cannot reach the database at {url}: {reason}")]
    Unreachable { url: String, reason: String },

    #[error("database {database:?} does not exist at {url}: create it first (CREATE DATABASE `{database}`)")]
    NoSuchDatabase { url: String, database: String },

    #[error("mysql: {context}")]
    Mysql {
        context: String,
        #[source]
        source: mysql::Error,
    },

    #[error("sqlite: {context}")]
    Sqlite {
        context: String,
        #[source]
        source: rusqlite::Error,
    },

    #[error("migration {name}: {reason}")]
    Migration { name: String, reason: String },

    #[error("request_id {0:?} is already stored")]
    DuplicateRequestId(String),

    #[error(
        "job {job_id} attempt {attempt} no longer holds its lease: another worker claimed it after the lease expired"
    )]
    LeaseLost { job_id: i64, attempt: u32 },

    #[error("stored data does not fit the spec: {0}")]
    Corrupt(String),

    #[error("bulk read from {url}: {reason}")]
    BulkRead { url: String, reason: String },

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

    #[error("model {name} has no version {version}")]
    NoSuchModelVersion { name: String, version: String },

    #[error("there is no feature row with {0}")]
    NoSuchRow(String),

    #[error("model {0} has no champion yet: train one first (`driftloop train`)")]
    NoChampion(String),

    #[error("model {name} version {version} replaced no earlier champion: there is nothing to roll back to")]
    NothingToRollBack { name: String, version: i64 },

    #[error("the champion changed while deciding (expected {expected:?}, found {found:?}); decide again")]
    ChampionChanged { expected: Option<i64>, found: Option<i64> },

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

impl Error {
    pub(crate) fn mysql(context: impl Into<String>) -> impl FnOnce(mysql::Error) -> Error {
        let context = context.into();
        move |source| Error::Mysql { context, source }
    }

    pub(crate) fn sqlite(context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> Error {
        let context = context.into();
        move |source| Error::Sqlite { context, source }
    }

    /// True when an insert failed on the unique `features.request_id`: the row is stored
    /// already (by an earlier transaction, or an earlier row of the same one).
    pub(crate) fn is_duplicate_request_id(&self) -> bool {
        match self {
            Error::DuplicateRequestId(_) => true,
            // MariaDB: "... for key 'features_request_id'"; MySQL 8: "... 'features.features_request_id'".
            Error::Mysql {
                source: mysql::Error::MySqlError(e),
                ..
            } => e.code == 1062 && e.message.contains("request_id"),
            Error::Sqlite {
                source: rusqlite::Error::SqliteFailure(e, Some(message)),
                ..
            } => e.code == rusqlite::ErrorCode::ConstraintViolation && message.contains("features.request_id"),
            _ => false,
        }
    }
}
