//! The MySQL adapter (MySQL 8, Aurora MySQL, MariaDB 10.6+), over a connection pool of
//! the synchronous `mysql` client. Every session runs in UTC with strict SQL mode, so
//! timestamps mean the same everywhere and a bad value is an error, never a silent
//! truncation. This file holds only the pool, its [`SqlTx`], retries and error codes; the
//! logic is in the port modules.

use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{IsolationLevel, Opts, OptsBuilder, Params, Pool, PoolConstraints, PoolOpts, PooledConn, TxOpts, Value};

use crate::error::{Error, Result, ER_DUP_ENTRY};
use crate::migrate::{self, split_mysql_statements, MigrationReport};
use crate::ports::Database;
use crate::sql::{Dialect, SqlTx, SqlValue, Transact, TxMode, MYSQL_SESSION_INIT};
use crate::url::DatabaseUrl;

const ER_BAD_DB_ERROR: u16 = 1049;
const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
const ER_LOCK_DEADLOCK: u16 = 1213;

/// A transaction that fails on one of these is rolled back whole; running it again is safe.
const RETRIED: [u16; 2] = [ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT];
const MAX_TRIES: u64 = 5;

pub struct MysqlDatabase {
    url: DatabaseUrl,
    pool: Pool,
}

impl MysqlDatabase {
    pub fn open(url: &DatabaseUrl) -> Result<MysqlDatabase> {
        let DatabaseUrl::Mysql { url: secret } = url else {
            return Err(Error::Config(format!("{url} is not a mysql:// url")));
        };
        let opts = Opts::from_url(secret.expose()).map_err(|e| Error::Config(format!("database url {url}: {e}")))?;
        let opts = OptsBuilder::from_opts(opts)
            .prefer_socket(false)
            .tcp_connect_timeout(Some(Duration::from_secs(10)))
            .init(MYSQL_SESSION_INIT.to_vec())
            .pool_opts(PoolOpts::default().with_constraints(PoolConstraints::new(1, 16).expect("1 <= 16")));
        let pool = Pool::new(opts).map_err(|e| connect_error(url, e))?;
        Ok(MysqlDatabase { url: url.clone(), pool })
    }

    fn conn(&self) -> Result<PooledConn> {
        self.pool.get_conn().map_err(|e| connect_error(&self.url, e))
    }
}

fn connect_error(url: &DatabaseUrl, e: mysql::Error) -> Error {
    match &e {
        mysql::Error::MySqlError(m) if m.code == ER_BAD_DB_ERROR => Error::NoSuchDatabase {
            url: url.to_string(),
            database: url.database_name(),
        },
        _ => Error::Unreachable {
            url: url.to_string(),
            reason: e.to_string(),
        },
    }
}

fn is_retried(error: &Error, mode: TxMode) -> bool {
    match error {
        Error::Mysql {
            source: mysql::Error::MySqlError(e),
            ..
        } => RETRIED.contains(&e.code) || (mode.retry_on_duplicate && e.code == ER_DUP_ENTRY),
        _ => false,
    }
}

impl Transact for MysqlDatabase {
    fn with_tx<T>(&self, what: &str, mode: TxMode, f: &mut dyn FnMut(&mut dyn SqlTx) -> Result<T>) -> Result<T> {
        let mut conn = self.conn()?;
        let isolation = mode.read_committed.then_some(IsolationLevel::ReadCommitted);
        let mut tries = 0;
        loop {
            let attempt = (|| {
                let mut tx = conn
                    .start_transaction(TxOpts::default().set_isolation_level(isolation))
                    .map_err(Error::mysql(format!("starting {what}")))?;
                let value = f(&mut MysqlTx {
                    conn: &mut tx,
                    what,
                    last_id: None,
                })?;
                tx.commit().map_err(Error::mysql(format!("committing {what}")))?;
                Ok(value)
            })();
            match attempt {
                Err(e) if is_retried(&e, mode) && tries < MAX_TRIES => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(10 * tries));
                }
                result => return result,
            }
        }
    }

    #[cfg(feature = "frames")]
    fn bulk_read(
        &self,
        filter: &crate::records::RowFilter,
        rounds: crate::frames::ReadRounds,
    ) -> Result<polars::prelude::DataFrame> {
        let DatabaseUrl::Mysql { url } = &self.url else {
            unreachable!("a MysqlDatabase holds a mysql url")
        };
        let range: Option<(Option<i64>, Option<i64>)> = self
            .conn()?
            .query_first(crate::frames::id_range_sql(filter))
            .map_err(Error::mysql("finding the id range to read"))?;
        let id_range = match range {
            Some((Some(min), Some(max))) => Some((min, max)),
            _ => None,
        };
        crate::frames::read_mysql(url, &self.url.to_string(), filter, id_range, rounds)
    }
}

impl Database for MysqlDatabase {
    fn migrate(&self) -> Result<MigrationReport> {
        let mut conn = self.conn()?;
        // Two deploys migrating at once take turns; DDL commits implicitly in MySQL, so
        // a lock, not a transaction, keeps them apart. Every statement is idempotent
        // (IF NOT EXISTS, DROP ... IF EXISTS), so an interrupted run is finished by the next.
        let locked: Option<i64> = conn
            .query_first("SELECT GET_LOCK('driftloop_migrate', 60)")
            .map_err(Error::mysql("taking the migration lock"))?;
        if locked != Some(1) {
            return Err(Error::Migration {
                name: "(lock)".into(),
                reason: "another migration held the lock for 60 s".into(),
            });
        }
        let result = migrate::apply(
            &mut MysqlTx {
                conn: &mut conn,
                what: "migrations",
                last_id: None,
            },
            driftloop_core::spec(),
        );
        let released = conn.query_drop("SELECT RELEASE_LOCK('driftloop_migrate')");
        let report = result?;
        released.map_err(Error::mysql("releasing the migration lock"))?;
        Ok(report)
    }

    fn url(&self) -> String {
        self.url.to_string()
    }
}

/// Statements on a transaction, or (migrations) on a plain connection.
struct MysqlTx<'a, Q: Queryable> {
    conn: &'a mut Q,
    what: &'a str,
    /// The id the last insert reported.
    last_id: Option<u64>,
}

fn mysql_params(params: Vec<SqlValue>) -> Params {
    if params.is_empty() {
        return Params::Empty;
    }
    Params::Positional(
        params
            .into_iter()
            .map(|v| match v {
                SqlValue::Null => Value::NULL,
                SqlValue::Int(i) => Value::Int(i),
                SqlValue::Real(r) => Value::Double(r),
                SqlValue::Text(t) => Value::Bytes(t.into_bytes()),
            })
            .collect(),
    )
}

fn from_mysql(value: Value) -> SqlValue {
    match value {
        Value::NULL => SqlValue::Null,
        Value::Int(i) => SqlValue::Int(i),
        Value::UInt(u) => SqlValue::Int(u as i64),
        Value::Float(f) => SqlValue::Real(f as f64),
        Value::Double(d) => SqlValue::Real(d),
        Value::Bytes(b) => SqlValue::Text(String::from_utf8_lossy(&b).into_owned()),
        other => SqlValue::Text(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

impl<Q: Queryable> SqlTx for MysqlTx<'_, Q> {
    fn dialect(&self) -> Dialect {
        Dialect::Mysql
    }

    fn exec(&mut self, sql: &str, params: Vec<SqlValue>) -> Result<u64> {
        let result = self
            .conn
            .exec_iter(sql, mysql_params(params))
            .map_err(Error::mysql(self.what))?;
        self.last_id = result.last_insert_id();
        Ok(result.affected_rows())
    }

    fn last_insert_id(&mut self) -> Result<i64> {
        self.last_id
            .map(|id| id as i64)
            .ok_or_else(|| Error::Corrupt("an insert reported no id".into()))
    }

    fn query(&mut self, sql: &str, params: Vec<SqlValue>) -> Result<Vec<Vec<SqlValue>>> {
        let rows: Vec<mysql::Row> = self
            .conn
            .exec(sql, mysql_params(params))
            .map_err(Error::mysql(self.what))?;
        Ok(rows
            .into_iter()
            .map(|row| row.unwrap().into_iter().map(from_mysql).collect())
            .collect())
    }

    fn exec_script(&mut self, script: &str) -> std::result::Result<(), String> {
        for statement in split_mysql_statements(script) {
            // Text protocol: routines and triggers cannot be prepared statements.
            self.conn
                .query_drop(&statement)
                .map_err(|e| format!("{e} (in: {})", statement.lines().next().unwrap_or_default()))?;
        }
        Ok(())
    }
}
