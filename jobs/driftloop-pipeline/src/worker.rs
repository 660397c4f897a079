//! The worker: what runs the outbox, built once from the settings. A pass drains the
//! drift jobs, then the performance jobs, then the train jobs they queued. `driftloop worker`, `driftloop serve`'s
//! in-process worker and the demo run passes; the drift and train functions drain their
//! own kind, up to the invocation's deadline.

use std::sync::Arc;
use std::time::Instant;

use driftloop_model::TrainConfig;
use driftloop_stats::DriftConfig;
use serde::Serialize;

use crate::config::{Settings, TrainLabels};
use crate::db::Database;
use crate::drift_job::{drain_drift_jobs, drift_config, DrainSummary, DriftWindow};
use crate::error::Result;
use crate::mlflow::MlflowClient;
use crate::notify::{notifier_from_settings, Notifier};
use crate::objects::ObjectStore;
use crate::performance_job::{drain_performance_jobs, performance_config, PerformanceConfig, PerformanceDrain};
use crate::train_job::{drain_train_jobs, TrainDrain, TrainOptions};
use crate::wandb::WandbMirror;

pub struct Worker {
    pub db: Arc<dyn Database>,
    pub store: Arc<dyn ObjectStore>,
    pub notifier: Arc<dyn Notifier>,
    pub mlflow: Option<MlflowClient>,
    pub wandb: Option<WandbMirror>,
    pub drift: DriftConfig,
    /// The rows a drift job without a window of its own compares.
    pub drift_window: DriftWindow,
    pub performance: PerformanceConfig,
    pub labels: TrainLabels,
    pub train: TrainConfig,
    pub promotion_margin: f64,
}

/// What one pass did.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerPass {
    pub drift: DrainSummary,
    pub performance: PerformanceDrain,
    pub train: TrainDrain,
}

impl WorkerPass {
    /// True when the pass found no job to run.
    pub fn is_idle(&self) -> bool {
        self.drift.jobs.is_empty()
            && self.drift.failed.is_empty()
            && self.performance.jobs.is_empty()
            && self.performance.failed.is_empty()
            && self.train.trainings.is_empty()
            && self.train.failed.is_empty()
    }
}

impl Worker {
    /// The worker the settings describe, with their notifiers (the log line, a webhook,
    /// an SNS topic) and MLflow and W&B mirrors.
    pub async fn from_settings(
        settings: &Settings,
        db: Arc<dyn Database>,
        store: Arc<dyn ObjectStore>,
    ) -> Result<Worker> {
        let notifier = Arc::new(notifier_from_settings(settings).await);
        Worker::with_notifier(settings, db, store, notifier)
    }

    /// The same, sending events to `notifier`.
    pub fn with_notifier(
        settings: &Settings,
        db: Arc<dyn Database>,
        store: Arc<dyn ObjectStore>,
        notifier: Arc<dyn Notifier>,
    ) -> Result<Worker> {
        let drift = drift_config(settings);
        drift.validate()?;
        Ok(Worker {
            db,
            store,
            notifier,
            mlflow: MlflowClient::from_settings(settings),
            wandb: WandbMirror::from_settings(settings),
            drift,
            drift_window: settings.drift_window,
            performance: performance_config(settings),
            labels: settings.train_labels,
            train: settings.train_config(),
            promotion_margin: settings.promotion_margin,
        })
    }

    /// Runs the pending drift jobs until none is left or `deadline` has passed.
    pub async fn drain_drift(&self, deadline: Option<Instant>) -> Result<DrainSummary> {
        drain_drift_jobs(
            self.db.as_ref(),
            self.store.as_ref(),
            self.notifier.as_ref(),
            &self.drift,
            self.drift_window,
            deadline,
        )
        .await
    }

    /// Runs the pending performance jobs until none is left or `deadline` has passed.
    pub async fn drain_performance(&self, deadline: Option<Instant>) -> Result<PerformanceDrain> {
        drain_performance_jobs(
            self.db.as_ref(),
            self.store.as_ref(),
            self.notifier.as_ref(),
            &self.performance,
            deadline,
        )
        .await
    }

    /// Runs the pending train jobs until none is left or `deadline` has passed.
    pub async fn drain_train(&self, deadline: Option<Instant>) -> Result<TrainDrain> {
        let options = TrainOptions {
            config: self.train.clone(),
            promotion_margin: self.promotion_margin,
            mlflow: self.mlflow.as_ref(),
            wandb: self.wandb.as_ref(),
        };
        drain_train_jobs(
            self.db.as_ref(),
            self.store.as_ref(),
            self.notifier.as_ref(),
            self.labels,
            &options,
            deadline,
        )
        .await
    }

    /// One pass: the drift jobs, the performance jobs, then the train jobs (including
    /// those the others queued).
    pub async fn run_once(&self) -> Result<WorkerPass> {
        let drift = self.drain_drift(None).await?;
        let performance = self.drain_performance(None).await?;
        let train = self.drain_train(None).await?;
        Ok(WorkerPass {
            drift,
            performance,
            train,
        })
    }
}
