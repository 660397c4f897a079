//! The SQLite adapter: the embedded default. One connection per `SqliteDatabase`, behind
//! a mutex; WAL mode and a busy timeout let several processes share the file. Writes that
//! must be atomic run in `BEGIN IMMEDIATE` transactions, which SQLite serialises.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use driftloop_core::{spec, FeatureRow};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, TransactionBehavior};

use super::migrate::{MigrationReport, SQLITE_MIGRATIONS};
use super::registry::{Dialect, SqlTx, SqlValue};
use super::WithSqlTx;
use super::{exhausted_message, queued};
use super::{
    insert_columns, payload_text, ClaimedJob, Database, DriftCounter, DriftReportLog, DriftReportRecord, Enqueued,
    FeatureStore, InsertOutcome, Job, JobKind, JobQueue, JobStatus, DRIFT_REPORT_COLUMNS, MAX_ATTEMPTS,
};
use crate::error::{Error, Result};

/// SQLite's text form of "now" in UTC with milliseconds; the tables store this form, so
/// timestamps compare correctly as text.
const NOW: &str = "strftime('%Y-%m-%d %H:%M:%f', 'now')";

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

fn insert_sql() -> String {
    let columns = insert_columns();
    let placeholders = vec!["?"; columns.len()].join(", ");
    format!("INSERT INTO features ({}) VALUES ({placeholders})", columns.join(", "))
}

fn row_values(row: &FeatureRow) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value;
    let s = spec();
    let mut values: Vec<Value> = row
        .features
        .iter()
        .enumerate()
        .map(|(col_idx, &code)| match s.features[col_idx].kind.levels() {
            Some(levels) => Value::Text(levels[code as usize].to_string()),
            None => Value::Integer(code as i64),
        })
        .collect();
    values.push(Value::Text(row.diagnosis_text().to_string()));
    values.push(Value::Text(row.label_source.as_str().to_string()));
    values.push(row.model_version.clone().map_or(Value::Null, Value::Text));
    values.push(row.request_id.clone().map_or(Value::Null, Value::Text));
    values
}

fn insert_error(row: &FeatureRow) -> impl FnOnce(rusqlite::Error) -> Error + '_ {
    move |source| {
        let error = Error::Sqlite {
            context: "inserting a feature row".into(),
            source,
        };
        match &row.request_id {
            Some(request_id) if error.is_duplicate_request_id() => Error::DuplicateRequestId(request_id.clone()),
            _ => error,
        }
    }
}

fn read_counter(conn: &Connection) -> Result<DriftCounter> {
    conn.query_row(
        "SELECT c.n, s.drift_every FROM drift_counter AS c, drift_settings AS s WHERE c.id = 1 AND s.id = 1",
        [],
        |r| {
            Ok(DriftCounter {
                n: r.get(0)?,
                drift_every: r.get(1)?,
            })
        },
    )
    .map_err(Error::sqlite(
        "reading the drift counter (has `driftloop db migrate` run?)",
    ))
}

fn insert_in_tx(conn: &mut Connection, rows: &[FeatureRow]) -> Result<InsertOutcome> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(Error::sqlite("starting an insert"))?;
    let before = read_counter(&tx)?;
    let mut last_id = 0;
    {
        let mut stmt = tx
            .prepare_cached(&insert_sql())
            .map_err(Error::sqlite("preparing the insert"))?;
        for row in rows {
            stmt.execute(params_from_iter(row_values(row)))
                .map_err(insert_error(row))?;
            last_id = tx.last_insert_rowid();
        }
    }
    let after = read_counter(&tx)?;
    tx.commit().map_err(Error::sqlite("committing an insert"))?;
    let n_rows = rows.len() as u64;
    Ok(InsertOutcome {
        last_id,
        n_rows,
        drift_jobs_queued: queued(before, after, n_rows),
    })
}

impl FeatureStore for SqliteDatabase {
    fn insert_row(&self, row: &FeatureRow) -> Result<InsertOutcome> {
        insert_in_tx(&mut self.conn(), std::slice::from_ref(row))
    }

    fn insert_rows(&self, rows: &[FeatureRow]) -> Result<InsertOutcome> {
        insert_in_tx(&mut self.conn(), rows)
    }

    fn count_rows(&self) -> Result<u64> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM features", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(Error::sqlite("counting feature rows"))
    }

    fn drift_counter(&self) -> Result<DriftCounter> {
        read_counter(&self.conn())
    }

    fn set_drift_every(&self, drift_every: i64) -> Result<()> {
        if drift_every < 1 {
            return Err(Error::Config(format!(
                "drift_every must be at least 1, not {drift_every}"
            )));
        }
        self.conn()
            .execute("UPDATE drift_settings SET drift_every = ?1 WHERE id = 1", [drift_every])
            .map(drop)
            .map_err(Error::sqlite("setting drift_every"))
    }

    #[cfg(feature = "frames")]
    fn read_frame(&self, filter: &super::RowFilter) -> Result<polars::prelude::DataFrame> {
        crate::frames::read_sqlite(&self.conn(), filter)
    }
}

fn job_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Job> {
    let kind: String = r.get("kind")?;
    let status: String = r.get("status")?;
    let payload: Option<String> = r.get("payload")?;
    Ok(Job {
        id: r.get("id")?,
        kind: JobKind::parse(&kind).unwrap_or(JobKind::Drift),
        status: JobStatus::parse(&status).unwrap_or(JobStatus::Failed),
        attempts: r.get("attempts")?,
        payload: payload.and_then(|p| serde_json::from_str(&p).ok()),
        error: r.get("error")?,
        dedupe_key: r.get("dedupe_key")?,
    })
}

impl SqliteDatabase {
    /// Marks a held job done or failed; only the holder of the latest claim may.
    fn finish(&self, job: &ClaimedJob, status: JobStatus, error: Option<&str>) -> Result<()> {
        let changed = self
            .conn()
            .execute(
                &format!(
                    "UPDATE jobs SET status = ?3, lease_until = NULL, error = ?4, updated_at = {NOW}
                     WHERE id = ?1 AND status = 'running' AND attempts = ?2"
                ),
                params![job.id, job.attempt, status.as_str(), error],
            )
            .map_err(Error::sqlite(format!("marking job {} {status}", job.id)))?;
        if changed == 1 {
            Ok(())
        } else {
            Err(Error::LeaseLost {
                job_id: job.id,
                attempt: job.attempt,
            })
        }
    }
}

impl JobQueue for SqliteDatabase {
    fn enqueue(&self, kind: JobKind, payload: &serde_json::Value, dedupe_key: Option<&str>) -> Result<Enqueued> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(Error::sqlite("starting an enqueue"))?;
        if let Some(key) = dedupe_key {
            let existing: Option<i64> = tx
                .query_row("SELECT id FROM jobs WHERE dedupe_key = ?1", [key], |r| r.get(0))
                .optional()
                .map_err(Error::sqlite("looking up a dedupe key"))?;
            if let Some(id) = existing {
                return Ok(Enqueued { id, created: false });
            }
        }
        tx.execute(
            "INSERT INTO jobs (kind, status, payload, dedupe_key) VALUES (?1, 'pending', ?2, ?3)",
            params![kind.as_str(), payload_text(payload), dedupe_key],
        )
        .map_err(Error::sqlite("enqueueing a job"))?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(Error::sqlite("committing an enqueue"))?;
        Ok(Enqueued { id, created: true })
    }

    fn claim(&self, kinds: &[JobKind], lease: Duration) -> Result<Option<ClaimedJob>> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(Error::sqlite("starting a claim"))?;
        let kind_list = vec!["?"; kinds.len()].join(", ");
        // The same loop as on MySQL: a job whose lease expired MAX_ATTEMPTS times is
        // marked failed, and the next candidate is tried.
        let (id, kind, attempts, payload) = loop {
            let found: Option<(i64, String, String, u32, Option<String>)> = tx
                .query_row(
                    &format!(
                        "SELECT id, kind, status, attempts, payload FROM jobs
                         WHERE kind IN ({kind_list})
                           AND (status = 'pending' OR (status = 'running' AND lease_until < {NOW}))
                         ORDER BY id LIMIT 1"
                    ),
                    params_from_iter(kinds.iter().map(|k| k.as_str())),
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()
                .map_err(Error::sqlite("finding a job to claim"))?;
            let Some((id, kind, status, attempts, payload)) = found else {
                tx.commit().map_err(Error::sqlite("ending a claim"))?;
                return Ok(None);
            };
            if status == "running" && attempts >= MAX_ATTEMPTS {
                tx.execute(
                    &format!("UPDATE jobs SET status = 'failed', lease_until = NULL, error = ?1, updated_at = {NOW} WHERE id = ?2"),
                    params![exhausted_message(attempts), id],
                )
                .map_err(Error::sqlite("failing an exhausted job"))?;
                continue;
            }
            break (id, kind, attempts, payload);
        };
        let lease_modifier = format!("+{:.6} seconds", lease.as_secs_f64());
        tx.execute(
            &format!(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, error = NULL,
                     lease_until = strftime('%Y-%m-%d %H:%M:%f', 'now', ?1), updated_at = {NOW}
                 WHERE id = ?2"
            ),
            params![lease_modifier, id],
        )
        .map_err(Error::sqlite("claiming a job"))?;
        tx.commit().map_err(Error::sqlite("committing a claim"))?;
        Ok(Some(ClaimedJob {
            id,
            kind: JobKind::parse(&kind).ok_or_else(|| Error::Corrupt(format!("job {id} has kind {kind:?}")))?,
            attempt: attempts + 1,
            payload: payload
                .map(|p| serde_json::from_str(&p))
                .transpose()
                .map_err(|e| Error::Corrupt(format!("job {id} payload: {e}")))?,
        }))
    }

    fn complete(&self, job: &ClaimedJob) -> Result<()> {
        self.finish(job, JobStatus::Done, None)
    }

    fn fail(&self, job: &ClaimedJob, error: &str) -> Result<()> {
        self.finish(job, JobStatus::Failed, Some(error))
    }

    fn jobs(&self, status: Option<JobStatus>) -> Result<Vec<Job>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, kind, status, attempts, payload, error, dedupe_key FROM jobs
                 WHERE ?1 IS NULL OR status = ?1 ORDER BY id",
            )
            .map_err(Error::sqlite("listing jobs"))?;
        let jobs = stmt
            .query_map([status.map(|s| s.as_str())], job_from_row)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<Job>>>())
            .map_err(Error::sqlite("listing jobs"))?;
        Ok(jobs)
    }
}

impl DriftReportLog for SqliteDatabase {
    fn record_drift_report(&self, r: &DriftReportRecord) -> Result<bool> {
        let changed = self
            .conn()
            .execute(
                &format!("INSERT OR IGNORE INTO drift_reports ({DRIFT_REPORT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    r.job_id,
                    r.reference_uri,
                    r.reference_sha256,
                    r.reference_max_id,
                    r.current_max_id,
                    r.n_current,
                    r.drift,
                    r.drift_share,
                    r.drifted_columns,
                    r.report_uri
                ],
            )
            .map_err(Error::sqlite("recording a drift report"))?;
        Ok(changed == 1)
    }

    fn drift_reports(&self) -> Result<Vec<DriftReportRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!("SELECT {DRIFT_REPORT_COLUMNS} FROM drift_reports ORDER BY id"))
            .map_err(Error::sqlite("listing drift reports"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(DriftReportRecord {
                    job_id: r.get(0)?,
                    reference_uri: r.get(1)?,
                    reference_sha256: r.get(2)?,
                    reference_max_id: r.get(3)?,
                    current_max_id: r.get(4)?,
                    n_current: r.get(5)?,
                    drift: r.get(6)?,
                    drift_share: r.get(7)?,
                    drifted_columns: r.get(8)?,
                    report_uri: r.get(9)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(Error::sqlite("listing drift reports"))?;
        Ok(rows)
    }
}

impl Database for SqliteDatabase {
    fn migrate(&self) -> Result<MigrationReport> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(Error::sqlite("starting migrations"))?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,
                 applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')))",
        )
        .map_err(Error::sqlite("creating schema_migrations"))?;
        let mut report = MigrationReport {
            applied: Vec::new(),
            already_applied: 0,
        };
        for migration in SQLITE_MIGRATIONS {
            let recorded: Option<String> = tx
                .query_row(
                    "SELECT checksum FROM schema_migrations WHERE version = ?1",
                    [migration.version],
                    |r| r.get(0),
                )
                .optional()
                .map_err(Error::sqlite("reading schema_migrations"))?;
            match recorded {
                Some(checksum) if checksum == migration.checksum() => report.already_applied += 1,
                Some(_) => {
                    return Err(Error::Migration {
                        name: migration.name.into(),
                        reason:
                            "was applied with other contents; add a new migration instead of editing an applied one"
                                .into(),
                    })
                }
                None => {
                    tx.execute_batch(migration.sql).map_err(|e| Error::Migration {
                        name: migration.name.into(),
                        reason: e.to_string(),
                    })?;
                    tx.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (?1, ?2, ?3)",
                        params![migration.version, migration.name, migration.checksum()],
                    )
                    .map_err(Error::sqlite("recording a migration"))?;
                    report.applied.push(migration.name.to_string());
                }
            }
        }
        tx.commit().map_err(Error::sqlite("committing migrations"))?;
        Ok(report)
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }
}

struct SqliteTx<'a, 'c>(&'a rusqlite::Transaction<'c>);

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
        self.0
            .execute(sql, params_from_iter(params.into_iter().map(to_sqlite)))
            .map(|n| n as u64)
            .map_err(Error::sqlite("writing the model registry"))
    }

    fn last_insert_id(&mut self) -> Result<i64> {
        Ok(self.0.last_insert_rowid())
    }

    fn query(&mut self, sql: &str, params: Vec<SqlValue>) -> Result<Vec<Vec<SqlValue>>> {
        use rusqlite::types::ValueRef;
        let mut stmt = self
            .0
            .prepare_cached(sql)
            .map_err(Error::sqlite("reading the model registry"))?;
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
            .map_err(Error::sqlite("reading the model registry"))?;
        Ok(rows)
    }
}

impl WithSqlTx for SqliteDatabase {
    fn with_tx<T>(&self, what: &str, f: &mut dyn FnMut(&mut dyn SqlTx) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(Error::sqlite(format!("starting {what}")))?;
        let value = f(&mut SqliteTx(&tx))?;
        tx.commit().map_err(Error::sqlite(format!("committing {what}")))?;
        Ok(value)
    }
}
