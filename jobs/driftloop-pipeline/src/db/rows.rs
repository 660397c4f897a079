//! Single feature rows by id or `request_id`: the predict endpoint's idempotency lookup
//! and expert labels. Written once over [`SqlTx`], like the registry.

use driftloop_core::{spec, FeatureRow, LabelSource};

use super::registry::{Dialect, SqlTx, SqlValue};
use super::RowRef;
use crate::error::{Error, Result};

/// A stored feature row with its id.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRow {
    pub id: i64,
    pub row: FeatureRow,
}

fn cell_text(value: &SqlValue) -> Option<String> {
    match value {
        SqlValue::Text(t) => Some(t.clone()),
        SqlValue::Int(i) => Some(i.to_string()),
        SqlValue::Real(r) => Some(r.to_string()),
        SqlValue::Null => None,
    }
}

fn condition(by: &RowRef) -> (&'static str, SqlValue) {
    match by {
        RowRef::Id(id) => ("id = ?", SqlValue::Int(*id)),
        RowRef::RequestId(request_id) => ("request_id = ?", SqlValue::Text(request_id.clone())),
    }
}

pub(crate) fn find_row(tx: &mut dyn SqlTx, by: &RowRef) -> Result<Option<StoredRow>> {
    let s = spec();
    let mut columns: Vec<&str> = vec!["id"];
    columns.extend(s.features.iter().map(|c| c.name));
    columns.extend([s.label, "label_source", "model_version", "request_id"]);
    let (condition, value) = condition(by);
    let rows = tx.query(
        &format!("SELECT {} FROM features WHERE {condition}", columns.join(", ")),
        vec![value],
    )?;
    let Some(cells) = rows.first() else { return Ok(None) };
    let corrupt = |what: String| Error::Corrupt(format!("feature row: {what}"));
    let id = match &cells[0] {
        SqlValue::Int(id) => *id,
        other => return Err(corrupt(format!("id {other:?}"))),
    };
    let mut features = Vec::with_capacity(s.n_features());
    for col_idx in 0..s.n_features() {
        let text =
            cell_text(&cells[1 + col_idx]).ok_or_else(|| corrupt(format!("{} is NULL", s.features[col_idx].name)))?;
        features.push(s.parse_feature(col_idx, &text).map_err(|e| corrupt(e.to_string()))?);
    }
    let at = 1 + s.n_features();
    let diagnosis = s
        .parse_class(&cell_text(&cells[at]).unwrap_or_default())
        .map_err(|e| corrupt(e.to_string()))?;
    let label_source =
        LabelSource::parse(&cell_text(&cells[at + 1]).unwrap_or_default()).map_err(|e| corrupt(e.to_string()))?;
    let mut row = FeatureRow::new(features, diagnosis, label_source).map_err(|e| corrupt(e.to_string()))?;
    row.model_version = cell_text(&cells[at + 2]);
    row.request_id = cell_text(&cells[at + 3]);
    Ok(Some(StoredRow { id, row }))
}

/// Sets the expert label of a row; the row's id, or [`Error::NoSuchRow`].
pub(crate) fn set_label(tx: &mut dyn SqlTx, by: &RowRef, diagnosis: u8) -> Result<i64> {
    let stored = find_row(tx, by)?.ok_or_else(|| Error::NoSuchRow(by.to_string()))?;
    let class = spec()
        .classes
        .get(diagnosis as usize)
        .ok_or_else(|| Error::Corrupt(format!("class index {diagnosis}")))?;
    tx.exec(
        "UPDATE features SET diagnosis = ?, label_source = 'expert' WHERE id = ?",
        vec![SqlValue::Text(class.to_string()), SqlValue::Int(stored.id)],
    )?;
    Ok(stored.id)
}

/// Inserts rows one statement each in the caller's transaction, returning each new id and
/// the number of drift jobs the trigger queued meanwhile; a `request_id` stored already is
/// [`Error::DuplicateRequestId`].
pub(crate) fn insert_returning_ids(tx: &mut dyn SqlTx, rows: &[FeatureRow]) -> Result<(Vec<i64>, u64)> {
    let (ids, queued) = insert_each(tx, rows)?;
    let ids = ids
        .into_iter()
        .zip(rows)
        .map(|(id, row)| id.ok_or_else(|| Error::DuplicateRequestId(row.request_id.clone().unwrap_or_default())))
        .collect::<Result<Vec<i64>>>()?;
    Ok((ids, queued))
}

/// Inserts rows one statement each in the caller's transaction. A row whose `request_id`
/// is stored already (before, or by an earlier row of this call) is not stored and gets
/// `None`; the other rows go on, since a failed statement undoes only itself. Returns each
/// row's new id and the number of drift jobs the trigger queued meanwhile.
pub(crate) fn insert_each(tx: &mut dyn SqlTx, rows: &[FeatureRow]) -> Result<(Vec<Option<i64>>, u64)> {
    let s = spec();
    // A locking read on MySQL: the latest committed count, held until commit, as the
    // adapters' own inserts do.
    let counter = |tx: &mut dyn SqlTx| -> Result<super::DriftCounter> {
        let lock = if tx.dialect() == Dialect::Mysql {
            " FOR UPDATE"
        } else {
            ""
        };
        let found = tx.query(
            &format!(
                "SELECT c.n, s.drift_every FROM drift_counter AS c, drift_settings AS s WHERE c.id = 1 AND s.id = 1{lock}"
            ),
            vec![],
        )?;
        match found.first().map(|r| (&r[0], &r[1])) {
            Some((SqlValue::Int(n), SqlValue::Int(every))) => Ok(super::DriftCounter {
                n: *n,
                drift_every: *every,
            }),
            other => Err(Error::Corrupt(format!("drift counter {other:?}"))),
        }
    };
    let before = counter(tx)?;
    let columns = super::insert_columns();
    let sql = format!(
        "INSERT INTO features ({}) VALUES ({})",
        columns.join(", "),
        vec!["?"; columns.len()].join(", ")
    );
    let mut ids = Vec::with_capacity(rows.len());
    for row in rows {
        let mut values: Vec<SqlValue> = row
            .features
            .iter()
            .enumerate()
            .map(|(col_idx, &code)| match s.features[col_idx].kind.levels() {
                Some(levels) => SqlValue::Text(levels[code as usize].to_string()),
                None => SqlValue::Int(code as i64),
            })
            .collect();
        values.push(SqlValue::Text(row.diagnosis_text().to_string()));
        values.push(SqlValue::Text(row.label_source.as_str().to_string()));
        values.push(row.model_version.as_deref().into());
        values.push(row.request_id.as_deref().into());
        match tx.exec(&sql, values) {
            Ok(_) => ids.push(Some(tx.last_insert_id()?)),
            Err(e) if row.request_id.is_some() && e.is_duplicate_request_id() => ids.push(None),
            Err(e) => return Err(e),
        }
    }
    let after = counter(tx)?;
    let stored = ids.iter().flatten().count() as u64;
    Ok((ids, super::queued(before, after, stored)))
}
