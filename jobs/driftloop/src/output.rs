//! Output: one JSON object with `--json`, text otherwise; and the text forms of the
//! reports that more than one command prints.

use driftloop_pipeline::db::ModelVersion;
use driftloop_pipeline::drift_job::DrainSummary;
use driftloop_pipeline::train_job::{TrainDrain, TrainOutcome};
use driftloop_stats::DriftReport;

pub(crate) fn print(json_mode: bool, value: serde_json::Value, text: impl FnOnce() -> String) {
    if json_mode {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

pub(crate) fn drift_text(report: &DriftReport) -> String {
    let mut lines = vec![format!(
        "{}: {} of {} columns drifted (share {:.2}, threshold {:.2}); {} reference rows, {} current rows",
        if report.drift { "DRIFT" } else { "no drift" },
        report.drifted_columns().len(),
        report.columns.len(),
        report.drift_share,
        report.config.drift_share,
        report.n_reference,
        report.n_current
    )];
    // The KS column only when a continuous column has the test (the shipped dataset has none).
    let with_ks = report.columns.iter().any(|c| c.ks.is_some());
    let ks_head = if with_ks {
        format!(" {:>10} {:>10}", "ks", "ks p")
    } else {
        String::new()
    };
    lines.push(format!(
        "{:<22} {:>8} {:>10} {:>4} {:>10}{ks_head}  verdict",
        "column", "psi", "chi2", "dof", "p"
    ));
    for c in report.columns.iter().chain(std::iter::once(&report.label)) {
        let ks = match (&c.ks, with_ks) {
            (Some(ks), _) => format!(" {:>10.4} {:>10.3e}", ks.statistic, ks.p_value),
            (None, true) => format!(" {:>10} {:>10}", "-", "-"),
            (None, false) => String::new(),
        };
        lines.push(format!(
            "{:<22} {:>8.4} {:>10.3} {:>4} {:>10.3e}{ks}  {}",
            c.name,
            c.psi,
            c.chi2,
            c.dof,
            c.p_value,
            if c.drifted { "drifted" } else { "-" }
        ));
    }
    lines.join("\n")
}

pub(crate) fn outcome_text(o: &TrainOutcome) -> String {
    let mut lines = vec![
        format!(
            "model version {}{}: {} {}",
            o.version,
            if o.registered {
                ""
            } else {
                " (already registered: same artifact)"
            },
            o.family,
            o.params
        ),
        format!(
            "  cross-validated macro-F1 {:.3}; holdout accuracy {:.3}, macro-F1 {:.3}",
            o.cv_macro_f1, o.holdout.accuracy, o.holdout.macro_f1
        ),
    ];
    if let Some(test) = &o.family_test {
        lines.push(family_test_line(test));
    }
    lines.extend([
        format!("  snapshot {} ({} rows)", o.snapshot.uri, o.snapshot.rows),
        format!("  artifact {}", o.artifact_uri),
        format!("  decision: {}", serde_json::to_string(&o.decision).unwrap_or_default()),
        format!(
            "  champion: {}",
            o.champion.map_or("none".to_string(), |c| format!("version {c}"))
        ),
    ]);
    if let Some(m) = &o.mlflow {
        lines.push(mirror_line("MLflow", m.mirrored.len(), &m.failed));
    }
    if let Some(w) = &o.wandb {
        lines.push(mirror_line(
            &format!("W&B ({})", w.destination),
            w.mirrored.len(),
            &w.failed,
        ));
    }
    lines.join("\n")
}

/// How the default family's best and the best of another family were compared.
pub(crate) fn family_test_line(test: &driftloop_model::select::FamilyTest) -> String {
    let (default, challenger) = (test.default.family(), test.challenger.family());
    let verdict = if test.switched {
        format!("{challenger} chosen over the default {default}")
    } else {
        format!("the default {default} kept over {challenger}")
    };
    format!(
        "  family: {verdict} (cross-validated macro-F1 lead {:.3}, p = {:.3}; a lead counts below p = {})",
        test.mean_difference,
        test.p_value,
        driftloop_model::select::SWITCH_P_VALUE
    )
}

/// What a training's mirror to one tracker did, with the first failure.
fn mirror_line(tracker: &str, mirrored: usize, failed: &[(i64, String)]) -> String {
    format!(
        "  {tracker}: {mirrored} mirrored, {} failed{}",
        failed.len(),
        failed
            .first()
            .map(|(v, e)| format!(" (version {v}: {e})"))
            .unwrap_or_default()
    )
}

pub(crate) fn version_line(v: &ModelVersion) -> String {
    format!(
        "{:>4}  {:<11}  {:<19}  holdout macro-F1 {:.3}  accuracy {:.3}  {}",
        v.version,
        v.status.as_str(),
        v.model.family,
        v.model.holdout_metrics["macro_f1"].as_f64().unwrap_or(f64::NAN),
        v.model.holdout_metrics["accuracy"].as_f64().unwrap_or(f64::NAN),
        v.created_at
    )
}

/// One line per drift job of a drain (or that there was none).
pub(crate) fn drift_drain_text(summary: &DrainSummary) -> String {
    let mut lines: Vec<String> = summary
        .jobs
        .iter()
        .map(|o| {
            let jobs = match o.job_ids.as_slice() {
                [_] => format!("drift job {}", o.job_id),
                ids => format!(
                    "drift jobs {} (one check)",
                    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
                ),
            };
            format!(
                "{jobs}: {} ({} rows, {}; {}) report {}",
                if o.drift { "DRIFT" } else { "no drift" },
                o.n_current,
                o.window,
                if o.drifted_columns.is_empty() {
                    "no column drifted".to_string()
                } else {
                    o.drifted_columns.join(", ")
                },
                o.report_uri
            )
        })
        .collect();
    lines.extend(
        summary
            .failed
            .iter()
            .map(|f| format!("drift job {}: failed: {}", f.job_id, f.error)),
    );
    if lines.is_empty() {
        lines.push("no pending drift jobs".into());
    }
    lines.join("\n")
}

/// One paragraph per training of a drain, one line per failed job (or that there was none).
pub(crate) fn train_drain_text(summary: &TrainDrain) -> String {
    let mut lines: Vec<String> = summary.trainings.iter().map(outcome_text).collect();
    lines.extend(
        summary
            .failed
            .iter()
            .map(|f| format!("train job {}: failed: {}", f.job_id, f.error)),
    );
    if lines.is_empty() {
        lines.push("no pending train jobs".into());
    }
    lines.join("\n")
}
