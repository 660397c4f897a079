//! `driftloop predict`: scores a CSV offline with the champion.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use driftloop_pipeline::{open_store, Settings};
use serde_json::json;

use crate::args::Output;
use crate::output::print;

#[derive(Args)]
pub struct PredictArgs {
    /// A CSV of rows to score: the public column names or the published headers; other
    /// columns (an ID, a label) are carried through and not used.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the input's columns plus `prediction` and `p_<class>` per class.
    #[arg(long)]
    output: PathBuf,
    /// Also store the scored rows in the feature table (`label_source = model`), in one
    /// transaction; the database trigger counts them.
    #[arg(long)]
    insert: bool,
    #[command(flatten)]
    out: Output,
}

/// `driftloop predict`: scores a CSV offline with the champion.
pub async fn run(args: PredictArgs, settings: &Settings) -> Result<()> {
    use driftloop_pipeline::predict::{score_csv, Champion};
    let db = crate::open(settings)?;
    let store = open_store(&settings.store).await?;
    let champion = Champion::load(db.as_ref(), store.as_ref()).await?;
    let input = std::fs::File::open(&args.input).with_context(|| format!("opening {}", args.input.display()))?;
    // Written beside the output and renamed into place: a failure leaves no partial file.
    let folder = args
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut staged =
        tempfile::NamedTempFile::new_in(folder).with_context(|| format!("writing in {}", folder.display()))?;
    let scored = score_csv(
        &champion,
        std::io::BufReader::new(input),
        std::io::BufWriter::new(staged.as_file_mut()),
    )
    .map_err(|problems| driftloop_pipeline::Error::InvalidRowsToScore {
        path: args.input.clone(),
        problems,
    })??;
    staged
        .persist(&args.output)
        .with_context(|| format!("writing {}", args.output.display()))?;
    let stored = if args.insert {
        Some(db.insert_rows(&scored.feature_rows)?)
    } else {
        None
    };
    print(
        args.out.json,
        json!({"input": args.input, "output": args.output, "scored": scored, "stored": stored}),
        || {
            format!(
                "{}: {} rows scored by model version {} -> {}{}",
                args.input.display(),
                scored.rows,
                scored.model_version,
                args.output.display(),
                stored.map_or(String::new(), |s| format!(
                    "; stored, {} drift job(s) queued",
                    s.drift_jobs_queued
                ))
            )
        },
    );
    Ok(())
}
