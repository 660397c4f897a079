//! The Weights & Biases mirror: a registered version as a W&B run, sent to a W&B server
//! ([`online`]) or written in W&B's own offline format,
//! `<dir>/wandb/offline-run-<YYYYMMDD_HHMMSS>-<id>/run-<id>.wandb`, which `wandb sync
//! <dir>` uploads and `wandb leet inspect` reads. The log format is in [`log`], the
//! records in [`proto`], the syncing of the registry in `mirror.rs`.

pub mod log;
mod mirror;
pub mod online;
pub mod proto;

pub use mirror::{run_of_stored_version, store_key, sync_wandb, Transport, WandbMirror, WandbSyncReport, STORE_PREFIX};

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use prost::Message;
use serde_json::{Map, Value};

use proto::{
    ArtifactManifest, ArtifactManifestEntry, ArtifactRecord, ConfigItem, ConfigRecord, ExtraItem, FinalRecord,
    HeaderRecord, HistoryItem, HistoryRecord, HistoryStep, Record, RecordInfo, RecordType, RunExitRecord, RunRecord,
    StoragePolicyConfigItem, SummaryItem, SummaryRecord, Timestamp, VersionInfo,
};

/// The oldest W&B reader the written log asks for (as the wandb 0.31 SDK writes it).
const MIN_CONSUMER: &str = "0.70.0";

/// One run as W&B shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct WandbRun {
    /// W&B's run id: letters and digits.
    pub id: String,
    pub project: String,
    pub entity: Option<String>,
    pub display_name: String,
    pub job_type: String,
    pub tags: Vec<String>,
    pub config: Map<String, Value>,
    /// One object of values per step, in order.
    pub history: Vec<Map<String, Value>>,
    pub summary: Map<String, Value>,
    pub started: DateTime<Utc>,
    pub runtime_seconds: f64,
    /// The model the run made, as a W&B artifact.
    pub artifact: Option<WandbArtifact>,
}

/// A W&B artifact of one file, named where it lives (a reference entry, as W&B writes for
/// `s3://` objects: the bytes are not uploaded).
#[derive(Debug, Clone, PartialEq)]
pub struct WandbArtifact {
    /// The artifact's collection: the model's name.
    pub name: String,
    /// W&B's artifact type: `model`.
    pub kind: String,
    pub description: String,
    pub metadata: Map<String, Value>,
    pub aliases: Vec<String>,
    /// The file's name inside the artifact.
    pub path: String,
    /// Where the file lives: its `s3://` or `file://` URI.
    pub reference: String,
    /// The file's digest as W&B computes one: its MD5, in base64.
    pub md5_base64: String,
    pub size: u64,
    pub sha256: String,
}

impl WandbArtifact {
    /// The artifact's digest as W&B computes a manifest's: the MD5 (hex) of a header line
    /// and `path:digest` per entry, in path order.
    pub fn digest(&self) -> String {
        use md5::{Digest, Md5};
        let mut hasher = Md5::new();
        hasher.update(b"wandb-artifact-manifest-v1\n");
        hasher.update(format!("{}:{}\n", self.path, self.md5_base64).as_bytes());
        hex::encode(hasher.finalize())
    }

    /// The manifest as W&B stores it (`wandb_manifest.json`): one reference entry with
    /// the file's MD5, URI and size, and its sha256 as an extra.
    pub fn manifest_json(&self) -> Value {
        serde_json::json!({
            "version": 1,
            "storagePolicy": "wandb-storage-policy-v1",
            "storagePolicyConfig": {"storageLayout": "V2"},
            "contents": {
                self.path.clone(): {
                    "digest": self.md5_base64,
                    "ref": self.reference,
                    "size": self.size,
                    "extra": {"sha256": self.sha256},
                },
            },
        })
    }

    /// The file's digest for the manifest, from its bytes.
    pub fn md5_base64_of(bytes: &[u8]) -> String {
        use base64::Engine;
        use md5::{Digest, Md5};
        base64::engine::general_purpose::STANDARD.encode(Md5::digest(bytes))
    }

    fn record(&self, run: &WandbRun) -> ArtifactRecord {
        ArtifactRecord {
            run_id: run.id.clone(),
            project: run.project.clone(),
            entity: run.entity.clone().unwrap_or_default(),
            r#type: self.kind.clone(),
            name: self.name.clone(),
            digest: self.digest(),
            description: self.description.clone(),
            metadata: json(&Value::Object(self.metadata.clone())),
            user_created: false,
            aliases: self.aliases.clone(),
            manifest: Some(ArtifactManifest {
                version: 1,
                storage_policy: "wandb-storage-policy-v1".into(),
                storage_policy_config: vec![StoragePolicyConfigItem {
                    key: "storageLayout".into(),
                    value_json: json(&Value::from("V2")),
                }],
                contents: vec![ArtifactManifestEntry {
                    path: self.path.clone(),
                    digest: self.md5_base64.clone(),
                    r#ref: self.reference.clone(),
                    size: self.size as i64,
                    extra: vec![ExtraItem {
                        key: "sha256".into(),
                        value_json: json(&Value::from(self.sha256.clone())),
                    }],
                }],
            }),
            finalize: true,
        }
    }
}

fn json(value: &Value) -> String {
    serde_json::to_string(value).expect("a JSON value serializes")
}

impl WandbRun {
    /// The records of the run, in the order W&B's SDK writes them: header, run (with its
    /// config), one history record per step, the summary, the artifact, the exit, the
    /// final record.
    pub fn records(&self) -> Vec<Record> {
        let info = || {
            Some(RecordInfo {
                stream_id: self.id.clone(),
            })
        };
        let config = ConfigRecord {
            update: self
                .config
                .iter()
                .map(|(key, value)| ConfigItem {
                    key: key.clone(),
                    value_json: json(value),
                })
                .collect(),
        };
        let mut kinds = vec![
            RecordType::Header(HeaderRecord {
                version_info: Some(VersionInfo {
                    producer: format!("driftloop {}", env!("CARGO_PKG_VERSION")),
                    min_consumer: MIN_CONSUMER.into(),
                }),
            }),
            RecordType::Run(RunRecord {
                run_id: self.id.clone(),
                entity: self.entity.clone().unwrap_or_default(),
                project: self.project.clone(),
                config: Some(config),
                summary: None,
                job_type: self.job_type.clone(),
                display_name: self.display_name.clone(),
                notes: String::new(),
                tags: self.tags.clone(),
                host: String::new(),
                start_time: Some(Timestamp {
                    seconds: self.started.timestamp(),
                    nanos: self.started.timestamp_subsec_nanos() as i32,
                }),
            }),
        ];
        for (step, values) in self.history.iter().enumerate() {
            let mut item: Vec<HistoryItem> = values
                .iter()
                .map(|(key, value)| HistoryItem {
                    key: key.clone(),
                    value_json: json(value),
                })
                .collect();
            item.push(HistoryItem {
                key: "_step".into(),
                value_json: step.to_string(),
            });
            kinds.push(RecordType::History(HistoryRecord {
                item,
                step: Some(HistoryStep { num: step as i64 }),
            }));
        }
        kinds.push(RecordType::Summary(SummaryRecord {
            update: self
                .summary
                .iter()
                .map(|(key, value)| SummaryItem {
                    key: key.clone(),
                    value_json: json(value),
                })
                .collect(),
        }));
        if let Some(artifact) = &self.artifact {
            kinds.push(RecordType::Artifact(artifact.record(self)));
        }
        kinds.push(RecordType::Exit(RunExitRecord {
            exit_code: 0,
            runtime: self.runtime_seconds.ceil() as i32,
        }));
        kinds.push(RecordType::Final(FinalRecord {}));
        kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| Record {
                num: i as i64 + 1,
                record_type: Some(kind),
                info: info(),
            })
            .collect()
    }

    /// The bytes of the run's `.wandb` file.
    pub fn log_bytes(&self) -> Vec<u8> {
        let mut log = log::TransactionLog::default();
        for record in self.records() {
            log.append(&record.encode_to_vec());
        }
        log.into_bytes()
    }

    /// The run's folder under `dir`, as W&B names offline runs.
    pub fn folder(&self, dir: &Path) -> PathBuf {
        dir.join("wandb").join(format!(
            "offline-run-{}-{}",
            self.started.format("%Y%m%d_%H%M%S"),
            self.id
        ))
    }

    /// Writes the run under `dir` (`WANDB_DIR`), replacing an earlier write of the same
    /// run; returns the `.wandb` file's path.
    pub fn write_offline(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let folder = self.folder(dir);
        std::fs::create_dir_all(&folder)?;
        let path = folder.join(format!("run-{}.wandb", self.id));
        let partial = folder.join(format!("run-{}.wandb.partial", self.id));
        std::fs::write(&partial, self.log_bytes())?;
        std::fs::rename(&partial, &path)?;
        Ok(path)
    }
}

/// Where a run goes in W&B.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WandbTarget {
    pub project: String,
    pub entity: Option<String>,
}

/// The run of a registered version, from the registry and the artifact's header (so it
/// can be written again at any time, the same run): named `v<version>-<family>`, tagged
/// with the family and the version's standing (`first-champion`, `champion`, `rejected`,
/// …). The config holds the family and its parameters, the training configuration (seed,
/// folds, holdout share, the grid), the dataset, the snapshot and the artifact; the
/// history one step per candidate of the grid (its parameters, CV macro-F1 mean and per
/// fold); the summary the CV and holdout metrics and the promotion decision.
pub fn run_of_version(
    version: &driftloop_db::ModelVersion,
    header: &driftloop_model::artifact::ArtifactHeader,
    file: &ArtifactFile,
    target: &WandbTarget,
) -> WandbRun {
    let m = &version.model;
    let spec = driftloop_core::spec();
    let status = serde_json::to_value(version.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let first = version
        .decision
        .as_ref()
        .and_then(|d| d.pointer("/decision/outcome"))
        .is_some_and(|o| o == "first_champion");
    let mut tags = vec![m.family.clone(), status.replace('_', "-")];
    if first {
        tags.push("first-champion".into());
    }
    let grid: Vec<Value> = header
        .config
        .candidates
        .iter()
        .map(|c| serde_json::json!({"family": c.family().as_str(), "params": c.params()}))
        .collect();
    let mut config = Map::new();
    for (key, value) in [
        ("version", Value::from(version.version)),
        ("family", Value::from(m.family.clone())),
        ("params", m.params.clone()),
        ("model_name", Value::from(m.name.clone())),
        ("dataset", Value::from(spec.name.clone())),
        ("dataset_hash", Value::from(header.spec_hash.clone())),
        ("classes", Value::from(header.classes.clone())),
        ("seed", Value::from(header.config.seed)),
        ("folds", Value::from(header.config.folds)),
        ("holdout_share", Value::from(header.config.holdout_share)),
        ("cv_max_rows", Value::from(header.config.cv_max_rows)),
        ("grid", Value::from(grid)),
        ("rows", Value::from(header.snapshot.rows)),
        ("training_rows", Value::from(header.metrics.training_rows)),
        ("holdout_rows", Value::from(header.metrics.holdout_rows)),
        ("snapshot_uri", Value::from(m.snapshot_uri.clone())),
        ("snapshot_sha256", Value::from(m.snapshot_sha256.clone())),
        ("artifact_uri", Value::from(m.artifact_uri.clone())),
        ("artifact_sha256", Value::from(m.sha256.clone())),
        ("train_job_id", Value::from(m.train_job_id)),
        ("code_version", Value::from(header.code_version.clone())),
    ] {
        config.insert(key.into(), value);
    }
    if let Some(margin) = version.decision.as_ref().and_then(|d| d.pointer("/decision/margin")) {
        config.insert("promotion_margin".into(), margin.clone());
    }
    let history = header
        .metrics
        .candidates
        .iter()
        .enumerate()
        .map(|(i, candidate)| {
            let mut step = Map::new();
            step.insert("candidate".into(), Value::from(i));
            step.insert("family".into(), Value::from(candidate.candidate.family().as_str()));
            step.insert("params".into(), Value::Object(candidate.candidate.params()));
            step.insert("chosen".into(), Value::from(candidate.candidate == header.params));
            step.insert("cv_mean_macro_f1".into(), Value::from(candidate.mean_macro_f1));
            step.insert("cv_std_macro_f1".into(), Value::from(candidate.std_macro_f1));
            step.insert("cv_mean_accuracy".into(), Value::from(candidate.mean_accuracy));
            for (fold, f1) in candidate.fold_macro_f1.iter().enumerate() {
                step.insert(format!("cv_macro_f1_fold_{}", fold + 1), Value::from(*f1));
            }
            if let Some(error) = &candidate.error {
                step.insert("error".into(), Value::from(error.clone()));
            }
            step
        })
        .collect();
    let mut summary = Map::new();
    for (key, value) in [
        ("cv_mean_macro_f1", &m.cv_metrics["mean_macro_f1"]),
        ("cv_mean_accuracy", &m.cv_metrics["mean_accuracy"]),
        ("cv_fold_macro_f1", &m.cv_metrics["fold_macro_f1"]),
        ("holdout_accuracy", &m.holdout_metrics["accuracy"]),
        ("holdout_macro_f1", &m.holdout_metrics["macro_f1"]),
        ("holdout_per_class", &m.holdout_metrics["per_class"]),
        ("holdout_confusion", &m.holdout_metrics["confusion"]),
        ("holdout_log_loss", &m.holdout_metrics["log_loss"]),
        ("holdout_brier", &m.holdout_metrics["brier"]),
    ] {
        if !value.is_null() {
            summary.insert(key.into(), value.clone());
        }
    }
    if let Some(method) = crate::mlflow::calibration_method(version) {
        summary.insert("calibration".into(), Value::from(method));
    }
    summary.insert("status".into(), Value::from(status));
    if let Some(decision) = &version.decision {
        summary.insert("decision".into(), decision.clone());
    }
    let started = DateTime::parse_from_rfc3339(&version.created_at)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(DateTime::UNIX_EPOCH);
    let mut metadata = Map::new();
    for key in [
        "version",
        "family",
        "params",
        "dataset",
        "dataset_hash",
        "classes",
        "snapshot_uri",
        "snapshot_sha256",
        "code_version",
    ] {
        metadata.insert(key.into(), config[key].clone());
    }
    metadata.insert("format".into(), Value::from(header.format.clone()));
    metadata.insert("format_version".into(), Value::from(header.format_version));
    metadata.insert("status".into(), summary["status"].clone());
    for key in ["holdout_accuracy", "holdout_macro_f1", "cv_mean_macro_f1"] {
        if let Some(value) = summary.get(key) {
            metadata.insert(key.into(), value.clone());
        }
    }
    // W&B numbers an artifact's versions itself (v0, v1, …) and ignores aliases of that
    // form: driftloop's version number goes in an alias of its own.
    let mut aliases = vec![format!("driftloop-v{}", version.version)];
    if version.status == driftloop_db::ModelStatus::Champion {
        aliases.push("champion".into());
    }
    let artifact = WandbArtifact {
        name: m.name.clone(),
        kind: "model".into(),
        description: format!("driftloop version {} ({})", version.version, m.family),
        metadata,
        aliases,
        path: file.path.clone(),
        reference: m.artifact_uri.clone(),
        md5_base64: file.md5_base64.clone(),
        size: file.size,
        sha256: m.sha256.clone(),
    };
    WandbRun {
        id: run_id_of(&m.sha256),
        project: target.project.clone(),
        entity: target.entity.clone(),
        display_name: format!("v{}-{}", version.version, m.family),
        job_type: "train".into(),
        tags,
        config,
        history,
        summary,
        started,
        runtime_seconds: 0.0,
        artifact: Some(artifact),
    }
}

/// What the W&B artifact of a version needs from its stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactFile {
    /// The file's name in the store.
    pub path: String,
    pub md5_base64: String,
    pub size: u64,
}

/// A W&B run id derived from a model artifact's sha256: its first 16 hex digits, so that
/// mirroring the same version twice writes the same run.
pub fn run_id_of(artifact_sha256: &str) -> String {
    artifact_sha256
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(16)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn example() -> WandbRun {
        WandbRun {
            id: run_id_of("5e411f16e2553040e052bc1be73d68aaf6e2a0f5"),
            project: "driftloop".into(),
            entity: None,
            display_name: "v3-naive_bayes".into(),
            job_type: "train".into(),
            tags: vec!["naive_bayes".into(), "champion".into()],
            config: json!({"family": "naive_bayes", "alpha": 0.5, "rows": 120})
                .as_object()
                .unwrap()
                .clone(),
            history: vec![
                json!({"cv_macro_f1": 0.81}).as_object().unwrap().clone(),
                json!({"cv_macro_f1": 0.86}).as_object().unwrap().clone(),
            ],
            summary: json!({"holdout_accuracy": 0.875, "decision": "promoted"})
                .as_object()
                .unwrap()
                .clone(),
            started: DateTime::parse_from_rfc3339("2026-12-03T07:08:09Z").unwrap().into(),
            runtime_seconds: 1.2,
            artifact: Some(WandbArtifact {
                name: "mental_health".into(),
                kind: "model".into(),
                description: "driftloop version 3 (naive_bayes)".into(),
                metadata: json!({"family": "naive_bayes"}).as_object().unwrap().clone(),
                aliases: vec!["driftloop-v3".into(), "champion".into()],
                path: "5e41.dlmodel".into(),
                reference: "s3://bucket/driftloop/models/mental_health/5e41.dlmodel".into(),
                md5_base64: WandbArtifact::md5_base64_of(b"model"),
                size: 5,
                sha256: "5e41".into(),
            }),
        }
    }

    #[test]
    fn the_log_holds_the_runs_records_in_order() {
        let run = example();
        assert_eq!(run.id, "5e411f16e2553040");
        let records: Vec<Record> = log::read_records(&run.log_bytes())
            .unwrap()
            .iter()
            .map(|data| Record::decode(data.as_slice()).unwrap())
            .collect();
        assert_eq!(records, run.records());
        let kinds: Vec<&str> = records
            .iter()
            .map(|r| match r.record_type.as_ref().unwrap() {
                RecordType::Header(_) => "header",
                RecordType::Run(_) => "run",
                RecordType::History(_) => "history",
                RecordType::Summary(_) => "summary",
                RecordType::Config(_) => "config",
                RecordType::Artifact(_) => "artifact",
                RecordType::Exit(_) => "exit",
                RecordType::Final(_) => "final",
            })
            .collect();
        assert_eq!(
            kinds,
            ["header", "run", "history", "history", "summary", "artifact", "exit", "final"]
        );
        assert_eq!(
            run.folder(Path::new("/w")),
            Path::new("/w/wandb/offline-run-20261203_070809-5e411f16e2553040")
        );
    }

    /// The tags of a message's fields on the wire, each once, in order of first use.
    fn wire_tags(mut bytes: &[u8]) -> Vec<u32> {
        fn varint(bytes: &mut &[u8]) -> u64 {
            let (mut value, mut shift) = (0u64, 0);
            loop {
                let byte = bytes[0];
                *bytes = &bytes[1..];
                value |= ((byte & 0x7f) as u64) << shift;
                if byte < 0x80 {
                    return value;
                }
                shift += 7;
            }
        }
        let mut tags = Vec::new();
        while !bytes.is_empty() {
            let key = varint(&mut bytes);
            let tag = (key >> 3) as u32;
            match key & 7 {
                0 => {
                    varint(&mut bytes);
                }
                1 => bytes = &bytes[8..],
                2 => {
                    let n = varint(&mut bytes) as usize;
                    bytes = &bytes[n..];
                }
                5 => bytes = &bytes[4..],
                other => panic!("wire type {other}"),
            }
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        tags
    }

    /// Every declared field, set, appears on the wire under the number `FIELDS` gives it
    /// (so the prost attributes and the table compared with W&B's descriptors agree).
    #[test]
    fn the_field_numbers_on_the_wire_are_the_declared_ones() {
        let numbers = |message: &str| -> Vec<u32> {
            proto::FIELDS
                .iter()
                .filter(|(m, _, _)| *m == message)
                .map(|(_, _, n)| *n)
                .collect()
        };
        let mut run = example().records().remove(1);
        let RecordType::Run(r) = run.record_type.as_mut().unwrap() else {
            panic!("the second record is the run")
        };
        r.entity = "team".into();
        r.notes = "n".into();
        r.host = "h".into();
        r.summary = Some(SummaryRecord { update: vec![] });
        let RecordType::Run(r) = run.record_type.clone().unwrap() else {
            unreachable!()
        };
        let mut wire = wire_tags(&r.encode_to_vec());
        wire.sort();
        assert_eq!(wire, numbers("RunRecord"));
        let item = ConfigItem {
            key: "k".into(),
            value_json: "1".into(),
        };
        assert_eq!(wire_tags(&item.encode_to_vec()), numbers("ConfigItem"));
        let history = HistoryRecord {
            item: vec![HistoryItem {
                key: "k".into(),
                value_json: "1".into(),
            }],
            step: Some(HistoryStep { num: 1 }),
        };
        assert_eq!(wire_tags(&history.encode_to_vec()), numbers("HistoryRecord"));
        assert_eq!(wire_tags(&history.item[0].encode_to_vec()), numbers("HistoryItem"));
        assert_eq!(
            wire_tags(&HistoryStep { num: 1 }.encode_to_vec()),
            numbers("HistoryStep")
        );
        let summary = SummaryItem {
            key: "k".into(),
            value_json: "1".into(),
        };
        assert_eq!(wire_tags(&summary.encode_to_vec()), numbers("SummaryItem"));
        let exit = RunExitRecord {
            exit_code: 1,
            runtime: 2,
        };
        assert_eq!(wire_tags(&exit.encode_to_vec()), numbers("RunExitRecord"));
        let version = VersionInfo {
            producer: "p".into(),
            min_consumer: "m".into(),
        };
        assert_eq!(wire_tags(&version.encode_to_vec()), numbers("VersionInfo"));
        let info = RecordInfo { stream_id: "s".into() };
        assert_eq!(wire_tags(&info.encode_to_vec()), numbers("_RecordInfo"));
        // A record of each kind: its num, the kind's field and _info.
        let mut record_tags = vec![1, 200];
        for record in example().records() {
            let tags = wire_tags(&record.encode_to_vec());
            assert_eq!(tags[0], 1);
            assert_eq!(*tags.last().unwrap(), 200);
            record_tags.push(tags[1]);
        }
        record_tags.push(5); // config records: declared for updates, not written yet

        let artifact = example()
            .records()
            .into_iter()
            .find_map(|r| match r.record_type {
                Some(RecordType::Artifact(a)) => Some(a),
                _ => None,
            })
            .expect("the example has an artifact");
        let mut full = artifact.clone();
        full.entity = "team".into();
        full.user_created = true;
        let mut wire = wire_tags(&full.encode_to_vec());
        wire.sort();
        assert_eq!(wire, numbers("ArtifactRecord"));
        let manifest = artifact.manifest.unwrap();
        assert_eq!(wire_tags(&manifest.encode_to_vec()), numbers("ArtifactManifest"));
        assert_eq!(
            wire_tags(&manifest.storage_policy_config[0].encode_to_vec()),
            numbers("StoragePolicyConfigItem")
        );
        assert_eq!(
            wire_tags(&manifest.contents[0].encode_to_vec()),
            numbers("ArtifactManifestEntry")
        );
        assert_eq!(
            wire_tags(&manifest.contents[0].extra[0].encode_to_vec()),
            numbers("ExtraItem")
        );
        record_tags.sort();
        record_tags.dedup();
        assert_eq!(record_tags, numbers("Record"));
    }

    /// The table agrees with the numbers in the `wandb` package's descriptors.
    #[test]
    fn the_field_numbers_are_wandbs() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data-fixtures/wandb/descriptors.json"
        );
        let descriptors: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        for (message, field, number) in proto::FIELDS {
            let theirs = &descriptors["messages"][message][field];
            assert_eq!(theirs, &json!(number), "wandb_internal.{message}.{field}");
        }
    }
}
