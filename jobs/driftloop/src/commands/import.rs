//! `driftloop import FILE.csv`: labelled rows from a CSV, in one transaction.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use driftloop_core::FeatureRow;
use driftloop_pipeline::{csv_io, Error, Settings};
use serde_json::json;

use crate::args::{Output, SourceArg};
use crate::output::print;
use crate::progress;

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
    let rows = read_rows(&csv, label_source, out.json)?;
    let db = crate::open(settings)?;
    let bar = progress::bar(rows.len() as u64, "storing", "rows", out.json);
    let outcome = db.insert_rows_with_progress(&rows, &|n| bar.set_position(n));
    bar.finish_and_clear();
    let outcome = outcome?;
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

/// The file's rows, every cell checked, with a bar over the bytes read.
fn read_rows(csv: &Path, label_source: SourceArg, json: bool) -> Result<Vec<FeatureRow>> {
    let file = std::fs::File::open(csv).map_err(|source| Error::Io {
        path: csv.to_path_buf(),
        source,
    })?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = progress::bar(len, "reading", "bytes", json);
    let rows = csv_io::read_feature_rows(BufReader::new(bar.wrap_read(file)), label_source.into());
    bar.finish_and_clear();
    Ok(rows.map_err(|problems| Error::InvalidCsv {
        path: csv.to_path_buf(),
        problems,
    })?)
}
