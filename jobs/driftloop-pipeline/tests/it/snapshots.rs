//! Parquet snapshots: round trip, content addressing, tamper detection, layout; on a local
//! folder and on the S3-compatible server, from SQLite and from MariaDB.

use bytes::Bytes;
use driftloop_core::fixtures::{generate, Scenario};
use driftloop_pipeline::frames::{describe_query, feature_schema, frame_bytes};
use driftloop_pipeline::snapshot::{
    data_sha256, decode_snapshot, encode_snapshot, list_snapshots, load_snapshot, write_snapshot, LabelSelection,
};
use driftloop_pipeline::Error;
use polars::prelude::*;

use crate::helpers::{Backend, StoreBackend, TestDb, TestStore};
use crate::on_both_stores;

on_both_stores!(
    a_snapshot_reads_back_equal_and_verified,
    the_same_rows_give_the_same_key_and_upload_nothing,
    a_tampered_snapshot_is_refused,
);

/// A database with 250 baseline rows and 50 model-scored ones.
fn filled_db(backend: Backend, name: &str) -> TestDb {
    let t = TestDb::new(backend, name);
    t.db.insert_rows(&generate(Scenario::Baseline, 250, 11)).unwrap();
    let mut scored = generate(Scenario::CovariateShift, 50, 12);
    for row in &mut scored {
        row.label_source = driftloop_core::LabelSource::Model;
        row.model_version = Some("v1".into());
    }
    t.db.insert_rows(&scored).unwrap();
    t
}

async fn snapshot_of(
    t: &TestDb,
    store: &TestStore,
    selection: LabelSelection,
) -> (DataFrame, driftloop_pipeline::snapshot::SnapshotWritten) {
    let filter = selection.row_filter();
    let frame = t.db.read_frame(&filter).unwrap();
    let written = write_snapshot(store.store.as_ref(), &frame, selection, &describe_query(&filter))
        .await
        .unwrap();
    (frame, written)
}

async fn a_snapshot_reads_back_equal_and_verified(backend: StoreBackend) {
    let db_backend = if backend == StoreBackend::S3 {
        Backend::Mysql
    } else {
        Backend::Sqlite
    };
    let t = filled_db(db_backend, "snap_round_trip");
    let s = TestStore::new(backend, "snap-round-trip").await;
    let (frame, written) = snapshot_of(&t, &s, LabelSelection::Expert).await;
    let m = &written.manifest;
    assert!(written.uploaded);
    assert_eq!((m.rows, m.min_id, m.max_id), (250, 1, 250));
    assert_eq!(m.label_source, LabelSelection::Expert);
    assert!(m.query.contains("label_source = 'expert'"), "{}", m.query);
    let date = &m.created_at[..10];
    assert_eq!(
        m.key,
        format!("snapshots/dataset=mental_health/date={date}/{}.parquet", m.sha256)
    );
    assert_eq!(m.uri, s.store.uri(&m.key));

    let (back, manifest) = load_snapshot(s.store.as_ref(), &m.uri).await.unwrap();
    assert_eq!(&manifest, m);
    assert_eq!(**back.schema(), feature_schema());
    assert!(back.equals_missing(&frame), "the snapshot reads back equal");
    let (by_key, _) = load_snapshot(s.store.as_ref(), &m.key).await.unwrap();
    assert!(by_key.equals_missing(&frame));

    let (_, all) = snapshot_of(&t, &s, LabelSelection::All).await;
    assert_eq!(all.manifest.rows, 300);
    let listed = list_snapshots(s.store.as_ref()).await.unwrap();
    assert_eq!(listed.iter().map(|m| m.rows).collect::<Vec<_>>(), [250, 300]);
}

async fn the_same_rows_give_the_same_key_and_upload_nothing(backend: StoreBackend) {
    let t = filled_db(Backend::Sqlite, "snap_same_rows");
    let s = TestStore::new(backend, "snap-same-rows").await;
    let (_, first) = snapshot_of(&t, &s, LabelSelection::All).await;
    let objects = s.store.list("").await.unwrap();
    let (_, second) = snapshot_of(&t, &s, LabelSelection::All).await;
    assert!(first.uploaded && !second.uploaded);
    assert_eq!(first.manifest, second.manifest);
    assert_eq!(s.store.list("").await.unwrap(), objects, "nothing new in the store");
    assert_eq!(objects.len(), 2, "the parquet file and its manifest: {objects:?}");
    // New rows give a new snapshot with a new watermark.
    t.db.insert_rows(&generate(Scenario::Baseline, 5, 99)).unwrap();
    let (_, third) = snapshot_of(&t, &s, LabelSelection::All).await;
    assert!(third.uploaded);
    assert_eq!(third.manifest.max_id, 305);
    assert_ne!(third.manifest.sha256, first.manifest.sha256);
}

async fn a_tampered_snapshot_is_refused(backend: StoreBackend) {
    let t = filled_db(Backend::Sqlite, "snap_tampered");
    let s = TestStore::new(backend, "snap-tampered").await;
    let (frame, written) = snapshot_of(&t, &s, LabelSelection::All).await;
    let key = written.manifest.key.clone();
    let original = s.store.get(&key).await.unwrap();

    // A changed byte: the file no longer matches its manifest.
    let mut bytes = original.to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    s.store.put(&key, Bytes::from(bytes)).await.unwrap();
    let err = load_snapshot(s.store.as_ref(), &written.manifest.uri)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CorruptSnapshot { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&written.manifest.uri) && message.contains("sha256"),
        "{message}"
    );

    // Other data with a manifest rewritten to match the file: the data hash gives it away.
    let mut other = frame.clone();
    other = other.slice(0, 299);
    let (other_bytes, other_manifest) = encode_snapshot(&other, LabelSelection::All, "x").unwrap();
    s.store.put(&key, Bytes::from(other_bytes)).await.unwrap();
    let mut manifest = written.manifest.clone();
    manifest.file_sha256 = other_manifest.file_sha256;
    let manifest_key = key.replace(".parquet", ".json");
    s.store
        .put(&manifest_key, Bytes::from(serde_json::to_vec(&manifest).unwrap()))
        .await
        .unwrap();
    let err = load_snapshot(s.store.as_ref(), &key).await.unwrap_err().to_string();
    assert!(err.contains("its data hashes to"), "{err}");

    // No manifest at all: not completely written.
    s.store.put(&key, original).await.unwrap();
    s.store.delete(&manifest_key).await.unwrap();
    let err = load_snapshot(s.store.as_ref(), &key).await.unwrap_err().to_string();
    assert!(err.contains("no manifest"), "{err}");
    // Writing the same rows again finishes the snapshot.
    let (_, again) = snapshot_of(&t, &s, LabelSelection::All).await;
    assert!(!again.uploaded);
    load_snapshot(s.store.as_ref(), &key).await.unwrap();
}

/// A read keeps a text column without a value as a column of nulls, with no memory per
/// row (`request_id` here: the scored rows have a model version and no request id). Its
/// snapshot is the snapshot of the same rows held a value at a time: the same data hash and
/// bytes; and the frame's size counts it as Polars counts a column of null texts.
#[test]
fn a_column_of_nulls_is_snapshotted_as_its_rows_would_be() {
    let t = filled_db(Backend::Sqlite, "snap_nulls");
    let frame = t.db.read_frame(&Default::default()).unwrap();
    assert!(matches!(frame.column("request_id").unwrap(), Column::Scalar(_)));
    assert!(matches!(frame.column("model_version").unwrap(), Column::Series(_)));
    let held: Vec<Column> = frame
        .clone()
        .columns()
        .iter()
        .map(|c| c.as_materialized_series().clone().into_column())
        .collect();
    let held = DataFrame::new_infer_height(held).unwrap();
    assert!(matches!(held.column("request_id").unwrap(), Column::Series(_)));
    assert!(held.equals_missing(&frame));
    assert_eq!(data_sha256(&frame).unwrap(), data_sha256(&held).unwrap());
    assert_eq!(frame_bytes(&frame), held.estimated_size() as u64);
    let (a, _) = encode_snapshot(&frame, LabelSelection::All, "q").unwrap();
    let (b, _) = encode_snapshot(&held, LabelSelection::All, "q").unwrap();
    assert!(a == b, "the same bytes");
    assert!(matches!(frame.column("request_id").unwrap(), Column::Scalar(_)));
}

#[test]
fn encoding_is_deterministic_and_carries_its_metadata() {
    let t = filled_db(Backend::Sqlite, "snap_bytes");
    let frame = t.db.read_frame(&Default::default()).unwrap();
    let (a, manifest) = encode_snapshot(&frame, LabelSelection::All, "q").unwrap();
    let (b, _) = encode_snapshot(&frame.clone(), LabelSelection::All, "q").unwrap();
    assert!(a == b, "the same rows give the same bytes");
    let mut reader = ParquetReader::new(std::io::Cursor::new(a.clone()));
    let metadata = reader.get_metadata().unwrap().clone();
    let kv: std::collections::HashMap<String, String> = metadata
        .key_value_metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|kv| kv.value.map(|v| (kv.key, v)))
        .collect();
    for (key, value) in [
        ("driftloop.dataset", "mental_health".to_string()),
        ("driftloop.sha256", manifest.sha256.clone()),
        ("driftloop.rows", "300".to_string()),
        ("driftloop.min_id", "1".to_string()),
        ("driftloop.max_id", "300".to_string()),
        ("driftloop.schema_version", "1".to_string()),
        ("driftloop.spec_hash", driftloop_core::spec().spec_hash()),
        ("driftloop.query", "q".to_string()),
        ("driftloop.created_at", manifest.created_at.clone()),
    ] {
        assert_eq!(kv.get(key), Some(&value), "{key}");
    }
    assert!(decode_snapshot(Bytes::from(a)).unwrap().equals_missing(&frame));
}

#[test]
fn an_empty_selection_is_not_a_snapshot() {
    let t = TestDb::new(Backend::Sqlite, "snap_empty");
    let frame = t.db.read_frame(&Default::default()).unwrap();
    let err = encode_snapshot(&frame, LabelSelection::All, "q").unwrap_err();
    assert!(matches!(err, Error::EmptySnapshot), "{err}");
}
