//! Counting where the rows are: the [`Profile`] of the feature rows after a watermark,
//! computed by the database. The counted columns and the label are grouped a few at a
//! time (as many as keep a group's combinations of values under [`MAX_GROUPS`]) and each
//! group is counted by one `GROUP BY` scan of the rows; each column's counts are then the
//! sums over its group's combinations, a `NULL` counting as missing. A continuous column
//! is one `GROUP BY` of its distinct values. Nothing is read row by row, so the memory a
//! drift check needs does not grow with the rows it compares; grouping columns rather
//! than summing one condition per level makes the scan about twice as fast on MariaDB
//! (levels are grouped by their ENUM index there, see [`crate::sql::Dialect::level_key`]).
//! The scans of one check are shared by two connections at once, each scan being one
//! core's work on the server. Written once over [`SqlTx`].

use driftloop_core::profile::{counting, ColumnProfile, Counting, Profile};
use driftloop_core::{spec, DatasetSpec};

use crate::error::{Error, Result};
use crate::sql::{Cells, SqlTx, SqlValue, Transact, TxMode};

/// The most combinations of values one grouped scan may have.
const MAX_GROUPS: usize = 4096;

/// A counted column of the profile query.
struct CountedColumn<'a> {
    name: &'a str,
    counting: Counting<'a>,
    /// Where its counts go: a feature column's index, or `None` for the label.
    feature: Option<usize>,
}

impl CountedColumn<'_> {
    fn n_values(&self) -> usize {
        self.counting.n_counts().expect("a counted column")
    }

    /// The position of a grouped value among the column's counts; `None` for a NULL.
    fn position(&self, value: &SqlValue) -> Result<Option<usize>> {
        let position = match (&self.counting, value) {
            (_, SqlValue::Null) => return Ok(None),
            // MySQL's ENUM index counts from 1.
            (Counting::Levels(_), SqlValue::Int(index)) => usize::try_from(*index - 1).ok(),
            (Counting::Levels(levels), SqlValue::Text(text)) => levels.iter().position(|l| l == text),
            (Counting::Values { min, .. }, SqlValue::Int(v)) => usize::try_from(v - min).ok(),
            (Counting::Values { min, .. }, SqlValue::Text(t)) => {
                t.parse::<i64>().ok().and_then(|v| usize::try_from(v - min).ok())
            }
            _ => None,
        };
        match position {
            Some(p) if p < self.n_values() => Ok(Some(p)),
            _ => Err(Error::Corrupt(format!(
                "features.{} holds {value:?}, which is not one of its values",
                self.name
            ))),
        }
    }
}

/// One scan of the rows: a group of counted columns, or a continuous column's values.
enum Scan<'a> {
    Group(Vec<&'a CountedColumn<'a>>),
    Values { feature: usize, name: &'a str },
}

impl Scan<'_> {
    /// Its cost, roughly: MariaDB's time per row grows with the columns a scan groups.
    fn weight(&self) -> usize {
        match self {
            Scan::Group(columns) => columns.len(),
            Scan::Values { .. } => 1,
        }
    }
}

/// What a scan counted: a group's rows (its columns' values, then `COUNT(*)`), or a
/// continuous column's distinct values, their counts and its missing values.
enum Scanned {
    Group(Vec<Vec<SqlValue>>),
    Values(Vec<f64>, Vec<u64>, u64),
}

/// How many connections share a check's scans. Each scan is one core's work on the
/// server (a `GROUP BY` is CPU-bound there), so two run in about half the time of one
/// after the other on a server with two cores or more.
const COUNTING_CONNECTIONS: usize = 2;

/// The profile of the feature rows with `id` above `after_id`, and the largest id among
/// them (`None` when there is none).
///
/// The newest id is read first, and every scan counts the rows up to it, the scans split
/// over [`COUNTING_CONNECTIONS`] transactions at once. Rows are only ever added, so the
/// scans count the same rows unless one committed below that id while they ran; then the
/// group totals differ and the rows are counted again in one transaction.
pub(crate) fn profile_rows<D: Transact>(db: &D, after_id: i64) -> Result<(Profile, Option<i64>)> {
    let s = spec();
    let Some(max_id) = db.with_tx("finding the newest feature row", TxMode::READ, &mut |tx| {
        tx.query("SELECT MAX(id) FROM features WHERE id > ?", vec![after_id.into()])?
            .first()
            .map(|row| Cells { table: "features", row }.opt_int(0, "MAX(id)"))
            .transpose()
            .map(Option::flatten)
    })?
    else {
        return Ok((Profile::empty(s), None));
    };
    let counted = counted_columns(s);
    let scans = scans(s, &counted);
    // The heaviest scans first, each to the connection with the least work so far.
    let mut order: Vec<usize> = (0..scans.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(scans[i].weight()));
    let mut shares: Vec<(usize, Vec<usize>)> = vec![(0, Vec::new()); COUNTING_CONNECTIONS];
    for i in order {
        let lightest = shares
            .iter_mut()
            .min_by_key(|(weight, _)| *weight)
            .expect("a connection");
        lightest.0 += scans[i].weight();
        lightest.1.push(i);
    }
    // With fewer scans than connections, a connection would open a transaction to count nothing.
    shares.retain(|(_, share)| !share.is_empty());
    let run = |share: &[usize]| {
        db.with_tx("counting the feature rows", TxMode::READ, &mut |tx| {
            share
                .iter()
                .map(|&i| Ok((i, run_scan(tx, &scans[i], after_id, max_id)?)))
                .collect::<Result<Vec<(usize, Scanned)>>>()
        })
    };
    let mut results: Vec<Option<Scanned>> = (0..scans.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let (first, rest) = shares.split_first().expect("every dataset counts its label");
        let others: Vec<_> = rest.iter().map(|(_, share)| scope.spawn(|| run(share))).collect();
        let mut all = vec![run(&first.1)];
        all.extend(
            others
                .into_iter()
                .map(|h| h.join().expect("a counting thread does not panic")),
        );
        for (i, scanned) in all.into_iter().collect::<Result<Vec<_>>>()?.into_iter().flatten() {
            results[i] = Some(scanned);
        }
        Ok::<(), Error>(())
    })?;
    let results: Vec<Scanned> = results.into_iter().map(|r| r.expect("every scan ran")).collect();
    let profile = match assemble(s, &scans, results)? {
        Some(profile) => profile,
        None => {
            let all: Vec<usize> = (0..scans.len()).collect();
            let results = run(&all)?.into_iter().map(|(_, scanned)| scanned).collect();
            assemble(s, &scans, results)?.ok_or_else(|| {
                Error::Corrupt(format!(
                    "the groups of one transaction count different rows after id {after_id}"
                ))
            })?
        }
    };
    profile.check(s).map_err(|e| {
        Error::Corrupt(format!(
            "the feature rows after id {after_id} do not fit the dataset: {e}"
        ))
    })?;
    Ok((profile, Some(max_id)))
}

/// The counted columns: the features not continuous, then the label.
fn counted_columns(s: &DatasetSpec) -> Vec<CountedColumn<'_>> {
    let mut counted: Vec<CountedColumn> = s
        .features
        .iter()
        .enumerate()
        .filter(|(_, c)| counting(c) != Counting::Continuous)
        .map(|(idx, c)| CountedColumn {
            name: &c.name,
            counting: counting(c),
            feature: Some(idx),
        })
        .collect();
    counted.push(CountedColumn {
        name: &s.label,
        counting: Counting::Levels(&s.classes),
        feature: None,
    });
    counted
}

/// The scans a profile takes: greedy groups of the counted columns in column order, each
/// with at most [`MAX_GROUPS`] combinations (a NULL is one more value), then one scan
/// per continuous column.
fn scans<'a>(s: &'a DatasetSpec, counted: &'a [CountedColumn<'a>]) -> Vec<Scan<'a>> {
    let mut groups: Vec<Vec<&CountedColumn>> = Vec::new();
    let mut combinations = usize::MAX;
    for column in counted {
        let values = column.n_values() + 1;
        if combinations.saturating_mul(values) > MAX_GROUPS {
            groups.push(Vec::new());
            combinations = 1;
        }
        combinations *= values;
        groups.last_mut().expect("a group").push(column);
    }
    let mut scans: Vec<Scan> = groups.into_iter().map(Scan::Group).collect();
    scans.extend(
        s.features
            .iter()
            .enumerate()
            .filter(|(_, c)| counting(c) == Counting::Continuous)
            .map(|(feature, c)| Scan::Values { feature, name: &c.name }),
    );
    scans
}

fn run_scan(tx: &mut dyn SqlTx, scan: &Scan, after_id: i64, max_id: i64) -> Result<Scanned> {
    let range = vec![after_id.into(), max_id.into()];
    match scan {
        Scan::Group(group) => {
            let dialect = tx.dialect();
            let keys: Vec<String> = group
                .iter()
                .map(|c| match c.counting {
                    Counting::Levels(_) => dialect.level_key(c.name),
                    _ => c.name.to_string(),
                })
                .collect();
            let sql = format!(
                "SELECT {keys}, COUNT(*) FROM features WHERE id > ? AND id <= ? GROUP BY {keys}",
                keys = keys.join(", ")
            );
            Ok(Scanned::Group(tx.query(&sql, range)?))
        }
        Scan::Values { name, .. } => {
            let (values, counts, missing) = distinct_values(tx, name, range)?;
            Ok(Scanned::Values(values, counts, missing))
        }
    }
}

/// The profile the scans counted; `None` when the groups counted different numbers of
/// rows (a row committed below the newest id while they ran).
fn assemble(s: &DatasetSpec, scans: &[Scan], results: Vec<Scanned>) -> Result<Option<Profile>> {
    let mut profile = Profile::empty(s);
    let mut rows: Option<u64> = None;
    for (scan, scanned) in scans.iter().zip(results) {
        match (scan, scanned) {
            (Scan::Group(group), Scanned::Group(found)) => {
                let mut total = 0;
                for row in &found {
                    let cells = Cells { table: "features", row };
                    let n = u64::try_from(cells.int(group.len(), "COUNT(*)")?)
                        .map_err(|_| Error::Corrupt("a negative count".into()))?;
                    total += n;
                    for (column, value) in group.iter().zip(row.iter()) {
                        let position = column.position(value)?;
                        match (column.feature, position) {
                            (None, Some(p)) => profile.label[p] += n,
                            (None, None) => return Err(Error::Corrupt(format!("features.{} is NULL", column.name))),
                            (Some(idx), position) => {
                                let ColumnProfile::Counted { counts, missing, .. } = &mut profile.columns[idx] else {
                                    unreachable!("counted columns have counted profiles")
                                };
                                match position {
                                    Some(p) => counts[p] += n,
                                    None => *missing += n,
                                }
                            }
                        }
                    }
                }
                if *rows.get_or_insert(total) != total {
                    return Ok(None);
                }
            }
            (Scan::Values { feature, .. }, Scanned::Values(found, found_counts, found_missing)) => {
                let ColumnProfile::Continuous {
                    values,
                    counts,
                    missing,
                    ..
                } = &mut profile.columns[*feature]
                else {
                    unreachable!("continuous columns have continuous profiles")
                };
                (*values, *counts, *missing) = (found, found_counts, found_missing);
            }
            _ => unreachable!("each scan gives its own kind of result"),
        }
    }
    profile.rows = rows.expect("the label is counted");
    Ok(Some(profile))
}

/// A continuous column's distinct non-missing values in an id range (`id > ? AND id <=
/// ?`), ascending, with the count of each, and the count of its missing values.
fn distinct_values(tx: &mut dyn SqlTx, column: &str, range: Vec<SqlValue>) -> Result<(Vec<f64>, Vec<u64>, u64)> {
    let rows = tx.query(
        &format!(
            "SELECT {column}, COUNT(*) FROM features WHERE id > ? AND id <= ? GROUP BY {column} ORDER BY {column}"
        ),
        range,
    )?;
    let (mut values, mut counts, mut missing) = (Vec::with_capacity(rows.len()), Vec::with_capacity(rows.len()), 0);
    for row in &rows {
        let cells = Cells { table: "features", row };
        let count = cells.int(1, "COUNT(*)")? as u64;
        match row.first() {
            Some(SqlValue::Null) => missing += count,
            _ => {
                values.push(cells.real(0, column)?);
                counts.push(count);
            }
        }
    }
    Ok((values, counts, missing))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What each scan of the shipped dataset would give if every counted row had no value
    /// in its counted features and the first class, `rows[i]` rows for scan i.
    fn scanned(scans: &[Scan], rows: &[i64]) -> Vec<Scanned> {
        scans
            .iter()
            .zip(rows)
            .map(|(scan, &n)| match scan {
                Scan::Group(group) => {
                    let mut row: Vec<SqlValue> = group
                        .iter()
                        .map(|c| {
                            if c.feature.is_some() {
                                SqlValue::Null
                            } else {
                                SqlValue::Int(1)
                            }
                        })
                        .collect();
                    row.push(SqlValue::Int(n));
                    Scanned::Group(vec![row])
                }
                Scan::Values { .. } => Scanned::Values(Vec::new(), Vec::new(), n as u64),
            })
            .collect()
    }

    /// Scans that ran in separate transactions count the same rows or are not added up:
    /// equal totals make the profile, a group that saw one row more makes none (and the
    /// rows are counted again in one transaction).
    #[test]
    fn scans_that_counted_different_rows_make_no_profile() {
        let s = spec();
        let counted = counted_columns(s);
        let scans = scans(s, &counted);
        assert!(scans.len() >= 2, "the shipped dataset takes several scans");
        let same = vec![10; scans.len()];
        let profile = assemble(s, &scans, scanned(&scans, &same)).unwrap().unwrap();
        assert_eq!(profile.rows, 10);
        assert_eq!(profile.label[0], 10);
        let mut one_more = same.clone();
        one_more[0] = 11;
        assert!(assemble(s, &scans, scanned(&scans, &one_more)).unwrap().is_none());
    }
}
