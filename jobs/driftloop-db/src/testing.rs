//! Test databases: one fresh, migrated database per test, on either backend, dropped
//! afterwards. A MySQL server that cannot be reached fails the test with how to start it.
//! For the integration tests of this crate and of the crates above it (feature `testing`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use mysql::prelude::Queryable;

use crate::{open_database, Database, DatabaseUrl};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Mysql,
}

/// Runs each named test function (taking a `Backend`) once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name($crate::testing::Backend::Sqlite) })*
        }
        mod mysql {
            $(#[test] fn $name() { super::$name($crate::testing::Backend::Mysql) })*
        }
    };
}

/// Runs each named async test function (taking a `Backend`) once per backend, on a
/// multi-threaded Tokio runtime (the calling crate depends on tokio).
#[macro_export]
macro_rules! on_both_backends_async {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread")] async fn $name() { super::$name($crate::testing::Backend::Sqlite).await })*
        }
        mod mysql {
            $(#[tokio::test(flavor = "multi_thread")] async fn $name() { super::$name($crate::testing::Backend::Mysql).await })*
        }
    };
}

pub struct TestDb {
    pub url: DatabaseUrl,
    pub db: Arc<dyn Database>,
    pub backend: Backend,
    mysql_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The server the MySQL tests use (without a database name).
pub fn mysql_server_url() -> String {
    std::env::var("DRIFTLOOP_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_string())
}

fn mysql_admin() -> mysql::Conn {
    let url = mysql_server_url();
    let opts = mysql::Opts::from_url(&url).expect("DRIFTLOOP_TEST_MYSQL_URL is a mysql:// url");
    mysql::Conn::new(mysql::OptsBuilder::from_opts(opts).prefer_socket(false)).unwrap_or_else(|e| {
        panic!(
            "cannot reach the MySQL/MariaDB server at {url}: {e}\n\
             Start it with `start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd` \
             (install it with `apt-get install -y mariadb-server`), run the README's test command, \
             which starts it, or point DRIFTLOOP_TEST_MYSQL_URL at a server."
        )
    })
}

impl TestDb {
    /// A fresh migrated database named after the test.
    pub fn new(backend: Backend, test_name: &str) -> TestDb {
        let test = Self::unmigrated(backend, test_name);
        test.db.migrate().expect("migrations apply");
        test
    }

    /// A fresh database with no tables yet.
    pub fn unmigrated(backend: Backend, test_name: &str) -> TestDb {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = DatabaseUrl::parse(&format!("sqlite://{}/features.db", dir.path().display())).unwrap();
                let db = open_database(&url).expect("open sqlite");
                TestDb {
                    url,
                    db,
                    backend,
                    mysql_name: None,
                    _dir: Some(dir),
                }
            }
            Backend::Mysql => {
                let name = format!(
                    "dl_{}_{}_{n}",
                    test_name.chars().take(30).collect::<String>(),
                    std::process::id()
                );
                let mut admin = mysql_admin();
                admin.query_drop(format!("DROP DATABASE IF EXISTS `{name}`")).unwrap();
                admin.query_drop(format!("CREATE DATABASE `{name}`")).unwrap();
                let url = DatabaseUrl::parse(&format!("{}/{name}", mysql_server_url().trim_end_matches('/'))).unwrap();
                let db = open_database(&url).expect("open mysql");
                TestDb {
                    url,
                    db,
                    backend,
                    mysql_name: Some(name),
                    _dir: None,
                }
            }
        }
    }

    /// Opens another handle (another connection or pool) on the same database, as a
    /// second process would.
    pub fn reopen(&self) -> Arc<dyn Database> {
        open_database(&self.url).expect("reopen")
    }

    pub fn sqlite_path(&self) -> PathBuf {
        match &self.url {
            DatabaseUrl::Sqlite { path } => path.clone(),
            DatabaseUrl::Mysql { .. } => panic!("not an sqlite database"),
        }
    }

    /// Runs one statement with text parameters, as an outside SQL user would.
    pub fn exec(&self, sql: &str, params: &[Option<&str>]) -> Result<(), String> {
        match self.backend {
            Backend::Sqlite => {
                let conn = rusqlite::Connection::open(self.sqlite_path()).unwrap();
                conn.execute(sql, rusqlite::params_from_iter(params.iter()))
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
            Backend::Mysql => {
                let mut conn = self.mysql_conn();
                let values: Vec<mysql::Value> = params
                    .iter()
                    .map(|p| p.map_or(mysql::Value::NULL, mysql::Value::from))
                    .collect();
                conn.exec_drop(sql, mysql::Params::Positional(values))
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// Runs one statement with the database's value checks off (SQLite's CHECK
    /// constraints, MySQL's strict mode), as a careless writer or a broken restore would:
    /// how the tests plant rows that do not fit the schema.
    pub fn exec_unchecked(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                let conn = rusqlite::Connection::open(self.sqlite_path()).unwrap();
                conn.execute_batch(&format!("PRAGMA ignore_check_constraints = ON; {sql}"))
                    .unwrap();
            }
            Backend::Mysql => {
                let mut conn = self.mysql_conn();
                conn.query_drop("SET SESSION sql_mode = ''").unwrap();
                conn.query_drop(sql).unwrap();
            }
        }
    }

    /// Runs a query and returns its rows as text.
    pub fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match self.backend {
            Backend::Sqlite => {
                let conn = rusqlite::Connection::open(self.sqlite_path()).unwrap();
                let mut stmt = conn.prepare(sql).unwrap();
                let n = stmt.column_count();
                stmt.query_map([], |row| {
                    (0..n)
                        .map(|i| {
                            let value: rusqlite::types::Value = row.get(i)?;
                            Ok(match value {
                                rusqlite::types::Value::Null => None,
                                rusqlite::types::Value::Integer(i) => Some(i.to_string()),
                                rusqlite::types::Value::Real(f) => Some(f.to_string()),
                                rusqlite::types::Value::Text(t) => Some(t),
                                rusqlite::types::Value::Blob(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                            })
                        })
                        .collect()
                })
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
            }
            Backend::Mysql => {
                let rows: Vec<mysql::Row> = self.mysql_conn().query(sql).unwrap();
                rows.into_iter()
                    .map(|row| {
                        row.unwrap()
                            .into_iter()
                            .map(|v| match v {
                                mysql::Value::NULL => None,
                                mysql::Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                                other => Some(other.as_sql(true).trim_matches('\'').to_string()),
                            })
                            .collect()
                    })
                    .collect()
            }
        }
    }

    fn mysql_conn(&self) -> mysql::Conn {
        let DatabaseUrl::Mysql { url } = &self.url else {
            panic!("not a mysql database")
        };
        mysql::Conn::new(
            mysql::OptsBuilder::from_opts(mysql::Opts::from_url(url.expose()).unwrap()).prefer_socket(false),
        )
        .unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.mysql_name {
            if let Ok(mut admin) = std::panic::catch_unwind(mysql_admin) {
                let _ = admin.query_drop(format!("DROP DATABASE IF EXISTS `{name}`"));
            }
        }
    }
}

/// A plain INSERT naming the feature columns, the label and `label_source`, as SQL users
/// and other services write rows.
pub fn plain_insert_sql() -> String {
    let s = driftloop_core::spec();
    let mut columns: Vec<&str> = s.features.iter().map(|c| c.name.as_str()).collect();
    columns.extend([s.label.as_str(), "label_source"]);
    format!(
        "INSERT INTO features ({}) VALUES ({})",
        columns.join(", "),
        vec!["?"; columns.len()].join(", ")
    )
}

/// Turns a frame back into rows, through its text and integer values.
#[cfg(feature = "frames")]
pub fn frame_rows(frame: &polars::prelude::DataFrame) -> Vec<driftloop_core::FeatureRow> {
    use driftloop_core::{spec, FeatureRow, LabelSource};
    use polars::prelude::*;
    let s = spec();
    let text = |name: &str| -> Vec<Option<String>> {
        let column = frame.column(name).unwrap().cast(&DataType::String).unwrap();
        column.str().unwrap().iter().map(|v| v.map(String::from)).collect()
    };
    let features: Vec<Vec<f64>> = s
        .features
        .iter()
        .enumerate()
        .map(|(col_idx, c)| match c.kind.levels() {
            Some(_) => text(&c.name)
                .iter()
                .map(|v| s.parse_feature(col_idx, v.as_deref().unwrap_or("")).unwrap())
                .collect(),
            None => frame
                .column(&c.name)
                .unwrap()
                .cast(&DataType::Float64)
                .unwrap()
                .f64()
                .unwrap()
                .iter()
                .map(|v| v.unwrap_or(driftloop_core::MISSING))
                .collect(),
        })
        .collect();
    let labels = text(&s.label);
    let sources = text("label_source");
    let versions = text("model_version");
    let requests = text("request_id");
    (0..frame.height())
        .map(|i| {
            let mut row = FeatureRow::new(
                features.iter().map(|col| col[i]).collect(),
                s.parse_class(labels[i].as_deref().unwrap()).unwrap(),
                LabelSource::parse(sources[i].as_deref().unwrap()).unwrap(),
            )
            .unwrap();
            row.model_version = versions[i].clone();
            row.request_id = requests[i].clone();
            row
        })
        .collect()
}
