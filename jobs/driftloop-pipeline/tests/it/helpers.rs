//! Test fixtures of the pipeline: object stores on both adapters, a webhook receiver, the
//! MLflow server, the published dataset. Test databases come from `driftloop_db::testing`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub use driftloop_db::testing::{Backend, TestDb};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

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
