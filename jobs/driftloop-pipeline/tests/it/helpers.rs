//! Test fixtures of the pipeline: object stores on both adapters, a webhook receiver, the
//! MLflow server, the published dataset. Test databases come from `driftloop_db::testing`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub use driftloop_db::testing::{Backend, TestDb};
pub use driftloop_pipeline::testing::{s3_client, s3_endpoint, StoreBackend, TestStore};

/// The original published dataset, beside the checkout in `shared/data/`.
pub use driftloop_pipeline::testing::published_dataset as original_dataset;

/// The expert-labelled rows of a CSV under `data-fixtures/`.
pub fn fixture(name: &str) -> Vec<driftloop_core::FeatureRow> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data-fixtures")
        .join(name);
    driftloop_pipeline::csv_io::read_feature_csv(&path, driftloop_core::LabelSource::Expert).unwrap()
}

/// Runs each named async test function (taking a `StoreBackend`) once per adapter, on the
/// multi-threaded runtime the functions use (encoding a snapshot runs Polars' engine).
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod local {
            $(#[tokio::test(flavor = "multi_thread")] async fn $name() { super::$name($crate::helpers::StoreBackend::Local).await })*
        }
        mod s3 {
            $(#[tokio::test(flavor = "multi_thread")] async fn $name() { super::$name($crate::helpers::StoreBackend::S3).await })*
        }
    };
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
