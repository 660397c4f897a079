//! The database URL (`sqlite://PATH` or `mysql://...`) and the `Secret` wrapper that keeps
//! its password out of logs and error messages.

use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// A value that must not appear in logs or error messages.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    /// The secret itself, for the one call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Which feature database to use, parsed from `DRIFTLOOP_DATABASE_URL` / `--database-url`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH` (relative to the working folder) or `sqlite:///ABSOLUTE/PATH`.
    Sqlite { path: PathBuf },
    /// `mysql://USER:PASSWORD@HOST:PORT/DATABASE`, for MySQL 8, Aurora MySQL and MariaDB.
    Mysql { url: Secret },
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<DatabaseUrl> {
        let raw = raw.trim();
        if let Some(path) = raw.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(Error::Config(format!("{raw:?} names no file: use sqlite://PATH")));
            }
            return Ok(DatabaseUrl::Sqlite {
                path: PathBuf::from(path),
            });
        }
        if raw.starts_with("mysql://") {
            let parsed =
                url::Url::parse(raw).map_err(|e| Error::Config(format!("database url {}: {e}", redact(raw))))?;
            let database = parsed.path().trim_start_matches('/');
            if database.is_empty() || parsed.host_str().is_none() {
                return Err(Error::Config(format!(
                    "database url {} must name a host and a database: mysql://USER:PASSWORD@HOST:PORT/DATABASE",
                    redact(raw)
                )));
            }
            return Ok(DatabaseUrl::Mysql { url: Secret::new(raw) });
        }
        Err(Error::Config(format!(
            "database url {} is neither sqlite://PATH nor mysql://USER:PASSWORD@HOST:PORT/DATABASE",
            redact(raw)
        )))
    }

    /// The database name of a MySQL URL, the file of an SQLite one.
    pub fn database_name(&self) -> String {
        match self {
            DatabaseUrl::Sqlite { path } => path.display().to_string(),
            DatabaseUrl::Mysql { url } => url::Url::parse(url.expose())
                .map(|u| u.path().trim_start_matches('/').to_string())
                .unwrap_or_default(),
        }
    }
}

/// The URL with its password replaced by `***`.
fn redact(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "(unparsable url)".to_string(),
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite { path } => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Mysql { url } => f.write_str(&redact(url.expose())),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
