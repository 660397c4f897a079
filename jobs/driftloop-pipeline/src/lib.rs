//! driftloop's pipeline layer: the one place configuration is read, the feature-store
//! and job-queue ports with their SQLite and MySQL adapters, migrations, CSV import and
//! (feature `frames`) bulk reads into Polars.

pub mod config;
pub mod csv_io;
pub mod db;
#[cfg(feature = "frames")]
pub mod drift_job;
pub mod error;
#[cfg(feature = "frames")]
pub mod frames;
pub mod invoke;
pub mod mlflow;
pub mod models;
pub mod notify;
pub mod predict;
pub mod secrets;
#[cfg(feature = "frames")]
pub mod snapshot;
pub mod store;
#[cfg(feature = "frames")]
pub mod train_job;

pub use config::{DatabaseUrl, Secret, Settings, StoreUrl};
pub use db::{open_database, Database, FeatureStore, JobQueue};
pub use error::{Error, Result};
pub use store::{open_store, ObjectStore};
