//! The object-store port (snapshots, model artifacts, reports) and its two adapters: a
//! local folder, the embedded default, and S3 (or an S3-compatible server) through
//! aws-sdk-s3. Keys are relative, `/`-separated paths under the store's root. A write is
//! all or nothing at its final key: the folder adapter writes a hidden temporary file and
//! renames it; S3 makes an object visible only when its upload completes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
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
fn check_key(key: &str) -> Result<()> {
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

/// A folder on the local disk.
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: &Path) -> Result<LocalStore> {
        std::fs::create_dir_all(root).map_err(|source| Error::Io {
            path: root.to_path_buf(),
            source,
        })?;
        let root = root.canonicalize().map_err(|source| Error::Io {
            path: root.to_path_buf(),
            source,
        })?;
        Ok(LocalStore { root })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }
}

/// Temporary files of unfinished writes start with this; listings never show them.
const TMP_MARK: &str = ".tmp-";

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[async_trait]
impl ObjectStore for LocalStore {
    fn uri(&self, key: &str) -> String {
        format!("file://{}", self.path(key).display())
    }

    fn key_of(&self, uri: &str) -> Option<String> {
        let path = uri.strip_prefix("file://").unwrap_or(uri);
        let relative = Path::new(path).strip_prefix(&self.root).ok()?;
        let key = relative.to_str()?.to_string();
        check_key(&key).ok().map(|_| key)
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        check_key(key)?;
        let path = self.path(key);
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let dir = path.parent().unwrap_or(&root);
            std::fs::create_dir_all(dir).map_err(io_error(dir))?;
            let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("object");
            let tmp = dir.join(format!("{TMP_MARK}{}-{file_name}", std::process::id()));
            let written = (|| {
                use std::io::Write;
                let mut file = std::fs::File::create(&tmp)?;
                file.write_all(&bytes)?;
                file.sync_all()?;
                std::fs::rename(&tmp, &path)
            })();
            if let Err(source) = written {
                let _ = std::fs::remove_file(&tmp);
                return Err(Error::Io { path, source });
            }
            Ok(())
        })
        .await
        .expect("the write task does not panic")
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        check_key(key)?;
        let path = self.path(key);
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Bytes::from(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::NotFound(self.uri(key))),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        check_key(key)?;
        let path = self.path(key);
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => Ok(Some(ObjectMeta {
                key: key.to_string(),
                size: meta.len(),
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let root = self.root.clone();
        let prefix = prefix.to_string();
        tokio::task::spawn_blocking(move || {
            let mut found = Vec::new();
            let mut dirs = vec![root.clone()];
            while let Some(dir) = dirs.pop() {
                let entries = match std::fs::read_dir(&dir) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(source) => return Err(Error::Io { path: dir, source }),
                };
                for entry in entries {
                    let entry = entry.map_err(io_error(&dir))?;
                    let path = entry.path();
                    let file_type = entry.file_type().map_err(io_error(&path))?;
                    let Some(key) = path.strip_prefix(&root).ok().and_then(|p| p.to_str()).map(String::from) else {
                        continue;
                    };
                    if file_type.is_dir() {
                        if prefix.starts_with(&key) || key.starts_with(&prefix) {
                            dirs.push(path);
                        }
                    } else if file_type.is_file()
                        && key.starts_with(&prefix)
                        && !entry.file_name().to_string_lossy().starts_with(TMP_MARK)
                    {
                        let size = entry.metadata().map_err(io_error(&path))?.len();
                        found.push(ObjectMeta { key, size });
                    }
                }
            }
            found.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(found)
        })
        .await
        .expect("the listing task does not panic")
    }

    async fn delete(&self, key: &str) -> Result<()> {
        check_key(key)?;
        let path = self.path(key);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::Io { path, source }),
        }
    }
}

/// Objects at or above this size go up in parts.
pub const MULTIPART_THRESHOLD: usize = 16 * 1024 * 1024;
/// Part size of multipart uploads (S3's minimum is 5 MiB).
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// A bucket and key prefix in S3 or an S3-compatible server. The client comes from the
/// AWS SDK's standard configuration (credentials, region, `AWS_ENDPOINT_URL`), with
/// path-style addressing so S3-compatible servers work, and the SDK's standard retries.
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl S3Store {
    pub async fn new(bucket: &str, prefix: &str) -> S3Store {
        S3Store::with_endpoint(bucket, prefix, None).await
    }

    /// Like [`S3Store::new`], with the endpoint given here instead of by the SDK's
    /// configuration.
    pub async fn with_endpoint(bucket: &str, prefix: &str, endpoint: Option<&str>) -> S3Store {
        let region = aws_config::meta::region::RegionProviderChain::default_provider().or_else("us-east-1");
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).region(region);
        if let Some(endpoint) = endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk_config = loader.load().await;
        let config = aws_sdk_s3::config::Builder::from(&sdk_config)
            .force_path_style(true)
            .build();
        S3Store {
            client: aws_sdk_s3::Client::from_conf(config),
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
        }
    }

    fn object_key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    fn failure(&self, key: &str, action: &str, error: impl std::error::Error) -> Error {
        Error::Store {
            uri: self.uri(key),
            reason: format!("{action}: {}", DisplayErrorContext(error)),
        }
    }

    async fn put_multipart(&self, key: &str, bytes: Bytes) -> Result<()> {
        let object_key = self.object_key(key);
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(&object_key)
            .send()
            .await
            .map_err(|e| self.failure(key, "starting a multipart upload", e))?;
        let upload_id = created.upload_id().unwrap_or_default().to_string();
        let uploaded: Result<Vec<CompletedPart>> = async {
            let mut parts = Vec::new();
            for (idx, chunk) in bytes.chunks(PART_SIZE).enumerate() {
                let part_number = idx as i32 + 1;
                let part = self
                    .client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(&object_key)
                    .upload_id(&upload_id)
                    .part_number(part_number)
                    .body(ByteStream::from(bytes.slice_ref(chunk)))
                    .send()
                    .await
                    .map_err(|e| self.failure(key, &format!("uploading part {part_number}"), e))?;
                parts.push(
                    CompletedPart::builder()
                        .part_number(part_number)
                        .set_e_tag(part.e_tag)
                        .build(),
                );
            }
            Ok(parts)
        }
        .await;
        let completed = match uploaded {
            Ok(parts) => self
                .client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(&object_key)
                .upload_id(&upload_id)
                .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                .send()
                .await
                .map(drop)
                .map_err(|e| self.failure(key, "completing a multipart upload", e)),
            Err(e) => Err(e),
        };
        if completed.is_err() {
            // Nothing is visible at the key until completion; dropping the parts keeps
            // the bucket from paying for them.
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(&object_key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        completed
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    fn uri(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.object_key(key))
    }

    fn key_of(&self, uri: &str) -> Option<String> {
        let rest = uri.strip_prefix(&format!("s3://{}/", self.bucket))?;
        let key = if self.prefix.is_empty() {
            rest
        } else {
            rest.strip_prefix(&format!("{}/", self.prefix))?
        };
        check_key(key).ok().map(|_| key.to_string())
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        check_key(key)?;
        if bytes.len() >= MULTIPART_THRESHOLD {
            return self.put_multipart(key, bytes).await;
        }
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map(drop)
            .map_err(|e| self.failure(key, "writing", e))
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        check_key(key)?;
        let answer = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await;
        match answer {
            Ok(object) => {
                let body = object
                    .body
                    .collect()
                    .await
                    .map_err(|e| self.failure(key, "reading", e))?;
                Ok(body.into_bytes())
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Err(Error::NotFound(self.uri(key))),
            Err(e) => Err(self.failure(key, "reading", e)),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        check_key(key)?;
        let answer = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await;
        match answer {
            Ok(head) => Ok(Some(ObjectMeta {
                key: key.to_string(),
                size: head.content_length().unwrap_or(0) as u64,
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(self.failure(key, "looking up", e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let full_prefix = if self.prefix.is_empty() {
            prefix.to_string()
        } else {
            format!("{}/{prefix}", self.prefix)
        };
        let strip = if self.prefix.is_empty() {
            0
        } else {
            self.prefix.len() + 1
        };
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&full_prefix)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.failure(prefix, "listing", e))?;
            for object in page.contents() {
                if let Some(key) = object.key() {
                    found.push(ObjectMeta {
                        key: key[strip..].to_string(),
                        size: object.size().unwrap_or(0) as u64,
                    });
                }
            }
        }
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        check_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await
            .map(drop)
            .map_err(|e| self.failure(key, "deleting", e))
    }
}

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
