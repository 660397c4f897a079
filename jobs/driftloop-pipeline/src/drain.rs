//! The one drain loop of the outbox, for every job kind: claim a job, let the kind group
//! it with others it can share a run with, run each group, mark its jobs done or failed,
//! and go on until none is pending or the deadline has passed. A run that fails fails its
//! jobs with the error and the drain goes on; only claiming and finishing jobs (the
//! database itself failing) ends a drain with an error.

use std::future::Future;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::db::{ClaimedJob, Database, JobKind};
use crate::error::Result;

/// A job that failed, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedJob {
    pub job_id: i64,
    pub error: String,
}

/// What a drain did: each run's outcome, the failed jobs, and whether it stopped at its
/// deadline (with jobs possibly left).
#[derive(Debug)]
pub(crate) struct Drained<T> {
    pub outcomes: Vec<T>,
    pub failed: Vec<FailedJob>,
    pub stopped_at_deadline: bool,
}

/// How many jobs a runner that takes the pending jobs along claims per transaction.
pub(crate) const CLAIM_BATCH: usize = 1000;

/// Claims every pending job of `kind` (in batches of [`CLAIM_BATCH`], one transaction
/// each), oldest first, handing each to `each` as it comes, so that a burst of jobs is
/// never held whole as claimed (their payloads are most of a claimed job's memory).
pub(crate) fn claim_pending(
    db: &dyn Database,
    kind: JobKind,
    lease: Duration,
    mut each: impl FnMut(ClaimedJob),
) -> Result<()> {
    loop {
        let batch = db.claim_many(&[kind], lease, CLAIM_BATCH)?;
        let done = batch.len() < CLAIM_BATCH;
        batch.into_iter().for_each(&mut each);
        if done {
            return Ok(());
        }
    }
}

/// What a job kind does in a drain.
pub(crate) trait JobRunner {
    type Outcome;
    /// The groups to run, in order, for a claimed job: the runner may claim more jobs to
    /// run along with it.
    fn group(&mut self, db: &dyn Database, job: ClaimedJob) -> Result<Vec<Vec<ClaimedJob>>> {
        let _ = db;
        Ok(vec![vec![job]])
    }
    /// Runs one group.
    fn run<'a>(&'a mut self, jobs: &'a [ClaimedJob]) -> impl Future<Output = Result<Self::Outcome>> + Send + 'a;
}

/// Drains the jobs of `kind` with `runner`.
pub(crate) async fn drain<R: JobRunner>(
    db: &dyn Database,
    kind: JobKind,
    lease: Duration,
    deadline: Option<Instant>,
    runner: &mut R,
) -> Result<Drained<R::Outcome>> {
    let mut drained = Drained {
        outcomes: Vec::new(),
        failed: Vec::new(),
        stopped_at_deadline: false,
    };
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            drained.stopped_at_deadline = true;
            return Ok(drained);
        }
        let Some(job) = db.claim(&[kind], lease)? else {
            return Ok(drained);
        };
        for jobs in runner.group(db, job)? {
            match runner.run(&jobs).await {
                Ok(outcome) => {
                    db.complete_many(&jobs)?;
                    drained.outcomes.push(outcome);
                }
                Err(e) => {
                    let error = format!("{e:#}");
                    let job_ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
                    tracing::error!(?job_ids, "{kind} job failed: {error}");
                    for job in &jobs {
                        db.fail(job, &error)?;
                        drained.failed.push(FailedJob {
                            job_id: job.id,
                            error: error.clone(),
                        });
                    }
                }
            }
        }
    }
}
