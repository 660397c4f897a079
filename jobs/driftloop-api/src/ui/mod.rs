//! The operator's dashboard: read-only HTML pages under `/ui/`, rendered on the server
//! from the registry, the outbox and the drift and performance logs. No JavaScript: every
//! chart is SVG drawn on the server (the heatmap an HTML table), every time is printed in
//! UTC with how long ago, every value printed is escaped, and the pages forbid scripts in
//! their Content-Security-Policy. Each page is a bounded set of queries: lists are pages
//! by id, newest first.
//!
//! - `/ui/`: the champion, rows, counters, jobs, the last check and training, the last
//!   day's events, the newest rows.
//! - `/ui/drift`: a column × check heatmap of PSI with p-value markers, the share of
//!   drifted columns per check against the threshold, each check linking to its report
//!   (`/ui/drift/<job>/report`); `from` and `to` (dates) filter.
//! - `/ui/models`, `/ui/models/<version>`: the champion's moves, every version's scores
//!   and decision; a version's parameters, cross-validation, holdout and confusion matrix.
//! - `/ui/jobs`: the outbox (`status` filters), and which check queued which training.
//! - `/ui/performance`: realized accuracy per check against the holdout's.

mod drift;
mod format;
mod jobs;
mod models;
mod overview;
mod performance;
mod query;

use std::sync::Arc;
use std::time::Instant;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use driftloop_pipeline::Settings;
use driftloop_stats::DriftConfig;

use crate::state::AppState;
pub(crate) use format::{esc, Html};

/// What the pages need to know beyond the database: the thresholds the checks use and
/// where the mirrors are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dashboard {
    /// The drift decision's settings (the share line's threshold, the p-value markers).
    pub drift: DriftConfig,
    /// The MLflow server versions are mirrored to, for links.
    pub mlflow_url: Option<String>,
    /// W&B's web address and `entity/project`, for links to mirrored runs.
    pub wandb_project: Option<(String, String)>,
}

impl Dashboard {
    /// The dashboard of the loop `settings` describe.
    pub fn from_settings(settings: &Settings) -> Dashboard {
        let wandb_project = settings.wandb.as_ref().and_then(|w| {
            // W&B's cloud answers its API on api.wandb.ai and its pages on wandb.ai.
            let web = w
                .base_url
                .trim_end_matches('/')
                .replace("://api.wandb.ai", "://wandb.ai");
            w.entity.as_ref().map(|entity| (web, format!("{entity}/{}", w.project)))
        });
        Dashboard {
            drift: settings.drift_config(),
            mlflow_url: settings
                .mlflow_tracking_uri
                .as_ref()
                .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
                .map(|u| u.trim_end_matches('/').to_string()),
            wandb_project,
        }
    }
}

/// The pages' routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(overview::page))
        .route("/ui/drift", get(drift::page))
        .route("/ui/drift/{job_id}/report", get(drift::report))
        .route("/ui/models", get(models::list))
        .route("/ui/models/{version}", get(models::detail))
        .route("/ui/jobs", get(jobs::page))
        .route("/ui/performance", get(performance::page))
}

/// What a page handler answers: a page, or an error page.
pub(crate) type PageResult = Result<Page, Page>;

/// A rendered page, with how long the server took to make it.
pub(crate) struct Page {
    status: StatusCode,
    html: String,
    started: Instant,
    /// Scripts, frames, forms to elsewhere and every other source are forbidden: the page
    /// is its own styles and inline SVG.
    policy: &'static str,
}

const PAGE_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

impl Page {
    pub(crate) fn new(started: Instant, title: &str, body: Html) -> Page {
        Page {
            status: StatusCode::OK,
            html: format::layout(title, &body, started),
            started,
            policy: PAGE_POLICY,
        }
    }

    /// An error page: what went wrong, and what to do.
    pub(crate) fn error(started: Instant, status: StatusCode, message: &str) -> Page {
        let body = Html(format!(
            "<p class=\"error\" role=\"alert\">{}</p><p><a href=\"/ui/\">Back to the overview</a></p>",
            esc(message)
        ));
        Page {
            status,
            html: format::layout(status.canonical_reason().unwrap_or("Error"), &body, started),
            started,
            policy: PAGE_POLICY,
        }
    }

    /// A stored drift report as it is: a self-contained page with inline SVG, no scripts.
    pub(crate) fn stored(started: Instant, html: String) -> Page {
        Page {
            status: StatusCode::OK,
            html,
            started,
            policy:
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'",
        }
    }

    /// The error page of a failed storage read.
    pub(crate) fn unavailable(started: Instant, what: &str, error: &dyn std::fmt::Display) -> Page {
        tracing::error!("dashboard: {what}: {error}");
        Page::error(
            started,
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("{what} failed: {error} (has `driftloop db migrate` run against this database?)"),
        )
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let millis = self.started.elapsed().as_secs_f64() * 1000.0;
        let mut response = (self.status, self.html).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(self.policy));
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        if let Ok(timing) = HeaderValue::from_str(&format!("app;dur={millis:.1}")) {
            headers.insert("server-timing", timing);
        }
        response
    }
}

/// Runs the page's storage reads off the async workers.
pub(crate) async fn read<T: Send + 'static>(
    started: Instant,
    what: &str,
    f: impl FnOnce() -> driftloop_pipeline::db::Result<T> + Send + 'static,
) -> Result<T, Page> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(Page::unavailable(started, what, &e)),
        Err(_) => Err(Page::error(
            started,
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("{what} panicked"),
        )),
    }
}
