//! `driftloop snapshot [list | show URI]`: Parquet snapshots of the feature table.

use std::time::Instant;

use anyhow::Result;
use clap::{Args, Subcommand};
use driftloop_pipeline::frames::describe_query;
use driftloop_pipeline::snapshot::{self, LabelSelection};
use driftloop_pipeline::{open_store, Settings};
use serde_json::json;

use crate::args::{Output, SelectionArg};
use crate::output::print;
use crate::progress;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    action: Option<SnapshotAction>,
    /// Which rows: expert-labelled, model-labelled, or all.
    #[arg(long, value_enum, default_value_t = SelectionArg::All)]
    label_source: SelectionArg,
    #[command(flatten)]
    out: Output,
}

#[derive(Subcommand)]
pub enum SnapshotAction {
    /// Lists the snapshots in the store, oldest data first.
    List {
        #[command(flatten)]
        out: Output,
    },
    /// Loads a snapshot, verifies its hashes and shows its manifest and first rows.
    Show {
        /// The snapshot's URI (as `snapshot` printed it) or its key in the store.
        uri: String,
        #[command(flatten)]
        out: Output,
    },
}

pub async fn run(args: SnapshotArgs, settings: &Settings) -> Result<()> {
    let store = open_store(&settings.store).await?;
    match args.action {
        None => {
            let (label_source, out) = (args.label_source, args.out);
            let db = crate::open(settings)?;
            let selection: LabelSelection = label_source.into();
            let filter = selection.row_filter();
            let started = Instant::now();
            let spinner = progress::spinner("reading the feature table (one bulk query)", out.json);
            let frame = db.read_frame(&filter);
            spinner.finish_and_clear();
            let frame = frame?;
            let read_seconds = started.elapsed().as_secs_f64();
            let started = Instant::now();
            let spinner = progress::spinner(&format!("writing the snapshot of {} rows", frame.height()), out.json);
            let written = snapshot::write_snapshot(store.as_ref(), &frame, selection, &describe_query(&filter)).await;
            spinner.finish_and_clear();
            let written = written?;
            let write_seconds = started.elapsed().as_secs_f64();
            let m = &written.manifest;
            let mut answer = json!(written);
            answer["read_seconds"] = json!(read_seconds);
            answer["write_seconds"] = json!(write_seconds);
            print(out.json, answer, || {
                let verb = if written.uploaded {
                    "wrote"
                } else {
                    "already stored, nothing uploaded:"
                };
                format!(
                    "{verb} {}
  {} rows, ids {}..={}, sha256 {}",
                    m.uri, m.rows, m.min_id, m.max_id, m.sha256
                )
            });
        }
        Some(SnapshotAction::List { out }) => {
            let manifests = snapshot::list_snapshots(store.as_ref()).await?;
            print(out.json, json!({"snapshots": manifests}), || {
                manifests
                    .iter()
                    .map(|m| {
                        format!(
                            "{}  {:>8} rows  ids {}..={}  {}",
                            m.created_at, m.rows, m.min_id, m.max_id, m.uri
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Some(SnapshotAction::Show { uri, out }) => {
            let (frame, manifest) = snapshot::load_snapshot(store.as_ref(), &uri).await?;
            print(
                out.json,
                json!({"manifest": manifest, "verified": true, "columns": snapshot::snapshot_columns()}),
                || {
                    format!(
                        "{}\n{}\nverified: file sha256 {} and data sha256 {}",
                        serde_json::to_string_pretty(&manifest).unwrap_or_default(),
                        frame.head(Some(5)),
                        manifest.file_sha256,
                        manifest.sha256
                    )
                },
            );
        }
    }
    Ok(())
}
