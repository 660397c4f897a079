//! `driftloop import FILE.csv`: labelled rows from a CSV, in one transaction.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use driftloop_pipeline::{csv_io, Settings};
use serde_json::json;

use crate::args::{Output, SourceArg};
use crate::output::print;

#[derive(Args)]
pub struct ImportArgs {
    csv: PathBuf,
    /// Who labelled these rows, when the file has no label_source column.
    #[arg(long, value_enum, default_value_t = SourceArg::Expert)]
    label_source: SourceArg,
    #[command(flatten)]
    out: Output,
}

pub fn run(args: ImportArgs, settings: &Settings) -> Result<()> {
    let ImportArgs { csv, label_source, out } = args;
    let rows = csv_io::read_feature_csv(&csv, label_source.into())?;
    let db = crate::open(settings)?;
    let outcome = db.insert_rows(&rows)?;
    print(
        out.json,
        json!({"file": csv, "rows": outcome.n_rows, "last_id": outcome.last_id, "drift_jobs_queued": outcome.drift_jobs_queued}),
        || {
            format!(
                "{}: imported {} rows; {} drift job(s) queued",
                csv.display(),
                outcome.n_rows,
                outcome.drift_jobs_queued
            )
        },
    );

    Ok(())
}
