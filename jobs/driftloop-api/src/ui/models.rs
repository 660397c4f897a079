//! `/ui/models` and `/ui/models/<version>`: the champion's moves, the versions and why each
//! was promoted or rejected, and one version in full.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use driftloop_pipeline::db::dashboard::ChampionMove;
use driftloop_pipeline::db::ModelVersion;
use serde_json::Value;

use super::format::{badge, empty, esc, score, table, text, version_link, when, Html};
use super::query::{parse, RawQuery};
use super::{read, Page, PageResult};
use crate::state::AppState;

const PAGE_SIZE: usize = 30;

/// A version's holdout accuracy and macro-F1, as recorded.
pub(crate) struct Holdout {
    pub accuracy: Option<f64>,
    pub macro_f1: Option<f64>,
}

pub(crate) fn holdout(v: &ModelVersion) -> Holdout {
    let metric = |name: &str| v.model.holdout_metrics.get(name).and_then(Value::as_f64);
    Holdout {
        accuracy: metric("accuracy"),
        macro_f1: metric("macro_f1"),
    }
}

/// The promotion decision recorded on a version, in words.
pub(crate) fn decision_text(v: &ModelVersion) -> String {
    let Some(decision) = v.decision.as_ref().and_then(|d| d.get("decision")) else {
        return match v.status.as_str() {
            "registered" => "not compared with the champion yet".to_string(),
            _ => "no decision recorded (promoted by hand)".to_string(),
        };
    };
    let f = |name: &str| decision.get(name).and_then(Value::as_f64);
    let n = |name: &str| decision.get(name).and_then(Value::as_i64);
    // Decisions recorded since the served model learns every row say which holdout rows
    // were compared (see driftloop-pipeline's promote.rs).
    let newer = v
        .decision
        .as_ref()
        .and_then(|d| d.get("compared_on"))
        .and_then(Value::as_str)
        == Some("rows_newer_than_champion");
    let rows = v
        .decision
        .as_ref()
        .and_then(|d| d.get("holdout_rows"))
        .and_then(Value::as_u64)
        .map(|r| {
            if newer {
                format!(" on its {r} holdout rows newer than the champion")
            } else {
                format!(" on its {r} holdout rows")
            }
        })
        .unwrap_or_default();
    match decision.get("outcome").and_then(Value::as_str) {
        Some("first_champion") => "the first champion".to_string(),
        Some("promoted") => format!(
            "beat v{}: macro-F1 {} against {}{rows} (margin {})",
            n("previous").unwrap_or_default(),
            score(f("candidate_macro_f1")),
            score(f("champion_macro_f1")),
            f("margin").unwrap_or_default()
        ),
        Some("rejected") => format!(
            "did not beat v{}: macro-F1 {} against {}{rows} (margin {})",
            n("champion").unwrap_or_default(),
            score(f("candidate_macro_f1")),
            score(f("champion_macro_f1")),
            f("margin").unwrap_or_default()
        ),
        Some(other) => other.replace('_', " "),
        None => decision.to_string(),
    }
}

struct Listing {
    moves: Vec<ChampionMove>,
    versions: Vec<ModelVersion>,
}

pub(crate) async fn list(State(state): State<Arc<AppState>>, raw: RawQuery) -> PageResult {
    let started = Instant::now();
    let params = parse(started, raw, &["before"])?;
    let db = state.db.clone();
    let page = params.page(PAGE_SIZE);
    let data = read(started, "reading the model registry", move || {
        let name = driftloop_core::spec().name.as_str();
        Ok(Listing {
            moves: if page.before.is_none() {
                db.champion_moves(name, page)?
            } else {
                Vec::new()
            },
            versions: db.model_version_page(name, page)?,
        })
    })
    .await?;
    let now = Utc::now();
    let mut body = Html::default();
    if data.versions.is_empty() && params.before.is_none() {
        body.push(empty(
            "No model trained yet: `driftloop train` fits the first one from the stored rows.",
        ));
        return Ok(Page::new(started, "Models", body));
    }
    if params.before.is_none() {
        body.0.push_str("<h2>The champion's moves</h2>");
        body.push(table(
            "moves",
            &["when", "champion", "replaced", "how"],
            data.moves.iter().map(|m| {
                vec![
                    when(&m.created_at, now),
                    version_link(m.version),
                    m.previous.map_or_else(|| text("–"), version_link),
                    badge(m.reason.as_str()),
                ]
            }),
        ));
    }
    body.0.push_str("<h2>Versions</h2>");
    body.push(versions_table(&data.versions, now));
    if let Some(last) = data.versions.last().filter(|_| data.versions.len() == PAGE_SIZE) {
        body.0.push_str(&format!(
            "<nav class=\"pages\"><a href=\"/ui/models\">newest</a><a href=\"/ui/models?before={}\">older versions →</a></nav>",
            last.version
        ));
    }
    Ok(Page::new(started, "Models", body))
}

fn versions_table(versions: &[ModelVersion], now: DateTime<Utc>) -> Html {
    table(
        "versions",
        &[
            "version",
            "trained",
            "family",
            "status",
            "holdout accuracy#",
            "holdout macro-F1#",
            "decision",
        ],
        versions.iter().map(|v| {
            let h = holdout(v);
            vec![
                version_link(v.version),
                when(&v.created_at, now),
                text(&v.model.family),
                badge(v.status.as_str()),
                text(&score(h.accuracy)),
                text(&score(h.macro_f1)),
                text(&decision_text(v)),
            ]
        }),
    )
}

/// A candidate of the grid as `family (name=value, ...)`.
fn candidate_text(candidate: &Value) -> String {
    let Some(fields) = candidate.as_object() else {
        return candidate.to_string();
    };
    let family = fields.get("family").and_then(Value::as_str).unwrap_or("?");
    let params: Vec<String> = fields
        .iter()
        .filter(|(k, _)| k.as_str() != "family")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!("{family} ({})", params.join(", "))
}

pub(crate) async fn detail(
    State(state): State<Arc<AppState>>,
    Path(version): Path<String>,
    raw: RawQuery,
) -> PageResult {
    let started = Instant::now();
    parse(started, raw, &[])?;
    let Some(version) = version
        .strip_prefix('v')
        .unwrap_or(&version)
        .parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
    else {
        return Err(Page::error(
            started,
            StatusCode::NOT_FOUND,
            &format!("{version:?} is not a model version (a positive number, as in /ui/models/3)"),
        ));
    };
    let db = state.db.clone();
    let found = read(started, "reading a model version", move || {
        db.model_version(&driftloop_core::spec().name, version)
    })
    .await?;
    let Some(v) = found else {
        return Err(Page::error(
            started,
            StatusCode::NOT_FOUND,
            &format!("there is no model version {version}; see /ui/models"),
        ));
    };
    let now = Utc::now();
    let h = holdout(&v);
    let mut body = Html(format!(
        "<p>{} <b>{}</b> · trained {} · {}</p>",
        badge(v.status.as_str()).0,
        esc(&v.model.family),
        when(&v.created_at, now).0,
        esc(&decision_text(&v))
    ));
    body.0.push_str("<h2>Holdout</h2>");
    let probability = |name: &str| v.model.holdout_metrics.get(name).and_then(Value::as_f64);
    // Versions trained before the probabilities were scored have no log-loss.
    let probabilities = match (probability("log_loss"), probability("brier")) {
        (Some(log_loss), Some(brier)) => format!(
            "; its probabilities: log-loss <b id=\"holdout-log-loss\">{}</b>, Brier score <b>{}</b>",
            score(Some(log_loss)),
            score(Some(brier))
        ),
        _ => String::new(),
    };
    body.0.push_str(&format!(
        "<p>accuracy <b id=\"holdout-accuracy\">{}</b>, macro-F1 <b>{}</b>{probabilities}</p>",
        score(h.accuracy),
        score(h.macro_f1)
    ));
    body.push(class_tables(&v.model.holdout_metrics));
    // The registry keeps the chosen candidate's cross-validation (an object); the whole
    // grid's is in the artifact's header.
    body.0.push_str("<h2>Cross-validation of the chosen candidate</h2>");
    let candidates = match &v.model.cv_metrics {
        Value::Array(all) => all.clone(),
        Value::Object(_) => vec![v.model.cv_metrics.clone()],
        _ => Vec::new(),
    };
    body.push(table(
        "cv",
        &[
            "candidate",
            "mean macro-F1#",
            "± std#",
            "mean accuracy#",
            "mean log-loss#",
            "mean Brier#",
            "",
        ],
        candidates.iter().map(|c| {
            let f = |name: &str| c.get(name).and_then(Value::as_f64);
            vec![
                text(&candidate_text(c.get("candidate").unwrap_or(&Value::Null))),
                text(&score(f("mean_macro_f1"))),
                text(&score(f("std_macro_f1"))),
                text(&score(f("mean_accuracy"))),
                text(&score(f("mean_log_loss"))),
                text(&score(f("mean_brier"))),
                text(c.get("error").and_then(Value::as_str).unwrap_or("")),
            ]
        }),
    ));
    body.0.push_str("<h2>Parameters</h2>");
    body.0.push_str(&format!(
        "<pre>{}</pre>",
        esc(&serde_json::to_string_pretty(&v.model.params).unwrap_or_default())
    ));
    body.0.push_str("<h2>Where it came from</h2>");
    let mut provenance = vec![
        vec![text("artifact"), text(&v.model.artifact_uri), text(&v.model.sha256)],
        vec![
            text("training snapshot"),
            text(&v.model.snapshot_uri),
            text(&v.model.snapshot_sha256),
        ],
        vec![
            text("train job"),
            match v.model.train_job_id {
                Some(job) => Html(format!("<a href=\"/ui/jobs?before={}\">job {job}</a>", job + 1)),
                None => text("– (trained from the command line)"),
            },
            text(""),
        ],
    ];
    provenance.push(vec![
        text("MLflow"),
        mlflow_cell(&state, &v),
        text(v.mlflow_error.as_deref().unwrap_or("")),
    ]);
    provenance.push(vec![
        text("W&B"),
        wandb_cell(&state, &v),
        text(v.wandb_error.as_deref().unwrap_or("")),
    ]);
    body.push(table("provenance", &["", "where", "sha256 / error"], provenance));
    Ok(Page::new(started, &format!("Model version {}", v.version), body))
}

fn mlflow_cell(state: &AppState, v: &ModelVersion) -> Html {
    match (&v.mlflow_run_id, &v.mlflow_version, &state.dashboard.mlflow_url) {
        (Some(run), Some(version), Some(url)) => Html(format!(
            "<a href=\"{}/#/models/{}/versions/{}\" rel=\"noreferrer\">registered model version {}</a> (run {})",
            esc(url),
            esc(&v.model.name),
            esc(version),
            esc(version),
            esc(run)
        )),
        (Some(run), version, _) => text(&format!(
            "run {run}, registered model version {}",
            version.as_deref().unwrap_or("–")
        )),
        _ => text("not mirrored"),
    }
}

fn wandb_cell(state: &AppState, v: &ModelVersion) -> Html {
    match (&v.wandb_run_id, &state.dashboard.wandb_project) {
        (Some(run), Some((web, project))) => Html(format!(
            "<a href=\"{}/{}/runs/{}\" rel=\"noreferrer\">run {}</a>",
            esc(web),
            esc(project),
            esc(run),
            esc(run)
        )),
        (Some(run), None) => text(&format!("run {run}")),
        (None, _) => text("not mirrored"),
    }
}

/// The holdout's per-class scores and confusion matrix, with the dataset's class names.
fn class_tables(metrics: &Value) -> Html {
    let classes = &driftloop_core::spec().classes;
    let name = |i: usize| classes.get(i).cloned().unwrap_or_else(|| format!("class {i}"));
    let mut out = Html::default();
    if let Some(per_class) = metrics.get("per_class").and_then(Value::as_array) {
        out.push(table(
            "per-class",
            &["class", "precision#", "recall#", "F1#", "rows#"],
            per_class.iter().enumerate().map(|(i, c)| {
                let f = |k: &str| c.get(k).and_then(Value::as_f64);
                vec![
                    text(&name(i)),
                    text(&score(f("precision"))),
                    text(&score(f("recall"))),
                    text(&score(f("f1"))),
                    text(&c.get("support").and_then(Value::as_u64).unwrap_or_default().to_string()),
                ]
            }),
        ));
    }
    if let Some(confusion) = metrics.get("confusion").and_then(Value::as_array) {
        let mut rows = String::new();
        for (i, row) in confusion.iter().enumerate() {
            let cells: String = row
                .as_array()
                .map(|r| {
                    r.iter()
                        .map(|n| format!("<td class=\"num\">{}</td>", n.as_u64().unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default();
            rows.push_str(&format!("<tr><th>{}</th>{cells}</tr>", esc(&name(i))));
        }
        let header: String = (0..confusion.len())
            .map(|i| format!("<th class=\"num\">{}</th>", esc(&name(i))))
            .collect();
        out.0.push_str(&format!(
            "<h2>Confusion matrix</h2><p class=\"muted\">rows: the true class; columns: the predicted one</p>\
             <table class=\"confusion\"><thead><tr><th></th>{header}</tr></thead><tbody>{rows}</tbody></table>"
        ));
    }
    out
}
