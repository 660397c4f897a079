//! The SQLite adapter: the embedded default. One connection per `SqliteDatabase`, behind
//! a mutex; WAL mode and a busy timeout let several processes share the file. Writes run
//! in `BEGIN IMMEDIATE` transactions, which SQLite serialises. This file holds only the
//! connection, its [`SqlTx`] and the error mapping; the logic is in the port modules.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params_from_iter, Connection, TransactionBehavior};

use crate::error::{Error, Result};
use crate::migrate::{self, MigrationReport};
use crate::ports::Database;
use crate::sql::{Dialect, SqlTx, SqlValue, Transact, TxMode};

pub struct SqliteDatabase {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteDatabase {
    pub fn open(path: &Path) -> Result<SqliteDatabase> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let context = format!("opening {}", path.display());
        let conn = Connection::open(path).map_err(Error::sqlite(context.clone()))?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(Error::sqlite(context.clone()))?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(Error::sqlite(context))?;
        Ok(SqliteDatabase {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: every write runs
        // in a transaction that rolls back on drop.
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Transact for SqliteDatabase {
    fn with_tx<T>(&self, what: &str, mode: TxMode, f: &mut dyn FnMut(&mut dyn SqlTx) -> Result<T>) -> Result<T> {
        let behavior = if mode.read_only {
            TransactionBehavior::Deferred
        } else {
            TransactionBehavior::Immediate
        };
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(behavior)
            .map_err(Error::sqlite(format!("starting {what}")))?;
        let value = f(&mut SqliteTx { tx: &tx, what })?;
        tx.commit().map_err(Error::sqlite(format!("committing {what}")))?;
        Ok(value)
    }

    #[cfg(feature = "frames")]
    fn bulk_read(
        &self,
        filter: &crate::records::RowFilter,
        rounds: crate::frames::ReadRounds,
    ) -> Result<polars::prelude::DataFrame> {
        crate::frames::read_sqlite(&self.conn(), filter, rounds)
    }
}

impl Database for SqliteDatabase {
    fn migrate(&self) -> Result<MigrationReport> {
        // One transaction: a failed migration leaves the database as it was.
        self.with_tx("migrations", TxMode::default(), &mut |tx| {
            migrate::apply(tx, driftloop_core::spec())
        })
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }
}

struct SqliteTx<'a, 'c> {
    tx: &'a rusqlite::Transaction<'c>,
    what: &'a str,
}

fn to_sqlite(value: SqlValue) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match value {
        SqlValue::Null => Value::Null,
        SqlValue::Int(i) => Value::Integer(i),
        SqlValue::Real(r) => Value::Real(r),
        SqlValue::Text(t) => Value::Text(t),
    }
}

impl SqlTx for SqliteTx<'_, '_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn exec(&mut self, sql: &str, params: Vec<SqlValue>) -> Result<u64> {
        let mut stmt = self.tx.prepare_cached(sql).map_err(Error::sqlite(self.what))?;
        stmt.execute(params_from_iter(params.into_iter().map(to_sqlite)))
            .map(|n| n as u64)
            .map_err(Error::sqlite(self.what))
    }

    fn last_insert_id(&mut self) -> Result<i64> {
        Ok(self.tx.last_insert_rowid())
    }

    fn query(&mut self, sql: &str, params: Vec<SqlValue>) -> Result<Vec<Vec<SqlValue>>> {
        use rusqlite::types::ValueRef;
        let mut stmt = self.tx.prepare_cached(sql).map_err(Error::sqlite(self.what))?;
        let n_columns = stmt.column_count();
        let rows = stmt
            .query_map(params_from_iter(params.into_iter().map(to_sqlite)), |row| {
                (0..n_columns)
                    .map(|i| {
                        Ok(match row.get_ref(i)? {
                            ValueRef::Null => SqlValue::Null,
                            ValueRef::Integer(v) => SqlValue::Int(v),
                            ValueRef::Real(v) => SqlValue::Real(v),
                            ValueRef::Text(t) | ValueRef::Blob(t) => {
                                SqlValue::Text(String::from_utf8_lossy(t).into_owned())
                            }
                        })
                    })
                    .collect::<rusqlite::Result<Vec<SqlValue>>>()
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(Error::sqlite(self.what))?;
        Ok(rows)
    }

    fn exec_script(&mut self, script: &str) -> std::result::Result<(), String> {
        self.tx.execute_batch(script).map_err(|e| e.to_string())
    }
}
