//! The flags and value enums more than one command takes, and their conversions to the
//! pipeline's types.

use clap::{Args, ValueEnum};
use driftloop_core::fixtures::Scenario;
use driftloop_core::LabelSource;
use driftloop_pipeline::db::JobStatus;
use driftloop_pipeline::snapshot::LabelSelection;

#[derive(Args)]
pub(crate) struct Output {
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum SourceArg {
    Expert,
    Model,
}

impl From<SourceArg> for LabelSource {
    fn from(arg: SourceArg) -> LabelSource {
        match arg {
            SourceArg::Expert => LabelSource::Expert,
            SourceArg::Model => LabelSource::Model,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ScenarioArg {
    Baseline,
    CovariateShift,
    LabelShift,
    ConceptShift,
}

impl From<ScenarioArg> for Scenario {
    fn from(arg: ScenarioArg) -> Scenario {
        match arg {
            ScenarioArg::Baseline => Scenario::Baseline,
            ScenarioArg::CovariateShift => Scenario::CovariateShift,
            ScenarioArg::LabelShift => Scenario::LabelShift,
            ScenarioArg::ConceptShift => Scenario::ConceptShift,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum StatusArg {
    Pending,
    Running,
    Done,
    Failed,
}

impl From<StatusArg> for JobStatus {
    fn from(arg: StatusArg) -> JobStatus {
        match arg {
            StatusArg::Pending => JobStatus::Pending,
            StatusArg::Running => JobStatus::Running,
            StatusArg::Done => JobStatus::Done,
            StatusArg::Failed => JobStatus::Failed,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum SelectionArg {
    Expert,
    Model,
    All,
}

impl From<SelectionArg> for LabelSelection {
    fn from(arg: SelectionArg) -> LabelSelection {
        match arg {
            SelectionArg::Expert => LabelSelection::Expert,
            SelectionArg::Model => LabelSelection::Model,
            SelectionArg::All => LabelSelection::All,
        }
    }
}
