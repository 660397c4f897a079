//! `/ui/jobs`: the outbox, newest first, with each job's attempts, lease and error, and
//! which drift check queued which training.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use chrono::Utc;
use driftloop_pipeline::db::dashboard::JobEntry;
use driftloop_pipeline::db::JobStatus;
use serde_json::Value;

use super::format::{badge, empty, esc, table, text, when, Html};
use super::query::{parse, Params, RawQuery};
use super::{read, Page, PageResult};
use crate::state::AppState;

const PAGE_SIZE: usize = 50;

/// What a job's payload says about where it came from.
fn origin(job: &JobEntry) -> Html {
    let Some(payload) = &job.job.payload else {
        return text("");
    };
    if let Some(drift_job) = payload.get("drift_job_id").and_then(Value::as_i64) {
        return Html(format!(
            "queued by the <a href=\"/ui/drift/{drift_job}/report\">drift check of job {drift_job}</a>"
        ));
    }
    if let Some(performance_job) = payload.get("performance_job_id").and_then(Value::as_i64) {
        return text(&format!("queued by the performance check of job {performance_job}"));
    }
    let mut parts: Vec<String> = Vec::new();
    if let Some(fields) = payload.as_object() {
        for (k, v) in fields {
            parts.push(format!("{k}: {v}"));
        }
    }
    text(&parts.join(", "))
}

pub(crate) async fn page(State(state): State<Arc<AppState>>, raw: RawQuery) -> PageResult {
    let started = Instant::now();
    let params = parse(started, raw, &["before", "status"])?;
    let db = state.db.clone();
    let (page, status) = (params.page(PAGE_SIZE), params.status);
    let jobs = read(started, "reading the outbox", move || db.job_entries(page, status)).await?;
    let now = Utc::now();
    let mut body = Html(String::from("<p>Show: <a href=\"/ui/jobs\">all</a>"));
    for s in JobStatus::ALL {
        body.0.push_str(&format!(" · <a href=\"/ui/jobs?status={s}\">{s}</a>"));
    }
    body.0.push_str("</p>");
    if jobs.is_empty() {
        body.push(empty(if params == Params::default() {
            "The outbox is empty: the database queues a drift job every N stored rows, and a drift \
             check that finds drift queues a training."
        } else {
            "No job matches."
        }));
        return Ok(Page::new(started, "Jobs", body));
    }
    body.push(table(
        "jobs",
        &[
            "id#",
            "kind",
            "status",
            "attempts#",
            "queued",
            "last change",
            "lease until",
            "origin",
            "error",
        ],
        jobs.iter().map(|j| {
            vec![
                text(&j.job.id.to_string()),
                text(j.job.kind.as_str()),
                badge(j.job.status.as_str()),
                text(&j.job.attempts.to_string()),
                when(&j.created_at, now),
                when(&j.updated_at, now),
                match (&j.lease_until, j.job.status) {
                    (Some(lease), JobStatus::Running) => when(lease, now),
                    _ => text(""),
                },
                origin(j),
                Html(format!(
                    "<span class=\"job-error\">{}</span>",
                    esc(j.job.error.as_deref().unwrap_or(""))
                )),
            ]
        }),
    ));
    if jobs.len() == PAGE_SIZE {
        let oldest = jobs.last().map(|j| j.job.id);
        body.0.push_str(&format!(
            "<nav class=\"pages\"><a href=\"/ui/jobs{}\">newest</a><a href=\"/ui/jobs{}\">older jobs →</a></nav>",
            params.with_before(None),
            params.with_before(oldest)
        ));
    }
    Ok(Page::new(started, "Jobs", body))
}
