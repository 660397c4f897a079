//! Feature rows over either backend: inserts (bulk, all or none; or each row standing
//! alone) with the predictions of the rows a model scored, the drift counter they move,
//! single rows by id or `request_id` (the predict endpoint's idempotency lookup), expert
//! labels and each row's label history. Written once over [`SqlTx`].

use driftloop_core::{spec, ColumnKind, FeatureRow, LabelSource};

use crate::counter::{count_bulk, queued, read_counter};
use crate::error::{Error, Result};
use crate::ports::{FeatureStore, RowAccess};
use crate::records::{DriftCounter, InsertOutcome, LabelEvent, Prediction, RowHistory, RowRef, StoredRow};
use crate::sql::{placeholders, Cells, SqlTx, SqlValue, Transact, TxMode};

/// The feature table's columns in insert order: the spec's features, then the label
/// and its provenance. Names only; values always travel as bound parameters.
fn insert_columns() -> Vec<&'static str> {
    let s = spec();
    let mut columns: Vec<&'static str> = s.features.iter().map(|c| c.name.as_str()).collect();
    columns.extend([s.label.as_str(), "label_source", "model_version", "request_id"]);
    columns
}

fn insert_sql(n_rows: usize) -> String {
    let columns = insert_columns();
    let tuple = format!("({})", placeholders(columns.len()));
    format!(
        "INSERT INTO features ({}) VALUES {}",
        columns.join(", "),
        vec![tuple.as_str(); n_rows].join(", ")
    )
}

/// A row's values in [`insert_columns`] order: levels as their text, integers and numbers
/// as numbers, a missing value as NULL.
fn push_values(row: &FeatureRow, values: &mut Vec<SqlValue>) {
    let s = spec();
    for (col_idx, &value) in row.features.iter().enumerate() {
        values.push(match &s.features[col_idx].kind {
            _ if value.is_nan() => SqlValue::Null,
            ColumnKind::Categorical { levels } | ColumnKind::Ordinal { levels } => {
                SqlValue::Text(levels[value as usize].clone())
            }
            ColumnKind::Integer { .. } => SqlValue::Int(value as i64),
            ColumnKind::Number { .. } => SqlValue::Real(value),
        });
    }
    values.push(row.label_text().into());
    values.push(row.label_source.as_str().into());
    values.push(row.model_version.as_deref().into());
    values.push(row.request_id.as_deref().into());
}

/// Keeps what the model answered for the rows it scored (label source `model`), beside
/// their new ids, in the inserting transaction: the predicted class is the row's label
/// as stored, its probabilities come with the row.
fn insert_predictions<'a>(tx: &mut dyn SqlTx, stored: impl IntoIterator<Item = (i64, &'a FeatureRow)>) -> Result<()> {
    let scored: Vec<(i64, &FeatureRow)> = stored
        .into_iter()
        .filter(|(_, row)| row.label_source == LabelSource::Model)
        .collect();
    for chunk in scored.chunks(tx.dialect().rows_per_insert().max(1)) {
        let mut values = Vec::with_capacity(chunk.len() * 5);
        for (id, row) in chunk {
            let probability = row
                .probabilities
                .as_ref()
                .and_then(|p| p.get(row.label as usize).copied());
            let probabilities = row
                .probabilities
                .as_ref()
                .map(|p| serde_json::to_string(p).expect("numbers serialize"));
            values.push(SqlValue::Int(*id));
            values.push(row.label_text().into());
            values.push(probability.into());
            values.push(probabilities.as_deref().into());
            values.push(row.model_version.as_deref().into());
        }
        let tuples = vec![format!("({})", placeholders(5)); chunk.len()].join(", ");
        tx.exec(
            &format!(
                "INSERT INTO predictions (row_id, predicted, probability, probabilities, model_version) VALUES {tuples}"
            ),
            values,
        )?;
    }
    Ok(())
}

/// Inserts all rows or none, `rows_per_insert` rows a statement, and counts them with
/// one call ([`count_bulk`]) instead of one trigger call per row.
fn insert_all(tx: &mut dyn SqlTx, rows: &[FeatureRow], progress: &dyn Fn(u64)) -> Result<InsertOutcome> {
    // Pausing the per-row count locks the counter row first, as the trigger would.
    tx.exec("UPDATE drift_counter SET paused = 1 WHERE id = 1", vec![])?;
    let mut ids = Vec::with_capacity(rows.len());
    let n_columns = insert_columns().len();
    for chunk in rows.chunks(tx.dialect().rows_per_insert()) {
        let mut values = Vec::with_capacity(chunk.len() * n_columns);
        for row in chunk {
            push_values(row, &mut values);
        }
        tx.exec(&insert_sql(chunk.len()), values).map_err(|error| {
            if !error.is_duplicate_request_id() {
                return error;
            }
            // A one-row statement names its row; MySQL's message names the duplicate value.
            let message = error.server_message();
            let duplicate = chunk
                .iter()
                .filter_map(|r| r.request_id.as_deref())
                .find(|id| chunk.len() == 1 || message.contains(id));
            Error::DuplicateRequestId(duplicate.unwrap_or_default().to_string())
        })?;
        // MySQL's LAST_INSERT_ID() is the first id of a multi-row insert; within one
        // statement InnoDB hands out consecutive ids. SQLite's statements hold one row.
        let first_id = tx.last_insert_id()?;
        ids.extend(first_id..first_id + chunk.len() as i64);
        insert_predictions(tx, (first_id..).zip(chunk))?;
        progress(ids.len() as u64);
    }
    let drift_jobs_queued = count_bulk(tx, &ids)?;
    Ok(InsertOutcome {
        last_id: ids.last().copied().unwrap_or(0),
        n_rows: rows.len() as u64,
        drift_jobs_queued,
    })
}

/// Inserts rows one statement each in the caller's transaction, returning each new id and
/// the number of drift jobs the trigger queued meanwhile; a `request_id` stored already is
/// [`Error::DuplicateRequestId`].
fn insert_returning_ids(tx: &mut dyn SqlTx, rows: &[FeatureRow]) -> Result<(Vec<i64>, u64)> {
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
fn insert_each(tx: &mut dyn SqlTx, rows: &[FeatureRow]) -> Result<(Vec<Option<i64>>, u64)> {
    let before = read_counter(tx, true)?;
    let sql = insert_sql(1);
    let mut ids = Vec::with_capacity(rows.len());
    for row in rows {
        let mut values = Vec::with_capacity(insert_columns().len());
        push_values(row, &mut values);
        match tx.exec(&sql, values) {
            Ok(_) => {
                let id = tx.last_insert_id()?;
                insert_predictions(tx, [(id, row)])?;
                ids.push(Some(id));
            }
            Err(e) if row.request_id.is_some() && e.is_duplicate_request_id() => ids.push(None),
            Err(e) => return Err(e),
        }
    }
    let after = read_counter(tx, false)?;
    let stored = ids.iter().flatten().count() as u64;
    Ok((ids, queued(before, after, stored)))
}

fn condition(by: &RowRef) -> (&'static str, SqlValue) {
    match by {
        RowRef::Id(id) => ("id = ?", SqlValue::Int(*id)),
        RowRef::RequestId(request_id) => ("request_id = ?", SqlValue::Text(request_id.clone())),
    }
}

fn find_row(tx: &mut dyn SqlTx, by: &RowRef) -> Result<Option<StoredRow>> {
    let s = spec();
    let mut columns: Vec<&str> = vec!["id"];
    columns.extend(insert_columns());
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
        let value = match &cells[1 + col_idx] {
            SqlValue::Null => s.missing(col_idx, "NULL"),
            SqlValue::Int(i) => s.check_value(col_idx, *i as f64),
            SqlValue::Real(r) => s.check_value(col_idx, *r),
            SqlValue::Text(text) => s.parse_feature(col_idx, text),
        };
        features.push(value.map_err(|e| corrupt(format!("{}: {e}", s.features[col_idx].name)))?);
    }
    let at = 1 + s.n_features();
    let label = s
        .parse_class(&cells[at].text().unwrap_or_default())
        .map_err(|e| corrupt(e.to_string()))?;
    let label_source =
        LabelSource::parse(&cells[at + 1].text().unwrap_or_default()).map_err(|e| corrupt(e.to_string()))?;
    let mut row = FeatureRow::new(features, label, label_source).map_err(|e| corrupt(e.to_string()))?;
    row.model_version = cells[at + 2].text();
    row.request_id = cells[at + 3].text();
    Ok(Some(StoredRow { id, row }))
}

/// Gives a row an expert label: appended to its history, and made its label; the row's
/// id, or [`Error::NoSuchRow`].
fn set_label(tx: &mut dyn SqlTx, by: &RowRef, class: u8, request_id: Option<&str>) -> Result<i64> {
    let stored = find_row(tx, by)?.ok_or_else(|| Error::NoSuchRow(by.to_string()))?;
    let class = spec()
        .classes
        .get(class as usize)
        .ok_or_else(|| Error::Corrupt(format!("class index {class}")))?;
    tx.exec(
        "INSERT INTO labels (row_id, label, source, request_id) VALUES (?, ?, 'expert', ?)",
        vec![stored.id.into(), class.as_str().into(), request_id.into()],
    )?;
    tx.exec(
        &format!(
            "UPDATE features SET {} = ?, label_source = 'expert' WHERE id = ?",
            spec().label
        ),
        vec![class.as_str().into(), stored.id.into()],
    )?;
    Ok(stored.id)
}

/// A row with its kept prediction and its labels, oldest first.
fn row_history(tx: &mut dyn SqlTx, by: &RowRef) -> Result<Option<RowHistory>> {
    let Some(stored) = find_row(tx, by)? else {
        return Ok(None);
    };
    let dialect = tx.dialect();
    let rows = tx.query(
        &format!(
            "SELECT predicted, probability, probabilities, model_version, {} FROM predictions WHERE row_id = ?",
            dialect.iso_timestamp("predicted_at")
        ),
        vec![stored.id.into()],
    )?;
    let prediction = match rows.first() {
        None => None,
        Some(row) => {
            let c = Cells {
                table: "predictions",
                row,
            };
            let probabilities = match c.opt_json(2, "probabilities")? {
                None => None,
                Some(value) => Some(
                    serde_json::from_value(value)
                        .map_err(|e| Error::Corrupt(format!("predictions.probabilities: {e}")))?,
                ),
            };
            Some(Prediction {
                predicted: c.text(0, "predicted")?,
                probability: match row.get(1) {
                    Some(SqlValue::Null) | None => None,
                    _ => Some(c.real(1, "probability")?),
                },
                probabilities,
                model_version: c.opt_text(3, "model_version")?,
                predicted_at: c.text(4, "predicted_at")?,
            })
        }
    };
    let rows = tx.query(
        &format!(
            "SELECT id, label, source, request_id, {} FROM labels WHERE row_id = ? ORDER BY id",
            dialect.iso_timestamp("labelled_at")
        ),
        vec![stored.id.into()],
    )?;
    let labels = rows
        .iter()
        .map(|row| {
            let c = Cells { table: "labels", row };
            Ok(LabelEvent {
                id: c.int(0, "id")?,
                label: c.text(1, "label")?,
                source: c.text(2, "source")?,
                request_id: c.opt_text(3, "request_id")?,
                labelled_at: c.text(4, "labelled_at")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(RowHistory {
        id: stored.id,
        row: stored.row,
        prediction,
        labels,
    }))
}

impl<D: Transact> FeatureStore for D {
    fn insert_rows(&self, rows: &[FeatureRow]) -> Result<InsertOutcome> {
        self.insert_rows_with_progress(rows, &|_| {})
    }

    fn insert_rows_with_progress(&self, rows: &[FeatureRow], progress: &dyn Fn(u64)) -> Result<InsertOutcome> {
        self.with_tx("inserting feature rows", TxMode::default(), &mut |tx| {
            progress(0);
            insert_all(tx, rows, progress)
        })
    }

    fn count_rows(&self) -> Result<u64> {
        self.with_tx("counting feature rows", TxMode::READ, &mut |tx| {
            let rows = tx.query("SELECT COUNT(*) FROM features", vec![])?;
            let row = rows
                .first()
                .ok_or_else(|| Error::Corrupt("COUNT(*) gave no row".into()))?;
            Ok(Cells { table: "features", row }.int(0, "COUNT(*)")? as u64)
        })
    }

    fn drift_counter(&self) -> Result<DriftCounter> {
        self.with_tx(
            "reading the drift counter (has `driftloop db migrate` run?)",
            TxMode::READ,
            &mut |tx| read_counter(tx, false),
        )
    }

    fn set_drift_every(&self, drift_every: i64) -> Result<()> {
        if drift_every < 1 {
            return Err(Error::Config(format!(
                "drift_every must be at least 1, not {drift_every}"
            )));
        }
        self.with_tx("setting drift_every", TxMode::default(), &mut |tx| {
            tx.exec(
                "UPDATE drift_settings SET drift_every = ? WHERE id = 1",
                vec![drift_every.into()],
            )
            .map(drop)
        })
    }

    fn profile_rows(&self, after_id: i64) -> Result<(driftloop_core::Profile, Option<i64>)> {
        crate::profile::profile_rows(self, after_id)
    }

    fn id_before_newest(&self, n: u64) -> Result<i64> {
        self.with_tx("finding the newest feature rows", TxMode::READ, &mut |tx| {
            crate::profile::id_before_newest(tx, n)
        })
    }

    #[cfg(feature = "frames")]
    fn read_frame_in_rounds(
        &self,
        filter: &crate::records::RowFilter,
        rounds: crate::frames::ReadRounds,
    ) -> Result<polars::prelude::DataFrame> {
        self.bulk_read(filter, rounds)
    }
}

impl<D: Transact> RowAccess for D {
    fn find_row(&self, by: &RowRef) -> Result<Option<StoredRow>> {
        self.with_tx("reading a feature row", TxMode::READ, &mut |tx| find_row(tx, by))
    }

    fn set_label(&self, by: &RowRef, class: u8, request_id: Option<&str>) -> Result<i64> {
        self.with_tx("setting a label", TxMode::default(), &mut |tx| {
            set_label(tx, by, class, request_id)
        })
    }

    fn row_history(&self, by: &RowRef) -> Result<Option<RowHistory>> {
        self.with_tx("reading a row's prediction and labels", TxMode::READ, &mut |tx| {
            row_history(tx, by)
        })
    }

    fn insert_rows_with_ids(&self, rows: &[FeatureRow]) -> Result<(Vec<i64>, u64)> {
        self.with_tx("inserting feature rows", TxMode::default(), &mut |tx| {
            insert_returning_ids(tx, rows)
        })
    }

    fn insert_rows_each(&self, rows: &[FeatureRow]) -> Result<(Vec<Option<i64>>, u64)> {
        self.with_tx("inserting feature rows", TxMode::default(), &mut |tx| {
            insert_each(tx, rows)
        })
    }
}
