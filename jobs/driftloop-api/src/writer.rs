//! Storing the rows of concurrent `POST /v1/predict` requests together.
//!
//! Every insert bumps the one drift-counter row inside its transaction (that is what makes
//! the count race-free), so inserting transactions run one after another, each holding the
//! counter through its commit. A single writer task therefore stores the rows: requests
//! that arrive while a transaction commits wait for the next one, which stores all of them
//! (one counter lock and one commit for many rows). A request that finds the writer idle
//! is stored at once: nothing waits on a timer. Each row stands alone in its transaction:
//! a `request_id` stored already fails only its own row; a failing database fails them
//! all, and stores none.

use std::sync::Arc;

use driftloop_core::FeatureRow;
use driftloop_pipeline::db::{Error, InsertOutcome};
use driftloop_pipeline::Database;
use tokio::sync::{mpsc, oneshot};

/// Most rows one transaction of the writer stores.
const MAX_ROWS_PER_COMMIT: usize = 256;

/// Requests that may wait for the writer before `insert` itself waits for room.
const QUEUE: usize = 4096;

/// One row's outcome: its id and the drift jobs its transaction's trigger queued (counted
/// on one row of the transaction only, so the drift worker is woken once), or why it was
/// not stored. A failed transaction's error is shared by all its rows.
pub(crate) type RowResult = Result<InsertOutcome, Arc<Error>>;

struct Pending {
    row: FeatureRow,
    reply: oneshot::Sender<RowResult>,
}

/// The handle of the writer task; the task ends when the handle is dropped.
pub(crate) struct RowWriter {
    queue: mpsc::Sender<Pending>,
    database: String,
}

impl RowWriter {
    /// Starts the writer task on the current Tokio runtime.
    pub(crate) fn start(db: Arc<dyn Database>) -> RowWriter {
        let (queue, pending) = mpsc::channel(QUEUE);
        let database = db.url();
        tokio::spawn(run(db, pending));
        RowWriter { queue, database }
    }

    /// Stores one row, in a transaction shared with the rows queued beside it.
    pub(crate) async fn insert(&self, row: FeatureRow) -> RowResult {
        let (reply, answer) = oneshot::channel();
        let stopped = || {
            Arc::new(Error::Unreachable {
                url: self.database.clone(),
                reason: "the row writer stopped".into(),
            })
        };
        self.queue.send(Pending { row, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(db: Arc<dyn Database>, mut queue: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_ROWS_PER_COMMIT);
    while queue.recv_many(&mut batch, MAX_ROWS_PER_COMMIT).await > 0 {
        let pending = std::mem::take(&mut batch);
        let db = db.clone();
        // The replies go out from the blocking task itself: a request that stopped waiting
        // changes nothing for the others in its transaction.
        if tokio::task::spawn_blocking(move || store(db.as_ref(), pending))
            .await
            .is_err()
        {
            tracing::error!("storing predicted rows panicked; their requests were answered with an error");
        }
    }
}

fn store(db: &dyn Database, pending: Vec<Pending>) {
    let (rows, replies): (Vec<FeatureRow>, Vec<_>) = pending.into_iter().map(|p| (p.row, p.reply)).unzip();
    match db.insert_rows_each(&rows) {
        Ok((ids, mut queued)) => {
            for ((row, reply), id) in rows.iter().zip(replies).zip(ids) {
                let result = match id {
                    Some(id) => Ok(InsertOutcome {
                        last_id: id,
                        n_rows: 1,
                        drift_jobs_queued: std::mem::take(&mut queued),
                    }),
                    None => Err(Arc::new(Error::DuplicateRequestId(
                        row.request_id.clone().unwrap_or_default(),
                    ))),
                };
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            let e = Arc::new(e);
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}
