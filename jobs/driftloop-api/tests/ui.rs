//! The dashboard's pages in process (tower `oneshot`) over SQLite and a folder, and over
//! MariaDB and a bucket: what an empty database shows, the loop's story after a drift
//! check and a training, stored text printed as text, bad parameters, and paging.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use driftloop_api::{router, AppState, Dashboard, Limits};
use driftloop_core::fixtures::{generate, Scenario};
use driftloop_pipeline::db::on_both_backends_async;
use driftloop_pipeline::db::{JobKind, JobStatus};
use driftloop_pipeline::testing::{test_worker, Backend, TestEnv};
use driftloop_pipeline::Database;
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

on_both_backends_async!(
    every_page_says_what_to_do_first_on_an_empty_database,
    the_pages_tell_the_loops_story,
    stored_text_is_printed_as_text,
    bad_parameters_get_a_page_saying_what_is_accepted,
    lists_are_paged_by_id,
);

const PAGES: [&str; 5] = ["/ui/", "/ui/drift", "/ui/models", "/ui/jobs", "/ui/performance"];

struct Ui {
    app: axum::Router,
    db: Arc<dyn Database>,
    env: TestEnv,
}

struct Answer {
    status: StatusCode,
    content_type: String,
    policy: String,
    body: String,
}

async fn ui(env: TestEnv) -> Ui {
    let state = AppState::with_dashboard(
        env.db.clone(),
        env.store.clone(),
        Limits::default(),
        Duration::from_secs(3600),
        Arc::new(|| {}),
        Dashboard::default(),
    )
    .await;
    Ui {
        app: router(state),
        db: env.db.clone(),
        env,
    }
}

impl Ui {
    async fn get(&self, uri: &str) -> Answer {
        let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default()
        };
        let (status, content_type, policy) = (
            response.status(),
            header("content-type"),
            header("content-security-policy"),
        );
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            content_type,
            policy,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    /// A page that must answer 200 as HTML without scripts.
    async fn page(&self, uri: &str) -> String {
        let answer = self.get(uri).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.body);
        assert_eq!(answer.content_type, "text/html; charset=utf-8", "{uri}");
        assert!(answer.policy.contains("default-src 'none'"), "{uri}: {}", answer.policy);
        assert!(!answer.body.contains("<script"), "{uri} has a script: {}", answer.body);
        answer.body
    }
}

/// How often `needle` occurs in `haystack`.
fn occurrences(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

async fn every_page_says_what_to_do_first_on_an_empty_database(backend: Backend) {
    let u = ui(TestEnv::new(backend, "ui_empty").await).await;
    for page in PAGES {
        u.page(page).await;
    }
    let overview = u.page("/ui/").await;
    assert!(overview.contains("No rows and no model yet"), "{overview}");
    assert!(overview.contains("driftloop import"), "{overview}");
    assert!(overview.contains("data-rows=\"0\""));
    assert!(u.page("/ui/drift").await.contains("No drift check yet"));
    assert!(u.page("/ui/models").await.contains("No model trained yet"));
    assert!(u.page("/ui/jobs").await.contains("The outbox is empty"));
    assert!(u.page("/ui/performance").await.contains("No performance check yet"));
    // `/ui` is the overview too.
    let answer = u.get("/ui").await;
    assert_eq!(answer.status, StatusCode::PERMANENT_REDIRECT);
}

async fn the_pages_tell_the_loops_story(backend: Backend) {
    let u = ui(TestEnv::with_champion(backend, "ui_story").await).await;
    // 300 shifted rows after the published 120: drift jobs at rows 200, 300 and 400, answered
    // by one check that finds drift and queues a training.
    u.db.insert_rows(&generate(Scenario::CovariateShift, 300, 11)).unwrap();
    let pass = test_worker(u.db.clone(), u.env.store.clone()).run_once().await.unwrap();
    assert_eq!(pass.drift.jobs.len(), 1, "one check answers the burst");
    let checks =
        u.db.drift_checks(driftloop_pipeline::db::dashboard::Page::first(10), &Default::default())
            .unwrap();
    assert_eq!(checks.len(), 1);
    let check = &checks[0];
    assert!(check.record.drift, "{check:?}");
    assert_eq!(check.record.column_figures.len(), driftloop_core::spec().features.len());
    let job = check.record.job_id.unwrap();
    let champion = u.db.champion("mental_health").unwrap().unwrap();

    let overview = u.page("/ui/").await;
    assert!(
        overview.contains(&format!("data-version=\"{}\"", champion.version)),
        "{overview}"
    );
    assert!(overview.contains("data-rows=\"420\""), "{overview}");
    assert!(overview.contains("data-checks=\"1\""), "{overview}");
    assert!(overview.contains("drift found by the check of drift job"), "{overview}");
    assert!(overview.contains("is the first champion"), "{overview}");
    assert!(overview.contains(" UTC</time> <span class=\"ago\">("), "{overview}");

    let drift = u.page("/ui/drift").await;
    let columns = driftloop_core::spec().features.len();
    assert_eq!(
        occurrences(&drift, "<td class=\"cell"),
        columns,
        "a cell per column of the one check"
    );
    assert_eq!(
        occurrences(&drift, "<td class=\"cell drifted\""),
        check.record.column_figures.iter().filter(|f| f.drifted).count()
    );
    assert!(drift.contains("data-column=\"sadness\""));
    assert!(drift.contains("id=\"share-chart\"><svg"), "the share line is drawn");
    let report_link = format!("/ui/drift/{job}/report");
    assert!(drift.contains(&format!("href=\"{report_link}\"")));
    // The training the check queued, and the version it registered.
    let train = u.db.trainings_queued_by(&[job]).unwrap();
    assert_eq!(train.len(), 1);
    assert!(
        drift.contains(&format!("train job {}", train[0].train_job_id)),
        "{drift}"
    );
    let report = u.get(&report_link).await;
    assert_eq!(report.status, StatusCode::OK);
    assert!(
        report.body.contains(&format!("driftloop drift job {job}")),
        "the stored report"
    );
    assert!(report.policy.contains("default-src 'none'"));

    // Filtering by date: today has the check, the first of January none.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        occurrences(
            &u.page(&format!("/ui/drift?from={today}&to={today}")).await,
            "<td class=\"cell"
        ),
        columns
    );
    assert!(u
        .page("/ui/drift?from=2026-01-01&to=2026-01-01")
        .await
        .contains("No drift check in this range"));

    let models = u.page("/ui/models").await;
    let versions = u.db.model_versions("mental_health").unwrap();
    assert_eq!(versions.len(), 2, "the first champion and the candidate after drift");
    for v in &versions {
        assert!(models.contains(&format!("href=\"/ui/models/{}\"", v.version)));
    }
    assert!(models.contains("the first champion"));
    let candidate = &versions[1];
    let detail = u.page(&format!("/ui/models/{}", candidate.version)).await;
    assert!(detail.contains("Confusion matrix"));
    assert!(detail.contains(&candidate.model.snapshot_uri));
    assert!(detail.contains(&format!(
        "{:.3}",
        candidate.model.holdout_metrics["accuracy"].as_f64().unwrap()
    )));
    assert!(detail.contains(&format!(
        "log-loss <b id=\"holdout-log-loss\">{:.3}</b>",
        candidate.model.holdout_metrics["log_loss"].as_f64().unwrap()
    )));
    assert!(detail.contains(if candidate.status.as_str() == "rejected" {
        "did not beat v1"
    } else {
        "beat v1"
    }));
    // Which holdout rows were compared: those stored after v1's snapshot, if any.
    let decision = candidate.decision.as_ref().unwrap();
    let compared = decision["holdout_rows"].as_u64().unwrap();
    assert_eq!(
        detail.contains(&format!("on its {compared} holdout rows newer than the champion")),
        decision["compared_on"] == "rows_newer_than_champion",
        "{decision}"
    );

    let jobs = u.page("/ui/jobs").await;
    assert!(
        jobs.contains(&format!(
            "queued by the <a href=\"{report_link}\">drift check of job {job}</a>"
        )),
        "{jobs}"
    );
    let failed = u.page("/ui/jobs?status=failed").await;
    assert!(failed.contains("No job matches"));
}

async fn stored_text_is_printed_as_text(backend: Backend) {
    let u = ui(TestEnv::with_champion(backend, "ui_escape").await).await;
    let evil = "<script>alert('driftloop')</script>";
    let request = Request::builder()
        .method("POST")
        .uri("/v1/predict")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"request_id": evil, "features": {
                "sadness": "Usually", "euphoric": "Seldom", "exhausted": "Sometimes", "sleep_disorder": "Sometimes",
                "mood_swing": "YES", "suicidal_thoughts": "YES", "anorexia": "NO", "authority_respect": "NO",
                "try_explanation": "YES", "aggressive_response": "NO", "ignore_and_move_on": "NO",
                "nervous_breakdown": "YES", "admit_mistakes": "YES", "overthinking": "YES",
                "sexual_activity": 3, "concentration": "3 From 10", "optimism": "4"
            }})
            .to_string(),
        ))
        .unwrap();
    let response = u.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    u.db.enqueue(JobKind::Drift, &json!({"note": "<img src=x onerror=alert(1)>"}), None)
        .unwrap();
    let held = u.db.claim(&[JobKind::Drift], Duration::from_secs(60)).unwrap().unwrap();
    u.db.fail(&held, "boom: <img src=x onerror=alert(1)> & \"quotes\"")
        .unwrap();

    let escaped = "&lt;script&gt;alert(&#39;driftloop&#39;)&lt;/script&gt;";
    let overview = u.page("/ui/").await;
    assert!(overview.contains(escaped), "{overview}");
    assert!(!overview.contains("<img"), "{overview}");
    assert!(
        overview.contains("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quotes&quot;"),
        "the failed job is an event"
    );
    let jobs = u.page("/ui/jobs?status=failed").await;
    assert!(jobs.contains("boom: &lt;img src=x onerror=alert(1)&gt;"), "{jobs}");
    assert!(!jobs.contains("<img"), "{jobs}");
}

async fn bad_parameters_get_a_page_saying_what_is_accepted(backend: Backend) {
    let u = ui(TestEnv::new(backend, "ui_bad_params").await).await;
    for (uri, status, says) in [
        (
            "/ui/drift?from=yesterday",
            StatusCode::BAD_REQUEST,
            "from must be a date as YYYY-MM-DD",
        ),
        (
            "/ui/drift?from=2026-12-04&to=2026-12-01",
            StatusCode::BAD_REQUEST,
            "is after to",
        ),
        (
            "/ui/drift?colour=red",
            StatusCode::BAD_REQUEST,
            "unknown query parameter \"colour\"; this page takes before, from, to",
        ),
        (
            "/ui/jobs?status=stuck",
            StatusCode::BAD_REQUEST,
            "status must be one of pending, running, done, failed",
        ),
        (
            "/ui/jobs?before=-3",
            StatusCode::BAD_REQUEST,
            "before must be a positive id",
        ),
        (
            "/ui/?x=%3Cscript%3E",
            StatusCode::BAD_REQUEST,
            "unknown query parameter \"x\"; this page takes none",
        ),
        ("/ui/models/latest", StatusCode::NOT_FOUND, "is not a model version"),
        ("/ui/models/42", StatusCode::NOT_FOUND, "there is no model version 42"),
        (
            "/ui/drift/7/report",
            StatusCode::NOT_FOUND,
            "no drift check is recorded for job 7",
        ),
    ] {
        let answer = u.get(uri).await;
        assert_eq!(answer.status, status, "{uri}: {}", answer.body);
        assert_eq!(answer.content_type, "text/html; charset=utf-8", "{uri}");
        assert!(
            answer.body.contains(&says.replace('"', "&quot;")),
            "{uri}: {}",
            answer.body
        );
        assert!(!answer.body.contains("<script"), "{uri}");
    }
    // An empty date field of the filter form is no filter.
    assert!(u.page("/ui/drift?from=&to=").await.contains("No drift check yet"));
}

async fn lists_are_paged_by_id(backend: Backend) {
    let u = ui(TestEnv::new(backend, "ui_paging").await).await;
    for i in 0..60 {
        u.db.enqueue(JobKind::Drift, &json!({"n": i}), None).unwrap();
    }
    let first = u.page("/ui/jobs").await;
    assert_eq!(occurrences(&first, "<span class=\"badge b-pending\">"), 50);
    assert!(first.contains("href=\"/ui/jobs?before=11\">older jobs"), "{first}");
    let second = u.page("/ui/jobs?before=11").await;
    assert_eq!(occurrences(&second, "<span class=\"badge b-pending\">"), 10);
    assert!(!second.contains("older jobs"));
    let pending = u.page("/ui/jobs?status=pending").await;
    assert!(
        pending.contains("href=\"/ui/jobs?status=pending&amp;before=11\""),
        "the filter is kept"
    );
    assert_eq!(
        u.db.job_tallies()
            .unwrap()
            .iter()
            .find(|t| t.status == JobStatus::Pending)
            .map(|t| t.n),
        Some(60)
    );
}
