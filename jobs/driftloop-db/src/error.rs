//! The database crate's error type: one enum, with the context a user needs in each variant.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

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

    #[error(
        "this database holds dataset {database}, not dataset {given}: use a database made for {given} \
         (or --dataset / DRIFTLOOP_DATASET naming the file of {database})"
    )]
    DatasetMismatch { database: String, given: String },

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
    #[error("polars: {0}")]
    Polars(#[from] polars::error::PolarsError),

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
}

/// MySQL's duplicate-key error.
pub(crate) const ER_DUP_ENTRY: u16 = 1062;

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
    pub fn is_duplicate_request_id(&self) -> bool {
        match self {
            Error::DuplicateRequestId(_) => true,
            // MariaDB: "... for key 'features_request_id'"; MySQL 8: "... 'features.features_request_id'".
            Error::Mysql {
                source: mysql::Error::MySqlError(e),
                ..
            } => e.code == ER_DUP_ENTRY && e.message.contains("request_id"),
            Error::Sqlite {
                source: rusqlite::Error::SqliteFailure(e, Some(message)),
                ..
            } => e.code == rusqlite::ErrorCode::ConstraintViolation && message.contains("features.request_id"),
            _ => false,
        }
    }

    /// The server's own message, for errors that carry one.
    pub(crate) fn server_message(&self) -> String {
        std::error::Error::source(self).map_or_else(String::new, ToString::to_string)
    }
}
