//! driftloop's feature database: the ports ([`ports`]), the records they carry, and their
//! logic written once over a small SQL seam ([`sql`]) for SQLite (the embedded default)
//! and MySQL/MariaDB. [`open_database`] picks a backend by URL. Feature `frames` adds bulk
//! reads into Polars (connectorx on MySQL); feature `testing` a per-test database helper.

mod counter;
pub mod dashboard;
pub mod ddl;
mod drift_reports;
pub mod error;
mod features;
#[cfg(feature = "frames")]
pub mod frames;
mod migrate;
mod mysql;
mod performance;
pub mod ports;
mod profile;
mod queue;
pub mod records;
mod registry;
mod sql;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;
mod url;

use std::sync::Arc;

pub use dashboard::OperatorView;
pub use error::{Error, Result};
pub use migrate::{migrations, Migration, MigrationReport};
pub use ports::{Database, DriftReportLog, FeatureStore, JobQueue, ModelRegistry, PerformanceLog, RowAccess};
pub use records::{
    AliasReason, ChampionChange, ClaimedJob, ColumnFigure, DriftCounter, DriftReportRecord, Enqueued, InsertOutcome,
    Job, JobKind, JobStatus, LabelCounter, LabelEvent, LabelledPrediction, ModelStatus, ModelVersion, NewModelVersion,
    PerformanceReportRecord, Prediction, RowFilter, RowHistory, RowRef, StoredRow, MAX_ATTEMPTS,
};
pub use sql::Dialect;
pub use url::{DatabaseUrl, Secret};

/// Opens the database a URL names. Nothing is created but an SQLite file (and its folder).
pub fn open_database(url: &DatabaseUrl) -> Result<Arc<dyn Database>> {
    match url {
        DatabaseUrl::Sqlite { path } => Ok(Arc::new(sqlite::SqliteDatabase::open(path)?)),
        DatabaseUrl::Mysql { .. } => Ok(Arc::new(mysql::MysqlDatabase::open(url)?)),
    }
}
