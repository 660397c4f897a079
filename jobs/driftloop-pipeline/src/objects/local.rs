//! The folder adapter: the embedded default. A write goes to a hidden temporary file
//! beside its final path, then is renamed into place.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;

use super::{check_key, ObjectMeta, ObjectStore};
use crate::error::{Error, Result};

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
