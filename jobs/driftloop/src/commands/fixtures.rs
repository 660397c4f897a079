//! `driftloop fixtures generate`: synthetic labelled rows, the same for the same seed.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use driftloop_core::fixtures::{generate, Scenario};
use driftloop_pipeline::csv_io;
use serde_json::json;

use crate::args::{Output, ScenarioArg};
use crate::output::print;

#[derive(Subcommand)]
pub enum FixturesCommand {
    /// Writes synthetic labelled rows (deterministic per seed) to a CSV.
    Generate {
        #[arg(long, default_value_t = 120)]
        rows: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, value_enum, default_value_t = ScenarioArg::Baseline)]
        scenario: ScenarioArg,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        out_format: Output,
    },
}

pub fn run(command: FixturesCommand) -> Result<()> {
    let FixturesCommand::Generate {
        rows,
        seed,
        scenario,
        out,
        out_format,
    } = command;
    let scenario: Scenario = scenario.into();
    let generated = generate(scenario, rows, seed);
    let file = std::fs::File::create(&out).with_context(|| format!("creating {}", out.display()))?;
    csv_io::write_feature_rows(&generated, std::io::BufWriter::new(file))
        .with_context(|| format!("writing {}", out.display()))?;
    print(
        out_format.json,
        json!({"file": out, "rows": rows, "seed": seed, "scenario": scenario.name()}),
        || format!("{}: {rows} {} rows (seed {seed})", out.display(), scenario.name()),
    );

    Ok(())
}
