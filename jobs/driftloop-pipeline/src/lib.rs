//! driftloop's pipeline layer: the one place configuration is read, the object store,
//! snapshots, the drift and train jobs, trackers and notifiers, CSV import. The feature
//! database is its own crate, `driftloop-db`, re-exported here as [`db`].

pub mod artifacts;
pub mod config;
mod csv_cells;
pub mod csv_count;
pub mod csv_io;
#[cfg(feature = "frames")]
mod drain;
#[cfg(feature = "frames")]
pub mod drift_job;
#[cfg(feature = "frames")]
mod drift_window;
pub mod error;
#[cfg(feature = "frames")]
pub mod frames;
pub mod memory;
pub mod mlflow;
pub mod notify;
pub mod objects;
#[cfg(feature = "frames")]
pub mod parquet_texts;
#[cfg(feature = "frames")]
pub mod performance_job;
pub mod predict;
#[cfg(feature = "frames")]
mod promote;
#[cfg(feature = "frames")]
pub mod snapshot;
#[cfg(all(feature = "testing", feature = "frames"))]
pub mod testing;
#[cfg(feature = "frames")]
pub mod train_job;
pub mod wandb;
#[cfg(feature = "frames")]
pub mod worker;

pub use config::{DatabaseUrl, Secret, Settings, StoreUrl};
pub use db::{open_database, Database, FeatureStore, JobQueue};
pub use driftloop_db as db;
pub use error::{Error, Result};
pub use objects::{open_store, ObjectStore};
