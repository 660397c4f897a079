//! Training end to end: SQLite + a folder, and MariaDB + the S3 server + MLflow; the
//! same snapshot giving the same artifact; promotion, rejection and rollback; failures
//! that must not lose anything; coalesced jobs; the webhook and SNS notifiers.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use driftloop_core::fixtures::{generate, Scenario};
use driftloop_core::metrics::stratified_holdout;
use driftloop_core::LabelSource;
use driftloop_model::{Candidate, TrainConfig};
use driftloop_pipeline::artifacts::{load_artifact, load_champion};
use driftloop_pipeline::config::TrainLabels;
use driftloop_pipeline::csv_io::read_feature_csv;
use driftloop_pipeline::db::{AliasReason, JobKind, JobStatus, ModelStatus};
use driftloop_pipeline::frames::{frame_to_dataset, into_dataset, training_columns};
use driftloop_pipeline::mlflow::{sync, MlflowClient};
use driftloop_pipeline::notify::{Event, Notifier, Notifiers, SnsNotifier, WebhookNotifier};
use driftloop_pipeline::objects::ObjectMeta;
use driftloop_pipeline::snapshot::load_snapshot;
use driftloop_pipeline::train_job::{drain_train_jobs, model_name, run_training, Decision, TrainOptions, TrainSource};
use driftloop_pipeline::{Error, ObjectStore, Secret};
use serde_json::json;

use crate::helpers::{mlflow_uri, original_dataset, Backend, StoreBackend, TestDb, TestStore, WebhookReceiver};

/// Keeps the events it is given.
#[derive(Default, Clone)]
struct Recorder(Arc<Mutex<Vec<Event>>>);

#[async_trait]
impl Notifier for Recorder {
    async fn notify(&self, event: &Event) {
        self.0.lock().unwrap().push(event.clone());
    }
}

impl Recorder {
    fn names(&self) -> Vec<&'static str> {
        self.0.lock().unwrap().iter().map(|e| e.name()).collect()
    }
}

fn options(mlflow: Option<&MlflowClient>) -> TrainOptions<'_> {
    TrainOptions {
        config: TrainConfig::default(),
        promotion_margin: 0.01,
        mlflow,
        wandb: None,
    }
}

/// A deliberately weak candidate: a decision stump.
fn stump() -> TrainConfig {
    TrainConfig {
        candidates: vec![Candidate::DecisionTree {
            max_depth: Some(1),
            min_samples_leaf: 1,
            class_weight: None,
        }],
        ..TrainConfig::default()
    }
}

/// Trains now on the expert rows of `t`, with the default options.
async fn train_expert(
    t: &TestDb,
    store: &dyn ObjectStore,
    mlflow: Option<&MlflowClient>,
) -> driftloop_pipeline::Result<driftloop_pipeline::train_job::TrainOutcome> {
    let source = TrainSource::Database(TrainLabels::Expert);
    run_training(
        t.db.as_ref(),
        store,
        &Recorder::default(),
        &source,
        &options(mlflow),
        &[],
    )
    .await
}

fn import_original(t: &TestDb) {
    let rows = read_feature_csv(&original_dataset(), LabelSource::Expert).unwrap();
    t.db.insert_rows(&rows).unwrap();
}

/// import → train job → champion → the artifact loads and predicts; then the same
/// snapshot retrains to the same artifact.
async fn end_to_end(t: &TestDb, store: &dyn ObjectStore, mlflow: Option<&MlflowClient>) -> i64 {
    import_original(t);
    let job = t.db.enqueue(JobKind::Train, &json!({"reason": "test"}), None).unwrap();
    let recorder = Recorder::default();
    let drained = drain_train_jobs(
        t.db.as_ref(),
        store,
        &recorder,
        TrainLabels::Expert,
        &options(mlflow),
        None,
    )
    .await
    .unwrap();
    assert!(drained.failed.is_empty(), "{:?}", drained.failed);
    let outcome = &drained.trainings[0];
    assert_eq!(outcome.job_ids, vec![job.id]);
    assert_eq!(outcome.decision, Decision::FirstChampion);
    assert_eq!(outcome.champion, Some(outcome.version));
    assert_eq!(outcome.snapshot.rows, 120);
    // 120 rows of 17 one-byte codes and more: a few kilobytes in memory, not nothing.
    assert!(
        (2_000..200_000).contains(&outcome.frame_bytes),
        "{}",
        outcome.frame_bytes
    );
    assert_eq!(
        recorder.names(),
        ["training_started", "training_finished", "champion_promoted"]
    );
    assert_eq!(t.db.jobs(Some(JobStatus::Done)).unwrap().len(), 1);

    // The registry's champion is this version, with its holdout metrics.
    let champion = t.db.champion(model_name()).unwrap().unwrap();
    assert_eq!(
        (champion.version, champion.status),
        (outcome.version, ModelStatus::Champion)
    );
    assert_eq!(champion.model.sha256, outcome.sha256);
    assert!(champion.model.holdout_metrics["macro_f1"].as_f64().unwrap() > 0.6);
    assert_eq!(champion.model.holdout_metrics["confusion"].as_array().unwrap().len(), 4);

    // The artifact loads, verifies, names its snapshot, and predicts the original rows.
    let (_, artifact) = load_champion(t.db.as_ref(), store, model_name())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(artifact.header.snapshot.uri, outcome.snapshot.uri);
    let (frame, manifest) = load_snapshot(store, &outcome.snapshot.uri).await.unwrap();
    assert_eq!(artifact.header.snapshot.sha256, manifest.sha256);
    let data = frame_to_dataset(&frame).unwrap();
    // The job keeps only the ids, the features and the label for training: the same rows.
    let kept = training_columns(frame.clone()).unwrap();
    assert_eq!(kept.width(), driftloop_core::spec().n_features() + 2);
    assert_eq!(kept.get_column_names()[0].as_str(), "id");
    assert!(kept.column("model_version").is_err() && frame.column("model_version").is_ok());
    assert_eq!(frame_to_dataset(&kept).unwrap(), data);
    // Taken whole, a column at a time: the same values, and the rows' ids beside them.
    let (taken, ids) = into_dataset(kept.clone()).unwrap();
    assert_eq!(taken, data);
    assert!(ids
        .as_materialized_series()
        .equals(frame.column("id").unwrap().as_materialized_series()));
    let rows: Vec<usize> = (0..data.n_rows()).collect();
    let x = data.matrix(&artifact.header.encoder, &rows).unwrap();
    let probabilities = artifact.model.predict_proba(&x, 4).unwrap();
    assert_eq!(probabilities.len(), 120);
    assert!(probabilities.iter().all(|p| (p.iter().sum::<f64>() - 1.0).abs() < 1e-9));
    let predicted = artifact.model.predict(&x, 4).unwrap();
    let correct = predicted.iter().zip(&data.labels).filter(|(p, l)| p == l).count();
    assert!(correct >= 100, "{correct} of 120 training rows right");

    // Retraining from the snapshot gives the same bytes, so the same version.
    let again = run_training(
        t.db.as_ref(),
        store,
        &recorder,
        &TrainSource::Snapshot(outcome.snapshot.uri.clone()),
        &options(mlflow),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(again.sha256, outcome.sha256);
    assert_eq!((again.version, again.registered), (outcome.version, false));
    assert_eq!(again.decision, Decision::AlreadyChampion);
    assert_eq!(t.db.model_versions(model_name()).unwrap().len(), 1);
    outcome.version
}

#[tokio::test(flavor = "multi_thread")]
async fn end_to_end_on_sqlite_and_a_folder() {
    let t = TestDb::new(Backend::Sqlite, "train_e2e");
    let s = TestStore::new(StoreBackend::Local, "train-e2e").await;
    end_to_end(&t, s.store.as_ref(), None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn end_to_end_on_mariadb_s3_and_mlflow() {
    let t = TestDb::new(Backend::Mysql, "train_e2e");
    let s = TestStore::new(StoreBackend::S3, "train-e2e").await;
    let experiment = format!("driftloop-test-{}", std::process::id());
    let client = MlflowClient::new(&mlflow_uri(), &experiment);
    let version = end_to_end(&t, s.store.as_ref(), Some(&client)).await;

    // MLflow shows the run (params, metrics, tags), the version, and the alias.
    let v = t.db.model_version(model_name(), version).unwrap().unwrap();
    assert_eq!(v.mlflow_error, None);
    let run = client.run(v.mlflow_run_id.as_deref().unwrap()).await.unwrap();
    let data = &run["run"]["data"];
    let find = |list: &str, key: &str| -> Option<String> {
        data[list]
            .as_array()?
            .iter()
            .find(|item| item["key"] == key)
            .map(|item| item["value"].to_string().trim_matches('"').to_string())
    };
    assert_eq!(find("params", "family").as_deref(), Some(v.model.family.as_str()));
    assert_eq!(
        find("tags", "driftloop.snapshot_uri").as_deref(),
        Some(v.model.snapshot_uri.as_str())
    );
    assert_eq!(
        find("tags", "driftloop.snapshot_sha256").as_deref(),
        Some(v.model.snapshot_sha256.as_str())
    );
    assert!(find("tags", "driftloop.code_version")
        .unwrap()
        .starts_with("driftloop "));
    let holdout = find("metrics", "holdout_macro_f1").unwrap().parse::<f64>().unwrap();
    assert!((holdout - v.model.holdout_metrics["macro_f1"].as_f64().unwrap()).abs() < 1e-9);
    assert!(find("metrics", "cv_macro_f1_mean").is_some());
    let log_loss = find("metrics", "holdout_log_loss").unwrap().parse::<f64>().unwrap();
    assert!((log_loss - v.model.holdout_metrics["log_loss"].as_f64().unwrap()).abs() < 1e-9);
    assert!(find("metrics", "holdout_brier").is_some());
    // The calibration taken is a parameter of the run, when the family was offered one.
    assert_eq!(
        find("params", "calibration"),
        driftloop_pipeline::mlflow::calibration_method(&v)
    );
    assert_eq!(
        v.model.holdout_metrics["calibration"].is_object(),
        driftloop_model::select::calibrated_family(driftloop_model::Family::parse(&v.model.family).unwrap()),
        "{}",
        v.model.holdout_metrics
    );
    let mlflow_version = v.mlflow_version.clone().unwrap();
    let registered = client.model_version(model_name(), &mlflow_version).await.unwrap();
    assert_eq!(registered["model_version"]["source"], json!(v.model.artifact_uri));
    assert!(v.model.artifact_uri.starts_with("s3://"));
    assert_eq!(
        client.alias(model_name(), "champion").await.unwrap(),
        Some(mlflow_version.clone())
    );
    assert_eq!(client.alias(model_name(), "no-such-alias").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn mlflow_down_loses_no_training_and_the_next_sync_mirrors_it() {
    let t = TestDb::new(Backend::Sqlite, "mlflow_down");
    let s = TestStore::new(StoreBackend::Local, "mlflow-down").await;
    import_original(&t);
    // Nothing listens on port 9 here.
    let down = MlflowClient::new("http://127.0.0.1:9", "driftloop-down");
    let outcome = train_expert(&t, s.store.as_ref(), Some(&down))
        .await
        .expect("training succeeds with MLflow down");
    let report = outcome.mlflow.unwrap();
    assert_eq!(report.failed.len(), 1, "{report:?}");
    let v = t.db.champion(model_name()).unwrap().unwrap();
    assert!(v.mlflow_error.as_deref().unwrap().contains("not answering"), "{v:?}");
    assert_eq!(v.mlflow_version, None);

    // A local store's artifact is uploaded into the run's artifacts and named from there.
    let up = MlflowClient::new(&mlflow_uri(), &format!("driftloop-test-down-{}", std::process::id()));
    let report = sync(t.db.as_ref(), s.store.as_ref(), &up, model_name()).await.unwrap();
    assert_eq!(report.failed, vec![]);
    assert_eq!(report.mirrored.len(), 1);
    let v = t.db.champion(model_name()).unwrap().unwrap();
    assert_eq!((v.mlflow_error.as_deref(), v.mlflow_version.is_some()), (None, true));
    let registered = up
        .model_version(model_name(), v.mlflow_version.as_deref().unwrap())
        .await
        .unwrap();
    let source = registered["model_version"]["source"].as_str().unwrap();
    assert!(
        source.starts_with("mlflow-artifacts:/") && source.ends_with("/artifacts/model"),
        "{source}"
    );
}

fn rejection_and_rollback(backend: Backend) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let t = TestDb::new(backend, "rollback");
        let s = TestStore::new(StoreBackend::Local, "rollback").await;
        let store = s.store.as_ref();
        import_original(&t);
        let recorder = Recorder::default();
        let source = TrainSource::Database(TrainLabels::Expert);
        let first = run_training(t.db.as_ref(), store, &recorder, &source, &options(None), &[])
            .await
            .unwrap();
        let weak = TrainOptions {
            config: stump(),
            ..options(None)
        };
        let second = run_training(t.db.as_ref(), store, &recorder, &source, &weak, &[])
            .await
            .unwrap();
        let Decision::Rejected {
            champion,
            candidate_macro_f1,
            champion_macro_f1,
            ..
        } = second.decision
        else {
            panic!("a stump does not beat the champion: {:?}", second.decision)
        };
        assert_eq!(champion, first.version);
        assert!(candidate_macro_f1 < champion_macro_f1);
        assert_eq!(second.champion, Some(first.version));
        let rejected = t.db.model_version(model_name(), second.version).unwrap().unwrap();
        assert_eq!(rejected.status, ModelStatus::Rejected);
        let decision = rejected.decision.unwrap();
        assert_eq!(decision["decision"]["outcome"], "rejected");
        // The same rows again: every holdout row is inside the champion's snapshot, so the
        // whole holdout (24 rows) is compared.
        assert_eq!(decision["compared_on"], "whole_holdout");
        assert_eq!(decision["holdout_rows"], 24);
        assert!(recorder.names().contains(&"candidate_rejected"));

        // A stale compare-and-set is refused; a manual promotion moves the alias.
        let stale =
            t.db.set_champion(model_name(), second.version, None, AliasReason::Manual, None)
                .unwrap_err();
        assert!(
            matches!(stale, driftloop_pipeline::db::Error::ChampionChanged { .. }),
            "{stale}"
        );
        t.db.set_champion(
            model_name(),
            second.version,
            Some(first.version),
            AliasReason::Manual,
            None,
        )
        .unwrap();
        assert_eq!(t.db.champion(model_name()).unwrap().unwrap().version, second.version);
        let retired = t.db.model_version(model_name(), first.version).unwrap().unwrap();
        assert_eq!(retired.status, ModelStatus::Retired);

        // Rollback restores the previous champion; there is nothing before it.
        let change = t.db.rollback_champion(model_name()).unwrap();
        assert_eq!((change.version, change.previous), (first.version, Some(second.version)));
        assert_eq!(t.db.champion(model_name()).unwrap().unwrap().version, first.version);
        let statuses: Vec<ModelStatus> =
            t.db.model_versions(model_name())
                .unwrap()
                .iter()
                .map(|v| v.status)
                .collect();
        assert_eq!(statuses, [ModelStatus::Champion, ModelStatus::RolledBack]);
        let err = t.db.rollback_champion(model_name()).unwrap_err().to_string();
        assert!(err.contains("nothing to roll back to"), "{err}");
        let err =
            t.db.set_champion(model_name(), 999, Some(first.version), AliasReason::Manual, None)
                .unwrap_err()
                .to_string();
        assert!(err.contains("has no version 999"), "{err}");
    });
}

driftloop_db::on_both_backends!(
    rejection_and_rollback,
    a_candidate_is_compared_on_rows_the_champion_never_learned_from
);

/// A store whose writes under `models/` fail, as a store that is down would.
struct FailingModels(Arc<dyn ObjectStore>);

#[async_trait]
impl ObjectStore for FailingModels {
    fn uri(&self, key: &str) -> String {
        self.0.uri(key)
    }
    fn key_of(&self, uri: &str) -> Option<String> {
        self.0.key_of(uri)
    }
    async fn put(&self, key: &str, bytes: Bytes) -> driftloop_pipeline::Result<()> {
        if key.starts_with("models/") {
            return Err(Error::Store {
                uri: self.0.uri(key),
                reason: "simulated outage: the store refuses writes".into(),
            });
        }
        self.0.put(key, bytes).await
    }
    async fn get(&self, key: &str) -> driftloop_pipeline::Result<Bytes> {
        self.0.get(key).await
    }
    async fn head(&self, key: &str) -> driftloop_pipeline::Result<Option<ObjectMeta>> {
        self.0.head(key).await
    }
    async fn list(&self, prefix: &str) -> driftloop_pipeline::Result<Vec<ObjectMeta>> {
        self.0.list(prefix).await
    }
    async fn delete(&self, key: &str) -> driftloop_pipeline::Result<()> {
        self.0.delete(key).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_failing_during_training_fails_the_job_keeps_the_champion_and_says_so() {
    let t = TestDb::new(Backend::Sqlite, "store_fails");
    let s = TestStore::new(StoreBackend::Local, "store-fails").await;
    import_original(&t);
    let first = train_expert(&t, s.store.as_ref(), None).await.unwrap();

    let receiver = WebhookReceiver::start(0).await;
    let notifier = Notifiers(vec![Box::new(WebhookNotifier::new(Secret::new(receiver.url.clone())))]);
    let failing = FailingModels(s.store.clone());
    let job = t.db.enqueue(JobKind::Train, &json!({}), None).unwrap();
    // Another seed: a new artifact that has to be written.
    let reseeded = TrainOptions {
        config: TrainConfig {
            seed: 7,
            ..TrainConfig::default()
        },
        ..options(None)
    };
    let drained = drain_train_jobs(t.db.as_ref(), &failing, &notifier, TrainLabels::Expert, &reseeded, None)
        .await
        .unwrap();
    assert!(drained.trainings.is_empty());
    assert_eq!(drained.failed.len(), 1);
    let stored = t.db.jobs(Some(JobStatus::Failed)).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, job.id);
    assert!(
        stored[0].error.as_deref().unwrap().contains("simulated outage"),
        "{stored:?}"
    );
    assert_eq!(t.db.champion(model_name()).unwrap().unwrap().version, first.version);
    assert_eq!(t.db.model_versions(model_name()).unwrap().len(), 1);
    assert_eq!(receiver.events(), ["training_started", "training_failed"]);
    let failed = receiver.bodies.lock().unwrap()[1].clone();
    assert!(
        failed["text"].as_str().unwrap().contains("simulated outage"),
        "{failed}"
    );
    assert_eq!(failed["job_ids"], json!([job.id]));
}

#[tokio::test(flavor = "multi_thread")]
async fn pending_train_jobs_are_coalesced_and_a_snapshot_job_runs_on_its_own() {
    let t = TestDb::new(Backend::Sqlite, "coalesce");
    let s = TestStore::new(StoreBackend::Local, "coalesce").await;
    import_original(&t);
    let ids: Vec<i64> = (0..3)
        .map(|i| {
            t.db.enqueue(JobKind::Train, &json!({"drift_job_id": i}), None)
                .unwrap()
                .id
        })
        .collect();
    let recorder = Recorder::default();
    let drained = drain_train_jobs(
        t.db.as_ref(),
        s.store.as_ref(),
        &recorder,
        TrainLabels::Expert,
        &options(None),
        None,
    )
    .await
    .unwrap();
    assert_eq!(drained.trainings.len(), 1);
    assert_eq!(drained.trainings[0].job_ids, ids);
    assert_eq!(t.db.jobs(Some(JobStatus::Done)).unwrap().len(), 3);

    let snapshot = drained.trainings[0].snapshot.uri.clone();
    let pending = t.db.enqueue(JobKind::Train, &json!({}), None).unwrap();
    let by_snapshot =
        t.db.enqueue(JobKind::Train, &json!({"from_snapshot": snapshot}), None)
            .unwrap();
    let drained = drain_train_jobs(
        t.db.as_ref(),
        s.store.as_ref(),
        &recorder,
        TrainLabels::Expert,
        &options(None),
        None,
    )
    .await
    .unwrap();
    let mut runs: Vec<Vec<i64>> = drained.trainings.iter().map(|o| o.job_ids.clone()).collect();
    runs.sort();
    assert_eq!(runs, vec![vec![pending.id], vec![by_snapshot.id]]);
    assert!(
        drained.trainings.iter().all(|o| o.version == 1),
        "same rows, same model"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_webhook_is_retried_and_a_dead_one_never_fails_the_sender() {
    let receiver = WebhookReceiver::start(2).await;
    let notifier = WebhookNotifier::with_policy(
        Secret::new(receiver.url.clone()),
        Duration::from_secs(2),
        3,
        Duration::from_millis(20),
    );
    let event = Event::TrainingFailed {
        job_ids: vec![4],
        error: "boom".into(),
    };
    notifier.deliver(&event).await.unwrap();
    assert_eq!(receiver.requests.load(Ordering::SeqCst), 3);
    let body = receiver.bodies.lock().unwrap()[0].clone();
    assert_eq!(body["event"], "training_failed");
    assert_eq!(body["error"], "boom");
    assert_eq!(body["text"], "driftloop: train job 4 failed: boom");

    let dead = WebhookNotifier::with_policy(
        Secret::new("http://127.0.0.1:9/hook"),
        Duration::from_millis(500),
        2,
        Duration::from_millis(10),
    );
    let err = dead.deliver(&event).await.unwrap_err();
    assert!(
        err.contains("after 2 attempt(s)") && !err.contains("127.0.0.1"),
        "{err}"
    );
    // Through the port: returns, whatever happened.
    tokio::time::timeout(Duration::from_secs(5), dead.notify(&event))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sns_notifier_publishes_to_a_topic() {
    crate::helpers::s3_endpoint();
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sns = aws_sdk_sns::Client::new(&config);
    let topic = sns
        .create_topic()
        .name(format!("driftloop-test-{}", std::process::id()))
        .send()
        .await
        .unwrap();
    let arn = topic.topic_arn().unwrap();
    let notifier = SnsNotifier::new(arn).await;
    let event = Event::ChampionPromoted {
        version: 2,
        previous: Some(1),
        candidate_macro_f1: 0.9,
        champion_macro_f1: Some(0.8),
    };
    let message_id = notifier.deliver(&event).await.unwrap();
    assert!(!message_id.is_empty());
    let missing = SnsNotifier::new(&arn.replace("driftloop-test", "no-such-topic")).await;
    assert!(missing.deliver(&event).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_artifact_is_refused_on_load() {
    let t = TestDb::new(Backend::Sqlite, "tampered");
    let s = TestStore::new(StoreBackend::Local, "tampered").await;
    import_original(&t);
    let outcome = train_expert(&t, s.store.as_ref(), None).await.unwrap();
    let key = s.store.key_of(&outcome.artifact_uri).unwrap();
    let mut bytes = s.store.get(&key).await.unwrap().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    s.store.put(&key, Bytes::from(bytes)).await.unwrap();
    let err = load_artifact(s.store.as_ref(), &outcome.artifact_uri)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot be trusted") && err.contains("hashes to"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn training_with_no_labelled_rows_is_a_clear_error() {
    let t = TestDb::new(Backend::Sqlite, "no_rows");
    let s = TestStore::new(StoreBackend::Local, "no-rows").await;
    let err = train_expert(&t, s.store.as_ref(), None).await.unwrap_err().to_string();
    assert!(
        err.contains("no expert rows to train on") && err.contains("driftloop import"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_measures_against_the_champions_training_snapshot() {
    let t = TestDb::new(Backend::Sqlite, "champion_reference");
    let s = TestStore::new(StoreBackend::Local, "champion-reference").await;
    import_original(&t);
    let trained = train_expert(&t, s.store.as_ref(), None).await.unwrap();
    // Newer rows, and a newer snapshot of them all: still not the reference.
    let mut later = read_feature_csv(&original_dataset(), LabelSource::Model).unwrap();
    later.truncate(30);
    t.db.insert_rows(&later).unwrap();
    let filter = driftloop_pipeline::snapshot::LabelSelection::All.row_filter();
    let newest = driftloop_pipeline::snapshot::write_snapshot(
        s.store.as_ref(),
        &t.db.read_frame(&filter).unwrap(),
        driftloop_pipeline::snapshot::LabelSelection::All,
        "all rows",
    )
    .await
    .unwrap();
    assert_ne!(newest.manifest.uri, trained.snapshot.uri);
    let reference = driftloop_pipeline::drift_job::load_reference(t.db.as_ref(), s.store.as_ref())
        .await
        .unwrap();
    assert_eq!(reference.manifest.uri, trained.snapshot.uri);
    assert_eq!(reference.manifest.rows, 120);
}

/// The first champion learns every row of its snapshot (the served model is refitted on
/// all 120); a later candidate is compared with it only on the candidate's holdout rows
/// the champion never learned from: those stored after its snapshot.
fn a_candidate_is_compared_on_rows_the_champion_never_learned_from(backend: Backend) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let t = TestDb::new(backend, "unseen");
        let s = TestStore::new(StoreBackend::Local, "unseen").await;
        let store = s.store.as_ref();
        import_original(&t);
        let first = train_expert(&t, store, None).await.unwrap();
        assert_eq!(first.decision, Decision::FirstChampion);
        assert_eq!((first.training_rows, first.served_rows), (96, Some(120)));
        let champion = load_champion(t.db.as_ref(), store, model_name())
            .await
            .unwrap()
            .unwrap()
            .1;
        assert_eq!(champion.header.metrics.served_rows, Some(120));
        assert_eq!(champion.header.metrics.holdout_rows, 24);

        t.db.insert_rows(&generate(Scenario::Baseline, 200, 31)).unwrap();
        let second = train_expert(&t, store, None).await.unwrap();
        assert_eq!(second.snapshot.rows, 320);
        // The candidate's holdout, drawn as training draws it, and its rows stored after
        // the champion's snapshot (ids above 120).
        let (frame, _) = load_snapshot(store, &second.snapshot.uri).await.unwrap();
        let ids: Vec<i64> = frame.column("id").unwrap().i64().unwrap().into_no_null_iter().collect();
        let labels = frame_to_dataset(&frame).unwrap().labels;
        let (_, holdout) = stratified_holdout(&labels, 0.2, TrainConfig::default().seed);
        let newer = holdout.iter().filter(|&&r| ids[r] > 120).count();
        assert!(newer > 0 && newer < holdout.len(), "{newer} of {}", holdout.len());
        let registered = t.db.model_version(model_name(), second.version).unwrap().unwrap();
        let decision = registered.decision.unwrap();
        assert_eq!(decision["compared_on"], "rows_newer_than_champion", "{decision}");
        assert_eq!(decision["holdout_rows"], newer, "{decision}");
        match second.decision {
            Decision::Promoted { previous, .. } => assert_eq!(previous, first.version),
            Decision::Rejected { champion, .. } => assert_eq!(champion, first.version),
            other => panic!("a decision against the champion: {other:?}"),
        }
    });
}

/// A missing value in a feature the dataset does not declare nullable is refused, whole
/// frame or taken a column at a time, by the column's name.
#[test]
fn a_missing_value_where_the_dataset_allows_none_is_refused() {
    let mut rows = generate(Scenario::Baseline, 10, 1);
    let column = &driftloop_core::spec().features[0];
    assert!(!column.nullable);
    rows[3].features[0] = f64::NAN;
    let mut frame = driftloop_pipeline::frames::rows_frame(&rows).unwrap();
    let ids = polars::prelude::Column::new("id".into(), (1..=10i64).collect::<Vec<i64>>());
    frame.with_column(ids).unwrap();
    let expected = format!("column {} has 1 missing value(s) and is not nullable", column.name);
    let errors = [frame_to_dataset(&frame).unwrap_err(), into_dataset(frame).unwrap_err()];
    for err in errors {
        assert!(err.to_string().contains(&expected), "{err}");
    }
}
