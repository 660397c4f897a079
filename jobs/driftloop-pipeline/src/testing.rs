//! Test environments for the integration tests of the pipeline and the crates above it
//! (feature `testing`): an object store of its own on either adapter, and [`TestEnv`], a
//! migrated database and a store on the same backend pair (SQLite and a folder, or
//! MariaDB and the S3 server), optionally with a champion trained on the published data.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub use driftloop_db::testing::{Backend, TestDb};

use crate::config::TrainLabels;
use crate::notify::LogNotifier;
use crate::train_job::{run_training, TrainOptions, TrainSource};
use crate::{Database, ObjectStore};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Which object-store adapter a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreBackend {
    Local,
    S3,
}

/// An empty store of its own: a temporary folder, or a new bucket on the S3 server.
pub struct TestStore {
    pub store: Arc<dyn crate::ObjectStore>,
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
                let url = crate::StoreUrl::Local {
                    root: dir.path().join("store"),
                };
                let store = crate::open_store(&url).await.unwrap();
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
                let url = crate::StoreUrl::S3 {
                    bucket,
                    prefix: "driftloop".into(),
                };
                let store = crate::open_store(&url).await.unwrap();
                TestStore { store, _dir: None }
            }
        }
    }
}

/// A database and a store for one test: SQLite and a folder, or MariaDB and a bucket on
/// the S3 server, as the laptop and AWS run.
pub struct TestEnv {
    pub backend: Backend,
    pub test_db: TestDb,
    pub db: Arc<dyn Database>,
    pub store: Arc<dyn ObjectStore>,
    _store: TestStore,
}

impl TestEnv {
    /// A fresh migrated database and an empty store.
    pub async fn new(backend: Backend, test_name: &str) -> TestEnv {
        let test_db = TestDb::new(backend, test_name);
        let store_backend = match backend {
            Backend::Sqlite => StoreBackend::Local,
            Backend::Mysql => StoreBackend::S3,
        };
        let store = TestStore::new(store_backend, test_name).await;
        TestEnv {
            backend,
            db: test_db.db.clone(),
            store: store.store.clone(),
            test_db,
            _store: store,
        }
    }

    /// The same, holding the published 120 rows (expert labels) and a champion trained on
    /// them with the default configuration.
    pub async fn with_champion(backend: Backend, test_name: &str) -> TestEnv {
        let env = TestEnv::new(backend, test_name).await;
        let rows = crate::csv_io::read_feature_csv(&published_dataset(), driftloop_core::LabelSource::Expert)
            .expect("the published dataset imports");
        env.db.insert_rows(&rows).expect("the published rows are stored");
        let options = TrainOptions {
            config: Default::default(),
            promotion_margin: 0.01,
            mlflow: None,
            wandb: None,
        };
        run_training(
            env.db.as_ref(),
            env.store.as_ref(),
            &LogNotifier,
            &TrainSource::Database(TrainLabels::Expert),
            &options,
            &[],
        )
        .await
        .expect("the first champion trains");
        env
    }
}

/// A worker over `db` and `store` as the functions' tests run it: the log notifier, no
/// MLflow nor W&B, the default drift, performance and training settings, expert labels, a 0.01 margin.
pub fn test_worker(db: Arc<dyn Database>, store: Arc<dyn ObjectStore>) -> crate::worker::Worker {
    crate::worker::Worker {
        db,
        store,
        notifier: Arc::new(LogNotifier),
        mlflow: None,
        wandb: None,
        drift: Default::default(),
        drift_window: Default::default(),
        performance: Default::default(),
        labels: TrainLabels::Expert,
        train: Default::default(),
        promotion_margin: 0.01,
    }
}

/// The published dataset, in `shared/data/` beside the checkout.
pub fn published_dataset() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mental-disorders-120.csv");
    assert!(
        path.exists(),
        "the published dataset is expected at {} (the shared/ folder beside the checkout)",
        path.display()
    );
    path
}
