//! One module per `driftloop` command: its flags and what it does.

pub mod db;
pub mod drift;
pub mod fixtures;
pub mod import;
pub mod jobs;
pub mod models;
pub mod performance;
pub mod predict;
pub mod serve;
pub mod snapshot;
pub mod train;
pub mod worker;
