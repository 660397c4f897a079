//! Test databases: one fresh, migrated database per test, on either backend, dropped
//! afterwards. A MySQL server that cannot be reached fails the test with how to start it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use driftloop_pipeline::{open_database, Database, DatabaseUrl};
use mysql::prelude::Queryable;

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
            $(#[test] fn $name() { super::$name($crate::helpers::Backend::Sqlite) })*
        }
        mod mysql {
            $(#[test] fn $name() { super::$name($crate::helpers::Backend::Mysql) })*
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

/// A plain INSERT naming the 17 feature columns, `diagnosis` and `label_source`, as SQL
/// users and other services write rows.
pub fn plain_insert_sql() -> String {
    let s = driftloop_core::spec();
    let mut columns: Vec<&str> = s.features.iter().map(|c| c.name).collect();
    columns.extend(["diagnosis", "label_source"]);
    format!(
        "INSERT INTO features ({}) VALUES ({})",
        columns.join(", "),
        vec!["?"; columns.len()].join(", ")
    )
}

/// The original published dataset, beside the checkout in `shared/data/`.
pub fn original_dataset() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mental-disorders-120.csv");
    assert!(
        path.exists(),
        "the original dataset is expected at {} (the shared/ folder beside the checkout)",
        path.display()
    );
    path
}

/// Which object-store adapter a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreBackend {
    Local,
    S3,
}

/// Runs each named async test function (taking a `StoreBackend`) once per adapter.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod local {
            $(#[tokio::test] async fn $name() { super::$name($crate::helpers::StoreBackend::Local).await })*
        }
        mod s3 {
            $(#[tokio::test] async fn $name() { super::$name($crate::helpers::StoreBackend::S3).await })*
        }
    };
}

/// An empty store of its own: a temporary folder, or a new bucket on the S3 server.
pub struct TestStore {
    pub store: Arc<dyn driftloop_pipeline::ObjectStore>,
    _dir: Option<tempfile::TempDir>,
}

/// The S3-compatible server the tests use; the test command starts moto and sets it.
pub fn s3_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!(
            "AWS_ENDPOINT_URL is not set: the S3 tests need an S3-compatible server. Run the README's test \
             command (./scripts/test), which starts moto, or start one with \
             `moto_server -H 127.0.0.1 -p 5055` (pip install 'moto[server]') and export \
             AWS_ENDPOINT_URL=http://127.0.0.1:5055 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1"
        )
    })
}

pub async fn s3_client() -> aws_sdk_s3::Client {
    let sdk_config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(s3_endpoint())
        .load()
        .await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk_config)
            .force_path_style(true)
            .build(),
    )
}

impl TestStore {
    pub async fn new(backend: StoreBackend, test_name: &str) -> TestStore {
        match backend {
            StoreBackend::Local => {
                let dir = tempfile::tempdir().unwrap();
                let url = driftloop_pipeline::StoreUrl::Local {
                    root: dir.path().join("store"),
                };
                let store = driftloop_pipeline::open_store(&url).await.unwrap();
                TestStore { store, _dir: Some(dir) }
            }
            StoreBackend::S3 => {
                let n = COUNTER.fetch_add(1, Ordering::SeqCst);
                let bucket = format!(
                    "dl-{}-{}-{n}",
                    test_name.replace('_', "-").chars().take(30).collect::<String>(),
                    std::process::id()
                );
                let endpoint = s3_endpoint();
                s3_client()
                    .await
                    .create_bucket()
                    .bucket(&bucket)
                    .send()
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "cannot create bucket {bucket} at {endpoint}: {}. Is the S3 server running? \
                         (./scripts/test starts moto)",
                            aws_sdk_s3::error::DisplayErrorContext(e)
                        )
                    });
                let url = driftloop_pipeline::StoreUrl::S3 {
                    bucket,
                    prefix: "driftloop".into(),
                };
                let store = driftloop_pipeline::open_store(&url).await.unwrap();
                TestStore { store, _dir: None }
            }
        }
    }
}

/// A local HTTP receiver standing in for a Slack-compatible webhook: it records every
/// JSON body posted to it and answers 500 to the first `failures` requests, 200 after.
pub struct WebhookReceiver {
    pub url: String,
    pub bodies: Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    pub requests: Arc<AtomicUsize>,
}

impl WebhookReceiver {
    pub async fn start(failures: usize) -> WebhookReceiver {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/driftloop", listener.local_addr().unwrap());
        let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
        let requests = Arc::new(AtomicUsize::new(0));
        let (bodies_in, requests_in) = (bodies.clone(), requests.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (bodies, requests) = (bodies_in.clone(), requests_in.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let body = loop {
                        let n = socket.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                            continue;
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse().unwrap_or(0));
                        if buf.len() >= end + 4 + length {
                            break buf[end + 4..end + 4 + length].to_vec();
                        }
                    };
                    let n = requests.fetch_add(1, Ordering::SeqCst);
                    let status = if n < failures {
                        "500 Internal Server Error"
                    } else {
                        bodies
                            .lock()
                            .unwrap()
                            .push(serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null));
                        "200 OK"
                    };
                    let response = format!("HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        WebhookReceiver { url, bodies, requests }
    }

    pub fn events(&self) -> Vec<String> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .filter_map(|b| b["event"].as_str().map(String::from))
            .collect()
    }
}

/// The MLflow tracking server the tests use; the test command starts one and sets it.
pub fn mlflow_uri() -> String {
    std::env::var("DRIFTLOOP_TEST_MLFLOW_URI").unwrap_or_else(|_| {
        panic!(
            "DRIFTLOOP_TEST_MLFLOW_URI is not set: the MLflow tests need a tracking server. Run the README's \
             test command (./scripts/test), which starts one, or start it with \
             `MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false mlflow server --host 127.0.0.1 --port 5056 --workers 1 \
             --backend-store-uri sqlite:///tmp/mlflow.db --artifacts-destination /tmp/mlflow-artifacts` \
             (pip install mlflow==3.17.2) and export DRIFTLOOP_TEST_MLFLOW_URI=http://127.0.0.1:5056"
        )
    })
}
