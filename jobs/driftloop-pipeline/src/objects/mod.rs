//! The object-store port (snapshots, model artifacts, reports) and its two adapters: a
//! local folder, the embedded default, and S3 (or an S3-compatible server) through
//! aws-sdk-s3. Keys are relative, `/`-separated paths under the store's root. A write is
//! all or nothing at its final key: the folder adapter writes a hidden temporary file and
//! renames it; S3 makes an object visible only when its upload completes.

mod local;
mod s3;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::config::StoreUrl;
use crate::error::{Error, Result};

/// An object's key and size.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
}

/// Storage of immutable blobs by key.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// The URI a key has in this store (`file:///...` or `s3://bucket/prefix/...`).
    fn uri(&self, key: &str) -> String;
    /// The key a URI of this store names, if it names one.
    fn key_of(&self, uri: &str) -> Option<String>;
    /// Writes an object; readers see the whole object or none.
    async fn put(&self, key: &str, bytes: Bytes) -> Result<()>;
    /// Reads an object; a missing one is [`Error::NotFound`].
    async fn get(&self, key: &str) -> Result<Bytes>;
    /// The object's metadata, `None` if there is no such object.
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>>;
    /// Objects whose keys start with `prefix`, sorted by key.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>>;
    /// Removes an object; removing a missing one is not an error.
    async fn delete(&self, key: &str) -> Result<()>;
}

/// Opens the store a URL names.
pub async fn open_store(url: &StoreUrl) -> Result<Arc<dyn ObjectStore>> {
    match url {
        StoreUrl::Local { root } => Ok(Arc::new(LocalStore::new(root)?)),
        StoreUrl::S3 { bucket, prefix } => Ok(Arc::new(S3Store::new(bucket, prefix).await)),
    }
}

/// Refuses keys that could escape the root or are not plain relative paths.
pub(crate) fn check_key(key: &str) -> Result<()> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.ends_with('/')
        || key
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        || key.contains('\\');
    if bad {
        return Err(Error::InvalidKey(key.to_string()));
    }
    Ok(())
}

pub use local::LocalStore;
pub use s3::{S3Store, MULTIPART_THRESHOLD, PART_SIZE};

#[cfg(test)]
mod tests {
    use super::check_key;

    #[test]
    fn keys_stay_inside_the_store() {
        for good in [
            "a",
            "snapshots/dataset=x/date=2026-01-01/abc.parquet",
            "models/m/v1.bin",
        ] {
            assert!(check_key(good).is_ok(), "{good}");
        }
        for bad in ["", "/abs", "a/../b", "../x", "a//b", "a/", "./a", "a\\b"] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
