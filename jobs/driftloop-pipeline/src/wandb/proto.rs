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
    #[prost(oneof = "RecordType", tags = "2, 3, 5, 17, 18, 20, 21")]
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
];
