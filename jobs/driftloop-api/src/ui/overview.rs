//! `/ui/`: the loop at a glance.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use driftloop_pipeline::db::dashboard::{
    ChampionMove, DriftCheck, JobEntry, JobTally, Page as ListPage, PerformanceCheck, RecentRow, TimeSpan,
};
use driftloop_pipeline::db::{DriftCounter, JobKind, JobStatus, LabelCounter, ModelStatus, ModelVersion};

use super::format::{badge, count, empty, esc, percent, score, table, text, version_link, when, Html};
use super::models::{decision_text, holdout};
use super::query::{parse, RawQuery};
use super::{read, Page, PageResult};
use crate::state::AppState;

/// How many entries of each source the last day's events look at.
const EVENT_SOURCE_LIMIT: usize = 20;

struct Overview {
    champion: Option<ModelVersion>,
    champion_since: Option<String>,
    realized: Option<PerformanceCheck>,
    rows_total: u64,
    rows_today: u64,
    drift_counter: DriftCounter,
    label_counter: LabelCounter,
    tallies: Vec<JobTally>,
    drift_checks: u64,
    recent_checks: Vec<DriftCheck>,
    versions: Vec<ModelVersion>,
    moves: Vec<ChampionMove>,
    failed: Vec<JobEntry>,
    performance: Vec<PerformanceCheck>,
    rows: Vec<RecentRow>,
}

pub(crate) async fn page(State(state): State<Arc<AppState>>, raw: RawQuery) -> PageResult {
    let started = Instant::now();
    parse(started, raw, &[])?;
    let db = state.db.clone();
    let now = Utc::now();
    let today = now.format("%Y-%m-%d 00:00:00").to_string();
    let data = read(started, "reading the overview", move || {
        let name = driftloop_core::spec().name.as_str();
        let first = ListPage::first(EVENT_SOURCE_LIMIT);
        let champion = db.champion(name)?;
        let moves = db.champion_moves(name, first)?;
        let performance = db.performance_checks(first)?;
        Ok(Overview {
            champion_since: champion
                .as_ref()
                .and_then(|c| moves.iter().find(|m| m.version == c.version))
                .map(|m| m.created_at.clone()),
            realized: champion
                .as_ref()
                .and_then(|c| performance.iter().find(|p| p.record.model_version == c.version))
                .cloned(),
            champion,
            rows_total: db.count_rows()?,
            rows_today: db.rows_since(&today)?,
            drift_counter: db.drift_counter()?,
            label_counter: db.label_counter()?,
            tallies: db.job_tallies()?,
            drift_checks: db.count_drift_checks()?,
            recent_checks: db.drift_checks(first, &TimeSpan::default())?,
            versions: db.model_version_page(name, first)?,
            moves,
            failed: db.job_entries(first, Some(JobStatus::Failed))?,
            performance,
            rows: db.recent_rows(10)?,
        })
    })
    .await?;
    Ok(Page::new(started, "Overview", render(&data, now)))
}

fn render(data: &Overview, now: DateTime<Utc>) -> Html {
    let mut body = Html::default();
    if data.rows_total == 0 && data.champion.is_none() {
        body.push(empty(
            "No rows and no model yet. Import the rows a first model learns from \
             (`driftloop import FILE`), then train it (`driftloop train`); or run the whole loop \
             on this machine with `driftloop demo --serve`.",
        ));
    } else if data.champion.is_none() {
        body.push(empty(
            "No champion yet: `driftloop train` fits the first model from the stored rows; \
             until then predictions answer 503.",
        ));
    }
    body.0.push_str("<div class=\"cards\">");
    body.push(champion_card(data, now));
    body.0.push_str(&format!(
        "<div class=\"card\" id=\"rows\"><h2>Rows</h2><div class=\"big\" data-rows=\"{total}\">{}</div>\
         <p>stored in all, {} since 00:00 UTC</p>\
         <p>drift counter <b>{}</b> of {} (a drift check every {} rows)<br>\
         label counter <b>{}</b> of {} (a performance check every {} expert labels)</p></div>",
        count(data.rows_total),
        count(data.rows_today),
        data.drift_counter.n,
        data.drift_counter.drift_every,
        data.drift_counter.drift_every,
        data.label_counter.n,
        data.label_counter.labels_every,
        data.label_counter.labels_every,
        total = data.rows_total,
    ));
    body.push(jobs_card(&data.tallies));
    body.push(last_check_card(data, now));
    body.push(last_training_card(data, now));
    body.0.push_str("</div>");

    body.0.push_str("<h2>The last 24 hours</h2>");
    let events = events(data, now);
    if events.is_empty() {
        body.push(empty(
            "Nothing happened in the last 24 hours: no drift, training, champion move, failed job or decay.",
        ));
    } else {
        body.push(table(
            "events",
            &["when", "what", ""],
            events
                .into_iter()
                .map(|e| vec![when(&e.at, now), badge(e.kind), e.message]),
        ));
    }

    body.0.push_str("<h2>Newest rows</h2>");
    if data.rows.is_empty() {
        body.push(empty("No rows stored yet."));
    } else {
        body.push(table(
            "rows",
            &["id#", "request_id", "label", "label source", "model", "stored"],
            data.rows.iter().map(|r| {
                vec![
                    text(&r.id.to_string()),
                    text(r.request_id.as_deref().unwrap_or("–")),
                    text(&r.label),
                    text(&r.label_source),
                    text(r.model_version.as_deref().unwrap_or("–")),
                    when(&r.created_at, now),
                ]
            }),
        ));
    }
    body
}

fn champion_card(data: &Overview, now: DateTime<Utc>) -> Html {
    let Some(c) = &data.champion else {
        return Html("<div class=\"card\" id=\"champion\"><h2>Champion</h2><p>none yet</p></div>".into());
    };
    let scores = holdout(c);
    let realized = match &data.realized {
        Some(p) if p.record.accuracy.is_none() => format!(
            "no expert label on a row it scored yet {} ({})",
            badge(&p.record.verdict).0,
            when(&p.record.created_at, now).0
        ),
        Some(p) => format!(
            "realized accuracy <b>{}</b> on the last {} expert-labelled rows {} ({})",
            score(p.record.accuracy),
            p.record.window_rows,
            badge(&p.record.verdict).0,
            when(&p.record.created_at, now).0
        ),
        None => "no performance check of this version yet".to_string(),
    };
    Html(format!(
        "<div class=\"card\" id=\"champion\"><h2>Champion</h2>\
         <div class=\"big\" data-version=\"{v}\">{link}</div><p>{family}, champion since {since}</p>\
         <p>holdout accuracy <b>{acc}</b>, macro-F1 <b>{f1}</b></p><p>{realized}</p></div>",
        v = c.version,
        link = version_link(c.version).0,
        family = esc(&c.model.family),
        since = data
            .champion_since
            .as_deref()
            .map_or_else(|| "–".to_string(), |t| when(t, now).0),
        acc = score(scores.accuracy),
        f1 = score(scores.macro_f1),
    ))
}

fn jobs_card(tallies: &[JobTally]) -> Html {
    let n = |status: JobStatus, kind: Option<JobKind>| -> u64 {
        tallies
            .iter()
            .filter(|t| t.status == status && kind.is_none_or(|k| t.kind == k))
            .map(|t| t.n)
            .sum()
    };
    let mut rows = String::new();
    for status in [JobStatus::Pending, JobStatus::Running, JobStatus::Failed] {
        let by_kind: Vec<String> = JobKind::ALL
            .iter()
            .filter(|k| n(status, Some(**k)) > 0)
            .map(|k| format!("{} {k}", n(status, Some(*k))))
            .collect();
        rows.push_str(&format!(
            "<tr><td><a href=\"/ui/jobs?status={status}\">{status}</a></td><td class=\"num\" data-jobs-{status}=\"{total}\">{total}</td><td class=\"muted\">{}</td></tr>",
            esc(&by_kind.join(", ")),
            total = n(status, None),
        ));
    }
    Html(format!(
        "<div class=\"card\" id=\"jobs\"><h2>Jobs</h2><table>{rows}</table><p class=\"muted\">{} done in all</p></div>",
        count(n(JobStatus::Done, None))
    ))
}

fn last_check_card(data: &Overview, now: DateTime<Utc>) -> Html {
    let inner = match data.recent_checks.first() {
        None => "<p>no drift check yet</p>".to_string(),
        Some(check) => {
            let r = &check.record;
            format!(
                "<p>{} {} of columns drifted{}</p><p>{} rows after the reference, {}</p>\
                 <p><a href=\"/ui/drift/{job}/report\">report</a> · <a href=\"/ui/drift\">history</a></p>",
                badge(if r.drift { "drift" } else { "stable" }).0,
                percent(r.drift_share),
                if r.drifted_columns.is_empty() {
                    String::new()
                } else {
                    format!(": {}", esc(&r.drifted_columns.replace(',', ", ")))
                },
                count(r.n_current.max(0) as u64),
                when(&check.created_at, now).0,
                job = r.job_id.unwrap_or_default(),
            )
        }
    };
    Html(format!(
        "<div class=\"card\" id=\"last-check\"><h2>Last drift check</h2>{inner}<p class=\"muted\" data-checks=\"{n}\">{n} checks in all</p></div>",
        n = data.drift_checks
    ))
}

fn last_training_card(data: &Overview, now: DateTime<Utc>) -> Html {
    let inner = match data.versions.first() {
        None => "<p>no model trained yet</p>".to_string(),
        Some(v) => format!(
            "<p>{} ({}) {}</p><p>{}</p><p>{}</p>",
            version_link(v.version).0,
            esc(&v.model.family),
            badge(v.status.as_str()).0,
            esc(&decision_text(v)),
            when(&v.created_at, now).0
        ),
    };
    Html(format!(
        "<div class=\"card\" id=\"last-training\"><h2>Last training</h2>{inner}</div>"
    ))
}

struct Event {
    at: String,
    kind: &'static str,
    message: Html,
}

/// What the notifications of the last day said, from the records they were sent about:
/// drift found, models trained and rejected, champion moves, failed jobs, decay.
fn events(data: &Overview, now: DateTime<Utc>) -> Vec<Event> {
    let cutoff = (now - Duration::hours(24)).format("%Y-%m-%dT%H:%M:%S").to_string();
    let recent = |at: &str| at >= cutoff.as_str();
    let mut events = Vec::new();
    for check in data
        .recent_checks
        .iter()
        .filter(|c| c.record.drift && recent(&c.created_at))
    {
        let r = &check.record;
        events.push(Event {
            at: check.created_at.clone(),
            kind: "drift",
            message: Html(format!(
                "drift found by the check of drift job {job}: {} ({} of columns); <a href=\"/ui/drift/{job}/report\">report</a>",
                esc(&r.drifted_columns.replace(',', ", ")),
                percent(r.drift_share),
                job = r.job_id.unwrap_or_default()
            )),
        });
    }
    for v in data.versions.iter().filter(|v| recent(&v.created_at)) {
        let scores = holdout(v);
        events.push(Event {
            at: v.created_at.clone(),
            kind: if v.status == ModelStatus::Rejected {
                "rejected"
            } else {
                "trained"
            },
            message: Html(format!(
                "{} trained ({}), holdout accuracy {}: {}",
                version_link(v.version).0,
                esc(&v.model.family),
                score(scores.accuracy),
                esc(&decision_text(v))
            )),
        });
    }
    for m in data.moves.iter().filter(|m| recent(&m.created_at)) {
        events.push(Event {
            at: m.created_at.clone(),
            kind: m.reason.as_str(),
            message: Html(match m.previous {
                Some(previous) => format!(
                    "{} is the champion ({}), replacing {}",
                    version_link(m.version).0,
                    m.reason,
                    version_link(previous).0
                ),
                None => format!("{} is the first champion", version_link(m.version).0),
            }),
        });
    }
    for job in data.failed.iter().filter(|j| recent(&j.updated_at)) {
        events.push(Event {
            at: job.updated_at.clone(),
            kind: "failed",
            message: Html(format!(
                "{} job {} failed after {} attempts: {}",
                job.job.kind,
                job.job.id,
                job.job.attempts,
                esc(job.job.error.as_deref().unwrap_or("no error recorded"))
            )),
        });
    }
    for p in data
        .performance
        .iter()
        .filter(|p| p.record.verdict == "degraded" && recent(&p.record.created_at))
    {
        events.push(Event {
            at: p.record.created_at.clone(),
            kind: "degraded",
            message: Html(format!(
                "champion {} degraded: accuracy {} on the last {} expert-labelled rows against {} on its holdout",
                version_link(p.record.model_version).0,
                score(p.record.accuracy),
                p.record.window_rows,
                score(Some(p.record.holdout_accuracy))
            )),
        });
    }
    events.sort_by(|a, b| b.at.cmp(&a.at));
    events.truncate(20);
    events
}
