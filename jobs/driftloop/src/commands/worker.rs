//! `driftloop worker`: runs the outbox (drift jobs, then train jobs), polling.

use std::time::Duration;

use anyhow::Result;
use clap::Args;
use driftloop_pipeline::worker::Worker;
use driftloop_pipeline::{open_store, Settings};
use serde_json::json;

use crate::args::Output;
use crate::output::print;

#[derive(Args)]
pub struct WorkerArgs {
    /// Run the pending jobs once and stop, instead of polling.
    #[arg(long)]
    once: bool,
    /// Seconds between polls of the outbox.
    #[arg(long, default_value_t = 5)]
    poll_seconds: u64,
    #[command(flatten)]
    out: Output,
}

/// Runs drift jobs, then performance jobs, then train jobs, until stopped (or once).
pub async fn run(args: WorkerArgs, settings: &Settings) -> Result<()> {
    let worker = Worker::from_settings(settings, crate::open(settings)?, open_store(&settings.store).await?).await?;
    loop {
        let pass = worker.run_once().await?;
        if !pass.is_idle() || args.once {
            print(args.out.json, json!(pass), || {
                format!(
                    "drift jobs: {} done, {} failed; performance jobs: {} done, {} failed; trainings: {} done, {} failed job(s)",
                    pass.drift.jobs.len(),
                    pass.drift.failed.len(),
                    pass.performance.jobs.len(),
                    pass.performance.failed.len(),
                    pass.train.trainings.len(),
                    pass.train.failed.len()
                )
            });
        }
        if args.once {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(args.poll_seconds.max(1))).await;
    }
}
