//! The protobuf records of a W&B run's transaction log, defined here with the field
//! numbers of the `wandb` package's own descriptors (`wandb.proto.wandb_internal_pb2`,
//! wandb 0.31.0). Only the messages and fields driftloop writes are declared; a test
//! compares every number with `data-fixtures/wandb/descriptors.json`, which
//! `scripts/wandb_descriptors.py` writes from the package.

/// `wandb_internal.Record`: one entry of the log.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Record {
    #[prost(int64, tag = "1")]
    pub num: i64,
    #[prost(oneof = "RecordType", tags = "2, 3, 5, 8, 17, 18, 20, 21")]
    pub record_type: Option<RecordType>,
    #[prost(message, optional, tag = "200")]
    pub info: Option<RecordInfo>,
}

/// The kinds of record driftloop writes. (A run writes a handful of records once, so
/// the size of the run variant costs nothing worth a box.)
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum RecordType {
    #[prost(message, tag = "2")]
    History(HistoryRecord),
    #[prost(message, tag = "3")]
    Summary(SummaryRecord),
    #[prost(message, tag = "5")]
    Config(ConfigRecord),
    #[prost(message, tag = "8")]
    Artifact(ArtifactRecord),
    #[prost(message, tag = "17")]
    Run(RunRecord),
    #[prost(message, tag = "18")]
    Exit(RunExitRecord),
    #[prost(message, tag = "20")]
    Final(FinalRecord),
    #[prost(message, tag = "21")]
    Header(HeaderRecord),
}

/// `wandb_internal._RecordInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RecordInfo {
    #[prost(string, tag = "1")]
    pub stream_id: String,
}

/// `wandb_internal.HeaderRecord`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HeaderRecord {
    #[prost(message, optional, tag = "1")]
    pub version_info: Option<VersionInfo>,
}

/// `wandb_internal.VersionInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VersionInfo {
    #[prost(string, tag = "1")]
    pub producer: String,
    #[prost(string, tag = "2")]
    pub min_consumer: String,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// `wandb_internal.RunRecord`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RunRecord {
    #[prost(string, tag = "1")]
    pub run_id: String,
    #[prost(string, tag = "2")]
    pub entity: String,
    #[prost(string, tag = "3")]
    pub project: String,
    #[prost(message, optional, tag = "4")]
    pub config: Option<ConfigRecord>,
    #[prost(message, optional, tag = "5")]
    pub summary: Option<SummaryRecord>,
    #[prost(string, tag = "7")]
    pub job_type: String,
    #[prost(string, tag = "8")]
    pub display_name: String,
    #[prost(string, tag = "9")]
    pub notes: String,
    #[prost(string, repeated, tag = "10")]
    pub tags: Vec<String>,
    #[prost(string, tag = "13")]
    pub host: String,
    #[prost(message, optional, tag = "17")]
    pub start_time: Option<Timestamp>,
}

/// `wandb_internal.ConfigRecord`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConfigRecord {
    #[prost(message, repeated, tag = "1")]
    pub update: Vec<ConfigItem>,
}

/// `wandb_internal.ConfigItem`: a key and its value as JSON.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConfigItem {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "16")]
    pub value_json: String,
}

/// `wandb_internal.HistoryRecord`: one step of the run's history.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HistoryRecord {
    #[prost(message, repeated, tag = "1")]
    pub item: Vec<HistoryItem>,
    #[prost(message, optional, tag = "2")]
    pub step: Option<HistoryStep>,
}

/// `wandb_internal.HistoryItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HistoryItem {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "16")]
    pub value_json: String,
}

/// `wandb_internal.HistoryStep`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HistoryStep {
    #[prost(int64, tag = "1")]
    pub num: i64,
}

/// `wandb_internal.SummaryRecord`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryRecord {
    #[prost(message, repeated, tag = "1")]
    pub update: Vec<SummaryItem>,
}

/// `wandb_internal.SummaryItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryItem {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "16")]
    pub value_json: String,
}

/// `wandb_internal.RunExitRecord`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RunExitRecord {
    #[prost(int32, tag = "1")]
    pub exit_code: i32,
    #[prost(int32, tag = "2")]
    pub runtime: i32,
}

/// `wandb_internal.ArtifactRecord`: an artifact logged by the run.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ArtifactRecord {
    #[prost(string, tag = "1")]
    pub run_id: String,
    #[prost(string, tag = "2")]
    pub project: String,
    #[prost(string, tag = "3")]
    pub entity: String,
    #[prost(string, tag = "4")]
    pub r#type: String,
    #[prost(string, tag = "5")]
    pub name: String,
    #[prost(string, tag = "6")]
    pub digest: String,
    #[prost(string, tag = "7")]
    pub description: String,
    /// JSON.
    #[prost(string, tag = "8")]
    pub metadata: String,
    #[prost(bool, tag = "9")]
    pub user_created: bool,
    #[prost(string, repeated, tag = "11")]
    pub aliases: Vec<String>,
    #[prost(message, optional, tag = "12")]
    pub manifest: Option<ArtifactManifest>,
    #[prost(bool, tag = "14")]
    pub finalize: bool,
}

/// `wandb_internal.ArtifactManifest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ArtifactManifest {
    #[prost(int32, tag = "1")]
    pub version: i32,
    #[prost(string, tag = "2")]
    pub storage_policy: String,
    #[prost(message, repeated, tag = "3")]
    pub storage_policy_config: Vec<StoragePolicyConfigItem>,
    #[prost(message, repeated, tag = "4")]
    pub contents: Vec<ArtifactManifestEntry>,
}

/// `wandb_internal.StoragePolicyConfigItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StoragePolicyConfigItem {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value_json: String,
}

/// `wandb_internal.ArtifactManifestEntry`: one file of an artifact; `ref` names it where
/// it lives instead of uploading it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ArtifactManifestEntry {
    #[prost(string, tag = "1")]
    pub path: String,
    #[prost(string, tag = "2")]
    pub digest: String,
    #[prost(string, tag = "3")]
    pub r#ref: String,
    #[prost(int64, tag = "4")]
    pub size: i64,
    #[prost(message, repeated, tag = "16")]
    pub extra: Vec<ExtraItem>,
}

/// `wandb_internal.ExtraItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExtraItem {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value_json: String,
}

/// `wandb_internal.FinalRecord`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FinalRecord {}

/// The (message, field, number) of every field declared above, as the descriptors name
/// them, for the test against `descriptors.json`.
pub const FIELDS: &[(&str, &str, u32)] = &[
    ("Record", "num", 1),
    ("Record", "history", 2),
    ("Record", "summary", 3),
    ("Record", "config", 5),
    ("Record", "artifact", 8),
    ("Record", "run", 17),
    ("Record", "exit", 18),
    ("Record", "final", 20),
    ("Record", "header", 21),
    ("Record", "_info", 200),
    ("_RecordInfo", "stream_id", 1),
    ("HeaderRecord", "version_info", 1),
    ("VersionInfo", "producer", 1),
    ("VersionInfo", "min_consumer", 2),
    ("RunRecord", "run_id", 1),
    ("RunRecord", "entity", 2),
    ("RunRecord", "project", 3),
    ("RunRecord", "config", 4),
    ("RunRecord", "summary", 5),
    ("RunRecord", "job_type", 7),
    ("RunRecord", "display_name", 8),
    ("RunRecord", "notes", 9),
    ("RunRecord", "tags", 10),
    ("RunRecord", "host", 13),
    ("RunRecord", "start_time", 17),
    ("ConfigRecord", "update", 1),
    ("ConfigItem", "key", 1),
    ("ConfigItem", "value_json", 16),
    ("HistoryRecord", "item", 1),
    ("HistoryRecord", "step", 2),
    ("HistoryItem", "key", 1),
    ("HistoryItem", "value_json", 16),
    ("HistoryStep", "num", 1),
    ("SummaryRecord", "update", 1),
    ("SummaryItem", "key", 1),
    ("SummaryItem", "value_json", 16),
    ("RunExitRecord", "exit_code", 1),
    ("RunExitRecord", "runtime", 2),
    ("ArtifactRecord", "run_id", 1),
    ("ArtifactRecord", "project", 2),
    ("ArtifactRecord", "entity", 3),
    ("ArtifactRecord", "type", 4),
    ("ArtifactRecord", "name", 5),
    ("ArtifactRecord", "digest", 6),
    ("ArtifactRecord", "description", 7),
    ("ArtifactRecord", "metadata", 8),
    ("ArtifactRecord", "user_created", 9),
    ("ArtifactRecord", "aliases", 11),
    ("ArtifactRecord", "manifest", 12),
    ("ArtifactRecord", "finalize", 14),
    ("ArtifactManifest", "version", 1),
    ("ArtifactManifest", "storage_policy", 2),
    ("ArtifactManifest", "storage_policy_config", 3),
    ("ArtifactManifest", "contents", 4),
    ("StoragePolicyConfigItem", "key", 1),
    ("StoragePolicyConfigItem", "value_json", 2),
    ("ArtifactManifestEntry", "path", 1),
    ("ArtifactManifestEntry", "digest", 2),
    ("ArtifactManifestEntry", "ref", 3),
    ("ArtifactManifestEntry", "size", 4),
    ("ArtifactManifestEntry", "extra", 16),
    ("ExtraItem", "key", 1),
    ("ExtraItem", "value_json", 2),
];
