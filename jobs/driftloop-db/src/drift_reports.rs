//! The log of drift checks (`drift_reports`) over either backend, written once over
//! [`SqlTx`]: one record per job, a second record for the same job kept out by its
//! unique key.

use crate::error::Result;
use crate::ports::DriftReportLog;
use crate::records::DriftReportRecord;
use crate::sql::{placeholders, Cells, SqlValue, Transact, TxMode};

pub(crate) const COLUMNS: [&str; 11] = [
    "job_id",
    "reference_uri",
    "reference_sha256",
    "reference_max_id",
    "current_max_id",
    "n_current",
    "drift",
    "drift_share",
    "drifted_columns",
    "report_uri",
    "column_figures",
];

pub(crate) fn from_row(row: &[SqlValue]) -> Result<DriftReportRecord> {
    let cells = Cells {
        table: "drift_reports",
        row,
    };
    Ok(DriftReportRecord {
        job_id: cells.opt_int(0, COLUMNS[0])?,
        reference_uri: cells.text(1, COLUMNS[1])?,
        reference_sha256: cells.text(2, COLUMNS[2])?,
        reference_max_id: cells.int(3, COLUMNS[3])?,
        current_max_id: cells.int(4, COLUMNS[4])?,
        n_current: cells.int(5, COLUMNS[5])?,
        drift: cells.bool(6, COLUMNS[6])?,
        drift_share: cells.real(7, COLUMNS[7])?,
        drifted_columns: cells.text(8, COLUMNS[8])?,
        report_uri: cells.text(9, COLUMNS[9])?,
        column_figures: match cells.opt_text(10, COLUMNS[10])? {
            None => Vec::new(),
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| crate::Error::Corrupt(format!("drift_reports.column_figures: {e}")))?,
        },
    })
}

impl<D: Transact> DriftReportLog for D {
    fn record_drift_report(&self, r: &DriftReportRecord) -> Result<bool> {
        self.with_tx("recording a drift report", TxMode::default(), &mut |tx| {
            let sql = format!(
                "{} INTO drift_reports ({}) VALUES ({})",
                tx.dialect().insert_ignore(),
                COLUMNS.join(", "),
                placeholders(COLUMNS.len())
            );
            let values = vec![
                r.job_id.into(),
                r.reference_uri.as_str().into(),
                r.reference_sha256.as_str().into(),
                r.reference_max_id.into(),
                r.current_max_id.into(),
                r.n_current.into(),
                r.drift.into(),
                r.drift_share.into(),
                r.drifted_columns.as_str().into(),
                r.report_uri.as_str().into(),
                (!r.column_figures.is_empty())
                    .then(|| serde_json::to_string(&r.column_figures).expect("figures serialize"))
                    .into(),
            ];
            Ok(tx.exec(&sql, values)? == 1)
        })
    }

    fn latest_drift_report(&self, reference_uri: Option<&str>) -> Result<Option<DriftReportRecord>> {
        self.with_tx("reading the latest drift report", TxMode::READ, &mut |tx| {
            let rows = tx.query(
                &format!(
                    "SELECT {} FROM drift_reports WHERE ? IS NULL OR reference_uri = ? ORDER BY id DESC LIMIT 1",
                    COLUMNS.join(", ")
                ),
                vec![reference_uri.into(), reference_uri.into()],
            )?;
            rows.first().map(|row| from_row(row)).transpose()
        })
    }

    fn drift_reports(&self) -> Result<Vec<DriftReportRecord>> {
        self.with_tx("listing drift reports", TxMode::READ, &mut |tx| {
            let rows = tx.query(
                &format!("SELECT {} FROM drift_reports ORDER BY id", COLUMNS.join(", ")),
                vec![],
            )?;
            rows.iter().map(|row| from_row(row)).collect()
        })
    }
}
