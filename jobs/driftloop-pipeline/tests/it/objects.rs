//! The object-store contract, run on a local folder and on the S3-compatible server.

use bytes::Bytes;
use driftloop_pipeline::objects::{ObjectMeta, S3Store, MULTIPART_THRESHOLD};
use driftloop_pipeline::{Error, ObjectStore};

use crate::helpers::{s3_client, StoreBackend, TestStore};
use crate::on_both_stores;

on_both_stores!(
    put_get_head_list_delete,
    an_overwrite_replaces_the_whole_object,
    large_objects_round_trip_in_parts,
    keys_outside_the_store_are_refused,
    uris_name_keys_and_back,
);

async fn put_get_head_list_delete(backend: StoreBackend) {
    let t = TestStore::new(backend, "objects_basic").await;
    let store = t.store.as_ref();
    assert_eq!(store.head("a/b.txt").await.unwrap(), None);
    let err = store.get("a/b.txt").await.unwrap_err();
    assert!(
        matches!(&err, Error::NotFound(uri) if uri == &store.uri("a/b.txt")),
        "{err}"
    );
    store.put("a/b.txt", Bytes::from_static(b"hello")).await.unwrap();
    store.put("a/c/d.bin", Bytes::from(vec![0u8; 1000])).await.unwrap();
    store.put("z.txt", Bytes::new()).await.unwrap();
    assert_eq!(store.get("a/b.txt").await.unwrap(), Bytes::from_static(b"hello"));
    assert_eq!(store.get("z.txt").await.unwrap(), Bytes::new());
    assert_eq!(
        store.head("a/c/d.bin").await.unwrap(),
        Some(ObjectMeta {
            key: "a/c/d.bin".into(),
            size: 1000
        })
    );
    let keys = |objects: Vec<ObjectMeta>| objects.into_iter().map(|o| o.key).collect::<Vec<_>>();
    assert_eq!(keys(store.list("").await.unwrap()), ["a/b.txt", "a/c/d.bin", "z.txt"]);
    assert_eq!(keys(store.list("a/").await.unwrap()), ["a/b.txt", "a/c/d.bin"]);
    assert_eq!(keys(store.list("a/c").await.unwrap()), ["a/c/d.bin"]);
    assert!(store.list("nothing/").await.unwrap().is_empty());
    store.delete("a/b.txt").await.unwrap();
    store.delete("a/b.txt").await.unwrap();
    assert_eq!(keys(store.list("a/").await.unwrap()), ["a/c/d.bin"]);
}

async fn an_overwrite_replaces_the_whole_object(backend: StoreBackend) {
    let t = TestStore::new(backend, "objects_overwrite").await;
    t.store.put("k", Bytes::from(vec![1u8; 5000])).await.unwrap();
    t.store.put("k", Bytes::from_static(b"short")).await.unwrap();
    assert_eq!(t.store.get("k").await.unwrap(), Bytes::from_static(b"short"));
    assert_eq!(
        t.store.list("").await.unwrap().len(),
        1,
        "no temporary object is visible"
    );
}

async fn large_objects_round_trip_in_parts(backend: StoreBackend) {
    let t = TestStore::new(backend, "objects_large").await;
    let big: Vec<u8> = (0..MULTIPART_THRESHOLD + 3 * 1024 * 1024 + 7)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    t.store.put("big/blob.bin", Bytes::from(big.clone())).await.unwrap();
    let back = t.store.get("big/blob.bin").await.unwrap();
    assert_eq!(back.len(), big.len());
    assert!(back == big, "the bytes come back unchanged");
}

async fn keys_outside_the_store_are_refused(backend: StoreBackend) {
    let t = TestStore::new(backend, "objects_keys").await;
    for key in ["../escape", "/abs", "a//b", ""] {
        let err = t.store.put(key, Bytes::from_static(b"x")).await.unwrap_err();
        assert!(matches!(err, Error::InvalidKey(_)), "{key}: {err}");
    }
    assert!(t.store.list("").await.unwrap().is_empty());
}

async fn uris_name_keys_and_back(backend: StoreBackend) {
    let t = TestStore::new(backend, "objects_uris").await;
    let uri = t.store.uri("snapshots/x.parquet");
    match backend {
        StoreBackend::Local => assert!(
            uri.starts_with("file:///") && uri.ends_with("/store/snapshots/x.parquet"),
            "{uri}"
        ),
        StoreBackend::S3 => assert!(
            uri.starts_with("s3://dl-") && uri.ends_with("/driftloop/snapshots/x.parquet"),
            "{uri}"
        ),
    }
    assert_eq!(t.store.key_of(&uri).as_deref(), Some("snapshots/x.parquet"));
    assert_eq!(t.store.key_of("s3://other-bucket/driftloop/snapshots/x.parquet"), None);
}

#[tokio::test]
async fn a_failed_local_write_leaves_nothing_behind() {
    let t = TestStore::new(StoreBackend::Local, "objects_failed_write").await;
    t.store
        .put("blocker", Bytes::from_static(b"a file where a folder should be"))
        .await
        .unwrap();
    let err = t
        .store
        .put("blocker/child.bin", Bytes::from(vec![7u8; 4096]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("blocker"), "{err}");
    let keys: Vec<String> = t.store.list("").await.unwrap().into_iter().map(|o| o.key).collect();
    assert_eq!(keys, ["blocker"]);
}

#[tokio::test]
async fn a_missing_bucket_is_an_error_naming_the_uri() {
    crate::helpers::s3_endpoint();
    let store = S3Store::new("driftloop-no-such-bucket", "p").await;
    let err = store
        .put("k.bin", Bytes::from_static(b"x"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("s3://driftloop-no-such-bucket/p/k.bin") && err.contains("NoSuchBucket"),
        "{err}"
    );
    let err = store.list("").await.unwrap_err().to_string();
    assert!(err.contains("s3://driftloop-no-such-bucket/p/"), "{err}");
    let listed = s3_client().await.list_buckets().send().await.unwrap();
    assert!(listed
        .buckets()
        .iter()
        .all(|b| b.name() != Some("driftloop-no-such-bucket")));
}

#[tokio::test]
async fn an_unreachable_server_is_an_error_naming_the_uri() {
    crate::helpers::s3_endpoint();
    let store = S3Store::with_endpoint("some-bucket", "", Some("http://127.0.0.1:9")).await;
    let err = store
        .put("k.bin", Bytes::from_static(b"x"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("s3://some-bucket/k.bin"), "{err}");
    assert!(
        err.to_lowercase().contains("connect") || err.contains("dispatch"),
        "{err}"
    );
}
