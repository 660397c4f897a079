//! `/ui/drift`: the history of drift checks as a column × check heatmap of PSI (a dot
//! where the column's test has p below alpha, a frame where the column drifted), the share
//! of drifted columns per check against the threshold, and a table of the checks with the
//! trainings they queued; `/ui/drift/<job>/report`: a check's stored HTML report.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use driftloop_pipeline::db::dashboard::{DriftCheck, QueuedTraining};
use driftloop_pipeline::db::ColumnFigure;
use driftloop_stats::charts::trend_svg;

use super::format::{badge, count, empty, esc, percent, table, text, version_link, when, Html};
use super::query::{parse, RawQuery};
use super::{read, Page, PageResult};
use crate::state::AppState;

const PAGE_SIZE: usize = 30;

struct History {
    checks: Vec<DriftCheck>,
    trainings: Vec<QueuedTraining>,
}

/// The figures of the checks recorded before migration 10 kept them, read from their
/// JSON reports (at most a page of them).
async fn figures_from_reports(state: &AppState, checks: &mut [DriftCheck]) {
    for check in checks.iter_mut().filter(|c| c.record.column_figures.is_empty()) {
        let Some(key) = state.store.key_of(&check.record.report_uri) else {
            continue;
        };
        let Ok(bytes) = state.store.get(&key).await else {
            continue;
        };
        let Ok(document) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        if let Some(columns) = document.pointer("/report/columns") {
            check.record.column_figures = serde_json::from_value(columns.clone()).unwrap_or_default();
        }
    }
}

/// A PSI as a background colour: white at 0, the report's dark red from twice the
/// threshold on.
fn heat(psi: f64, threshold: f64) -> String {
    let t = if threshold > 0.0 {
        (psi / (2.0 * threshold)).clamp(0.0, 1.0)
    } else {
        1.0
    };
    let mix = |from: f64, to: f64| (from + (to - from) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(255.0, 176.0),
        mix(255.0, 48.0),
        mix(255.0, 32.0)
    )
}

pub(crate) async fn page(State(state): State<Arc<AppState>>, raw: RawQuery) -> PageResult {
    let started = Instant::now();
    let params = parse(started, raw, &["before", "from", "to"])?;
    let db = state.db.clone();
    let (page, span) = (params.page(PAGE_SIZE), params.span());
    let mut data = read(started, "reading the drift checks", move || {
        let checks = db.drift_checks(page, &span)?;
        let jobs: Vec<i64> = checks
            .iter()
            .filter(|c| c.record.drift)
            .filter_map(|c| c.record.job_id)
            .collect();
        Ok(History {
            trainings: db.trainings_queued_by(&jobs)?,
            checks,
        })
    })
    .await?;
    figures_from_reports(&state, &mut data.checks).await;
    let config = state.dashboard.drift;
    let now = Utc::now();
    let mut body = Html(format!(
        "<form class=\"filter\" method=\"get\" action=\"/ui/drift\"><label>from<input type=\"date\" name=\"from\" value=\"{}\"></label>\
         <label>to<input type=\"date\" name=\"to\" value=\"{}\"></label><button type=\"submit\">Filter</button> \
         <a href=\"/ui/drift\">all</a></form>",
        params.from.map(|d| d.to_string()).unwrap_or_default(),
        params.to.map(|d| d.to_string()).unwrap_or_default(),
    ));
    if data.checks.is_empty() {
        body.push(empty(if params == Default::default() {
            "No drift check yet. The database queues one every N stored rows (`driftloop db status` \
             shows the counter); `driftloop worker` or `driftloop serve` runs them."
        } else {
            "No drift check in this range."
        }));
        return Ok(Page::new(started, "Drift history", body));
    }
    // Oldest on the left.
    let checks: Vec<&DriftCheck> = data.checks.iter().rev().collect();
    body.0.push_str(&format!(
        "<p>{} checks, {} to {}. PSI per column and check: white is none, dark red is {} (twice the \
         threshold) or more; <b>●</b> marks a test with p below {}; a frame marks a drifted column. \
         Each check's column heads link to its report.</p>",
        checks.len(),
        when(&checks[0].created_at, now).0,
        when(&checks[checks.len() - 1].created_at, now).0,
        2.0 * config.psi_threshold,
        config.alpha,
    ));
    body.push(heatmap(&checks, config.psi_threshold, config.alpha));
    body.0.push_str(&format!(
        "<h2>Share of drifted columns per check</h2><p><span class=\"key-cur\">● share</span> against \
         <span class=\"key-ref\">— the threshold, {}</span>; the y axis runs from 0 to 100 %.</p><div class=\"chart\" id=\"share-chart\">{}</div>",
        percent(config.drift_share),
        trend_svg(
            &checks.iter().map(|c| Some(c.record.drift_share)).collect::<Vec<_>>(),
            &vec![config.drift_share; checks.len()],
            1.0
        )
    ));
    body.0.push_str("<h2>Checks</h2>");
    let trainings: HashMap<i64, &QueuedTraining> = data.trainings.iter().map(|t| (t.drift_job_id, t)).collect();
    body.push(table(
        "checks",
        &[
            "check",
            "when",
            "verdict",
            "drifted#",
            "columns",
            "rows compared#",
            "queued",
            "report",
        ],
        data.checks.iter().map(|c| {
            let r = &c.record;
            let job = r.job_id.unwrap_or_default();
            let queued = match trainings.get(&job) {
                Some(t) => Html(format!(
                    "<a href=\"/ui/jobs?before={}\">train job {}</a> {}{}",
                    t.train_job_id + 1,
                    t.train_job_id,
                    badge(t.status.as_str()).0,
                    t.version
                        .map(|v| format!(" → {}", version_link(v).0))
                        .unwrap_or_default()
                )),
                None => text(""),
            };
            vec![
                text(&format!("job {job}")),
                when(&c.created_at, now),
                badge(if r.drift { "drift" } else { "stable" }),
                text(&percent(r.drift_share)),
                text(&r.drifted_columns.replace(',', ", ")),
                text(&count(r.n_current.max(0) as u64)),
                queued,
                Html(format!(
                    "<a class=\"report\" href=\"/ui/drift/{job}/report\">report</a>"
                )),
            ]
        }),
    ));
    if data.checks.len() == PAGE_SIZE {
        let oldest = data.checks.last().map(|c| c.id);
        body.0.push_str(&format!(
            "<nav class=\"pages\"><a href=\"/ui/drift{}\">newest</a><a href=\"/ui/drift{}\">older checks →</a></nav>",
            params.with_before(None),
            params.with_before(oldest)
        ));
    }
    Ok(Page::new(started, "Drift history", body))
}

/// The heatmap: a row per feature column, a column per check (oldest first).
fn heatmap(checks: &[&DriftCheck], psi_threshold: f64, alpha: f64) -> Html {
    let mut out = String::from("<table class=\"heat\" id=\"heatmap\"><thead><tr><th>column</th>");
    for c in checks {
        let job = c.record.job_id.unwrap_or_default();
        out.push_str(&format!(
            "<th class=\"check\" data-check=\"{job}\"><a href=\"/ui/drift/{job}/report\" title=\"drift job {job}, {}\">{job}</a></th>",
            esc(&c.created_at)
        ));
    }
    out.push_str("</tr></thead><tbody>");
    let by_check: Vec<HashMap<&str, &ColumnFigure>> = checks
        .iter()
        .map(|c| c.record.column_figures.iter().map(|f| (f.name.as_str(), f)).collect())
        .collect();
    for column in &driftloop_core::spec().features {
        let name = column.name.as_str();
        out.push_str(&format!("<tr><th>{}</th>", esc(name)));
        for (check, figures) in checks.iter().zip(&by_check) {
            let job = check.record.job_id.unwrap_or_default();
            match figures.get(name) {
                Some(f) => out.push_str(&format!(
                    "<td class=\"cell{}\" style=\"background:{}\" data-column=\"{}\" data-check=\"{job}\" data-psi=\"{:.4}\" \
                     title=\"{}, drift job {job}: PSI {:.3}, p = {:.2e}\">{}</td>",
                    if f.drifted { " drifted" } else { "" },
                    heat(f.psi, psi_threshold),
                    esc(name),
                    f.psi,
                    esc(name),
                    f.psi,
                    f.p_value,
                    if f.p_value < alpha { "●" } else { "" }
                )),
                None => out.push_str(&format!(
                    "<td class=\"cell missing\" data-column=\"{}\" data-check=\"{job}\" title=\"no figures recorded\">·</td>",
                    esc(name)
                )),
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table><p class=\"legend\">PSI 0<span style=\"background:#ffffff\"></span>");
    for step in [0.5, 1.0, 1.5, 2.0] {
        out.push_str(&format!(
            "<span style=\"background:{}\"></span>{:.2}",
            heat(step * psi_threshold, psi_threshold),
            step * psi_threshold
        ));
    }
    out.push_str("</p>");
    Html(out)
}

pub(crate) async fn report(State(state): State<Arc<AppState>>, Path(job): Path<String>, raw: RawQuery) -> PageResult {
    let started = Instant::now();
    parse(started, raw, &[])?;
    let Some(job) = job.parse::<i64>().ok().filter(|j| *j > 0) else {
        return Err(Page::error(
            started,
            StatusCode::NOT_FOUND,
            &format!("{job:?} is not a drift job id (a positive number)"),
        ));
    };
    let db = state.db.clone();
    let Some(check) = read(started, "reading a drift check", move || db.drift_check(job)).await? else {
        return Err(Page::error(
            started,
            StatusCode::NOT_FOUND,
            &format!("no drift check is recorded for job {job}; see /ui/drift"),
        ));
    };
    let uri = check.record.report_uri.replace(".json", ".html");
    let Some(key) = state.store.key_of(&uri) else {
        return Err(Page::error(
            started,
            StatusCode::NOT_FOUND,
            &format!(
                "the report {uri} is not in this server's store ({})",
                state.store.uri("")
            ),
        ));
    };
    match state.store.get(&key).await {
        Ok(bytes) => Ok(Page::stored(started, String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) => Err(Page::unavailable(started, &format!("reading the report {uri}"), &e)),
    }
}
