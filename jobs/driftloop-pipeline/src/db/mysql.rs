//! The MySQL adapter (MySQL 8, Aurora MySQL, MariaDB 10.6+), over a connection pool of
//! the synchronous `mysql` client. Every session runs in UTC with strict SQL mode, so
//! timestamps mean the same everywhere and a bad value is an error, never a silent
//! truncation.

use std::time::Duration;

use driftloop_core::{spec, FeatureRow};
use mysql::prelude::Queryable;
use mysql::{IsolationLevel, Opts, OptsBuilder, Params, Pool, PoolConstraints, PoolOpts, PooledConn, TxOpts, Value};

use super::migrate::{split_mysql_statements, MigrationReport, MYSQL_MIGRATIONS};
use super::registry::{Dialect, SqlTx, SqlValue};
use super::WithSqlTx;
use super::{exhausted_message, queued};
use super::{
    insert_columns, payload_text, ClaimedJob, Database, DriftCounter, DriftReportLog, DriftReportRecord, Enqueued,
    FeatureStore, InsertOutcome, Job, JobKind, JobQueue, JobStatus, DRIFT_REPORT_COLUMNS, MAX_ATTEMPTS,
};
use crate::config::DatabaseUrl;
use crate::error::{Error, Result};

/// Rows per multi-row INSERT statement: 1,000 rows × 21 parameters stays well under the
/// protocol's 65,535 placeholders per statement.
const ROWS_PER_STATEMENT: usize = 1000;

const ER_DUP_ENTRY: u16 = 1062;
const ER_BAD_DB_ERROR: u16 = 1049;
const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
const ER_LOCK_DEADLOCK: u16 = 1213;

/// Statements every pooled session runs first.
pub(crate) const SESSION_INIT: &[&str] = &[
    "SET time_zone = '+00:00'",
    "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
];

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
            .init(SESSION_INIT.to_vec())
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

fn row_values(row: &FeatureRow, values: &mut Vec<Value>) {
    let s = spec();
    for (col_idx, &code) in row.features.iter().enumerate() {
        values.push(match s.features[col_idx].kind.levels() {
            Some(levels) => Value::from(levels[code as usize]),
            None => Value::UInt(code as u64),
        });
    }
    values.push(Value::from(row.diagnosis_text()));
    values.push(Value::from(row.label_source.as_str()));
    values.push(row.model_version.as_deref().map_or(Value::NULL, Value::from));
    values.push(row.request_id.as_deref().map_or(Value::NULL, Value::from));
}

fn insert_sql(n_rows: usize) -> String {
    let columns = insert_columns();
    let tuple = format!("({})", vec!["?"; columns.len()].join(", "));
    format!(
        "INSERT INTO features ({}) VALUES {}",
        columns.join(", "),
        vec![tuple.as_str(); n_rows].join(", ")
    )
}

const COUNTER_SQL: &str =
    "SELECT c.n, s.drift_every FROM drift_counter AS c, drift_settings AS s WHERE c.id = 1 AND s.id = 1";

fn read_counter(conn: &mut impl Queryable) -> Result<DriftCounter> {
    counter_query(conn, COUNTER_SQL)
}

/// Reads the counter with a locking read: the latest committed value, held until commit.
/// An insert takes it first, so the count it started from is not a stale snapshot.
fn lock_counter(conn: &mut impl Queryable) -> Result<DriftCounter> {
    counter_query(conn, &format!("{COUNTER_SQL} FOR UPDATE"))
}

fn counter_query(conn: &mut impl Queryable, sql: &str) -> Result<DriftCounter> {
    let row: Option<(i64, i64)> = conn.query_first(sql).map_err(Error::mysql(
        "reading the drift counter (has `driftloop db migrate` run?)",
    ))?;
    let (n, drift_every) = row.ok_or_else(|| Error::Corrupt("drift_counter or drift_settings has no row 1".into()))?;
    Ok(DriftCounter { n, drift_every })
}

impl MysqlDatabase {
    fn insert(&self, rows: &[FeatureRow]) -> Result<InsertOutcome> {
        let mut conn = self.conn()?;
        let mut tx = conn
            .start_transaction(TxOpts::default())
            .map_err(Error::mysql("starting an insert"))?;
        let before = lock_counter(&mut tx)?;
        let mut last_id = 0;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut values = Vec::with_capacity(chunk.len() * insert_columns().len());
            for row in chunk {
                row_values(row, &mut values);
            }
            tx.exec_drop(insert_sql(chunk.len()), Params::Positional(values))
                .map_err(|source| {
                    let error = Error::Mysql {
                        context: "inserting feature rows".into(),
                        source,
                    };
                    if !error.is_duplicate_request_id() {
                        return error;
                    }
                    // The server's message names the duplicate value.
                    let message = std::error::Error::source(&error).map_or_else(String::new, ToString::to_string);
                    let duplicate = chunk
                        .iter()
                        .filter_map(|r| r.request_id.as_deref())
                        .find(|id| message.contains(id));
                    Error::DuplicateRequestId(duplicate.unwrap_or_default().to_string())
                })?;
            // LAST_INSERT_ID() is the first id of a multi-row insert; within one
            // statement InnoDB hands out consecutive ids.
            let first = tx.last_insert_id().unwrap_or(0) as i64;
            last_id = first + chunk.len() as i64 - 1;
        }
        let after = read_counter(&mut tx)?;
        tx.commit().map_err(Error::mysql("committing an insert"))?;
        let n_rows = rows.len() as u64;
        Ok(InsertOutcome {
            last_id,
            n_rows,
            drift_jobs_queued: queued(before, after, n_rows),
        })
    }
}

impl FeatureStore for MysqlDatabase {
    fn insert_row(&self, row: &FeatureRow) -> Result<InsertOutcome> {
        self.insert(std::slice::from_ref(row))
    }

    fn insert_rows(&self, rows: &[FeatureRow]) -> Result<InsertOutcome> {
        self.insert(rows)
    }

    fn count_rows(&self) -> Result<u64> {
        let n: Option<u64> = self
            .conn()?
            .query_first("SELECT COUNT(*) FROM features")
            .map_err(Error::mysql("counting feature rows"))?;
        Ok(n.unwrap_or(0))
    }

    fn drift_counter(&self) -> Result<DriftCounter> {
        read_counter(&mut self.conn()?)
    }

    fn set_drift_every(&self, drift_every: i64) -> Result<()> {
        if drift_every < 1 {
            return Err(Error::Config(format!(
                "drift_every must be at least 1, not {drift_every}"
            )));
        }
        self.conn()?
            .exec_drop("UPDATE drift_settings SET drift_every = ? WHERE id = 1", (drift_every,))
            .map_err(Error::mysql("setting drift_every"))
    }

    #[cfg(feature = "frames")]
    fn read_frame(&self, filter: &super::RowFilter) -> Result<polars::prelude::DataFrame> {
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
        crate::frames::read_mysql(url, &self.url.to_string(), filter, id_range)
    }
}

/// A `jobs` row as selected by `jobs()`: id, kind, status, attempts, payload, error, dedupe key.
type JobRow = (
    i64,
    String,
    String,
    u32,
    Option<Vec<u8>>,
    Option<String>,
    Option<String>,
);
/// A claim candidate: id, kind, status, attempts, payload.
type CandidateRow = (i64, String, String, u32, Option<Vec<u8>>);

fn job_from_row(row: mysql::Row) -> Result<Job> {
    let (id, kind, status, attempts, payload, error, dedupe_key): JobRow =
        mysql::from_row_opt(row).map_err(|e| Error::Corrupt(format!("job row: {e}")))?;
    Ok(Job {
        id,
        kind: JobKind::parse(&kind).ok_or_else(|| Error::Corrupt(format!("job {id} has kind {kind:?}")))?,
        status: JobStatus::parse(&status).ok_or_else(|| Error::Corrupt(format!("job {id} has status {status:?}")))?,
        attempts,
        payload: parse_payload(id, payload)?,
        error,
        dedupe_key,
    })
}

fn parse_payload(id: i64, payload: Option<Vec<u8>>) -> Result<Option<serde_json::Value>> {
    payload
        .map(|bytes| serde_json::from_slice(&bytes))
        .transpose()
        .map_err(|e| Error::Corrupt(format!("job {id} payload: {e}")))
}

/// One claim transaction, at READ COMMITTED so rows a worker looked at but did not take
/// are not kept locked. A job whose lease expired `MAX_ATTEMPTS` times is marked failed
/// here instead of being handed out again, and the next candidate is tried.
fn claim_in_tx(conn: &mut PooledConn, kinds: &[JobKind], lease: Duration) -> Result<Option<ClaimedJob>> {
    let opts = TxOpts::default().set_isolation_level(Some(IsolationLevel::ReadCommitted));
    let mut tx = conn.start_transaction(opts).map_err(Error::mysql("starting a claim"))?;
    let kind_list = vec!["?"; kinds.len()].join(", ");
    loop {
        // SKIP LOCKED: a job another worker is claiming right now is passed over, not
        // waited for, so concurrent workers each get a different job.
        let found: Option<CandidateRow> = tx
            .exec_first(
                format!(
                    "SELECT id, kind, status, attempts, payload FROM jobs
                     WHERE kind IN ({kind_list})
                       AND (status = 'pending' OR (status = 'running' AND lease_until < NOW(6)))
                     ORDER BY id LIMIT 1
                     FOR UPDATE SKIP LOCKED"
                ),
                Params::Positional(kinds.iter().map(|k| Value::from(k.as_str())).collect()),
            )
            .map_err(Error::mysql("finding a job to claim"))?;
        let Some((id, kind, status, attempts, payload)) = found else {
            tx.commit().map_err(Error::mysql("ending a claim"))?;
            return Ok(None);
        };
        if status == "running" && attempts >= MAX_ATTEMPTS {
            tx.exec_drop(
                "UPDATE jobs SET status = 'failed', lease_until = NULL, error = ? WHERE id = ?",
                (exhausted_message(attempts), id),
            )
            .map_err(Error::mysql("failing an exhausted job"))?;
            continue;
        }
        tx.exec_drop(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, error = NULL,
                 lease_until = NOW(6) + INTERVAL ? MICROSECOND
             WHERE id = ?",
            (lease.as_micros() as u64, id),
        )
        .map_err(Error::mysql("claiming a job"))?;
        tx.commit().map_err(Error::mysql("committing a claim"))?;
        return Ok(Some(ClaimedJob {
            id,
            kind: JobKind::parse(&kind).ok_or_else(|| Error::Corrupt(format!("job {id} has kind {kind:?}")))?,
            attempt: attempts + 1,
            payload: parse_payload(id, payload)?,
        }));
    }
}

fn finish(conn: &mut PooledConn, job: &ClaimedJob, status: JobStatus, error: Option<&str>) -> Result<()> {
    conn.exec_drop(
        "UPDATE jobs SET status = ?, lease_until = NULL, error = ? WHERE id = ? AND status = 'running' AND attempts = ?",
        (status.as_str(), error, job.id, job.attempt),
    )
    .map_err(Error::mysql(format!("marking job {} {status}", job.id)))?;
    if conn.affected_rows() == 1 {
        Ok(())
    } else {
        Err(Error::LeaseLost {
            job_id: job.id,
            attempt: job.attempt,
        })
    }
}

impl JobQueue for MysqlDatabase {
    fn enqueue(&self, kind: JobKind, payload: &serde_json::Value, dedupe_key: Option<&str>) -> Result<Enqueued> {
        let mut conn = self.conn()?;
        // With a dedupe key, INSERT IGNORE turns the second enqueue into a no-op that the
        // unique key decides atomically; the lookup then returns the first job's id.
        let inserted = conn.exec_drop(
            "INSERT IGNORE INTO jobs (kind, status, payload, dedupe_key) VALUES (?, 'pending', ?, ?)",
            (kind.as_str(), payload_text(payload), dedupe_key),
        );
        inserted.map_err(Error::mysql("enqueueing a job"))?;
        if conn.affected_rows() == 1 {
            return Ok(Enqueued {
                id: conn.last_insert_id() as i64,
                created: true,
            });
        }
        let id: Option<i64> = conn
            .exec_first("SELECT id FROM jobs WHERE dedupe_key = ?", (dedupe_key,))
            .map_err(Error::mysql("looking up a dedupe key"))?;
        let id = id.ok_or_else(|| Error::Corrupt("a job insert was ignored without a dedupe key match".into()))?;
        Ok(Enqueued { id, created: false })
    }

    fn claim(&self, kinds: &[JobKind], lease: Duration) -> Result<Option<ClaimedJob>> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let mut conn = self.conn()?;
        // A deadlock or lock timeout rolls the claim back whole; trying again is safe.
        let mut tries = 0;
        loop {
            match claim_in_tx(&mut conn, kinds, lease) {
                Err(Error::Mysql {
                    source: mysql::Error::MySqlError(e),
                    ..
                }) if (e.code == ER_LOCK_DEADLOCK || e.code == ER_LOCK_WAIT_TIMEOUT) && tries < 5 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(10 * tries));
                }
                result => return result,
            }
        }
    }

    fn complete(&self, job: &ClaimedJob) -> Result<()> {
        finish(&mut self.conn()?, job, JobStatus::Done, None)
    }

    fn fail(&self, job: &ClaimedJob, error: &str) -> Result<()> {
        finish(&mut self.conn()?, job, JobStatus::Failed, Some(error))
    }

    fn jobs(&self, status: Option<JobStatus>) -> Result<Vec<Job>> {
        let rows: Vec<mysql::Row> = self
            .conn()?
            .exec(
                "SELECT id, kind, status, attempts, payload, error, dedupe_key FROM jobs
                 WHERE ? IS NULL OR status = ? ORDER BY id",
                (status.map(|s| s.as_str()), status.map(|s| s.as_str())),
            )
            .map_err(Error::mysql("listing jobs"))?;
        rows.into_iter().map(job_from_row).collect()
    }
}

impl DriftReportLog for MysqlDatabase {
    fn record_drift_report(&self, r: &DriftReportRecord) -> Result<bool> {
        let mut conn = self.conn()?;
        let values: Vec<Value> = vec![
            r.job_id.into(),
            r.reference_uri.as_str().into(),
            r.reference_sha256.as_str().into(),
            r.reference_max_id.into(),
            r.current_max_id.into(),
            r.n_current.into(),
            r.drift.into(),
            r.drift_share.into(),
            r.drifted_columns.as_str().into(),
            r.report_uri.as_str().into(),
        ];
        conn.exec_drop(
            format!("INSERT IGNORE INTO drift_reports ({DRIFT_REPORT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            Params::Positional(values),
        )
        .map_err(Error::mysql("recording a drift report"))?;
        Ok(conn.affected_rows() == 1)
    }

    fn drift_reports(&self) -> Result<Vec<DriftReportRecord>> {
        let rows: Vec<mysql::Row> = self
            .conn()?
            .query(format!("SELECT {DRIFT_REPORT_COLUMNS} FROM drift_reports ORDER BY id"))
            .map_err(Error::mysql("listing drift reports"))?;
        rows.into_iter()
            .map(|row| {
                type ReportRow = (Option<i64>, String, String, i64, i64, i64, bool, f64, String, String);
                let r: ReportRow =
                    mysql::from_row_opt(row).map_err(|e| Error::Corrupt(format!("drift report row: {e}")))?;
                Ok(DriftReportRecord {
                    job_id: r.0,
                    reference_uri: r.1,
                    reference_sha256: r.2,
                    reference_max_id: r.3,
                    current_max_id: r.4,
                    n_current: r.5,
                    drift: r.6,
                    drift_share: r.7,
                    drifted_columns: r.8,
                    report_uri: r.9,
                })
            })
            .collect()
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
        let result = apply_migrations(&mut conn);
        let released = conn.query_drop("SELECT RELEASE_LOCK('driftloop_migrate')");
        let report = result?;
        released.map_err(Error::mysql("releasing the migration lock"))?;
        Ok(report)
    }

    fn url(&self) -> String {
        self.url.to_string()
    }
}

fn apply_migrations(conn: &mut PooledConn) -> Result<MigrationReport> {
    conn.query_drop(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, checksum CHAR(64) NOT NULL,
             applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
         ) ENGINE = InnoDB",
    )
    .map_err(Error::mysql("creating schema_migrations"))?;
    let mut report = MigrationReport {
        applied: Vec::new(),
        already_applied: 0,
    };
    for migration in MYSQL_MIGRATIONS {
        let recorded: Option<String> = conn
            .exec_first(
                "SELECT checksum FROM schema_migrations WHERE version = ?",
                (migration.version,),
            )
            .map_err(Error::mysql("reading schema_migrations"))?;
        match recorded {
            Some(checksum) if checksum == migration.checksum() => report.already_applied += 1,
            Some(_) => {
                return Err(Error::Migration {
                    name: migration.name.into(),
                    reason: "was applied with other contents; add a new migration instead of editing an applied one"
                        .into(),
                })
            }
            None => {
                for statement in split_mysql_statements(migration.sql) {
                    // Text protocol: routines and triggers cannot be prepared statements.
                    conn.query_drop(&statement).map_err(|e| Error::Migration {
                        name: migration.name.into(),
                        reason: format!("{e} (in: {})", statement.lines().next().unwrap_or_default()),
                    })?;
                }
                conn.exec_drop(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                    (migration.version, migration.name, migration.checksum()),
                )
                .map_err(Error::mysql("recording a migration"))?;
                report.applied.push(migration.name.to_string());
            }
        }
    }
    Ok(report)
}

struct MysqlTx<'a, 'c>(&'a mut mysql::Transaction<'c>);

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

impl SqlTx for MysqlTx<'_, '_> {
    fn dialect(&self) -> Dialect {
        Dialect::Mysql
    }

    fn exec(&mut self, sql: &str, params: Vec<SqlValue>) -> Result<u64> {
        self.0
            .exec_drop(sql, mysql_params(params))
            .map_err(Error::mysql("writing the model registry"))?;
        Ok(self.0.affected_rows())
    }

    fn last_insert_id(&mut self) -> Result<i64> {
        self.0
            .last_insert_id()
            .map(|id| id as i64)
            .ok_or_else(|| Error::Corrupt("an insert reported no id".into()))
    }

    fn query(&mut self, sql: &str, params: Vec<SqlValue>) -> Result<Vec<Vec<SqlValue>>> {
        let rows: Vec<mysql::Row> = self
            .0
            .exec(sql, mysql_params(params))
            .map_err(Error::mysql("reading the model registry"))?;
        Ok(rows
            .into_iter()
            .map(|row| {
                row.unwrap()
                    .into_iter()
                    .map(|v| match v {
                        Value::NULL => SqlValue::Null,
                        Value::Int(i) => SqlValue::Int(i),
                        Value::UInt(u) => SqlValue::Int(u as i64),
                        Value::Float(f) => SqlValue::Real(f as f64),
                        Value::Double(d) => SqlValue::Real(d),
                        Value::Bytes(b) => SqlValue::Text(String::from_utf8_lossy(&b).into_owned()),
                        other => SqlValue::Text(other.as_sql(true).trim_matches('\'').to_string()),
                    })
                    .collect()
            })
            .collect())
    }
}

impl WithSqlTx for MysqlDatabase {
    fn with_tx<T>(&self, what: &str, f: &mut dyn FnMut(&mut dyn SqlTx) -> Result<T>) -> Result<T> {
        let mut conn = self.conn()?;
        // Two registrations of the same artifact, or two first champions, race on a unique
        // key; a deadlock rolls a transaction back whole. Running it again sees the winner.
        let mut tries = 0;
        loop {
            let attempt = (|| {
                let mut tx = conn
                    .start_transaction(TxOpts::default())
                    .map_err(Error::mysql(format!("starting {what}")))?;
                let value = f(&mut MysqlTx(&mut tx))?;
                tx.commit().map_err(Error::mysql(format!("committing {what}")))?;
                Ok(value)
            })();
            match attempt {
                Err(Error::Mysql {
                    source: mysql::Error::MySqlError(e),
                    ..
                }) if [ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT, ER_DUP_ENTRY].contains(&e.code) && tries < 3 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(20 * tries));
                }
                result => return result,
            }
        }
    }
}
