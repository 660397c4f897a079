//! The S3 adapter (or an S3-compatible server) through aws-sdk-s3; large objects go up
//! in parts, visible only when the upload completes.

use async_trait::async_trait;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;

use super::{check_key, ObjectMeta, ObjectStore};
use crate::error::{Error, Result};

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
