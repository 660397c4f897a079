//! Label-based monitoring over either backend, written once over [`SqlTx`]: the label
//! counter (`label_counter`, `label_settings`; the trigger on `labels` moves it), the
//! predictions of a model version with the labels experts gave those rows since, and the
//! log of performance checks (`performance_reports`, one record per job).

use crate::error::{Error, Result};
use crate::ports::PerformanceLog;
use crate::records::{LabelCounter, LabelledPrediction, PerformanceReportRecord};
use crate::sql::{placeholders, Cells, SqlValue, Transact, TxMode};

pub(crate) const COLUMNS: [&str; 8] = [
    "job_id",
    "model_version",
    "window_rows",
    "accuracy",
    "holdout_accuracy",
    "verdict",
    "cumulative_rows",
    "report_uri",
];

pub(crate) fn report_from_row(row: &[SqlValue]) -> Result<PerformanceReportRecord> {
    let c = Cells {
        table: "performance_reports",
        row,
    };
    Ok(PerformanceReportRecord {
        job_id: c.opt_int(0, COLUMNS[0])?,
        model_version: c.int(1, COLUMNS[1])?,
        window_rows: c.int(2, COLUMNS[2])?,
        accuracy: match row.get(3) {
            Some(SqlValue::Null) | None => None,
            _ => Some(c.real(3, COLUMNS[3])?),
        },
        holdout_accuracy: c.real(4, COLUMNS[4])?,
        verdict: c.text(5, COLUMNS[5])?,
        cumulative_rows: c.int(6, COLUMNS[6])?,
        report_uri: c.text(7, COLUMNS[7])?,
        created_at: c.text(8, "created_at")?,
    })
}

impl<D: Transact> PerformanceLog for D {
    fn label_counter(&self) -> Result<LabelCounter> {
        self.with_tx(
            "reading the label counter (has `driftloop db migrate` run?)",
            TxMode::READ,
            &mut |tx| {
                let rows = tx.query(
                    "SELECT c.n, s.labels_every FROM label_counter AS c, label_settings AS s WHERE c.id = 1 AND s.id = 1",
                    vec![],
                )?;
                let row = rows
                    .first()
                    .ok_or_else(|| Error::Corrupt("label_counter or label_settings has no row 1".into()))?;
                let c = Cells {
                    table: "label_counter",
                    row,
                };
                Ok(LabelCounter {
                    n: c.int(0, "n")?,
                    labels_every: c.int(1, "labels_every")?,
                })
            },
        )
    }

    fn set_labels_every(&self, labels_every: i64) -> Result<()> {
        if labels_every < 1 {
            return Err(Error::Config(format!(
                "labels_every must be at least 1, not {labels_every}"
            )));
        }
        self.with_tx("setting labels_every", TxMode::default(), &mut |tx| {
            tx.exec(
                "UPDATE label_settings SET labels_every = ? WHERE id = 1",
                vec![labels_every.into()],
            )
            .map(drop)
        })
    }

    fn labelled_predictions(&self, model_version: &str) -> Result<Vec<LabelledPrediction>> {
        let s = driftloop_core::spec();
        self.with_tx("reading labelled predictions", TxMode::READ, &mut |tx| {
            // The row's label is its latest; rows in the order of their latest label.
            let sql = format!(
                "SELECT p.row_id, p.predicted, p.probabilities, f.{label}, l.last_label_id \
                 FROM predictions AS p JOIN features AS f ON f.id = p.row_id \
                 JOIN (SELECT row_id, MAX(id) AS last_label_id FROM labels WHERE source = 'expert' GROUP BY row_id) AS l \
                 ON l.row_id = p.row_id \
                 WHERE p.model_version = ? AND f.label_source = 'expert' ORDER BY l.last_label_id",
                label = s.label
            );
            let rows = tx.query(&sql, vec![model_version.into()])?;
            rows.iter()
                .map(|row| {
                    let c = Cells {
                        table: "predictions",
                        row,
                    };
                    let class = |idx: usize, column: &str| -> Result<u8> {
                        s.parse_class(&c.text(idx, column)?)
                            .map_err(|e| Error::Corrupt(format!("predictions: {column}: {e}")))
                    };
                    let probabilities = match c.opt_json(2, "probabilities")? {
                        None => None,
                        Some(value) => Some(
                            serde_json::from_value(value)
                                .map_err(|e| Error::Corrupt(format!("predictions.probabilities: {e}")))?,
                        ),
                    };
                    Ok(LabelledPrediction {
                        row_id: c.int(0, "row_id")?,
                        predicted: class(1, "predicted")?,
                        probabilities,
                        label: class(3, &s.label)?,
                        last_label_id: c.int(4, "last_label_id")?,
                    })
                })
                .collect()
        })
    }

    fn prediction_counts(&self, model_version: &str, after_id: i64) -> Result<Vec<u64>> {
        let s = driftloop_core::spec();
        self.with_tx("counting predictions", TxMode::READ, &mut |tx| {
            let rows = tx.query(
                "SELECT predicted, COUNT(*) FROM predictions WHERE model_version = ? AND row_id > ? GROUP BY predicted",
                vec![model_version.into(), after_id.into()],
            )?;
            let mut counts = vec![0u64; s.classes.len()];
            for row in &rows {
                let c = Cells {
                    table: "predictions",
                    row,
                };
                let class = s
                    .parse_class(&c.text(0, "predicted")?)
                    .map_err(|e| Error::Corrupt(format!("predictions.predicted: {e}")))?;
                counts[class as usize] = c.int(1, "COUNT(*)")? as u64;
            }
            Ok(counts)
        })
    }

    fn record_performance_report(&self, r: &PerformanceReportRecord) -> Result<bool> {
        self.with_tx("recording a performance report", TxMode::default(), &mut |tx| {
            let sql = format!(
                "{} INTO performance_reports ({}) VALUES ({})",
                tx.dialect().insert_ignore(),
                COLUMNS.join(", "),
                placeholders(COLUMNS.len())
            );
            let values = vec![
                r.job_id.into(),
                r.model_version.into(),
                r.window_rows.into(),
                r.accuracy.into(),
                r.holdout_accuracy.into(),
                r.verdict.as_str().into(),
                r.cumulative_rows.into(),
                r.report_uri.as_str().into(),
            ];
            Ok(tx.exec(&sql, values)? == 1)
        })
    }

    fn performance_reports(&self) -> Result<Vec<PerformanceReportRecord>> {
        self.with_tx("listing performance reports", TxMode::READ, &mut |tx| {
            let sql = format!(
                "SELECT {}, {} FROM performance_reports ORDER BY id",
                COLUMNS.join(", "),
                tx.dialect().iso_timestamp("created_at")
            );
            let rows = tx.query(&sql, vec![])?;
            rows.iter().map(|row| report_from_row(row)).collect()
        })
    }
}
