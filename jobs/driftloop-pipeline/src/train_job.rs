//! The train job: read the labelled rows, write their snapshot, train from it, store the
//! artifact, register the version, decide whether it replaces the champion, mirror to
//! MLflow and W&B, notify. Every step is safe to repeat: the snapshot and the artifact are
//! content-addressed and the registry keys versions by artifact hash, so a job that runs
//! twice (a lost lease) registers one version.
//!
//! The decision is `driftloop_model::promotion::decide`, carried out by `promote.rs`.

use driftloop_core::metrics::{ProbabilityScores, Scores};
use driftloop_core::spec;
use driftloop_model::artifact::{code_version, encode_artifact, ArtifactHeader, ArtifactMetrics, SnapshotRef};
pub use driftloop_model::promotion::Decision;
use driftloop_model::{give_back_freed_memory, holdout_split, train, Encoder, TrainConfig, Trained};
use polars::prelude::Int64Chunked;
use serde::Serialize;
use serde_json::Value;

use crate::artifacts::store_artifact;
use crate::config::TrainLabels;
use crate::db::{ClaimedJob, Database, JobKind, NewModelVersion};
use crate::drain::{drain, FailedJob, JobRunner};
use crate::error::{Error, Result};
use crate::frames::{describe_query, frame_bytes, into_dataset, training_columns};
use crate::mlflow::{sync, MlflowClient, SyncReport};
use crate::notify::{Event, Notifier};
use crate::objects::ObjectStore;
use crate::snapshot::{load_snapshot, write_snapshot, LabelSelection, SnapshotManifest};
use crate::wandb::{sync_wandb, WandbMirror, WandbSyncReport};

/// The registered name of the dataset's model: the dataset's name.
pub fn model_name() -> &'static str {
    &spec().name
}

/// Where the rows of a training come from.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainSource {
    /// The labelled rows in the feature table now (a new snapshot is written first).
    Database(TrainLabels),
    /// A snapshot written before, by URI: retrains exactly what was trained then.
    Snapshot(String),
    /// The labelled rows with `id` above the second field: what measured decay calls for
    /// (the labels say the concept moved; the rows before it teach the old one).
    Recent(TrainLabels, i64),
}

impl TrainSource {
    fn describe(&self) -> String {
        match self {
            TrainSource::Database(labels) => format!("the feature table ({} labels)", labels.as_str()),
            TrainSource::Snapshot(uri) => format!("snapshot {uri}"),
            TrainSource::Recent(labels, after_id) => {
                format!("the feature table ({} labels, rows after {after_id})", labels.as_str())
            }
        }
    }
}

/// How a training decides and where it reports.
pub struct TrainOptions<'a> {
    pub config: TrainConfig,
    pub promotion_margin: f64,
    pub mlflow: Option<&'a MlflowClient>,
    pub wandb: Option<&'a WandbMirror>,
}

/// What one training did.
#[derive(Debug, Clone, Serialize)]
pub struct TrainOutcome {
    pub job_ids: Vec<i64>,
    pub snapshot: SnapshotRef,
    pub version: i64,
    /// False when the same artifact was registered before (same snapshot and config).
    pub registered: bool,
    pub artifact_uri: String,
    pub sha256: String,
    pub family: String,
    pub params: Value,
    pub cv_macro_f1: f64,
    pub holdout: Scores,
    /// The log-loss and Brier score of the compared model's probabilities on the holdout.
    pub holdout_probabilities: ProbabilityScores,
    /// How the probability calibration was chosen, when the family is offered one.
    pub calibration: Option<driftloop_model::select::CalibrationChoice>,
    /// How the default family's best and the best of another family were compared, when
    /// the best cross-validated candidate was of another family.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_test: Option<driftloop_model::select::FamilyTest>,
    /// Rows the compared model was fitted on, and how many training rows there were when
    /// that was a sample of them (`max_train_rows`).
    pub training_rows: u64,
    pub sampled_from: Option<u64>,
    /// Rows the served model was fitted on when it was refitted on every row
    /// (`refit_max_rows`); `None`: the compared model is served.
    pub served_rows: Option<u64>,
    /// The snapshot's rows in memory (their Polars frame's size, bytes): what a train job's
    /// peak memory is measured against.
    pub frame_bytes: u64,
    pub decision: Decision,
    /// The champion after this training.
    pub champion: Option<i64>,
    pub mlflow: Option<SyncReport>,
    pub wandb: Option<WandbSyncReport>,
    pub timings: driftloop_model::select::Timings,
}

/// The ids at `rows` (increasing row numbers) of the frame's `id` column, read once.
fn ids_of_rows(ids: &Int64Chunked, rows: &[usize]) -> Vec<i64> {
    debug_assert!(rows.windows(2).all(|w| w[0] < w[1]));
    let mut wanted = rows.iter().copied().peekable();
    let mut picked = Vec::with_capacity(rows.len());
    for (r, id) in ids.into_no_null_iter().enumerate() {
        if wanted.peek() == Some(&r) {
            picked.push(id);
            wanted.next();
        }
    }
    picked
}

/// Runs one training (see the module documentation). The caller reports failures.
pub async fn run_training(
    db: &dyn Database,
    store: &dyn ObjectStore,
    notifier: &dyn Notifier,
    source: &TrainSource,
    options: &TrainOptions<'_>,
    job_ids: &[i64],
) -> Result<TrainOutcome> {
    notifier
        .notify(&Event::TrainingStarted {
            job_ids: job_ids.to_vec(),
            source: source.describe(),
        })
        .await;
    // Train from the snapshot: the rows written are the rows trained on (the frame read
    // from the database hashes to the snapshot's data hash, checked when it is written).
    let (frame, manifest): (_, SnapshotManifest) = match source {
        TrainSource::Database(labels) | TrainSource::Recent(labels, _) => {
            let selection = match labels {
                TrainLabels::Expert => LabelSelection::Expert,
                TrainLabels::All => LabelSelection::All,
            };
            let mut filter = selection.row_filter();
            if let TrainSource::Recent(_, after_id) = source {
                filter.after_id = Some(*after_id);
            }
            let frame = db.read_frame(&filter)?;
            // Each step's leftovers (the read's buffers, the Parquet writer's, the frame's
            // columns once copied) go back to the system before the next step: glibc kept
            // them otherwise, under what came next (at 1,000,000 rows the job peaked
            // 7 MB higher without these).
            give_back_freed_memory();
            if frame.height() == 0 {
                return Err(Error::Model(driftloop_model::ModelError::NotEnoughData(format!(
                    "the feature table has no {} rows to train on: import labelled rows first (`driftloop import`)",
                    labels.as_str()
                ))));
            }
            let written = write_snapshot(store, &frame, selection, &describe_query(&filter)).await?;
            (frame, written.manifest)
        }
        TrainSource::Snapshot(uri) => load_snapshot(store, uri).await?,
    };
    give_back_freed_memory();
    let frame_bytes = frame_bytes(&frame);
    let (data, ids) = into_dataset(training_columns(frame)?)?;
    give_back_freed_memory();
    // Of the rows' ids, the holdout's are all the promotion needs: they are picked now
    // (the holdout is the labels' and the config's alone) rather than every id held
    // through the training (8 MB at 1,000,000 rows).
    let (_, holdout_rows) = holdout_split(&data.labels, &options.config);
    let holdout_ids = ids_of_rows(ids.i64()?, &holdout_rows);
    drop(ids);
    let encoder = Encoder::from_spec(spec()).impute_from(&data.values);
    let n_classes = spec().classes.len();
    let config = options.config.clone();
    let (trained, data, encoder) = tokio::task::spawn_blocking(move || {
        let trained = train(&data, &encoder, n_classes, &config);
        (trained, data, encoder)
    })
    .await
    .expect("training does not panic");
    let trained: Trained = trained?;

    let snapshot = SnapshotRef {
        uri: manifest.uri.clone(),
        sha256: manifest.sha256.clone(),
        rows: manifest.rows,
    };
    let cv = trained
        .cv
        .iter()
        .find(|c| c.candidate == trained.chosen)
        .cloned()
        .expect("the chosen candidate was cross-validated");
    let header = ArtifactHeader {
        format: String::new(),
        format_version: 0,
        name: model_name().to_string(),
        family: trained.chosen.family(),
        params: trained.chosen.clone(),
        spec_hash: spec().spec_hash(),
        encoder: encoder.clone(),
        classes: spec().classes.clone(),
        metrics: ArtifactMetrics {
            cv: cv.clone(),
            candidates: trained.cv.clone(),
            holdout: trained.holdout.clone(),
            holdout_probabilities: Some(trained.holdout_probabilities),
            calibration: trained.calibration.clone(),
            family_test: trained.family_test.clone(),
            training_rows: trained.training_rows.len() as u64,
            holdout_rows: trained.holdout_rows.len() as u64,
            cv_rows: trained.cv_rows as u64,
            sampled_from: trained.sampled_from.map(|n| n as u64),
            served_rows: trained.served_rows.map(|n| n as u64),
        },
        snapshot: snapshot.clone(),
        config: options.config.clone(),
        code_version: code_version(),
        created_at: manifest.created_at.clone(),
        body_sha256: String::new(),
    };
    let (bytes, header) = encode_artifact(header, &trained.model)?;
    let (sha256, artifact_uri) = store_artifact(store, model_name(), bytes).await?;
    let params = Value::Object(trained.chosen.params());
    let (version, registered) = db.register_model(&NewModelVersion {
        name: model_name().to_string(),
        artifact_uri: artifact_uri.clone(),
        sha256: sha256.clone(),
        snapshot_uri: snapshot.uri.clone(),
        snapshot_sha256: snapshot.sha256.clone(),
        family: header.family.to_string(),
        params: params.clone(),
        cv_metrics: serde_json::to_value(&cv).expect("scores serialize"),
        holdout_metrics: holdout_metrics(&trained),
        train_job_id: job_ids.first().copied(),
    })?;
    notifier
        .notify(&Event::TrainingFinished {
            job_ids: job_ids.to_vec(),
            version: version.version,
            family: header.family.to_string(),
            params: params.clone(),
            cv_macro_f1: cv.mean_macro_f1,
            holdout_accuracy: trained.holdout.accuracy,
            holdout_macro_f1: trained.holdout.macro_f1,
            artifact_uri: artifact_uri.clone(),
            snapshot_uri: snapshot.uri.clone(),
        })
        .await;

    assert_eq!(
        trained.holdout_rows, holdout_rows,
        "the training's holdout is holdout_split's"
    );
    let holdout = crate::promote::Holdout {
        data: &data,
        rows: trained.holdout_rows.clone(),
        ids: holdout_ids,
        truth: trained.holdout_rows.iter().map(|&r| data.labels[r]).collect(),
        predicted: trained.holdout_predicted.clone(),
    };
    let decision = crate::promote::decide(
        db,
        store,
        notifier,
        &version,
        trained.holdout.macro_f1,
        &encoder,
        &holdout,
        options.promotion_margin,
    )
    .await?;
    let champion = db.champion(model_name())?.map(|c| c.version);

    let mlflow = match options.mlflow {
        Some(client) => Some(sync(db, store, client, model_name()).await?),
        None => None,
    };
    let wandb = match options.wandb {
        Some(mirror) => Some(sync_wandb(db, store, mirror, model_name()).await?),
        None => None,
    };
    Ok(TrainOutcome {
        job_ids: job_ids.to_vec(),
        snapshot,
        version: version.version,
        registered,
        artifact_uri,
        sha256,
        family: header.family.to_string(),
        params,
        cv_macro_f1: cv.mean_macro_f1,
        holdout: trained.holdout,
        holdout_probabilities: trained.holdout_probabilities,
        calibration: trained.calibration.clone(),
        family_test: trained.family_test.clone(),
        training_rows: trained.training_rows.len() as u64,
        sampled_from: trained.sampled_from.map(|n| n as u64),
        served_rows: trained.served_rows.map(|n| n as u64),
        frame_bytes,
        decision,
        champion,
        mlflow,
        wandb,
        timings: trained.timings,
    })
}

/// The registry's holdout metrics: the scores of the holdout's classes, with the
/// log-loss and Brier score of its probabilities beside them.
fn holdout_metrics(trained: &Trained) -> Value {
    let mut metrics = serde_json::to_value(&trained.holdout).expect("scores serialize");
    if let Value::Object(map) = &mut metrics {
        map.insert("log_loss".into(), Value::from(trained.holdout_probabilities.log_loss));
        map.insert("brier".into(), Value::from(trained.holdout_probabilities.brier));
        if let Some(choice) = &trained.calibration {
            map.insert(
                "calibration".into(),
                serde_json::to_value(choice).expect("a choice serializes"),
            );
        }
    }
    metrics
}

/// How long a train job may run before another worker may take it over.
pub const TRAIN_LEASE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// What a drain of the train jobs did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TrainDrain {
    pub trainings: Vec<TrainOutcome>,
    pub failed: Vec<FailedJob>,
    pub stopped_at_deadline: bool,
}

fn snapshot_of(job: &ClaimedJob) -> Option<String> {
    job.payload
        .as_ref()
        .and_then(|p| p.get("from_snapshot"))
        .and_then(|v| v.as_str())
        .map(String::from)
}

/// The watermark of a job that trains on the recent rows only (queued by decay).
fn recent_of(job: &ClaimedJob) -> Option<i64> {
    job.payload
        .as_ref()
        .and_then(|p| p.get("train_after_id"))
        .and_then(|v| v.as_i64())
}

/// Claims and runs train jobs until none is pending or `deadline` has passed. Pending
/// jobs that train from the database are coalesced: one training reads every labelled
/// row there is, which is what each of them asked for, and completes them all. A job
/// naming a snapshot (`{"from_snapshot": uri}`) trains on its own. A failed training
/// fails its jobs with the error and sends a `training_failed` notification.
pub async fn drain_train_jobs(
    db: &dyn Database,
    store: &dyn ObjectStore,
    notifier: &dyn Notifier,
    labels: TrainLabels,
    options: &TrainOptions<'_>,
    deadline: Option<std::time::Instant>,
) -> Result<TrainDrain> {
    let mut runner = TrainRunner {
        db,
        store,
        notifier,
        labels,
        options,
    };
    let drained = drain(db, JobKind::Train, TRAIN_LEASE, deadline, &mut runner).await?;
    Ok(TrainDrain {
        trainings: drained.outcomes,
        failed: drained.failed,
        stopped_at_deadline: drained.stopped_at_deadline,
    })
}

/// Train jobs: the pending database trainings coalesced into one, a snapshot job alone.
struct TrainRunner<'a, 'o> {
    db: &'a dyn Database,
    store: &'a dyn ObjectStore,
    notifier: &'a dyn Notifier,
    labels: TrainLabels,
    options: &'a TrainOptions<'o>,
}

impl JobRunner for TrainRunner<'_, '_> {
    type Outcome = TrainOutcome;

    fn group(&mut self, db: &dyn Database, first: ClaimedJob) -> Result<Vec<Vec<ClaimedJob>>> {
        let alone = |job: &ClaimedJob| snapshot_of(job).is_some() || recent_of(job).is_some();
        if alone(&first) {
            return Ok(vec![vec![first]]);
        }
        // Take the other pending database trainings along; a snapshot or recent-rows job
        // met on the way is handed back by running it next, on its own.
        let mut held = vec![first];
        while let Some(next) = db.claim(&[JobKind::Train], TRAIN_LEASE)? {
            if alone(&next) {
                return Ok(vec![vec![next], held]);
            }
            held.push(next);
        }
        Ok(vec![held])
    }

    async fn run(&mut self, jobs: &[ClaimedJob]) -> Result<TrainOutcome> {
        let source = match (snapshot_of(&jobs[0]), recent_of(&jobs[0])) {
            (Some(uri), _) => TrainSource::Snapshot(uri),
            (None, Some(after_id)) => TrainSource::Recent(self.labels, after_id),
            (None, None) => TrainSource::Database(self.labels),
        };
        let job_ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
        let outcome = run_training(self.db, self.store, self.notifier, &source, self.options, &job_ids).await;
        if let Err(e) = &outcome {
            self.notifier
                .notify(&Event::TrainingFailed {
                    job_ids,
                    error: format!("{e:#}"),
                })
                .await;
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use polars::prelude::*;

    use super::ids_of_rows;

    #[test]
    fn the_ids_of_rows_are_read_across_chunks() {
        let mut ids = Int64Chunked::from_slice("id".into(), &[10, 11, 15]);
        ids.append(&Int64Chunked::from_slice("id".into(), &[16, 20])).unwrap();
        assert_eq!(ids.chunks().len(), 2);
        assert_eq!(ids_of_rows(&ids, &[0, 2, 3, 4]), vec![10, 15, 16, 20]);
        assert_eq!(ids_of_rows(&ids, &[]), Vec::<i64>::new());
    }
}
