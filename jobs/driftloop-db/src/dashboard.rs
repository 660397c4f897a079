//! What the operator's dashboard (`/ui/`) reads, over either backend: pages of drift
//! checks, jobs, model versions, champion moves and performance checks, the newest rows,
//! and a few counts. Every list is one page by id, newest first (the rows below the last
//! id seen), so no page reads a whole table; the one exception is the rows counted, which
//! the overview takes from the primary key.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::records::{AliasReason, DriftReportRecord, Job, JobKind, JobStatus, ModelVersion, PerformanceReportRecord};
use crate::sql::{placeholders, Cells, SqlTx, SqlValue, Transact, TxMode};

/// One page of a list, newest first: at most `limit` entries with an id below `before`
/// (from the newest when `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub before: Option<i64>,
    pub limit: usize,
}

impl Page {
    pub fn first(limit: usize) -> Page {
        Page { before: None, limit }
    }

    /// The `LIMIT` clause: the page's size, at least 1 and at most 1,000.
    fn limit_clause(self) -> String {
        format!("LIMIT {}", self.limit.clamp(1, 1000))
    }
}

/// A span of creation times, `from` inclusive and `until` exclusive, each
/// `YYYY-MM-DD hh:mm:ss` in UTC (the form both backends compare their timestamps with).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeSpan {
    pub from: Option<String>,
    pub until: Option<String>,
}

/// A recorded drift check with its id and time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftCheck {
    pub id: i64,
    /// When it was recorded (UTC, ISO 8601).
    pub created_at: String,
    #[serde(flatten)]
    pub record: DriftReportRecord,
}

/// A job as stored, with its lease and times.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobEntry {
    #[serde(flatten)]
    pub job: Job,
    /// Until when the worker holding it may run it (UTC), while it is held.
    pub lease_until: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// How many jobs of one kind are in one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct JobTally {
    pub kind: JobKind,
    pub status: JobStatus,
    pub n: u64,
}

/// A move of the champion alias.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChampionMove {
    pub id: i64,
    pub version: i64,
    pub previous: Option<i64>,
    pub reason: AliasReason,
    pub created_at: String,
}

/// A performance check with its id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerformanceCheck {
    pub id: i64,
    #[serde(flatten)]
    pub record: PerformanceReportRecord,
}

/// A stored row as the overview lists it: where it came from, not its features.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecentRow {
    pub id: i64,
    pub request_id: Option<String>,
    pub label: String,
    pub label_source: String,
    pub model_version: Option<String>,
    pub created_at: String,
}

/// The training a drift check queued: its train job, and the model version that job's
/// training registered, once there is one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueuedTraining {
    pub drift_job_id: i64,
    pub train_job_id: i64,
    pub status: JobStatus,
    pub version: Option<i64>,
}

/// The dashboard's reads.
pub trait OperatorView: Send + Sync {
    /// A page of drift checks, optionally only those recorded within `span`.
    fn drift_checks(&self, page: Page, span: &TimeSpan) -> Result<Vec<DriftCheck>>;
    /// The check recorded for a drift job.
    fn drift_check(&self, job_id: i64) -> Result<Option<DriftCheck>>;
    /// Number of recorded drift checks.
    fn count_drift_checks(&self) -> Result<u64>;
    /// The trainings the drift checks of these drift jobs queued.
    fn trainings_queued_by(&self, drift_job_ids: &[i64]) -> Result<Vec<QueuedTraining>>;
    /// A page of jobs, optionally of one status.
    fn job_entries(&self, page: Page, status: Option<JobStatus>) -> Result<Vec<JobEntry>>;
    /// Jobs by kind and status (only the pairs there are).
    fn job_tallies(&self) -> Result<Vec<JobTally>>;
    /// A page of a model's versions, newest first.
    fn model_version_page(&self, name: &str, page: Page) -> Result<Vec<ModelVersion>>;
    /// A page of the champion alias's moves, newest first.
    fn champion_moves(&self, name: &str, page: Page) -> Result<Vec<ChampionMove>>;
    /// A page of performance checks, newest first.
    fn performance_checks(&self, page: Page) -> Result<Vec<PerformanceCheck>>;
    /// The newest `limit` rows.
    fn recent_rows(&self, limit: usize) -> Result<Vec<RecentRow>>;
    /// Rows stored at or after `since` (`YYYY-MM-DD hh:mm:ss`, UTC), found by id: ids and
    /// creation times rise together, so the first such row is found by bisecting the ids
    /// (a few primary-key lookups) and the rows from it on are counted by the key.
    fn rows_since(&self, since: &str) -> Result<u64>;
}

fn count(tx: &mut dyn SqlTx, sql: &str, params: Vec<SqlValue>, table: &'static str) -> Result<u64> {
    let rows = tx.query(sql, params)?;
    let row = rows
        .first()
        .ok_or_else(|| Error::Corrupt(format!("a count of {table} gave no row")))?;
    Ok(Cells { table, row }.int(0, "COUNT(*)")?.max(0) as u64)
}

fn drift_check_columns(tx: &dyn SqlTx) -> String {
    format!(
        "id, {}, {}",
        tx.dialect().iso_timestamp("created_at"),
        crate::drift_reports::COLUMNS.join(", ")
    )
}

fn drift_check_from_row(row: &[SqlValue]) -> Result<DriftCheck> {
    let cells = Cells {
        table: "drift_reports",
        row,
    };
    Ok(DriftCheck {
        id: cells.int(0, "id")?,
        created_at: cells.text(1, "created_at")?,
        record: crate::drift_reports::from_row(&row[2..])?,
    })
}

fn first_row_at_or_after(tx: &mut dyn SqlTx, id: i64, since: &str) -> Result<Option<(i64, bool)>> {
    let rows = tx.query(
        "SELECT id, CASE WHEN created_at >= ? THEN 1 ELSE 0 END FROM features WHERE id >= ? ORDER BY id LIMIT 1",
        vec![since.into(), id.into()],
    )?;
    rows.first()
        .map(|row| {
            let cells = Cells { table: "features", row };
            Ok((cells.int(0, "id")?, cells.bool(1, "created_at")?))
        })
        .transpose()
}

impl<D: Transact> OperatorView for D {
    fn drift_checks(&self, page: Page, span: &TimeSpan) -> Result<Vec<DriftCheck>> {
        self.with_tx("listing drift checks", TxMode::READ, &mut |tx| {
            let sql = format!(
                "SELECT {} FROM drift_reports WHERE (? IS NULL OR id < ?) AND (? IS NULL OR created_at >= ?) \
                 AND (? IS NULL OR created_at < ?) ORDER BY id DESC {}",
                drift_check_columns(tx),
                page.limit_clause()
            );
            let (from, until) = (span.from.as_deref(), span.until.as_deref());
            let params = vec![
                page.before.into(),
                page.before.into(),
                from.into(),
                from.into(),
                until.into(),
                until.into(),
            ];
            tx.query(&sql, params)?
                .iter()
                .map(|r| drift_check_from_row(r))
                .collect()
        })
    }

    fn drift_check(&self, job_id: i64) -> Result<Option<DriftCheck>> {
        self.with_tx("reading a drift check", TxMode::READ, &mut |tx| {
            let sql = format!("SELECT {} FROM drift_reports WHERE job_id = ?", drift_check_columns(tx));
            tx.query(&sql, vec![job_id.into()])?
                .first()
                .map(|r| drift_check_from_row(r))
                .transpose()
        })
    }

    fn count_drift_checks(&self) -> Result<u64> {
        self.with_tx("counting drift checks", TxMode::READ, &mut |tx| {
            count(tx, "SELECT COUNT(*) FROM drift_reports", vec![], "drift_reports")
        })
    }

    fn trainings_queued_by(&self, drift_job_ids: &[i64]) -> Result<Vec<QueuedTraining>> {
        if drift_job_ids.is_empty() {
            return Ok(Vec::new());
        }
        self.with_tx("reading the trainings drift checks queued", TxMode::READ, &mut |tx| {
            // A drift check queues its training under the dedupe key `train-after-drift-<job>`.
            let keys: Vec<SqlValue> = drift_job_ids
                .iter()
                .map(|id| SqlValue::Text(format!("train-after-drift-{id}")))
                .collect();
            let sql = format!(
                "SELECT j.id, j.status, j.dedupe_key, (SELECT MAX(v.version) FROM model_versions AS v \
                 WHERE v.train_job_id = j.id) FROM jobs AS j WHERE j.dedupe_key IN ({}) ORDER BY j.id",
                placeholders(keys.len())
            );
            tx.query(&sql, keys)?
                .iter()
                .map(|row| {
                    let cells = Cells { table: "jobs", row };
                    let id = cells.int(0, "id")?;
                    let status = cells.text(1, "status")?;
                    let key = cells.text(2, "dedupe_key")?;
                    Ok(QueuedTraining {
                        drift_job_id: key
                            .strip_prefix("train-after-drift-")
                            .and_then(|n| n.parse().ok())
                            .ok_or_else(|| Error::Corrupt(format!("job {id} has dedupe key {key:?}")))?,
                        train_job_id: id,
                        status: JobStatus::parse(&status)
                            .ok_or_else(|| Error::Corrupt(format!("job {id} has status {status:?}")))?,
                        version: cells.opt_int(3, "version")?,
                    })
                })
                .collect()
        })
    }

    fn job_entries(&self, page: Page, status: Option<JobStatus>) -> Result<Vec<JobEntry>> {
        self.with_tx("listing jobs", TxMode::READ, &mut |tx| {
            let d = tx.dialect();
            let sql = format!(
                "SELECT {}, {}, {}, {} FROM jobs WHERE (? IS NULL OR id < ?) AND (? IS NULL OR status = ?) \
                 ORDER BY id DESC {}",
                crate::queue::JOB_COLUMNS,
                d.iso_timestamp("lease_until"),
                d.iso_timestamp("created_at"),
                d.iso_timestamp("updated_at"),
                page.limit_clause()
            );
            let status = status.map(|s| s.as_str());
            let params = vec![page.before.into(), page.before.into(), status.into(), status.into()];
            tx.query(&sql, params)?
                .iter()
                .map(|row| {
                    let cells = Cells { table: "jobs", row };
                    Ok(JobEntry {
                        job: crate::queue::job_from_row(row)?,
                        lease_until: cells.opt_text(7, "lease_until")?,
                        created_at: cells.text(8, "created_at")?,
                        updated_at: cells.text(9, "updated_at")?,
                    })
                })
                .collect()
        })
    }

    fn job_tallies(&self) -> Result<Vec<JobTally>> {
        self.with_tx("counting jobs", TxMode::READ, &mut |tx| {
            let rows = tx.query(
                "SELECT kind, status, COUNT(*) FROM jobs GROUP BY kind, status ORDER BY kind, status",
                vec![],
            )?;
            rows.iter()
                .map(|row| {
                    let cells = Cells { table: "jobs", row };
                    let (kind, status) = (cells.text(0, "kind")?, cells.text(1, "status")?);
                    Ok(JobTally {
                        kind: JobKind::parse(&kind)
                            .ok_or_else(|| Error::Corrupt(format!("a job has kind {kind:?}")))?,
                        status: JobStatus::parse(&status)
                            .ok_or_else(|| Error::Corrupt(format!("a job has status {status:?}")))?,
                        n: cells.int(2, "COUNT(*)")?.max(0) as u64,
                    })
                })
                .collect()
        })
    }

    fn model_version_page(&self, name: &str, page: Page) -> Result<Vec<ModelVersion>> {
        self.with_tx("listing model versions", TxMode::READ, &mut |tx| {
            let sql = format!(
                "SELECT {} FROM model_versions WHERE name = ? AND (? IS NULL OR version < ?) ORDER BY version DESC {}",
                crate::registry::version_columns(tx.dialect()),
                page.limit_clause()
            );
            tx.query(&sql, vec![name.into(), page.before.into(), page.before.into()])?
                .iter()
                .map(|r| crate::registry::version_from_row(r))
                .collect()
        })
    }

    fn champion_moves(&self, name: &str, page: Page) -> Result<Vec<ChampionMove>> {
        self.with_tx("listing the champion's moves", TxMode::READ, &mut |tx| {
            let sql = format!(
                "SELECT id, version, previous_version, reason, {} FROM model_alias_events \
                 WHERE name = ? AND alias = 'champion' AND (? IS NULL OR id < ?) ORDER BY id DESC {}",
                tx.dialect().iso_timestamp("created_at"),
                page.limit_clause()
            );
            tx.query(&sql, vec![name.into(), page.before.into(), page.before.into()])?
                .iter()
                .map(|row| {
                    let cells = Cells {
                        table: "model_alias_events",
                        row,
                    };
                    let reason = cells.text(3, "reason")?;
                    Ok(ChampionMove {
                        id: cells.int(0, "id")?,
                        version: cells.int(1, "version")?,
                        previous: cells.opt_int(2, "previous_version")?,
                        reason: AliasReason::parse(&reason)
                            .ok_or_else(|| Error::Corrupt(format!("model_alias_events.reason is {reason:?}")))?,
                        created_at: cells.text(4, "created_at")?,
                    })
                })
                .collect()
        })
    }

    fn performance_checks(&self, page: Page) -> Result<Vec<PerformanceCheck>> {
        self.with_tx("listing performance checks", TxMode::READ, &mut |tx| {
            let sql = format!(
                "SELECT {}, {}, id FROM performance_reports WHERE (? IS NULL OR id < ?) ORDER BY id DESC {}",
                crate::performance::COLUMNS.join(", "),
                tx.dialect().iso_timestamp("created_at"),
                page.limit_clause()
            );
            tx.query(&sql, vec![page.before.into(), page.before.into()])?
                .iter()
                .map(|row| {
                    Ok(PerformanceCheck {
                        id: Cells {
                            table: "performance_reports",
                            row,
                        }
                        .int(9, "id")?,
                        record: crate::performance::report_from_row(row)?,
                    })
                })
                .collect()
        })
    }

    fn recent_rows(&self, limit: usize) -> Result<Vec<RecentRow>> {
        self.with_tx("reading the newest rows", TxMode::READ, &mut |tx| {
            let sql = format!(
                "SELECT id, request_id, {}, label_source, model_version, {} FROM features ORDER BY id DESC {}",
                driftloop_core::spec().label,
                tx.dialect().iso_timestamp("created_at"),
                Page::first(limit).limit_clause()
            );
            tx.query(&sql, vec![])?
                .iter()
                .map(|row| {
                    let cells = Cells { table: "features", row };
                    Ok(RecentRow {
                        id: cells.int(0, "id")?,
                        request_id: cells.opt_text(1, "request_id")?,
                        label: cells.text(2, "label")?,
                        label_source: cells.text(3, "label_source")?,
                        model_version: cells.opt_text(4, "model_version")?,
                        created_at: cells.text(5, "created_at")?,
                    })
                })
                .collect()
        })
    }

    fn rows_since(&self, since: &str) -> Result<u64> {
        self.with_tx("counting today's rows", TxMode::READ, &mut |tx| {
            // The smallest id whose row (the first at or after it) is at or after `since`.
            let Some((first_id, _)) = first_row_at_or_after(tx, i64::MIN, since)? else {
                return Ok(0);
            };
            let rows = tx.query("SELECT MAX(id) FROM features", vec![])?;
            let last_id = Cells {
                table: "features",
                row: &rows[0],
            }
            .int(0, "MAX(id)")?;
            if !first_row_at_or_after(tx, last_id, since)?.is_some_and(|(_, after)| after) {
                return Ok(0);
            }
            let (mut lo, mut hi) = (first_id, last_id);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                match first_row_at_or_after(tx, mid, since)? {
                    Some((_, true)) => hi = mid,
                    _ => lo = mid + 1,
                }
            }
            count(
                tx,
                "SELECT COUNT(*) FROM features WHERE id >= ?",
                vec![lo.into()],
                "features",
            )
        })
    }
}
