//! `/ui/performance`: the champion's realized accuracy per performance check (its kept
//! predictions against the expert labels since) against its holdout accuracy.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use chrono::Utc;
use driftloop_stats::charts::trend_svg;

use super::format::{badge, empty, percent, score, table, text, version_link, when, Html};
use super::query::{parse, RawQuery};
use super::{read, Page, PageResult};
use crate::state::AppState;

const PAGE_SIZE: usize = 50;

pub(crate) async fn page(State(state): State<Arc<AppState>>, raw: RawQuery) -> PageResult {
    let started = Instant::now();
    let params = parse(started, raw, &["before"])?;
    let db = state.db.clone();
    let page = params.page(PAGE_SIZE);
    let (checks, labels) = read(started, "reading the performance checks", move || {
        Ok((db.performance_checks(page)?, db.label_counter()?))
    })
    .await?;
    let now = Utc::now();
    let mut body = Html::default();
    if checks.is_empty() {
        body.push(empty(&format!(
            "No performance check yet. Expert labels (`POST /v1/labels`) on \
             rows the champion scored queue one every {} labels; {} so far since the last.",
            labels.labels_every, labels.n
        )));
        return Ok(Page::new(started, "Performance", body));
    }
    let oldest_first: Vec<_> = checks.iter().rev().collect();
    body.0.push_str(&format!(
        "<p><span class=\"key-cur\">● realized accuracy</span> of each check against \
         <span class=\"key-ref\">— the checked version's holdout accuracy</span>; the y axis runs \
         from 0 to 100 %.</p><div class=\"chart\" id=\"accuracy-chart\">{}</div>",
        trend_svg(
            &oldest_first.iter().map(|c| c.record.accuracy).collect::<Vec<_>>(),
            &oldest_first
                .iter()
                .map(|c| c.record.holdout_accuracy)
                .collect::<Vec<_>>(),
            1.0
        )
    ));
    body.push(table(
        "performance",
        &[
            "check",
            "when",
            "version",
            "labelled rows#",
            "accuracy#",
            "holdout#",
            "verdict",
            "labels in all#",
        ],
        checks.iter().map(|c| {
            let r = &c.record;
            vec![
                text(&r.job_id.map_or_else(|| "–".to_string(), |j| format!("job {j}"))),
                when(&r.created_at, now),
                version_link(r.model_version),
                text(&r.window_rows.to_string()),
                text(&r.accuracy.map_or_else(|| "–".to_string(), percent)),
                text(&score(Some(r.holdout_accuracy))),
                badge(&r.verdict),
                text(&r.cumulative_rows.to_string()),
            ]
        }),
    ));
    if checks.len() == PAGE_SIZE {
        body.0.push_str(&format!(
            "<nav class=\"pages\"><a href=\"/ui/performance\">newest</a><a href=\"/ui/performance{}\">older checks →</a></nav>",
            params.with_before(checks.last().map(|c| c.id))
        ));
    }
    Ok(Page::new(started, "Performance", body))
}
