//! Counting where the rows are: the [`Profile`] of the feature rows after a watermark,
//! computed by the database. One aggregate query counts every level of every counted
//! column and of the label (a conditional sum each, levels bound as parameters), the
//! missing values of the nullable ones, the rows and their largest id; one `GROUP BY`
//! query per continuous column counts its distinct values. Nothing is read row by row, so
//! the memory a drift check needs does not grow with the rows it compares. Written once
//! over [`SqlTx`].

use driftloop_core::profile::{counting, ColumnProfile, Counting, Profile};
use driftloop_core::spec;

use crate::error::{Error, Result};
use crate::sql::{Cells, SqlTx, SqlValue};

/// The profile of the feature rows with `id` above `after_id`, and the largest id among
/// them (`None` when there is none).
pub(crate) fn profile_rows(tx: &mut dyn SqlTx, after_id: i64) -> Result<(Profile, Option<i64>)> {
    let s = spec();
    // One sum per counted level, the label's classes, and the missing values of each
    // nullable column, in this order.
    let mut sums: Vec<String> = Vec::new();
    let mut values: Vec<SqlValue> = Vec::new();
    let mut sum_of = |column: &str, value: Option<SqlValue>| match value {
        Some(value) => {
            sums.push(format!("SUM(CASE WHEN {column} = ? THEN 1 ELSE 0 END)"));
            values.push(value);
        }
        None => sums.push(format!("SUM(CASE WHEN {column} IS NULL THEN 1 ELSE 0 END)")),
    };
    for column in &s.features {
        match counting(column) {
            Counting::Levels(levels) => levels
                .iter()
                .for_each(|level| sum_of(&column.name, Some(level.as_str().into()))),
            Counting::Values { min, max } => (min..=max).for_each(|v| sum_of(&column.name, Some(v.into()))),
            Counting::Continuous => {}
        }
        if column.nullable {
            sum_of(&column.name, None);
        }
    }
    for class in &s.classes {
        sum_of(&s.label, Some(class.as_str().into()));
    }
    values.push(after_id.into());
    let sql = format!(
        "SELECT COUNT(*), MAX(id), {} FROM features WHERE id > ?",
        sums.join(", ")
    );
    let rows = tx.query(&sql, values)?;
    let row = rows
        .first()
        .ok_or_else(|| Error::Corrupt("the profile query gave no row".into()))?;
    let cells = Cells { table: "features", row };
    let n_rows = cells.int(0, "COUNT(*)")? as u64;
    let max_id = cells.opt_int(1, "MAX(id)")?;
    // Over no rows a sum is NULL: zero.
    let mut next_cell = 2;
    let mut next_sum = || -> Result<u64> {
        let count = cells.opt_int(next_cell, "SUM(...)")?.unwrap_or(0);
        next_cell += 1;
        u64::try_from(count).map_err(|_| Error::Corrupt(format!("a count of {count}")))
    };

    let mut columns = Vec::with_capacity(s.features.len());
    for column in &s.features {
        let counts = match counting(column).n_counts() {
            Some(n) => Some((0..n).map(|_| next_sum()).collect::<Result<Vec<u64>>>()?),
            None => None,
        };
        let missing = if column.nullable { next_sum()? } else { 0 };
        columns.push(match counts {
            Some(counts) => ColumnProfile::Counted {
                name: column.name.clone(),
                counts,
                missing,
            },
            None => {
                let (values, counts) = distinct_values(tx, &column.name, after_id)?;
                ColumnProfile::Continuous {
                    name: column.name.clone(),
                    values,
                    counts,
                    missing,
                }
            }
        });
    }
    let label = (0..s.classes.len()).map(|_| next_sum()).collect::<Result<Vec<u64>>>()?;
    let profile = Profile {
        rows: n_rows,
        columns,
        label,
    };
    profile.check(s).map_err(|e| {
        Error::Corrupt(format!(
            "the feature rows after id {after_id} do not fit the dataset: {e}"
        ))
    })?;
    Ok((profile, max_id))
}

/// A continuous column's distinct non-missing values after `after_id`, ascending, with
/// the count of each.
fn distinct_values(tx: &mut dyn SqlTx, column: &str, after_id: i64) -> Result<(Vec<f64>, Vec<u64>)> {
    let rows = tx.query(
        &format!(
            "SELECT {column}, COUNT(*) FROM features WHERE id > ? AND {column} IS NOT NULL \
             GROUP BY {column} ORDER BY {column}"
        ),
        vec![after_id.into()],
    )?;
    let mut values = Vec::with_capacity(rows.len());
    let mut counts = Vec::with_capacity(rows.len());
    for row in &rows {
        let cells = Cells { table: "features", row };
        values.push(cells.real(0, column)?);
        counts.push(cells.int(1, "COUNT(*)")? as u64);
    }
    Ok((values, counts))
}

/// The id after which the newest `n` rows lie (so `id > it` takes at most `n` rows): the
/// id of the row just older than them, or 0 when there are no more than `n` rows.
pub(crate) fn id_before_newest(tx: &mut dyn SqlTx, n: u64) -> Result<i64> {
    let rows = tx.query(
        "SELECT id FROM features ORDER BY id DESC LIMIT 1 OFFSET ?",
        vec![SqlValue::Int(n as i64)],
    )?;
    match rows.first() {
        Some(row) => Cells { table: "features", row }.int(0, "id"),
        None => Ok(0),
    }
}
