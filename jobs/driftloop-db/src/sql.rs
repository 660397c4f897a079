//! The one seam between the logic and the two backends: [`SqlTx`] runs `?`-placeholder
//! SQL both MySQL and SQLite accept, and [`Dialect`] is the only place their SQL text
//! differs. Features, counter, queue, registry, drift reports and migrations are written
//! once over these; `sqlite.rs` and `mysql.rs` implement them for their connections.

use std::time::Duration;

use crate::error::{Error, Result};

/// A value going into or coming out of SQL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SqlValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> SqlValue {
        SqlValue::Text(v.to_string())
    }
}
impl From<String> for SqlValue {
    fn from(v: String) -> SqlValue {
        SqlValue::Text(v)
    }
}
impl From<i64> for SqlValue {
    fn from(v: i64) -> SqlValue {
        SqlValue::Int(v)
    }
}
impl From<u32> for SqlValue {
    fn from(v: u32) -> SqlValue {
        SqlValue::Int(v.into())
    }
}
impl From<f64> for SqlValue {
    fn from(v: f64) -> SqlValue {
        SqlValue::Real(v)
    }
}
impl From<bool> for SqlValue {
    fn from(v: bool) -> SqlValue {
        SqlValue::Int(v.into())
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> SqlValue {
        v.map_or(SqlValue::Null, Into::into)
    }
}

impl SqlValue {
    /// The value as text (numbers in their decimal form); `None` for NULL.
    pub(crate) fn text(&self) -> Option<String> {
        match self {
            SqlValue::Text(t) => Some(t.clone()),
            SqlValue::Int(i) => Some(i.to_string()),
            SqlValue::Real(r) => Some(r.to_string()),
            SqlValue::Null => None,
        }
    }
}

/// Reads typed cells out of a result row, naming the table and column when one does not
/// fit: a corrupt row is the same [`Error::Corrupt`] on both backends.
pub(crate) struct Cells<'a> {
    pub table: &'static str,
    pub row: &'a [SqlValue],
}

impl Cells<'_> {
    fn corrupt(&self, idx: usize, column: &str) -> Error {
        Error::Corrupt(format!("{}.{column} is {:?}", self.table, self.row.get(idx)))
    }

    pub fn text(&self, idx: usize, column: &str) -> Result<String> {
        match self.row.get(idx) {
            Some(SqlValue::Text(s)) => Ok(s.clone()),
            Some(SqlValue::Int(i)) => Ok(i.to_string()),
            _ => Err(self.corrupt(idx, column)),
        }
    }

    pub fn opt_text(&self, idx: usize, column: &str) -> Result<Option<String>> {
        match self.row.get(idx) {
            Some(SqlValue::Null) => Ok(None),
            _ => self.text(idx, column).map(Some),
        }
    }

    pub fn int(&self, idx: usize, column: &str) -> Result<i64> {
        match self.row.get(idx) {
            Some(SqlValue::Int(i)) => Ok(*i),
            Some(SqlValue::Text(s)) => s.parse().map_err(|_| self.corrupt(idx, column)),
            _ => Err(self.corrupt(idx, column)),
        }
    }

    pub fn opt_int(&self, idx: usize, column: &str) -> Result<Option<i64>> {
        match self.row.get(idx) {
            Some(SqlValue::Null) => Ok(None),
            _ => self.int(idx, column).map(Some),
        }
    }

    pub fn real(&self, idx: usize, column: &str) -> Result<f64> {
        match self.row.get(idx) {
            Some(SqlValue::Real(r)) => Ok(*r),
            Some(SqlValue::Int(i)) => Ok(*i as f64),
            Some(SqlValue::Text(s)) => s.parse().map_err(|_| self.corrupt(idx, column)),
            _ => Err(self.corrupt(idx, column)),
        }
    }

    pub fn bool(&self, idx: usize, column: &str) -> Result<bool> {
        match self.int(idx, column)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.corrupt(idx, column)),
        }
    }

    pub fn json(&self, idx: usize, column: &str) -> Result<serde_json::Value> {
        let raw = self.text(idx, column)?;
        serde_json::from_str(&raw).map_err(|e| Error::Corrupt(format!("{}.{column}: {e}", self.table)))
    }

    pub fn opt_json(&self, idx: usize, column: &str) -> Result<Option<serde_json::Value>> {
        match self.row.get(idx) {
            Some(SqlValue::Null) => Ok(None),
            _ => self.json(idx, column).map(Some),
        }
    }
}

/// Which SQL a statement needs where the two backends differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Mysql,
    Sqlite,
}

impl Dialect {
    /// The current time, at microsecond (MySQL) or millisecond (SQLite) precision, in the
    /// form the tables store.
    pub fn now(self) -> &'static str {
        match self {
            Dialect::Mysql => "NOW(6)",
            // SQLite's text form of "now" in UTC with milliseconds; the tables store this
            // form, so timestamps compare correctly as text.
            Dialect::Sqlite => "strftime('%Y-%m-%d %H:%M:%f', 'now')",
        }
    }

    /// An expression for "now plus `lease`", with the one parameter it binds.
    pub(crate) fn now_plus(self, lease: Duration) -> (&'static str, SqlValue) {
        match self {
            Dialect::Mysql => (
                "NOW(6) + INTERVAL ? MICROSECOND",
                SqlValue::Int(lease.as_micros() as i64),
            ),
            Dialect::Sqlite => (
                "strftime('%Y-%m-%d %H:%M:%f', 'now', ?)",
                SqlValue::Text(format!("+{:.6} seconds", lease.as_secs_f64())),
            ),
        }
    }

    /// A timestamp column as ISO 8601 text in UTC with a `Z`.
    pub fn iso_timestamp(self, column: &str) -> String {
        match self {
            Dialect::Mysql => format!("DATE_FORMAT({column}, '%Y-%m-%dT%H:%i:%s.%fZ')"),
            Dialect::Sqlite => format!("strftime('%Y-%m-%dT%H:%M:%fZ', {column})"),
        }
    }

    /// The suffix of a locking read. SQLite's writing transactions (`BEGIN IMMEDIATE`) are
    /// serialized already, so it needs none.
    /// A level column (ENUM on MySQL, checked TEXT on SQLite) as its cheapest value to
    /// group by: MySQL's ENUM index (1 for the first level), SQLite's stored text.
    pub fn level_key(self, column: &str) -> String {
        match self {
            Dialect::Mysql => format!("{column} + 0"),
            Dialect::Sqlite => column.to_string(),
        }
    }

    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Mysql => " FOR UPDATE",
            Dialect::Sqlite => "",
        }
    }

    /// The suffix of a claim's locking read: a row another worker is claiming right now is
    /// passed over, not waited for, so concurrent workers each get a different job.
    pub fn for_update_skip_locked(self) -> &'static str {
        match self {
            Dialect::Mysql => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        }
    }

    /// `INSERT` that turns a unique-key conflict into a no-op (0 rows changed).
    pub fn insert_ignore(self) -> &'static str {
        match self {
            Dialect::Mysql => "INSERT IGNORE",
            Dialect::Sqlite => "INSERT OR IGNORE",
        }
    }

    /// Feature rows per `INSERT` statement. MySQL: 1,000 rows × 21 parameters stays well
    /// under the protocol's 65,535 placeholders, and one round trip carries many rows.
    /// SQLite runs in process, where one cached prepared statement per row is fastest.
    pub fn rows_per_insert(self) -> usize {
        match self {
            Dialect::Mysql => 1000,
            Dialect::Sqlite => 1,
        }
    }

    /// The table that records applied migrations.
    pub fn schema_migrations_ddl(self) -> &'static str {
        match self {
            Dialect::Mysql => {
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                     version INT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, checksum CHAR(64) NOT NULL,
                     applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
                 ) ENGINE = InnoDB"
            }
            Dialect::Sqlite => {
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                     version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,
                     applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')))"
            }
        }
    }
}

/// Statements every MySQL session runs first (pooled connections and connectorx reads).
pub(crate) const MYSQL_SESSION_INIT: &[&str] = &[
    "SET time_zone = '+00:00'",
    "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
];

/// A transaction (or, for MySQL's migrations, a connection) that runs statements with
/// positional parameters. Its errors carry the context the transaction was opened with.
pub(crate) trait SqlTx {
    fn dialect(&self) -> Dialect;
    /// Runs one statement; the number of rows it changed.
    fn exec(&mut self, sql: &str, params: Vec<SqlValue>) -> Result<u64>;
    /// The id of the row the last insert made (MySQL: the first of a multi-row insert).
    fn last_insert_id(&mut self) -> Result<i64>;
    fn query(&mut self, sql: &str, params: Vec<SqlValue>) -> Result<Vec<Vec<SqlValue>>>;
    /// Runs a script of statements, as the backend's own client would (migrations).
    fn exec_script(&mut self, script: &str) -> std::result::Result<(), String>;
}

/// How a transaction runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct TxMode {
    /// READ COMMITTED (MySQL), so rows a claim looked at but did not take are not kept
    /// locked. SQLite's transactions are serialized whatever this says.
    pub read_committed: bool,
    /// Run again on a unique-key conflict: two registrations of one artifact, or two first
    /// champions, race on a unique key, and running again sees the winner.
    pub retry_on_duplicate: bool,
    /// Reads only: SQLite starts a deferred transaction, which takes no write lock.
    pub read_only: bool,
}

impl TxMode {
    pub const READ: TxMode = TxMode {
        read_committed: false,
        retry_on_duplicate: false,
        read_only: true,
    };
}

/// A backend that runs closures in its transactions; every port is implemented once over
/// this (see the blanket impls beside each port's logic).
pub(crate) trait Transact: Send + Sync {
    /// Runs `f` in one transaction and commits it; an error rolls it back. `what` names the
    /// work in error messages ("inserting feature rows").
    fn with_tx<T>(&self, what: &str, mode: TxMode, f: &mut dyn FnMut(&mut dyn SqlTx) -> Result<T>) -> Result<T>;
    /// Reads rows into a DataFrame with the schema of [`crate::frames::feature_schema`],
    /// sorted by `id`: the one backend-specific read (connectorx on MySQL).
    #[cfg(feature = "frames")]
    fn bulk_read(
        &self,
        filter: &crate::records::RowFilter,
        rounds: crate::frames::ReadRounds,
    ) -> Result<polars::prelude::DataFrame>;
}

/// `n` placeholders, comma-separated.
pub(crate) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}
