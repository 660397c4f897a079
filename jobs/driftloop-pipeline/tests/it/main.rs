//! Integration tests of the pipeline against real databases: SQLite files and the
//! MariaDB/MySQL server at DRIFTLOOP_TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306).
//! Each test gets its own database, migrated with the real migrations.

mod concurrency;
mod helpers;
mod import;
mod jobs;
mod migrate;
mod schema;
mod store;
