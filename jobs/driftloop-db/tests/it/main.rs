//! The contract suite of the feature database: every property one function, called once
//! per backend (an SQLite file and the MariaDB/MySQL server at DRIFTLOOP_TEST_MYSQL_URL,
//! default mysql://root@127.0.0.1:3306). Each test gets its own database.

mod concurrency;
mod corrupt;
mod dashboard;
mod features;
mod jobs;
mod migrate;
mod schema;
