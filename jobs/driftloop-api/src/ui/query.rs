//! The pages' query parameters: each page names those it takes; anything else, or a value
//! that does not parse, is a 400 page saying what is accepted.

use std::time::Instant;

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::http::StatusCode;
use chrono::NaiveDate;
use driftloop_pipeline::db::dashboard::{Page as ListPage, TimeSpan};
use driftloop_pipeline::db::JobStatus;

use super::Page;

/// The raw pairs of a query string, as axum decodes them.
pub(crate) type RawQuery = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// The parameters a page took.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Params {
    /// Entries with an id below this one (the next page).
    pub before: Option<i64>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub status: Option<JobStatus>,
}

impl Params {
    /// The page of a list of `limit` entries these parameters ask for.
    pub(crate) fn page(&self, limit: usize) -> ListPage {
        ListPage {
            before: self.before,
            limit,
        }
    }

    /// The creation times `from` and `to` cover (both days whole).
    pub(crate) fn span(&self) -> TimeSpan {
        TimeSpan {
            from: self.from.map(|d| format!("{d} 00:00:00")),
            until: self.to.and_then(|d| d.succ_opt()).map(|d| format!("{d} 00:00:00")),
        }
    }

    /// The query string of these parameters with `before` replaced.
    pub(crate) fn with_before(&self, before: Option<i64>) -> String {
        let mut pairs = Vec::new();
        if let Some(status) = self.status {
            pairs.push(format!("status={status}"));
        }
        if let Some(from) = self.from {
            pairs.push(format!("from={from}"));
        }
        if let Some(to) = self.to {
            pairs.push(format!("to={to}"));
        }
        if let Some(before) = before {
            pairs.push(format!("before={before}"));
        }
        if pairs.is_empty() {
            String::new()
        } else {
            format!("?{}", pairs.join("&amp;"))
        }
    }
}

fn bad(started: Instant, message: String) -> Page {
    Page::error(started, StatusCode::BAD_REQUEST, &message)
}

/// Parses `raw`, taking only the parameters in `accepted`. An empty value is no value
/// (an empty date field of the filter form).
pub(crate) fn parse(started: Instant, raw: RawQuery, accepted: &[&str]) -> Result<Params, Page> {
    let Query(pairs) = raw.map_err(|e| bad(started, format!("the query string does not parse: {e}")))?;
    let mut params = Params::default();
    for (name, value) in pairs {
        if !accepted.contains(&name.as_str()) {
            return Err(bad(
                started,
                format!(
                    "unknown query parameter {name:?}; this page takes {}",
                    if accepted.is_empty() {
                        "none".to_string()
                    } else {
                        accepted.join(", ")
                    }
                ),
            ));
        }
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match name.as_str() {
            "before" => {
                params.before = Some(
                    value
                        .parse::<i64>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| bad(started, format!("before must be a positive id, got {value:?}")))?,
                )
            }
            "from" | "to" => {
                let date = NaiveDate::parse_from_str(value, "%Y-%m-%d")
                    .map_err(|_| bad(started, format!("{name} must be a date as YYYY-MM-DD, got {value:?}")))?;
                if name == "from" {
                    params.from = Some(date);
                } else {
                    params.to = Some(date);
                }
            }
            "status" => {
                params.status = Some(JobStatus::parse(value).ok_or_else(|| {
                    bad(
                        started,
                        format!("status must be one of pending, running, done, failed; got {value:?}"),
                    )
                })?)
            }
            _ => unreachable!("every accepted parameter is parsed"),
        }
    }
    if let (Some(from), Some(to)) = (params.from, params.to) {
        if from > to {
            return Err(bad(started, format!("from ({from}) is after to ({to})")));
        }
    }
    Ok(params)
}
