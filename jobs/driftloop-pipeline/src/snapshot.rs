//! Parquet snapshots of feature rows in the object store, content-addressed by the sha256
//! of their data: the same rows give the same bytes and the same key, so a second write
//! uploads nothing. Layout, Hive-style so Polars, DuckDB and Spark read it directly:
//!
//! ```text
//! snapshots/dataset=<name>/date=<YYYY-MM-DD of the newest row>/<data sha256>.parquet
//! snapshots/dataset=<name>/date=<...>/<data sha256>.json      (the manifest)
//! ```
//!
//! The Parquet file carries its data hash and provenance as key-value metadata; the
//! manifest beside it adds the file's own sha256, which a file cannot hold about itself,
//! and the rows' [`Profile`] (their counts per column and level), so that a drift check
//! against the snapshot reads the manifest, never the file. Loading checks both hashes, so
//! a changed file is an error that says so.

use std::io::Cursor;

use bytes::Bytes;
use driftloop_core::{spec, LabelSource, Profile};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::RowFilter;
use crate::error::{Error, Result};
use crate::frames::feature_schema;
use crate::objects::ObjectStore;
use driftloop_db::frames::{canonicalize, is_null_scalar, nulls_as_scalar};

/// Version of the snapshot layout and columns; bumped when either changes.
pub const SCHEMA_VERSION: u32 = 1;
/// Rows per Parquet row group: about 1 MB per column chunk before compression, small
/// enough for readers to skip groups by their statistics.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;
const META_PREFIX: &str = "driftloop.";

/// Which labelled rows a snapshot takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelSelection {
    Expert,
    Model,
    All,
}

impl LabelSelection {
    pub fn as_str(self) -> &'static str {
        match self {
            LabelSelection::Expert => "expert",
            LabelSelection::Model => "model",
            LabelSelection::All => "all",
        }
    }

    pub fn row_filter(self) -> RowFilter {
        let label_source = match self {
            LabelSelection::Expert => Some(LabelSource::Expert),
            LabelSelection::Model => Some(LabelSource::Model),
            LabelSelection::All => None,
        };
        RowFilter {
            after_id: None,
            label_source,
        }
    }
}

/// Everything known about one snapshot; stored as its manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotManifest {
    pub uri: String,
    pub key: String,
    pub dataset: String,
    pub spec_hash: String,
    pub schema_version: u32,
    /// sha256 of the data, column by column (see [`data_sha256`]); also the file name.
    pub sha256: String,
    /// sha256 of the Parquet file's bytes.
    pub file_sha256: String,
    pub size_bytes: u64,
    pub rows: u64,
    /// The smallest and largest feature-row `id` in the snapshot; `max_id` is the
    /// watermark after which rows are "new" for drift checks.
    pub min_id: i64,
    pub max_id: i64,
    pub label_source: LabelSelection,
    /// The query that selected the rows.
    pub query: String,
    /// When the newest row was stored (UTC, RFC 3339): the data's "as of" time. Taken
    /// from the data, not the clock, so the same rows always give the same bytes.
    pub created_at: String,
    /// What a drift check needs of the rows (driftloop-stats' `profile`). Manifests
    /// written before profiles have none; a drift check then profiles the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
}

/// What writing a snapshot did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotWritten {
    #[serde(flatten)]
    pub manifest: SnapshotManifest,
    /// False when the same data was already stored and nothing was uploaded.
    pub uploaded: bool,
}

/// A stable hash of a frame's data: for every column in order, its name, a type tag and
/// its values, typed and null-aware (a validity byte per value), so it does not depend on
/// how Arrow or Parquet lay the buffers out. The values go to the hash a block at a time,
/// so hashing holds [`HASH_BLOCK_BYTES`] besides the frame, not a copy of a column.
pub fn data_sha256(frame: &DataFrame) -> Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = HashBlocks {
        hasher: &mut hasher,
        block: Vec::with_capacity(HASH_BLOCK_BYTES),
    };
    for column in frame.columns() {
        let tag = match column.dtype() {
            DataType::Enum(categories, _) => {
                let levels: Vec<&str> = categories.categories().values_iter().collect();
                format!("enum[{}]", levels.join("|"))
            }
            other => other.to_string(),
        };
        for part in [column.name().as_str(), tag.as_str()] {
            buf.update(&(part.len() as u64).to_le_bytes());
            buf.update(part.as_bytes());
        }
        buf.update(&(frame.height() as u64).to_le_bytes());
        if is_null_scalar(column) {
            // A column of nulls (a read keeps a text column without a value so): hashed
            // as its values would be, without making them (which would keep a copy of
            // them with the frame).
            (0..frame.height()).for_each(|_| buf.update(&[0]));
            continue;
        }
        let series = column.as_materialized_series();
        let physical = series.to_physical_repr();
        match physical.dtype() {
            DataType::Int64 => hash_values(&mut buf, physical.i64()?.iter(), |v, b| b.update(&v.to_le_bytes())),
            DataType::UInt8 => hash_values(&mut buf, physical.u8()?.iter(), |v, b| b.update(&[v])),
            DataType::UInt16 => hash_values(&mut buf, physical.u16()?.iter(), |v, b| b.update(&v.to_le_bytes())),
            DataType::UInt32 => hash_values(&mut buf, physical.u32()?.iter(), |v, b| b.update(&v.to_le_bytes())),
            DataType::Float64 => hash_values(&mut buf, physical.f64()?.iter(), |v, b| {
                b.update(&v.to_bits().to_le_bytes())
            }),
            DataType::String => hash_values(&mut buf, physical.str()?.iter(), |v, b| {
                b.update(&(v.len() as u64).to_le_bytes());
                b.update(v.as_bytes());
            }),
            other => {
                return Err(Error::Corrupt(format!(
                    "column {} has type {other}, which snapshots do not hold",
                    series.name()
                )))
            }
        }
    }
    buf.flush();
    Ok(hex::encode(hasher.finalize()))
}

/// What [`data_sha256`] gathers before handing bytes to the hash.
const HASH_BLOCK_BYTES: usize = 64 << 10;

/// Bytes on their way to a hash, handed over a block at a time (the hash is the same as of
/// the bytes handed over at once).
struct HashBlocks<'a> {
    hasher: &'a mut Sha256,
    block: Vec<u8>,
}

impl HashBlocks<'_> {
    fn update(&mut self, bytes: &[u8]) {
        if self.block.len() + bytes.len() > HASH_BLOCK_BYTES {
            self.flush();
        }
        if bytes.len() >= HASH_BLOCK_BYTES {
            self.hasher.update(bytes);
        } else {
            self.block.extend_from_slice(bytes);
        }
    }

    fn flush(&mut self) {
        self.hasher.update(&self.block);
        self.block.clear();
    }
}

fn hash_values<T>(
    buf: &mut HashBlocks<'_>,
    values: impl Iterator<Item = Option<T>>,
    mut push: impl FnMut(T, &mut HashBlocks<'_>),
) {
    for value in values {
        match value {
            Some(v) => {
                buf.update(&[1]);
                push(v, buf);
            }
            None => buf.update(&[0]),
        }
    }
}

fn newest_created_at(frame: &DataFrame) -> Result<String> {
    let millis = frame
        .column("created_at")?
        .as_materialized_series()
        .to_physical_repr()
        .i64()?
        .max();
    let millis = millis.ok_or_else(|| Error::Corrupt("created_at has no value".into()))?;
    let at = chrono::DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| Error::Corrupt(format!("created_at {millis} ms")))?;
    Ok(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

fn id_bound(frame: &DataFrame, max: bool) -> Result<i64> {
    let ids = frame.column("id")?.i64()?;
    let bound = if max { ids.max() } else { ids.min() };
    bound.ok_or_else(|| Error::Corrupt("id has no value".into()))
}

/// Encodes a frame of feature rows (the [`feature_schema`]) as a snapshot: the Parquet
/// bytes and the manifest, with `uri` left for the store to fill.
pub fn encode_snapshot(
    frame: &DataFrame,
    label_source: LabelSelection,
    query: &str,
) -> Result<(Vec<u8>, SnapshotManifest)> {
    if frame.height() == 0 {
        return Err(Error::EmptySnapshot);
    }
    let s = spec();
    let sha256 = data_sha256(frame)?;
    let created_at = newest_created_at(frame)?;
    let mut manifest = SnapshotManifest {
        uri: String::new(),
        key: format!(
            "snapshots/dataset={}/date={}/{sha256}.parquet",
            s.name,
            &created_at[..10]
        ),
        dataset: s.name.to_string(),
        spec_hash: s.spec_hash(),
        schema_version: SCHEMA_VERSION,
        sha256,
        file_sha256: String::new(),
        size_bytes: 0,
        rows: frame.height() as u64,
        min_id: id_bound(frame, false)?,
        max_id: id_bound(frame, true)?,
        label_source,
        query: query.to_string(),
        created_at,
        profile: Some(driftloop_stats::profile(frame, "snapshot")?),
    };
    let metadata: Vec<(String, String)> = [
        ("dataset", manifest.dataset.clone()),
        ("spec_hash", manifest.spec_hash.clone()),
        ("schema_version", manifest.schema_version.to_string()),
        ("sha256", manifest.sha256.clone()),
        ("rows", manifest.rows.to_string()),
        ("min_id", manifest.min_id.to_string()),
        ("max_id", manifest.max_id.to_string()),
        ("label_source", label_source.as_str().to_string()),
        ("query", manifest.query.clone()),
        ("created_at", manifest.created_at.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("{META_PREFIX}{k}"), v))
    .collect();
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::full())
        .with_row_group_size(Some(ROW_GROUP_ROWS))
        .with_key_value_metadata(Some(KeyValueMetadata::from_static(metadata)))
        .finish(&mut frame.clone())?;
    manifest.file_sha256 = hex::encode(Sha256::digest(&bytes));
    manifest.size_bytes = bytes.len() as u64;
    Ok((bytes, manifest))
}

fn manifest_key(parquet_key: &str) -> String {
    format!("{}.json", parquet_key.trim_end_matches(".parquet"))
}

/// Writes a snapshot of `frame` unless the same data is stored already.
pub async fn write_snapshot(
    store: &dyn ObjectStore,
    frame: &DataFrame,
    label_source: LabelSelection,
    query: &str,
) -> Result<SnapshotWritten> {
    // Encoding runs Polars (Parquet, the profile's lazy query): off the async workers.
    let (frame, query) = (frame.clone(), query.to_string());
    let (bytes, mut manifest) = tokio::task::spawn_blocking(move || encode_snapshot(&frame, label_source, &query))
        .await
        .expect("encoding a snapshot does not panic")?;
    manifest.uri = store.uri(&manifest.key);
    let json_key = manifest_key(&manifest.key);
    let stored = store.head(&manifest.key).await?;
    let uploaded = stored.is_none();
    if uploaded {
        store.put(&manifest.key, Bytes::from(bytes)).await?;
    }
    // The manifest goes last: a snapshot without one was not completely written, and
    // writing it again finishes it.
    if uploaded || store.head(&json_key).await?.is_none() {
        let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
        store.put(&json_key, Bytes::from(json)).await?;
    }
    Ok(SnapshotWritten { manifest, uploaded })
}

/// Loads a snapshot's manifest by the snapshot's URI (or key), without its file.
pub async fn load_manifest(store: &dyn ObjectStore, uri: &str) -> Result<SnapshotManifest> {
    manifest_at(store, &store.key_of(uri).unwrap_or_else(|| uri.to_string())).await
}

async fn manifest_at(store: &dyn ObjectStore, key: &str) -> Result<SnapshotManifest> {
    let shown = store.uri(key);
    let manifest_bytes = store.get(&manifest_key(key)).await.map_err(|e| match e {
        Error::NotFound(_) => Error::CorruptSnapshot {
            uri: shown.clone(),
            reason: "it has no manifest beside it: it was not completely written".into(),
        },
        other => other,
    })?;
    serde_json::from_slice(&manifest_bytes).map_err(|e| Error::CorruptSnapshot {
        uri: shown,
        reason: format!("its manifest does not parse: {e}"),
    })
}

/// A snapshot's manifest and the profile of its rows, checked against the dataset. A
/// manifest written before profiles has none: the verified file is profiled and the
/// manifest written again with it, so that the next caller reads the manifest only.
pub async fn snapshot_profile(store: &dyn ObjectStore, uri: &str) -> Result<(SnapshotManifest, Profile)> {
    let key = store.key_of(uri).unwrap_or_else(|| uri.to_string());
    let manifest = manifest_at(store, &key).await?;
    let s = spec();
    if let Some(profile) = manifest.profile.clone() {
        profile.check(s).map_err(|e| Error::CorruptSnapshot {
            uri: store.uri(&key),
            reason: format!("its manifest's profile does not fit dataset {}: {e}", s.name),
        })?;
        return Ok((manifest, profile));
    }
    let (frame, mut manifest) = load_snapshot(store, &key).await?;
    let profile = tokio::task::spawn_blocking(move || driftloop_stats::profile(&frame, "snapshot"))
        .await
        .expect("profiling does not panic")?;
    manifest.profile = Some(profile.clone());
    let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
    store.put(&manifest_key(&key), Bytes::from(json)).await?;
    Ok((manifest, profile))
}

/// Loads a snapshot by URI (or key) into a frame with the [`feature_schema`], checking
/// the file against its manifest and the data against its hash.
pub async fn load_snapshot(store: &dyn ObjectStore, uri: &str) -> Result<(DataFrame, SnapshotManifest)> {
    let key = store.key_of(uri).unwrap_or_else(|| uri.to_string());
    let shown = store.uri(&key);
    let bytes = store.get(&key).await?;
    let manifest = manifest_at(store, &key).await?;
    let file_sha256 = hex::encode(Sha256::digest(&bytes));
    if file_sha256 != manifest.file_sha256 {
        return Err(Error::CorruptSnapshot {
            uri: shown,
            reason: format!(
                "the file's sha256 is {file_sha256}, its manifest says {}",
                manifest.file_sha256
            ),
        });
    }
    let frame = tokio::task::spawn_blocking(move || decode_snapshot(bytes))
        .await
        .expect("decoding does not panic")
        .map_err(|e| Error::CorruptSnapshot {
            uri: shown.clone(),
            reason: e.to_string(),
        })?;
    let sha256 = data_sha256(&frame)?;
    if sha256 != manifest.sha256 || !key.ends_with(&format!("{sha256}.parquet")) {
        return Err(Error::CorruptSnapshot {
            uri: store.uri(&key),
            reason: format!(
                "its data hashes to {sha256}, its name and manifest say {}",
                manifest.sha256
            ),
        });
    }
    Ok((frame, manifest))
}

/// Parquet bytes to a frame with the feature schema, read a column at a time, a text
/// column without a value kept as a column of nulls as a read from the database keeps it
/// (`driftloop_db::frames::nulls_as_scalar`): read whole, the scored rows' `request_id`
/// and `model_version` were 16 bytes a row each, and a retraining from a 1,000,000-row
/// snapshot peaked with them, at twice the frame.
pub fn decode_snapshot(bytes: Bytes) -> Result<DataFrame> {
    let schema = ParquetReader::new(Cursor::new(bytes.clone())).schema()?;
    let columns = schema
        .iter_names()
        .map(|name| {
            let read = ParquetReader::new(Cursor::new(bytes.clone()))
                .with_columns(Some(vec![name.to_string()]))
                .finish()?;
            read.into_columns()
                .into_iter()
                .next()
                .map(nulls_as_scalar)
                .ok_or_else(|| Error::Corrupt(format!("column {name} reads as nothing")))
        })
        .collect::<Result<Vec<Column>>>()?;
    Ok(canonicalize(DataFrame::new_infer_height(columns)?)?)
}

/// Every snapshot of the shipped dataset, oldest data first.
pub async fn list_snapshots(store: &dyn ObjectStore) -> Result<Vec<SnapshotManifest>> {
    let prefix = format!("snapshots/dataset={}/", spec().name);
    let mut manifests = Vec::new();
    for object in store.list(&prefix).await? {
        if object.key.ends_with(".json") {
            let bytes = store.get(&object.key).await?;
            let manifest: SnapshotManifest = serde_json::from_slice(&bytes).map_err(|e| Error::CorruptSnapshot {
                uri: store.uri(&object.key),
                reason: format!("manifest does not parse: {e}"),
            })?;
            manifests.push(manifest);
        }
    }
    manifests.sort_by(|a, b| (a.max_id, &a.created_at, &a.key).cmp(&(b.max_id, &b.created_at, &b.key)));
    Ok(manifests)
}

/// The columns a snapshot holds, in order.
pub fn snapshot_columns() -> Vec<String> {
    feature_schema().iter_names().map(|n| n.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_handed_over_in_blocks_hash_as_bytes_handed_over_at_once() {
        // Pieces of every size around the block's: empty, small, filling it exactly,
        // larger than a block.
        let sizes = [
            0,
            1,
            7,
            HASH_BLOCK_BYTES - 8,
            8,
            HASH_BLOCK_BYTES,
            3,
            2 * HASH_BLOCK_BYTES + 5,
            1,
        ];
        let mut all = Vec::new();
        let mut blocked = Sha256::new();
        let mut blocks = HashBlocks {
            hasher: &mut blocked,
            block: Vec::new(),
        };
        for (i, &n) in sizes.iter().enumerate() {
            let piece: Vec<u8> = (0..n).map(|b| (b * 31 + i) as u8).collect();
            blocks.update(&piece);
            all.extend_from_slice(&piece);
        }
        blocks.flush();
        assert_eq!(blocked.finalize(), Sha256::digest(&all));
    }
}
