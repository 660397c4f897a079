//! Integration tests of the pipeline against real services: SQLite files and the
//! MariaDB/MySQL server at DRIFTLOOP_TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306);
//! local folders and the S3-compatible server at AWS_ENDPOINT_URL (moto, started by the
//! test command). Each test gets its own database or bucket.

mod drift;
mod drift_counts;
mod drift_files;
mod drift_job;
mod helpers;
mod import;
mod objects;
mod performance;
mod snapshots;
mod train;
mod wandb;
