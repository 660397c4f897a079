//! The drift counter as the inserts see it: reading it (locked), the jobs a batch of
//! inserts made the trigger queue, and the one call that counts a bulk insert's rows as
//! the trigger would have, row by row. Written once over [`SqlTx`].

use crate::error::{Error, Result};
use crate::records::DriftCounter;
use crate::sql::{Cells, SqlTx, SqlValue};

/// Reads the counter; with `lock`, a locking read on MySQL: the latest committed value,
/// held until commit. An insert takes it first, so the count it started from is not a
/// stale snapshot.
pub(crate) fn read_counter(tx: &mut dyn SqlTx, lock: bool) -> Result<DriftCounter> {
    let lock = if lock { tx.dialect().for_update() } else { "" };
    let rows = tx.query(
        &format!(
            "SELECT c.n, s.drift_every FROM drift_counter AS c, drift_settings AS s WHERE c.id = 1 AND s.id = 1{lock}"
        ),
        vec![],
    )?;
    let row = rows
        .first()
        .ok_or_else(|| Error::Corrupt("drift_counter or drift_settings has no row 1".into()))?;
    let cells = Cells {
        table: "drift_counter",
        row,
    };
    Ok(DriftCounter {
        n: cells.int(0, "n")?,
        drift_every: cells.int(1, "drift_every")?,
    })
}

/// Drift jobs queued while `n_rows` rows moved the counter from `before` to `after`
/// (read in the inserting transaction, so no other writer moved it in between).
pub(crate) fn queued(before: DriftCounter, after: DriftCounter, n_rows: u64) -> u64 {
    ((before.n + n_rows as i64 - after.n) / after.drift_every.max(1)) as u64
}

/// Counts rows this transaction inserted while the per-row count was paused, exactly as
/// the trigger would have one by one: the counter goes up a row at a time and queues a
/// drift job (with the row that made it due) whenever it reaches `drift_every`, then
/// starts again from 0. The counter row is locked (paused) since before the rows went
/// in, so no other writer moved it meanwhile. Clears the pause; returns the jobs queued.
pub(crate) fn count_bulk(tx: &mut dyn SqlTx, ids: &[i64]) -> Result<u64> {
    let counter = read_counter(tx, true)?;
    let every = counter.drift_every.max(1);
    let (mut n, mut consumed) = (counter.n, 0i64);
    let mut payloads: Vec<SqlValue> = Vec::new();
    loop {
        let needed = (every - n).max(1);
        if consumed + needed > ids.len() as i64 {
            n += ids.len() as i64 - consumed;
            break;
        }
        consumed += needed;
        let payload = serde_json::json!({
            "reason": "row_count",
            "rows": n + needed,
            "last_row_id": ids[consumed as usize - 1],
        });
        payloads.push(payload.to_string().into());
        n = 0;
    }
    let queued = payloads.len() as u64;
    for chunk in payloads.chunks(1000) {
        let tuples = vec!["('drift', 'pending', ?)"; chunk.len()].join(", ");
        tx.exec(
            &format!("INSERT INTO jobs (kind, status, payload) VALUES {tuples}"),
            chunk.to_vec(),
        )?;
    }
    tx.exec(
        "UPDATE drift_counter SET n = ?, paused = 0 WHERE id = 1",
        vec![n.into()],
    )?;
    Ok(queued)
}
