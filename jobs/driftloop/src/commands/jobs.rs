//! `driftloop jobs list`: the job outbox.

use anyhow::Result;
use clap::Subcommand;
use driftloop_pipeline::Settings;
use serde_json::json;

use crate::args::{Output, StatusArg};
use crate::output::print;

#[derive(Subcommand)]
pub enum JobsCommand {
    /// Lists jobs, oldest first.
    List {
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        #[command(flatten)]
        out: Output,
    },
}

pub fn run(command: JobsCommand, settings: &Settings) -> Result<()> {
    let JobsCommand::List { status, out } = command;
    let db = crate::open(settings)?;
    let jobs = db.jobs(status.map(Into::into))?;
    print(out.json, json!({"jobs": jobs}), || {
        jobs.iter()
            .map(|j| {
                format!(
                    "{:>6}  {:<5}  {:<7}  attempts {}  {}",
                    j.id,
                    j.kind,
                    j.status,
                    j.attempts,
                    j.error.as_deref().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });

    Ok(())
}
