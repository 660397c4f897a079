//! Model artifacts in the object store: content-addressed under `models/<name>/`, and
//! verified on load (the file must hash to the name it is stored under, and its body to
//! its header). No Polars here: the predict function loads models through this too.

use bytes::Bytes;
use driftloop_model::artifact::{artifact_key, decode_artifact, sha256_hex};
use driftloop_model::Artifact;

use crate::db::{ModelRegistry, ModelVersion};
use crate::error::{Error, Result};
use crate::objects::ObjectStore;

/// Stores artifact bytes under their content address; returns (sha256, URI). Storing the
/// same bytes again uploads nothing.
pub async fn store_artifact(store: &dyn ObjectStore, name: &str, bytes: Vec<u8>) -> Result<(String, String)> {
    let sha256 = sha256_hex(&bytes);
    let key = artifact_key(name, &sha256);
    if store.head(&key).await?.is_none() {
        store.put(&key, Bytes::from(bytes)).await?;
    }
    Ok((sha256, store.uri(&key)))
}

/// Loads and verifies an artifact by URI (or key).
pub async fn load_artifact(store: &dyn ObjectStore, uri: &str) -> Result<Artifact> {
    let key = store.key_of(uri).unwrap_or_else(|| uri.to_string());
    let shown = store.uri(&key);
    let bytes = store.get(&key).await?;
    let sha256 = sha256_hex(&bytes);
    let file_name = key.rsplit('/').next().unwrap_or_default();
    if !file_name.starts_with(&sha256) {
        return Err(Error::CorruptModel {
            uri: shown,
            reason: format!("the file hashes to {sha256}, its name says otherwise"),
        });
    }
    let artifact = tokio::task::spawn_blocking(move || decode_artifact(&bytes))
        .await
        .expect("decoding does not panic")
        .map_err(|e| Error::CorruptModel {
            uri: shown.clone(),
            reason: e.to_string(),
        })?;
    let spec_hash = driftloop_core::spec().spec_hash();
    if artifact.header.spec_hash != spec_hash {
        return Err(Error::CorruptModel {
            uri: shown,
            reason: format!(
                "it was trained for dataset spec {}, this driftloop has {spec_hash}",
                artifact.header.spec_hash
            ),
        });
    }
    Ok(artifact)
}

/// The registered champion and its loaded artifact, if there is a champion.
pub async fn load_champion(
    db: &dyn ModelRegistry,
    store: &dyn ObjectStore,
    name: &str,
) -> Result<Option<(ModelVersion, Artifact)>> {
    match db.champion(name)? {
        Some(version) => {
            let artifact = load_artifact(store, &version.model.artifact_uri).await?;
            Ok(Some((version, artifact)))
        }
        None => Ok(None),
    }
}
