//! Configuration: the only place that reads the environment. `Settings::from_env` runs
//! once at start-up; flags given on the command line override its fields; everything
//! after that takes validated values.

use std::fmt;
use std::path::PathBuf;

pub use driftloop_db::{DatabaseUrl, Secret};

use crate::error::{Error, Result};

/// The database used when nothing is configured: an SQLite file beside the working folder.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://.driftloop/driftloop.db";

/// The object store used when nothing is configured: a folder beside the working folder.
pub const DEFAULT_STORE: &str = ".driftloop/store";

/// Where snapshots, models and reports go, parsed from `DRIFTLOOP_STORE` / `--store`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// A local folder: a plain path or `file:///ABSOLUTE/PATH`.
    Local { root: PathBuf },
    /// `s3://BUCKET/PREFIX` (the prefix may be empty).
    S3 { bucket: String, prefix: String },
}

impl StoreUrl {
    pub fn parse(raw: &str) -> Result<StoreUrl> {
        let raw = raw.trim();
        if let Some(rest) = raw.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let valid_bucket = (3..=63).contains(&bucket.len())
                && bucket
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
            if !valid_bucket {
                return Err(Error::Config(format!(
                    "store {raw:?}: {bucket:?} is not a bucket name (3 to 63 lowercase letters, digits, '-' or '.')"
                )));
            }
            return Ok(StoreUrl::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        let path = raw.strip_prefix("file://").unwrap_or(raw);
        if path.is_empty() || raw.contains("://") && !raw.starts_with("file://") {
            return Err(Error::Config(format!(
                "store {raw:?} is neither a folder, file:///PATH nor s3://BUCKET/PREFIX"
            )));
        }
        Ok(StoreUrl::Local {
            root: PathBuf::from(path),
        })
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Local { root } => write!(f, "{}", root.display()),
            StoreUrl::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            StoreUrl::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// Everything driftloop reads from its environment, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `DRIFTLOOP_DATABASE_URL`; default [`DEFAULT_DATABASE_URL`].
    pub database_url: DatabaseUrl,
    /// `DRIFTLOOP_DATABASE_SECRET_ARN`: on AWS, a Secrets Manager secret with the RDS
    /// credentials; `driftloop_lambda::secrets::resolve_database_secret` turns it into the database
    /// URL (used only when `DRIFTLOOP_DATABASE_URL` is not set).
    pub database_secret_arn: Option<String>,
    /// `DRIFTLOOP_STORE`; default [`DEFAULT_STORE`].
    pub store: StoreUrl,
    /// `DRIFTLOOP_DRIFT_ALPHA`, `DRIFTLOOP_DRIFT_PSI_THRESHOLD`, `DRIFTLOOP_DRIFT_SHARE`,
    /// `DRIFTLOOP_DRIFT_PSI_MIN_ROWS`: overrides of the drift decision's defaults (see the
    /// stats crate's `DriftConfig`).
    pub drift_alpha: Option<f64>,
    pub drift_psi_threshold: Option<f64>,
    pub drift_share: Option<f64>,
    pub drift_psi_min_rows: Option<usize>,
    /// `DRIFTLOOP_DRIFT_WINDOW`: which rows a drift check compares with the reference,
    /// [`DriftWindow`]; default `since-snapshot`.
    pub drift_window: DriftWindow,
    /// `DRIFTLOOP_PERFORMANCE_WINDOW` (labelled rows, default 200),
    /// `DRIFTLOOP_PERFORMANCE_ALPHA` (default 0.01), `DRIFTLOOP_PERFORMANCE_MIN_LABELS`
    /// (default 30): the performance check's window and decay test.
    pub performance_window: Option<f64>,
    pub performance_alpha: Option<f64>,
    pub performance_min_labels: Option<f64>,
    /// `DRIFTLOOP_TRAIN_LABELS`: which labelled rows training takes, `expert` (default:
    /// imported and expert-labelled rows) or `all` (model-labelled rows too).
    pub train_labels: TrainLabels,
    /// `DRIFTLOOP_MAX_TRAIN_ROWS`: the most rows a model is fitted on (above, a seeded
    /// stratified sample); default driftloop-model's `DEFAULT_MAX_TRAIN_ROWS`.
    pub max_train_rows: Option<usize>,
    /// `DRIFTLOOP_REFIT_MAX_ROWS`: up to this many rows, the served model is the chosen
    /// candidate refitted on every row, holdout included (0: never); default
    /// driftloop-model's `DEFAULT_REFIT_MAX_ROWS`.
    pub refit_max_rows: Option<usize>,
    /// `DRIFTLOOP_CALIBRATE`: `false` keeps every candidate's probabilities as its model
    /// gives them; `true` (driftloop-model's default) offers forests, trees and naive
    /// Bayes a sigmoid or isotonic calibration, chosen by holdout log-loss.
    pub calibrate: Option<bool>,
    /// `DRIFTLOOP_BALANCE_CLASSES`: `false` never tries balanced class weights; `true`
    /// (driftloop-model's default) tries them when the classes are imbalanced.
    pub balance_classes: Option<bool>,
    /// `DRIFTLOOP_DEFAULT_FAMILY`: the family training keeps unless another's best
    /// candidate cross-validates significantly better (`random_forest`, driftloop-model's
    /// default, or another family's name), or `none`: the best cross-validated candidate.
    /// Unset: `None`.
    pub default_family: Option<Option<driftloop_model::Family>>,
    /// `DRIFTLOOP_PROMOTION_MARGIN`: how much higher a candidate's holdout macro-F1 must
    /// be than the champion's on the same rows to replace it; default 0.01.
    pub promotion_margin: f64,
    /// `MLFLOW_TRACKING_URI`: the MLflow server runs and versions are mirrored to.
    pub mlflow_tracking_uri: Option<String>,
    /// `DRIFTLOOP_MLFLOW_EXPERIMENT`: the MLflow experiment; default `driftloop`.
    pub mlflow_experiment: String,
    /// Weights & Biases, W&B's own variables: `WANDB_API_KEY` turns the mirror on.
    pub wandb: Option<WandbSettings>,
    /// `DRIFTLOOP_WEBHOOK_URL`: a Slack-compatible incoming webhook to notify.
    pub webhook_url: Option<Secret>,
    /// `DRIFTLOOP_SNS_TOPIC_ARN`: an SNS topic to notify.
    pub sns_topic_arn: Option<String>,
    /// `DRIFTLOOP_DRIFT_FUNCTION`: the drift function the predict function invokes
    /// asynchronously when an insert made a drift job due (on AWS; the schedule is the
    /// backstop).
    pub drift_function: Option<String>,
    /// `DRIFTLOOP_TRAIN_FUNCTION`: the train function the drift function invokes
    /// asynchronously when it queued a training (on AWS; the schedule is the backstop).
    pub train_function: Option<String>,
    /// `RUST_LOG`: which log lines to print (tracing's filter syntax); default `info`.
    pub log_filter: String,
    /// `DRIFTLOOP_DATASET`: the dataset file (README, "Your own dataset"); default the
    /// shipped mental-health dataset, embedded in the binary.
    pub dataset: Option<std::path::PathBuf>,
}

impl Settings {
    /// How to train: the environment's row limits over driftloop-model's defaults.
    pub fn train_config(&self) -> driftloop_model::TrainConfig {
        let defaults = driftloop_model::TrainConfig::default();
        driftloop_model::TrainConfig {
            max_train_rows: self.max_train_rows.unwrap_or(defaults.max_train_rows),
            refit_max_rows: self.refit_max_rows.unwrap_or(defaults.refit_max_rows),
            calibrate: self.calibrate.unwrap_or(defaults.calibrate),
            balance_classes: self.balance_classes.unwrap_or(defaults.balance_classes),
            default_family: self.default_family.unwrap_or(defaults.default_family),
            ..defaults
        }
    }

    /// The drift decision's settings: the environment's overrides over the defaults.
    pub fn drift_config(&self) -> driftloop_stats::DriftConfig {
        let defaults = driftloop_stats::DriftConfig::default();
        driftloop_stats::DriftConfig {
            alpha: self.drift_alpha.unwrap_or(defaults.alpha),
            psi_threshold: self.drift_psi_threshold.unwrap_or(defaults.psi_threshold),
            drift_share: self.drift_share.unwrap_or(defaults.drift_share),
            psi_min_rows: self.drift_psi_min_rows.map_or(defaults.psi_min_rows, |n| n as u64),
            ..defaults
        }
    }
}

/// Where trainings are mirrored in Weights & Biases (`WANDB_*`, W&B's own names).
#[derive(Debug, Clone, PartialEq)]
pub struct WandbSettings {
    /// `WANDB_API_KEY`: never printed or logged. Offline runs need none, but the mirror is
    /// on only when it is set (or `WANDB_MODE=offline`).
    pub api_key: Option<Secret>,
    /// `WANDB_BASE_URL`: default W&B's cloud, [`DEFAULT_WANDB_BASE_URL`].
    pub base_url: String,
    /// `WANDB_ENTITY`: the team or user; default the key's own entity.
    pub entity: Option<String>,
    /// `WANDB_PROJECT`: default `driftloop`.
    pub project: String,
    /// `WANDB_MODE=offline`: runs are written in W&B's offline format for `wandb sync`
    /// instead of sent.
    pub offline: bool,
    /// `WANDB_DIR`: where offline runs go (`<dir>/wandb/offline-run-…`); unset, they go
    /// into the store under `tracking/wandb/`.
    pub dir: Option<PathBuf>,
    /// `DRIFTLOOP_WANDB_TIMEOUT_SECONDS`: the longest a training waits for W&B; default 30.
    pub timeout: std::time::Duration,
}

/// W&B's cloud, where runs go when `WANDB_BASE_URL` is not set.
pub const DEFAULT_WANDB_BASE_URL: &str = "https://api.wandb.ai";

/// Which rows a drift check compares with the reference (the champion's training
/// snapshot). Never rows of the reference itself: every window starts after its newest row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DriftWindow {
    /// Every row stored since the reference (`since-snapshot`, the default).
    #[default]
    SinceSnapshot,
    /// The newest N rows (`last:N`).
    Last(u64),
    /// The rows stored since the last drift check (`since-last-check`).
    SinceLastCheck,
}

impl DriftWindow {
    /// Parses `since-snapshot`, `last:N` (N ≥ 1) or `since-last-check`.
    pub fn parse(raw: &str) -> std::result::Result<DriftWindow, String> {
        let raw = raw.trim();
        match raw {
            "since-snapshot" => Ok(DriftWindow::SinceSnapshot),
            "since-last-check" => Ok(DriftWindow::SinceLastCheck),
            _ => match raw.strip_prefix("last:").map(|n| n.trim().parse::<u64>()) {
                Some(Ok(n)) if n >= 1 => Ok(DriftWindow::Last(n)),
                _ => Err(format!(
                    "{raw:?} is not a drift window: since-snapshot, last:N (N at least 1) or since-last-check"
                )),
            },
        }
    }
}

impl std::fmt::Display for DriftWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriftWindow::SinceSnapshot => write!(f, "since-snapshot"),
            DriftWindow::Last(n) => write!(f, "last:{n}"),
            DriftWindow::SinceLastCheck => write!(f, "since-last-check"),
        }
    }
}

impl serde::Serialize for DriftWindow {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Which labelled rows training takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrainLabels {
    /// Imported and expert-labelled rows only.
    Expert,
    /// Every row, model-labelled ones included.
    All,
}

impl TrainLabels {
    pub fn parse(raw: &str) -> Option<TrainLabels> {
        match raw.trim() {
            "expert" => Some(TrainLabels::Expert),
            "all" => Some(TrainLabels::All),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TrainLabels::Expert => "expert",
            TrainLabels::All => "all",
        }
    }
}

/// The default of [`Settings::promotion_margin`].
pub const DEFAULT_PROMOTION_MARGIN: f64 = 0.01;

impl Settings {
    /// Reads the process environment. Every invalid variable is reported in one error.
    pub fn from_env() -> Result<Settings> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds settings from any variable lookup (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings> {
        let mut problems = Vec::new();
        let database_url = match lookup("DRIFTLOOP_DATABASE_URL").filter(|v| !v.trim().is_empty()) {
            Some(raw) => DatabaseUrl::parse(&raw)
                .map_err(|e| problems.push(format!("DRIFTLOOP_DATABASE_URL: {e}")))
                .ok(),
            None => Some(DatabaseUrl::parse(DEFAULT_DATABASE_URL).expect("the default url parses")),
        };
        let store = match lookup("DRIFTLOOP_STORE").filter(|v| !v.trim().is_empty()) {
            Some(raw) => StoreUrl::parse(&raw)
                .map_err(|e| problems.push(format!("DRIFTLOOP_STORE: {}", bare(e))))
                .ok(),
            None => Some(StoreUrl::parse(DEFAULT_STORE).expect("the default store parses")),
        };
        let mut whole_rows = |name: &str, zero: &str| -> Option<usize> {
            let raw = lookup(name).filter(|v| !v.trim().is_empty())?;
            match raw.trim().parse::<usize>() {
                Ok(n) => Some(n),
                Err(_) => {
                    problems.push(format!("{name}: {raw:?} is not a whole number of rows (0: {zero})"));
                    None
                }
            }
        };
        let refit_max_rows = whole_rows("DRIFTLOOP_REFIT_MAX_ROWS", "never");
        let drift_psi_min_rows = whole_rows("DRIFTLOOP_DRIFT_PSI_MIN_ROWS", "PSI counts at any size");
        let mut flag = |name: &str| -> Option<bool> {
            let raw = lookup(name).filter(|v| !v.trim().is_empty())?;
            match raw.trim().to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => {
                    problems.push(format!("{name}: {raw:?} is neither true nor false"));
                    None
                }
            }
        };
        let calibrate = flag("DRIFTLOOP_CALIBRATE");
        let balance_classes = flag("DRIFTLOOP_BALANCE_CLASSES");
        let default_family = lookup("DRIFTLOOP_DEFAULT_FAMILY")
            .filter(|v| !v.trim().is_empty())
            .and_then(|raw| {
                let name = raw.trim().to_ascii_lowercase().replace('-', "_");
                if name == "none" {
                    return Some(None);
                }
                let family = driftloop_model::Family::parse(&name);
                if family.is_none() {
                    let names: Vec<&str> = driftloop_model::Family::ALL.iter().map(|f| f.as_str()).collect();
                    problems.push(format!(
                        "DRIFTLOOP_DEFAULT_FAMILY: {raw:?} is not a model family ({}) or none",
                        names.join(", ")
                    ));
                }
                family.map(Some)
            });
        let mut number = |name: &str| -> Option<f64> {
            let raw = lookup(name).filter(|v| !v.trim().is_empty())?;
            match raw.trim().parse::<f64>() {
                Ok(value) if value.is_finite() && value > 0.0 => Some(value),
                _ => {
                    problems.push(format!("{name}: {raw:?} is not a positive number"));
                    None
                }
            }
        };
        let drift_alpha = number("DRIFTLOOP_DRIFT_ALPHA");
        let drift_psi_threshold = number("DRIFTLOOP_DRIFT_PSI_THRESHOLD");
        let drift_share = number("DRIFTLOOP_DRIFT_SHARE");
        let performance_window = number("DRIFTLOOP_PERFORMANCE_WINDOW");
        let performance_alpha = number("DRIFTLOOP_PERFORMANCE_ALPHA");
        let performance_min_labels = number("DRIFTLOOP_PERFORMANCE_MIN_LABELS");
        let max_train_rows = number("DRIFTLOOP_MAX_TRAIN_ROWS").and_then(|n| {
            if n.fract() == 0.0 && n >= 1.0 {
                Some(n as usize)
            } else {
                problems.push(format!("DRIFTLOOP_MAX_TRAIN_ROWS: {n} is not a whole number of rows"));
                None
            }
        });
        let drift_window = match lookup("DRIFTLOOP_DRIFT_WINDOW").filter(|v| !v.trim().is_empty()) {
            None => DriftWindow::default(),
            Some(raw) => DriftWindow::parse(&raw).unwrap_or_else(|e| {
                problems.push(format!("DRIFTLOOP_DRIFT_WINDOW: {e}"));
                DriftWindow::default()
            }),
        };
        let nonempty = |name: &str| lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let train_labels = match nonempty("DRIFTLOOP_TRAIN_LABELS") {
            None => TrainLabels::Expert,
            Some(raw) => TrainLabels::parse(&raw).unwrap_or_else(|| {
                problems.push(format!("DRIFTLOOP_TRAIN_LABELS: {raw:?} is not expert or all"));
                TrainLabels::Expert
            }),
        };
        let promotion_margin = match nonempty("DRIFTLOOP_PROMOTION_MARGIN") {
            None => DEFAULT_PROMOTION_MARGIN,
            Some(raw) => match raw.parse::<f64>() {
                Ok(v) if (0.0..1.0).contains(&v) => v,
                _ => {
                    problems.push(format!(
                        "DRIFTLOOP_PROMOTION_MARGIN: {raw:?} is not a number from 0 to 1"
                    ));
                    DEFAULT_PROMOTION_MARGIN
                }
            },
        };
        let mlflow_tracking_uri = nonempty("MLFLOW_TRACKING_URI");
        if let Some(uri) = &mlflow_tracking_uri {
            if !(uri.starts_with("http://") || uri.starts_with("https://")) {
                problems.push(format!(
                    "MLFLOW_TRACKING_URI: {uri:?} is not an http(s):// URL of an MLflow server"
                ));
            }
        }
        let wandb_mode = nonempty("WANDB_MODE");
        let offline = match wandb_mode.as_deref() {
            None | Some("online") | Some("run") => false,
            Some("offline") | Some("dryrun") => true,
            Some("disabled") => false,
            Some(other) => {
                problems.push(format!("WANDB_MODE: {other:?} is not online, offline or disabled"));
                false
            }
        };
        let wandb_key = nonempty("WANDB_API_KEY");
        let wandb_base_url = nonempty("WANDB_BASE_URL").unwrap_or_else(|| DEFAULT_WANDB_BASE_URL.to_string());
        if !(wandb_base_url.starts_with("http://") || wandb_base_url.starts_with("https://")) {
            problems.push(format!(
                "WANDB_BASE_URL: {wandb_base_url:?} is not an http(s):// URL of a W&B server"
            ));
        }
        let wandb_project = nonempty("WANDB_PROJECT").unwrap_or_else(|| "driftloop".to_string());
        let wandb_entity = nonempty("WANDB_ENTITY");
        for (name, value) in [
            ("WANDB_PROJECT", Some(&wandb_project)),
            ("WANDB_ENTITY", wandb_entity.as_ref()),
        ] {
            if let Some(value) = value {
                if value.len() > 128 || value.chars().any(|c| c == '/' || c.is_whitespace() || c.is_control()) {
                    problems.push(format!(
                        "{name}: {value:?} is not a W&B name (no '/', spaces, at most 128 characters)"
                    ));
                }
            }
        }
        let wandb_timeout = match nonempty("DRIFTLOOP_WANDB_TIMEOUT_SECONDS") {
            None => 30.0,
            Some(raw) => match raw.parse::<f64>() {
                Ok(v) if v > 0.0 && v <= 900.0 => v,
                _ => {
                    problems.push(format!(
                        "DRIFTLOOP_WANDB_TIMEOUT_SECONDS: {raw:?} is not a number of seconds from 0 to 900"
                    ));
                    30.0
                }
            },
        };
        let wandb_on = (wandb_key.is_some() || offline) && wandb_mode.as_deref() != Some("disabled");
        let wandb = wandb_on.then(|| WandbSettings {
            api_key: wandb_key.map(Secret::new),
            base_url: wandb_base_url.trim_end_matches('/').to_string(),
            entity: wandb_entity,
            project: wandb_project,
            offline,
            dir: nonempty("WANDB_DIR").map(PathBuf::from),
            timeout: std::time::Duration::from_secs_f64(wandb_timeout),
        });
        let webhook_url = nonempty("DRIFTLOOP_WEBHOOK_URL");
        if let Some(url) = &webhook_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                problems.push("DRIFTLOOP_WEBHOOK_URL: not an http(s):// URL".to_string());
            }
        }
        match (problems.is_empty(), database_url, store) {
            (true, Some(database_url), Some(store)) => Ok(Settings {
                database_secret_arn: nonempty("DRIFTLOOP_DATABASE_SECRET_ARN")
                    .filter(|_| nonempty("DRIFTLOOP_DATABASE_URL").is_none()),
                database_url,
                store,
                drift_alpha,
                drift_psi_threshold,
                drift_share,
                drift_psi_min_rows,
                drift_window,
                performance_window,
                performance_alpha,
                performance_min_labels,
                train_labels,
                max_train_rows,
                refit_max_rows,
                calibrate,
                balance_classes,
                default_family,
                promotion_margin,
                mlflow_tracking_uri,
                mlflow_experiment: nonempty("DRIFTLOOP_MLFLOW_EXPERIMENT").unwrap_or_else(|| "driftloop".to_string()),
                wandb,
                webhook_url: webhook_url.map(Secret::new),
                sns_topic_arn: nonempty("DRIFTLOOP_SNS_TOPIC_ARN"),
                drift_function: nonempty("DRIFTLOOP_DRIFT_FUNCTION"),
                train_function: nonempty("DRIFTLOOP_TRAIN_FUNCTION"),
                log_filter: lookup("RUST_LOG").unwrap_or_else(|| "info".to_string()),
                dataset: nonempty("DRIFTLOOP_DATASET").map(std::path::PathBuf::from),
            }),
            _ => Err(Error::Config(problems.join("; "))),
        }
    }
}

impl Settings {
    /// Makes the dataset file the settings name the process's dataset (nothing to do for
    /// the shipped one). Called once at start, before any row, model or query is made.
    pub fn activate_dataset(&self) -> Result<&'static driftloop_core::DatasetSpec> {
        match &self.dataset {
            None => Ok(driftloop_core::spec()),
            Some(path) => {
                let spec = driftloop_core::DatasetSpec::from_file(path).map_err(driftloop_core::ActivateError::from)?;
                Ok(driftloop_core::activate(spec)?)
            }
        }
    }
}

/// A configuration error's message without its "invalid configuration" prefix.
fn bare(error: Error) -> String {
    match error {
        Error::Config(message) => message,
        other => other.to_string(),
    }
}

#[cfg(test)]
#[path = "tests_config.rs"]
mod tests;
