//! `driftloop db migrate | status | read`: the feature database.

use std::time::Instant;

use anyhow::Result;
use clap::Subcommand;
use driftloop_pipeline::db::{JobStatus, RowFilter};
use driftloop_pipeline::Settings;
use serde_json::json;

use crate::args::{Output, SourceArg};
use crate::output::print;
use crate::progress;

#[derive(Subcommand)]
pub enum DbCommand {
    /// Applies the migrations under sql/ that are not applied yet.
    Migrate {
        #[command(flatten)]
        out: Output,
    },
    /// Row count, drift and label counters, and jobs by status.
    Status {
        #[command(flatten)]
        out: Output,
    },
    /// Reads feature rows into a DataFrame and reports its size and the read speed.
    Read {
        /// Only rows with id above this watermark.
        #[arg(long)]
        after_id: Option<i64>,
        #[arg(long, value_enum)]
        label_source: Option<SourceArg>,
        #[command(flatten)]
        out: Output,
    },
}

pub fn run(command: DbCommand, settings: &Settings) -> Result<()> {
    let db = crate::open(settings)?;
    match command {
        DbCommand::Migrate { out } => {
            let report = db.migrate()?;
            print(out.json, json!(report), || {
                if report.applied.is_empty() {
                    format!(
                        "{}: up to date ({} migrations applied before)",
                        db.url(),
                        report.already_applied
                    )
                } else {
                    format!("{}: applied {}", db.url(), report.applied.join(", "))
                }
            });
        }
        DbCommand::Status { out } => {
            let rows = db.count_rows()?;
            let counter = db.drift_counter()?;
            let labels = db.label_counter()?;
            let jobs = db.jobs(None)?;
            let by_status: serde_json::Map<String, serde_json::Value> = JobStatus::ALL
                .iter()
                .map(|s| {
                    (
                        s.as_str().to_string(),
                        json!(jobs.iter().filter(|j| j.status == *s).count()),
                    )
                })
                .collect();
            print(
                out.json,
                json!({"database": db.url(), "rows": rows, "drift_counter": counter, "label_counter": labels, "jobs": by_status}),
                || {
                    format!(
                        "{}\n  rows: {rows}\n  drift counter: {} of {}\n  label counter: {} of {}\n  jobs: {}",
                        db.url(),
                        counter.n,
                        counter.drift_every,
                        labels.n,
                        labels.labels_every,
                        serde_json::Value::Object(by_status.clone())
                    )
                },
            );
        }
        DbCommand::Read {
            after_id,
            label_source,
            out,
        } => {
            let started = Instant::now();
            let spinner = progress::spinner("reading the feature table (one bulk query)", out.json);
            let frame = db.read_frame(&RowFilter {
                after_id,
                label_source: label_source.map(Into::into),
            });
            spinner.finish_and_clear();
            let frame = frame?;
            let seconds = started.elapsed().as_secs_f64();
            let rows = frame.height();
            print(
                out.json,
                json!({"rows": rows, "columns": frame.width(), "seconds": seconds, "rows_per_second": rows as f64 / seconds.max(1e-9), "frame_bytes": driftloop_pipeline::frames::frame_bytes(&frame)}),
                || {
                    format!(
                        "{}\n{rows} rows in {seconds:.3} s ({:.0} rows/s)",
                        frame.head(Some(5)),
                        rows as f64 / seconds.max(1e-9)
                    )
                },
            );
        }
    }
    Ok(())
}
