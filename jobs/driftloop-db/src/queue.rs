//! The job outbox over either backend: enqueue with dedupe keys, claims with leases (at
//! READ COMMITTED with `SKIP LOCKED` on MySQL), and finishing fenced by the attempt
//! count. Written once over [`SqlTx`].

use std::time::Duration;

use crate::error::{Error, Result};
use crate::ports::JobQueue;
use crate::records::{ClaimedJob, Enqueued, Job, JobKind, JobStatus, MAX_ATTEMPTS};
use crate::sql::{placeholders, Cells, SqlTx, SqlValue, Transact, TxMode};

/// The error stored on a job whose lease expired on every attempt.
fn exhausted_message(attempts: u32) -> String {
    format!("lease expired on each of {attempts} attempts")
}

/// Payloads are JSON objects; a missing one is stored as NULL.
fn payload_text(payload: &serde_json::Value) -> Option<String> {
    (!payload.is_null()).then(|| payload.to_string())
}

pub(crate) const JOB_COLUMNS: &str = "id, kind, status, attempts, payload, error, dedupe_key";

/// A `jobs` row selected with [`JOB_COLUMNS`]; a kind, status or payload that is not one
/// of ours is [`Error::Corrupt`] on both backends.
pub(crate) fn job_from_row(row: &[SqlValue]) -> Result<Job> {
    let cells = Cells { table: "jobs", row };
    let id = cells.int(0, "id")?;
    let kind = cells.text(1, "kind")?;
    let status = cells.text(2, "status")?;
    Ok(Job {
        id,
        kind: JobKind::parse(&kind).ok_or_else(|| Error::Corrupt(format!("job {id} has kind {kind:?}")))?,
        status: JobStatus::parse(&status).ok_or_else(|| Error::Corrupt(format!("job {id} has status {status:?}")))?,
        attempts: u32::try_from(cells.int(3, "attempts")?)
            .map_err(|_| Error::Corrupt(format!("job {id} has attempts {:?}", row[3])))?,
        payload: cells
            .opt_text(4, "payload")?
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(|e| Error::Corrupt(format!("job {id} payload: {e}")))?,
        error: cells.opt_text(5, "error")?,
        dedupe_key: cells.opt_text(6, "dedupe_key")?,
    })
}

fn enqueue(
    tx: &mut dyn SqlTx,
    kind: JobKind,
    payload: &serde_json::Value,
    dedupe_key: Option<&str>,
) -> Result<Enqueued> {
    // With a dedupe key the unique key decides atomically: the second insert is a no-op,
    // and the lookup returns the first job's id.
    let changed = tx.exec(
        &format!(
            "{} INTO jobs (kind, status, payload, dedupe_key) VALUES (?, 'pending', ?, ?)",
            tx.dialect().insert_ignore()
        ),
        vec![kind.as_str().into(), payload_text(payload).into(), dedupe_key.into()],
    )?;
    if changed == 1 {
        return Ok(Enqueued {
            id: tx.last_insert_id()?,
            created: true,
        });
    }
    let rows = tx.query("SELECT id FROM jobs WHERE dedupe_key = ?", vec![dedupe_key.into()])?;
    let row = rows
        .first()
        .ok_or_else(|| Error::Corrupt("a job insert was ignored without a dedupe key match".into()))?;
    Ok(Enqueued {
        id: Cells { table: "jobs", row }.int(0, "id")?,
        created: false,
    })
}

/// Claims up to `limit` jobs, oldest first: two locking selects of the candidates (expired
/// leases, pending jobs), one update of those handed out. A job whose lease expired `MAX_ATTEMPTS` times is marked
/// failed instead of being handed out again, and the next candidates are tried.
fn claim_batch(tx: &mut dyn SqlTx, kinds: &[JobKind], lease: Duration, limit: usize) -> Result<Vec<ClaimedJob>> {
    let dialect = tx.dialect();
    let now = dialect.now();
    // Two reads, each one index range in id order (`sql/*/0011_job_claims.sql`): the
    // running jobs whose lease expired, and the pending ones. (One query with `OR` is
    // answered by walking the primary key from the oldest job, finished ones included.)
    let kinds_in = placeholders(kinds.len());
    let lock = dialect.for_update_skip_locked();
    let expired = format!(
        "SELECT {JOB_COLUMNS} FROM jobs
         WHERE status = 'running' AND kind IN ({kinds_in}) AND lease_until < {now}
         ORDER BY id LIMIT ?{lock}"
    );
    let pending = format!(
        "SELECT {JOB_COLUMNS} FROM jobs
         WHERE status = 'pending' AND kind IN ({kinds_in})
         ORDER BY id LIMIT ?{lock}"
    );
    let mut values: Vec<SqlValue> = kinds.iter().map(|k| k.as_str().into()).collect();
    values.push(SqlValue::Int(limit as i64));
    let jobs = loop {
        // The oldest `limit` of both (the others read stay locked until the commit, and
        // are left as they were).
        let mut found: Vec<Job> = Vec::new();
        for find in [&expired, &pending] {
            for row in tx.query(find, values.clone())? {
                found.push(job_from_row(&row)?);
            }
        }
        if found.is_empty() {
            return Ok(Vec::new());
        }
        found.sort_by_key(|job| job.id);
        found.truncate(limit);
        let (exhausted, jobs): (Vec<Job>, Vec<Job>) = found
            .into_iter()
            .partition(|job| job.status == JobStatus::Running && job.attempts >= MAX_ATTEMPTS);
        for job in &exhausted {
            tx.exec(
                &format!(
                    "UPDATE jobs SET status = 'failed', lease_until = NULL, error = ?, updated_at = {now} WHERE id = ?"
                ),
                vec![exhausted_message(job.attempts).into(), job.id.into()],
            )?;
        }
        if !jobs.is_empty() {
            break jobs;
        }
    };
    let (lease_until, lease_param) = dialect.now_plus(lease);
    let mut values = vec![lease_param];
    values.extend(jobs.iter().map(|job| SqlValue::Int(job.id)));
    tx.exec(
        &format!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, error = NULL,
                 lease_until = {lease_until}, updated_at = {now}
             WHERE id IN ({})",
            placeholders(jobs.len())
        ),
        values,
    )?;
    Ok(jobs
        .into_iter()
        .map(|job| ClaimedJob {
            id: job.id,
            kind: job.kind,
            attempt: job.attempts + 1,
            payload: job.payload,
        })
        .collect())
}

/// Marks held jobs done, one update per attempt count; only the holder of each job's
/// latest claim may, so one lost lease fails the whole call.
fn complete_all(tx: &mut dyn SqlTx, jobs: &[ClaimedJob]) -> Result<()> {
    let now = tx.dialect().now();
    let mut attempts: Vec<u32> = jobs.iter().map(|j| j.attempt).collect();
    attempts.sort_unstable();
    attempts.dedup();
    for attempt in attempts {
        let held: Vec<&ClaimedJob> = jobs.iter().filter(|j| j.attempt == attempt).collect();
        for chunk in held.chunks(1000) {
            let mut values = vec![SqlValue::from(attempt)];
            values.extend(chunk.iter().map(|job| SqlValue::Int(job.id)));
            let changed = tx.exec(
                &format!(
                    "UPDATE jobs SET status = 'done', lease_until = NULL, error = NULL, updated_at = {now}
                     WHERE status = 'running' AND attempts = ? AND id IN ({})",
                    placeholders(chunk.len())
                ),
                values,
            )?;
            if changed != chunk.len() as u64 {
                // Name a job whose lease was lost: one not marked done by this update.
                let mut values = vec![SqlValue::from(attempt)];
                values.extend(chunk.iter().map(|job| SqlValue::Int(job.id)));
                let done = tx.query(
                    &format!(
                        "SELECT id FROM jobs WHERE status = 'done' AND attempts = ? AND id IN ({})",
                        placeholders(chunk.len())
                    ),
                    values,
                )?;
                let done: Vec<i64> = done
                    .iter()
                    .map(|row| Cells { table: "jobs", row }.int(0, "id"))
                    .collect::<Result<_>>()?;
                let lost = chunk.iter().find(|job| !done.contains(&job.id)).unwrap_or(&chunk[0]);
                return Err(Error::LeaseLost {
                    job_id: lost.id,
                    attempt,
                });
            }
        }
    }
    Ok(())
}

/// Marks a held job done or failed; only the holder of the latest claim may.
fn finish(tx: &mut dyn SqlTx, job: &ClaimedJob, status: JobStatus, error: Option<&str>) -> Result<()> {
    let changed = tx.exec(
        &format!(
            "UPDATE jobs SET status = ?, lease_until = NULL, error = ?, updated_at = {}
             WHERE id = ? AND status = 'running' AND attempts = ?",
            tx.dialect().now()
        ),
        vec![status.as_str().into(), error.into(), job.id.into(), job.attempt.into()],
    )?;
    if changed == 1 {
        Ok(())
    } else {
        Err(Error::LeaseLost {
            job_id: job.id,
            attempt: job.attempt,
        })
    }
}

fn list(tx: &mut dyn SqlTx, status: Option<JobStatus>) -> Result<Vec<Job>> {
    let status = status.map(|s| s.as_str());
    let rows = tx.query(
        &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE ? IS NULL OR status = ? ORDER BY id"),
        vec![status.into(), status.into()],
    )?;
    rows.iter().map(|row| job_from_row(row)).collect()
}

impl<D: Transact> JobQueue for D {
    fn enqueue(&self, kind: JobKind, payload: &serde_json::Value, dedupe_key: Option<&str>) -> Result<Enqueued> {
        self.with_tx("enqueueing a job", TxMode::default(), &mut |tx| {
            enqueue(tx, kind, payload, dedupe_key)
        })
    }

    fn claim(&self, kinds: &[JobKind], lease: Duration) -> Result<Option<ClaimedJob>> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let mode = TxMode {
            read_committed: true,
            ..TxMode::default()
        };
        self.with_tx("claiming a job", mode, &mut |tx| {
            Ok(claim_batch(tx, kinds, lease, 1)?.pop())
        })
    }

    fn claim_many(&self, kinds: &[JobKind], lease: Duration, limit: usize) -> Result<Vec<ClaimedJob>> {
        if kinds.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let mode = TxMode {
            read_committed: true,
            ..TxMode::default()
        };
        // One transaction and two statements for the whole batch: a burst of thousands
        // of jobs costs one commit, not one per job.
        self.with_tx("claiming jobs", mode, &mut |tx| claim_batch(tx, kinds, lease, limit))
    }

    fn complete(&self, job: &ClaimedJob) -> Result<()> {
        self.with_tx(&format!("marking job {} done", job.id), TxMode::default(), &mut |tx| {
            finish(tx, job, JobStatus::Done, None)
        })
    }

    fn complete_many(&self, jobs: &[ClaimedJob]) -> Result<()> {
        self.with_tx(
            &format!("marking {} jobs done", jobs.len()),
            TxMode::default(),
            &mut |tx| complete_all(tx, jobs),
        )
    }

    fn fail(&self, job: &ClaimedJob, error: &str) -> Result<()> {
        self.with_tx(
            &format!("marking job {} failed", job.id),
            TxMode::default(),
            &mut |tx| finish(tx, job, JobStatus::Failed, Some(error)),
        )
    }

    fn jobs(&self, status: Option<JobStatus>) -> Result<Vec<Job>> {
        self.with_tx("listing jobs", TxMode::READ, &mut |tx| list(tx, status))
    }
}
